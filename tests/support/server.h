// A real `braid serve` for integration tests: its own data directory, an
// ephemeral port on 127.0.0.1, stderr in DATA/serve.log.

#ifndef BRAID_TESTS_SUPPORT_SERVER_H_
#define BRAID_TESTS_SUPPORT_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "braid/status.h"
#include "http/client.h"
#include "tests/support/process.h"

namespace braid::testing {

class BraidServer {
 public:
  // Runs `braid init` on `data_dir` unless it holds a store, then serves it
  // (`serve_args` are added to `braid serve`, also at restarts).
  static Result<std::unique_ptr<BraidServer>> Start(const std::string& data_dir,
                                                    std::vector<std::string> serve_args = {});

  const std::string& url() const { return url_; }
  const std::string& data_dir() const { return data_dir_; }
  // The first admin's credentials (`braid init` wrote DATA/admin-password):
  // "Basic ..." for an Authorization header, and client options sending it.
  std::string admin_authorization() const;
  http::ClientOptions admin_client_options() const;
  // A client sending the admin's credentials. Aborts the test on failure.
  std::unique_ptr<http::Client> AdminClient() const;
  Process& process() { return *process_; }

  // SIGTERM, then waits; returns the exit code.
  Result<int> Stop();
  // SIGKILL at once, then reaps.
  void Kill();
  // Starts `braid serve` again on the same data directory and port;
  // `env` ("NAME=value") is set for that server process only.
  Status Restart(const std::string& env = "");
  // The last `max_bytes` of serve.log, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  Status Launch(const std::string& env = "");
  std::string data_dir_;
  std::vector<std::string> serve_args_;
  std::string url_;
  std::unique_ptr<Process> process_;
};

// "Basic base64(name:password)".
std::string BasicAuthorization(const std::string& name, const std::string& password);
// The first admin's password of an initialized data directory.
std::string AdminPassword(const std::string& data_dir);

// The last line of a command's output (where `user add`, `token create`
// print the secret), without its newline.
std::string LastLine(const std::string& out);

// Expects an API error answer: HTTP `status`, {"code": code, "message"}
// with `words` in the message.
void ExpectApiError(const http::ClientResponse& r, int status, const std::string& code,
                    const std::string& words = "");

// Sets a setting of DATA/braid.toml, which `braid init` writes with every
// setting at its default: replaces the line `KEY = ...` (the first) with
// `KEY = value` (`value` as TOML spells it: "\"normal\"", "false", "4096").
// Errors: NotFound when no line sets `key`; IoError.
Status SetConfig(const std::string& data_dir, const std::string& key, const std::string& value);

// The store the tests' instances get: "sqlite" (DIR/store.db, the
// default) or "postgresql" (BRAID_TEST_STORE=postgresql, or a test binary
// linked with tests/support/use_postgresql.cc): then every `braid init`
// run through Braid() gets --store with a database of the tests' server
// (tests/support/pg_server.h), dropped when the test process exits.
const std::string& TestStoreKind();
// The Store::Open spec of an initialized data directory's store (its
// braid.toml's store.url, or DIR/store.db).
std::string StoreSpecOf(const std::string& data_dir);
// True once `braid init` made `data_dir` (store.db, or a store.url).
bool IsInitialized(const std::string& data_dir);

// Runs `braid --data DIR ARGS...` to completion.
RunResult Braid(const std::string& data_dir, const std::vector<std::string>& args,
                const std::string& input = "");

}  // namespace braid::testing

#endif  // BRAID_TESTS_SUPPORT_SERVER_H_
