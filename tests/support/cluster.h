// Several braid instances for replication tests: each node has a data
// directory (made with `braid init --no-admin`), a running `braid serve` on
// an ephemeral port and a token its server accepts. Syncs run the real `braid sync` command.

#ifndef BRAID_TESTS_SUPPORT_CLUSTER_H_
#define BRAID_TESTS_SUPPORT_CLUSTER_H_

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "braid/record.h"
#include "braid/status.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid::testing {

struct Node {
  std::string name;
  std::string dir;
  std::string token_file;  // a token of this node's server (role writer)
  std::unique_ptr<BraidServer> server;

  // A client of this node's server sending its token (cheaper to check
  // than the admin's password).
  std::unique_ptr<http::Client> TokenClient() const;
};

// A record as replicas must agree on it.
struct Snapshot {
  std::string version, vv, body, conflicts;
  bool deleted = false;
  bool operator==(const Snapshot&) const = default;
};
using State = std::map<std::string, Snapshot>;  // "collection/id" -> record

class Cluster {
 public:
  Cluster() = default;
  // Creates, starts and tokens a node. Aborts the test on failure.
  Node& Add(const std::string& name, bool serve = true);
  Node& operator[](const std::string& name) { return *nodes_.at(name); }

  // `braid --data from remote add <to> <to's url> --token-file ... [args]`.
  RunResult Link(const std::string& from, const std::string& to,
                 const std::vector<std::string>& args = {});
  // `braid --data node --json sync <remotes...> [env]`; env like
  // "BRAID_FAILPOINTS=pull-apply=3" is set for that command only.
  RunResult Sync(const std::string& node, const std::vector<std::string>& remotes,
                 const std::string& env = "");
  RunResult Cli(const std::string& node, const std::vector<std::string>& args,
                const std::string& input = "");

  // Every record of a node, read from its store (while its server runs).
  State Read(const std::string& node);

 private:
  TempDir dir_;
  std::map<std::string, std::unique_ptr<Node>> nodes_;
};

std::string Describe(const State& s);

// The JSON a command printed, expecting it to have succeeded (exit 0 and
// valid JSON; the test fails otherwise, naming its output).
nlohmann::json OkJson(const RunResult& r);

}  // namespace braid::testing

#endif  // BRAID_TESTS_SUPPORT_CLUSTER_H_
