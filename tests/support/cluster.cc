#include "tests/support/cluster.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "braid/store.h"

namespace braid::testing {

std::unique_ptr<http::Client> Node::TokenClient() const {
  std::ifstream in(token_file);
  std::string token;
  std::getline(in, token);
  http::ClientOptions o;
  o.authorization = "Bearer " + token;
  return std::move(*http::Client::Create(o));
}

Node& Cluster::Add(const std::string& name, bool serve) {
  auto node = std::make_unique<Node>();
  node->name = name;
  node->dir = dir_.File(name);
  const RunResult init = Braid(node->dir, {"init", "--no-admin"});
  EXPECT_EQ(init.exit_code, 0) << init.err;
  const RunResult token = Braid(node->dir, {"token", "create", "peers"});
  EXPECT_EQ(token.exit_code, 0) << token.err;
  node->token_file = dir_.File(name + ".token");
  std::string value = token.out;
  while (!value.empty() && value.back() == '\n') value.pop_back();
  value = value.substr(value.rfind('\n') + 1);  // the last line
  std::ofstream(node->token_file) << value << "\n";
  if (serve) {
    auto server = BraidServer::Start(node->dir);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (server.ok()) node->server = std::move(*server);
  }
  Node& ref = *node;
  nodes_[name] = std::move(node);
  return ref;
}

RunResult Cluster::Link(const std::string& from, const std::string& to,
                        const std::vector<std::string>& args) {
  Node& target = *nodes_.at(to);
  std::vector<std::string> argv = {
      "remote", "add", to, target.server->url(), "--token-file", target.token_file};
  argv.insert(argv.end(), args.begin(), args.end());
  return Braid(nodes_.at(from)->dir, argv);
}

RunResult Cluster::Sync(const std::string& node, const std::vector<std::string>& remotes,
                        const std::string& env) {
  std::vector<std::string> argv = {BraidBin(), "--data", nodes_.at(node)->dir, "--json", "sync"};
  argv.insert(argv.end(), remotes.begin(), remotes.end());
  if (env.empty()) return Run(argv);
  // Run through env(1) so the variable reaches only this command.
  argv.insert(argv.begin(), env);
  argv.insert(argv.begin(), "/usr/bin/env");
  return Run(argv);
}

RunResult Cluster::Cli(const std::string& node, const std::vector<std::string>& args,
                       const std::string& input) {
  return Braid(nodes_.at(node)->dir, args, input);
}

State Cluster::Read(const std::string& node) {
  auto store = Store::Open(StoreSpecOf(nodes_.at(node)->dir), StoreOptions());
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  State state;
  if (!store.ok()) return state;
  auto stats = (*store)->Stats();
  for (const auto& c : stats->collections) {
    ListQuery q;
    q.collection = c.name;
    q.include_deleted = true;
    q.limit = 1000;
    for (;;) {
      auto page = (*store)->List(q);
      EXPECT_TRUE(page.ok());
      if (!page.ok()) break;
      for (const auto& r : *page) {
        Snapshot s;
        s.version = r.version.ToString();
        s.vv = VersionVectorToJson(r.vv);
        s.body = r.body;
        s.deleted = r.deleted;
        s.conflicts = r.conflicts;
        state[r.collection + "/" + r.id] = std::move(s);
      }
      if (page->size() < q.limit) break;
      q.after_id = page->back().id;
    }
  }
  return state;
}

std::string Describe(const State& s) {
  std::string out;
  for (const auto& [key, r] : s) {
    out += key + " " + r.version + (r.deleted ? " deleted" : "") + " " + r.body +
           (r.conflicts.empty() ? "" : " conflicts=" + r.conflicts) + "\n";
  }
  return out;
}

nlohmann::json OkJson(const RunResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
  return j;
}

}  // namespace braid::testing
