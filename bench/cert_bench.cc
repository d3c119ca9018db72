// What a certificate session over TLS costs against plain HTTP with a token
// (issue 14's goal: the initial pull at most 10% slower). Two copies of one
// source store are served at once, one over plain HTTP on loopback and one
// over HTTPS (a self-signed certificate this benchmark makes); each round
// pulls the whole store into a fresh replica with the real `braid sync`,
// three ways, in a rotating order:
//   - plain: http://, a bearer token (the reference);
//   - tls_token: https://, a bearer token (TLS alone);
//   - tls_cert: https://, a certificate session (TLS, then the challenge,
//     both proofs and the chain checks, then session ids).
//
// Usage: cert_bench [--records N] [--rounds R] [--braid PATH]
// Prints one JSON object on stdout.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "auth/self_signed.h"
#include "bench/bench_data.h"
#include "instance/instance.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using bench::Median;
using testing::BraidServer;
using testing::RunResult;

void Die(const std::string& what) {
  std::fprintf(stderr, "cert_bench: %s\n", what.c_str());
  std::exit(1);
}

RunResult Must(const std::string& dir, const std::vector<std::string>& args) {
  RunResult r = testing::Braid(dir, args);
  if (r.exit_code != 0) Die("braid " + args[0] + " failed: " + r.err);
  return r;
}

std::string LastLine(const std::string& out) {
  std::string s = out.substr(0, out.find_last_not_of('\n') + 1);
  return s.substr(s.rfind('\n') + 1);
}

void Fill(const std::string& dir, size_t n) {
  auto inst = Instance::Init(dir);
  if (!inst.ok()) Die(inst.status().ToString());
  std::unique_ptr<WriteTransaction> txn;
  for (size_t i = 0; i < n; ++i) {
    if (i % 100'000 == 0) {
      if (txn && !txn->Commit().ok()) Die("commit");
      txn = std::move(*(*inst)->store().BeginWrite());
    }
    char body[256];
    std::snprintf(
        body, sizeof body,
        R"({"title":"Record number %zu","author":"user%zu","n":%zu,)"
        R"("tags":["a","b"],"text":"lorem ipsum dolor sit amet, consectetur adipiscing"})",
        i, i % 1000, i);
    const std::string id = "note-" + std::to_string(i);
    const std::string partition = "lab:" + std::to_string(i % 16);
    PutRequest r;
    r.collection = "notes";
    r.id = id;
    r.partition = partition;
    r.body = body;
    if (!txn->Put(r).ok()) Die("put");
  }
  if (txn && !txn->Commit().ok()) Die("commit");
}

int Main(int argc, char** argv) {
  size_t records = 300'000, rounds = 5;
  std::string braid;
  bench::Flags("cert_bench",
               "The initial pull of one store over plain HTTP with a token, over HTTPS with a\n"
               "token, and over HTTPS with a certificate session, alternating; medians.\n"
               "Prints one JSON object (bench/README.md).")
      .Count("records", &records, "records of the source")
      .Count("rounds", &rounds, "pulls of each kind; medians are reported")
      .Text("braid", &braid, "the braid binary (default: $BRAID_BIN, else ./braid)", "PATH")
      .Parse(argc, argv);
  if (!braid.empty()) setenv("BRAID_BIN", braid.c_str(), 1);

  testing::TempDir dir;
  const std::string plain_dir = dir.File("plain"), tls_dir = dir.File("tls");
  Fill(plain_dir, records);
  std::filesystem::copy(plain_dir, tls_dir, std::filesystem::copy_options::recursive);
  const std::string cert = dir.File("tls.pem"), key = dir.File("tls.key");
  if (Status s = auth::WriteSelfSignedCertificate({"127.0.0.1"}, cert, key, 2); !s.ok()) {
    Die(s.ToString());
  }
  const std::string plain_token = LastLine(Must(plain_dir, {"token", "create", "bench"}).out);
  const std::string tls_token = LastLine(Must(tls_dir, {"token", "create", "bench"}).out);
  const std::string password = dir.File("password");
  std::ofstream(password) << "bench-password-1\n";
  Must(tls_dir, {"user", "add", "boss", "--role", "admin", "--password-file", password});

  // Both were filled offline; the pulls are measured, not the search index
  // their serves would build meanwhile.
  for (const std::string& d : {plain_dir, tls_dir}) {
    if (Status s = testing::SetConfig(d, "search", "false"); !s.ok()) Die(s.ToString());
  }
  auto plain = BraidServer::Start(plain_dir);
  if (!plain.ok()) Die(plain.status().ToString());
  auto tls = BraidServer::Start(tls_dir, {"--tls-cert", cert, "--tls-key", key});
  if (!tls.ok()) Die(tls.status().ToString());

  // A fresh replica per pull, with the remote of its kind.
  int replicas = 0;
  auto pull = [&](const std::string& kind) {
    const std::string replica = dir.File("replica-" + std::to_string(++replicas));
    Must(replica, {"init", "--no-admin"});
    if (kind == "plain") {
      Must(replica, {"remote", "add", "source", (*plain)->url(), "--direction", "pull", "--token",
                     plain_token});
    } else if (kind == "tls_token") {
      Must(replica, {"remote", "add", "source", (*tls)->url(), "--direction", "pull", "--token",
                     tls_token, "--ca-cert", cert});
    } else {
      Must(replica,
           {"remote", "add", "source", (*tls)->url(), "--direction", "pull", "--ca-cert", cert});
      Must(replica, {"cert", "request", "source", "--read", "*", "--user", "boss",
                     "--password-file", password});
    }
    const auto start = std::chrono::steady_clock::now();
    const RunResult r = Must(replica, {"--json", "sync", "source", "cache"});  // replication
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r.out.find("\"received\":" + std::to_string(records)) == std::string::npos) {
      Die(kind + " pull did not receive every record: " + r.out);
    }
    std::filesystem::remove_all(replica);
    return s;
  };

  const std::vector<std::string> kinds = {"plain", "tls_token", "tls_cert"};
  std::vector<std::vector<double>> seconds(kinds.size());
  (void)pull("plain");  // warm the page cache of both copies
  (void)pull("tls_cert");
  for (size_t round = 0; round < rounds; ++round) {
    for (size_t k = 0; k < kinds.size(); ++k) {
      const size_t i = (k + round) % kinds.size();
      seconds[i].push_back(pull(kinds[i]));
    }
  }
  const double plain_s = Median(seconds[0]), tls_token_s = Median(seconds[1]),
               tls_cert_s = Median(seconds[2]);
  std::printf(
      "{\"bench\":\"cert\",\"records\":%zu,\"rounds\":%zu,"
      "\"plain_token_s\":%.3f,\"tls_token_s\":%.3f,\"tls_cert_s\":%.3f,"
      "\"tls_cert_over_plain\":%.3f,\"tls_token_over_plain\":%.3f,\"target_ratio\":1.10,"
      "\"meets_target\":%s}\n",
      records, rounds, plain_s, tls_token_s, tls_cert_s, tls_cert_s / plain_s,
      tls_token_s / plain_s, tls_cert_s / plain_s <= 1.10 ? "true" : "false");
  (void)(*plain)->Stop();
  (void)(*tls)->Stop();
  return 0;
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) { return braid::Main(argc, argv); }
