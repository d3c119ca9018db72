// Power-cut tests (tests/powercut/README.md): real braid processes are
// recorded through the shim while they write, replicate, compact, close and
// upgrade stores; then, for each of many cut points, the files a power cut
// there leaves are rebuilt and checked:
//   - the store opens, and PRAGMA integrity_check says ok;
//   - durability "full": every acknowledged write is there; "normal": the
//     store is what some prefix of the writes left;
//   - no version name (origin, counter) and no change-log seq is issued
//     twice: a store that lost versions or seqs others may have seen takes
//     a new instance id and epoch;
//   - (deep checks) a peer that synced before the cut and syncs again after
//     the restart converges with the store, nothing lost on either side.
// BRAID_POWERCUT_SEED fixes the choice of cuts; BRAID_POWERCUT_SCALE
// multiplies their number (make check-long).

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>

#include <sqlite3.h>
#include <sys/stat.h>

#include "http/client.h"
#include "tests/powercut/harness.h"
#include "tests/support/server.h"
#include "tests/support/store_dump.h"

namespace braid::powercut {
namespace {

using nlohmann::json;

uint64_t Seed() {
  const char* env = std::getenv("BRAID_POWERCUT_SEED");
  const uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 10) : std::random_device{}();
  std::printf("power-cut seed %llu (BRAID_POWERCUT_SEED=%llu reproduces the choice of cuts)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  return seed;
}

std::string Pad(std::mt19937_64& rng, size_t n) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(n, 'a');
  for (char& c : s) c = kChars[rng() % 36];
  return s;
}

uint64_t CounterOf(const std::string& version) {
  return std::strtoull(version.substr(version.find(':') + 1).c_str(), nullptr, 10);
}

void SetDurability(const std::string& data_dir, const std::string& durability) {
  ASSERT_TRUE(testing::SetConfig(data_dir, "durability", "\"" + durability + "\"").ok());
}

// Runs `check` on each cut, in order; a failure names the cut and how to
// rebuild it, and keeps the recording. Stops after a few failures.
struct Cut {
  size_t at = 0;
  CutSpec spec;
  bool deep = false;
};
using CheckFn = std::function<Status(const std::string& dir, const Cut& cut)>;

void RunCuts(Recording& rec, const std::vector<Cut>& cuts, const CheckFn& check) {
  int failures = 0;
  for (const Cut& cut : cuts) {
    auto dir = rec.Cut(cut.at, cut.spec);
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    const Status s = check(*dir, cut);
    if (!s.ok()) {
      rec.Keep();
      ADD_FAILURE() << "power cut before record " << cut.at << " of " << rec.size() << " (fates "
                    << cut.spec.ToString() << (cut.deep ? ", deep check" : "")
                    << "): " << s.ToString()
                    << "\n  rebuild it: " << rec.ReplayCommand(cut.at, cut.spec);
      if (++failures == 3) return;
    }
  }
  std::printf("checked %zu power cuts of %zu records\n", cuts.size(), rec.size());
}

// Fates for the recorded instance `victim` (the others are killed at the
// same instant but keep what their kernel had).
CutSpec RandomSpec(std::mt19937_64& rng, const std::string& victim) {
  CutSpec spec;
  spec.seed = rng();
  spec.fallback = Fate::kAll;
  static const Fate kFates[] = {Fate::kNone, Fate::kPrefix, Fate::kSubset};
  spec.fates[victim] = kFates[rng() % 3];
  return spec;
}

// ---------------------------------------------------------------------------
// API writes and batches to one server.

// What the client did: per acknowledged request, the records it wrote
// (body, or nullopt for a delete) and the counter after it.
struct ApiHistory {
  std::vector<std::map<std::string, std::optional<std::string>>> writes;
  std::vector<uint64_t> counter_after;

  // Records after the first `n` requests.
  std::map<std::string, std::optional<std::string>> After(size_t n) const {
    std::map<std::string, std::optional<std::string>> state;
    for (size_t i = 0; i < n; ++i) {
      for (const auto& [id, body] : writes[i]) state[id] = body;
    }
    return state;
  }
};

ApiHistory WriteThroughApi(Recording& rec, const Server& server, std::mt19937_64& rng,
                           int requests) {
  ApiHistory h;
  const std::string& url = server.url();
  auto client = server.Client();
  std::map<std::string, bool> live;
  for (int n = 0; n < requests; ++n) {
    std::map<std::string, std::optional<std::string>> wrote;
    uint64_t counter = h.counter_after.empty() ? 0 : h.counter_after.back();
    const uint64_t kind = rng() % 20;
    auto body = [&](int item) {
      return "{\"n\":" + std::to_string(n) + ",\"i\":" + std::to_string(item) + ",\"pad\":\"" +
             Pad(rng, 200 + rng() % 1400) + "\"}";
    };
    if (kind < 8) {
      const std::string id = "r" + std::to_string(rng() % 150);
      const std::string b = body(0);
      auto r = client->Put(url + "/api/v1/collections/w/records/" + id, "{\"body\":" + b + "}");
      EXPECT_TRUE(r.ok() && (r->status == 200 || r->status == 201)) << (r.ok() ? r->body : "");
      if (!r.ok()) break;
      counter = CounterOf(json::parse(r->body)["version"]);
      wrote[id] = b;
      live[id] = true;
    } else if (kind < 17) {
      std::string batch = "{\"records\":[";
      const int items = 1 + static_cast<int>(rng() % 30);
      for (int i = 0; i < items; ++i) {
        const std::string id = "r" + std::to_string(rng() % 150);
        if (wrote.count(id)) continue;
        if (batch.back() != '[') batch += ",";
        if (live[id] && rng() % 5 == 0) {
          batch += "{\"collection\":\"w\",\"id\":\"" + id + "\",\"deleted\":true}";
          wrote[id] = std::nullopt;
          live[id] = false;
        } else {
          const std::string b = body(i);
          batch += "{\"collection\":\"w\",\"id\":\"" + id + "\",\"body\":" + b + "}";
          wrote[id] = b;
          live[id] = true;
        }
      }
      batch += "]}";
      auto r = client->Post(url + "/api/v1/batch", batch);
      EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : "");
      if (!r.ok()) break;
      const json answer = json::parse(r->body);
      for (const auto& item : answer["results"]) {
        counter = std::max(counter, CounterOf(item["version"]));
      }
    } else {
      std::string id;
      for (const auto& [k, alive] : live) {
        if (alive && (id.empty() || rng() % 4 == 0)) id = k;
      }
      if (id.empty()) continue;
      auto r = client->Delete(url + "/api/v1/collections/w/records/" + id);
      EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : "");
      if (!r.ok()) break;
      counter = CounterOf(json::parse(r->body)["version"]);
      wrote[id] = std::nullopt;
      live[id] = false;
    }
    h.writes.push_back(std::move(wrote));
    h.counter_after.push_back(counter);
    rec.Mark("ack " + std::to_string(h.writes.size()));
  }
  return h;
}

// Requests acknowledged before record `cut`.
size_t AckedBefore(const Trace& trace, size_t cut) {
  auto m = LastMarker(trace, cut, "ack ");
  return m ? std::strtoull(m->second.c_str() + 4, nullptr, 10) : 0;
}

Status CheckApiCut(const std::string& dir, const Cut& cut, const Recording& rec,
                   const ApiHistory& h, bool full) {
  const std::string data = dir + "/a";
  BRAID_ASSIGN_OR_RETURN(const RawState before, ReadRawState(data));
  std::map<std::string, Record> table;
  InstanceId id_after;
  uint64_t epoch_after = 0;
  {
    BRAID_ASSIGN_OR_RETURN(auto store, OpenAfterCut(data));
    BRAID_ASSIGN_OR_RETURN(table, AllRecords(*store));
    BRAID_ASSIGN_OR_RETURN(const StoreStats stats, store->Stats());
    id_after = stats.instance_id;
    epoch_after = stats.epoch;
  }
  BRAID_RETURN_IF_ERROR(IntegrityCheck(data));

  // The store is what the first `n` requests left.
  size_t n = 0;
  if (before.counter != 0) {
    auto it = std::find(h.counter_after.begin(), h.counter_after.end(), before.counter);
    if (it == h.counter_after.end()) {
      std::string seen;
      for (size_t i = 0; i < h.counter_after.size() && i < 8; ++i) {
        seen += " " + std::to_string(h.counter_after[i]);
      }
      return Status::Corruption("counter " + std::to_string(before.counter) +
                                " is not where any acknowledged request left it (" + seen +
                                " ...)");
    }
    n = static_cast<size_t>(it - h.counter_after.begin()) + 1;
  }
  const size_t acked = AckedBefore(rec.trace(), cut.at);
  if (full && n < acked) {
    return Status::Corruption("request " + std::to_string(n + 1) + " of the " +
                              std::to_string(acked) + " acknowledged is lost");
  }
  for (const auto& [id, body] : h.After(n)) {
    auto it = table.find("w/" + id);
    const bool deleted = !body.has_value();
    if (it == table.end()) return Status::Corruption("w/" + id + " is missing");
    if (it->second.deleted != deleted || (!deleted && it->second.body != *body)) {
      return Status::Corruption("w/" + id + " is not as request " + std::to_string(n) +
                                " left it: " + Describe(it->second).substr(0, 200));
    }
  }
  if (table.size() != h.After(n).size()) {
    return Status::Corruption("the store has " + std::to_string(table.size()) +
                              " records, request " + std::to_string(n) + " left " +
                              std::to_string(h.After(n).size()));
  }
  // Versions others saw must never be issued again: a store that lost some
  // writes under its own name continues under a new one.
  if (n < acked) {
    if (id_after.Hex() == before.self) {
      return Status::Corruption("lost " + std::to_string(acked - n) +
                                " acknowledged writes (counter " + std::to_string(before.counter) +
                                " < " + std::to_string(h.counter_after[acked - 1]) +
                                ") yet kept its instance id: the next writes reuse their versions");
    }
    if (epoch_after == before.epoch) {
      return Status::Corruption(
          "lost change-log seqs yet kept its epoch: cursors skip the new ones");
    }
  }
  return Status::OK();
}

void ApiWritesScenario(const std::string& durability, size_t cuts) {
  std::mt19937_64 rng(Seed());
  Recording rec;
  ASSERT_EQ(RunBraid(rec.Dir("a"), {"init"}).exit_code, 0);
  SetDurability(rec.Dir("a"), durability);
  rec.Snapshot();
  ApiHistory h;
  {
    auto server = Server::Start(rec.Dir("a"), rec.Env(), rec.Work("a.log"));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    h = WriteThroughApi(rec, **server, rng, 220);
    auto code = (*server)->Stop();
    ASSERT_TRUE(code.ok() && *code == 0);
  }
  rec.Mark("stopped");
  ASSERT_TRUE(rec.Finish().ok());
  std::vector<Cut> points;
  for (size_t at : ChooseCuts(rec.trace(), cuts, rng,
                              [](const std::string& m) { return m.rfind("ack ", 0) == 0; })) {
    points.push_back({at, RandomSpec(rng, "a"), false});
  }
  RunCuts(rec, points, [&](const std::string& dir, const Cut& cut) {
    return CheckApiCut(dir, cut, rec, h, durability == "full");
  });
}

// ---------------------------------------------------------------------------
// Replication that merges: two instances write the same records, sync, and
// the recorded one ("a") is cut. "b" is cut at the same instant, but keeps
// what its kernel had (a process killed, not a power cut).

// Writes and the versions they were acknowledged with, from the markers
// "wrote KEY VERSION" before record `cut`.
std::vector<std::pair<std::string, std::string>> WritesBefore(const Trace& trace, size_t cut) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [at, text] : trace.markers()) {
    if (at >= cut) break;
    if (text.rfind("wrote ", 0) != 0) continue;
    const size_t space = text.find(' ', 6);
    out.emplace_back(text.substr(6, space - 6), text.substr(space + 1));
  }
  return out;
}

Result<std::string> ApiPut(http::Client& client, const std::string& url, const std::string& key,
                           const std::string& body) {
  const size_t slash = key.find('/');
  BRAID_ASSIGN_OR_RETURN(auto r, client.Put(url + "/api/v1/collections/" + key.substr(0, slash) +
                                                "/records/" + key.substr(slash + 1),
                                            "{\"body\":" + body + "}"));
  if (r.status != 200 && r.status != 201) return Status::Internal("PUT " + key + ": " + r.body);
  return json::parse(r.body)["version"].get<std::string>();
}

Result<std::string> CliPut(const std::string& dir, const std::string& key, const std::string& body,
                           const std::vector<std::string>& env) {
  const size_t slash = key.find('/');
  const auto r =
      RunBraid(dir, {"--json", "put", key.substr(0, slash), key.substr(slash + 1), "-"}, env, body);
  if (r.exit_code != 0) return Status::Internal("braid put " + key + ": " + r.err);
  return json::parse(r.out)["record"]["version"].get<std::string>();
}

Status Sync(const std::string& dir, const std::string& remote,
            const std::vector<std::string>& env) {
  const auto r = RunBraid(dir, {"sync", remote}, env);
  if (r.exit_code != 0) return Status::Internal("braid sync " + remote + ": " + r.err);
  return Status::OK();
}

Status AddRemote(const std::string& dir, const std::string& name, const std::string& url,
                 const std::string& token, const std::vector<std::string>& env) {
  const auto r = RunBraid(dir, {"remote", "add", name, url, "--token", token}, env);
  if (r.exit_code != 0) return Status::Internal("braid remote add: " + r.err);
  return Status::OK();
}

std::string CreateToken(const std::string& dir) {
  const auto r = RunBraid(dir, {"token", "create", "peer"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string out = r.out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out.substr(out.rfind('\n') + 1);
}

// Every write in `writes` is included in its record's version vector.
Status AllIncluded(const std::map<std::string, Record>& records,
                   const std::vector<std::pair<std::string, std::string>>& writes,
                   const std::string& where) {
  for (const auto& [key, version] : writes) {
    auto it = records.find(key);
    const size_t colon = version.find(':');
    auto origin = InstanceId::FromHex(version.substr(0, colon));
    if (!origin.ok()) return origin.status();
    const uint64_t counter = CounterOf(version);
    if (it == records.end() || it->second.vv.Get(*origin) < counter) {
      return Status::Corruption(
          where + " lost the acknowledged write " + version + " of " + key +
          (it == records.end() ? " (no record)" : ": " + Describe(it->second)));
    }
  }
  return Status::OK();
}

// The shallow check of a cut of `instance`: it opens, passes the integrity
// check, holds every acknowledged write of its own (full durability), and
// continues under a new name if it lost versions or seqs readers saw.
Status CheckOwnCut(const std::string& dir, const std::string& instance, const Cut& cut,
                   const Recording& rec, const std::map<size_t, RawState>& live) {
  const std::string data = dir + "/" + instance;
  BRAID_ASSIGN_OR_RETURN(const RawState before, ReadRawState(data));
  std::map<std::string, Record> records;
  StoreStats after;
  {
    BRAID_ASSIGN_OR_RETURN(auto store, OpenAfterCut(data));
    BRAID_ASSIGN_OR_RETURN(records, AllRecords(*store));
    BRAID_ASSIGN_OR_RETURN(after, store->Stats());
  }
  BRAID_RETURN_IF_ERROR(IntegrityCheck(data));
  std::vector<std::pair<std::string, std::string>> own;
  for (const auto& w : WritesBefore(rec.trace(), cut.at)) {
    if (w.second.rfind(before.self, 0) == 0) own.push_back(w);
  }
  BRAID_RETURN_IF_ERROR(AllIncluded(records, own, instance));
  // What readers saw at the last quiet point before the cut.
  const RawState* seen = nullptr;
  for (const auto& [at, state] : live) {
    if (at < cut.at) seen = &state;
  }
  if (seen != nullptr && seen->self == before.self) {
    if (before.counter < seen->counter && after.instance_id.Hex() == before.self) {
      return Status::Corruption("lost versions up to " + std::to_string(seen->counter) +
                                " (the store has " + std::to_string(before.counter) +
                                ") yet kept its instance id: its next writes reuse their names");
    }
    if (before.seq < seen->seq && after.epoch == before.epoch) {
      return Status::Corruption("lost change-log seqs up to " + std::to_string(seen->seq) +
                                " (the store has " + std::to_string(before.seq) +
                                ") yet kept its epoch: cursors skip the new ones");
    }
  }
  return Status::OK();
}

// After the deep check's syncs: both stores hold the same records, and
// every acknowledged write, before or after the cut.
Status CheckConverged(const std::string& a_dir, const std::string& b_dir,
                      const std::vector<std::pair<std::string, std::string>>& writes) {
  std::map<std::string, Record> a, b;
  {
    BRAID_ASSIGN_OR_RETURN(auto store, OpenAfterCut(a_dir));
    BRAID_ASSIGN_OR_RETURN(a, AllRecords(*store));
  }
  {
    BRAID_ASSIGN_OR_RETURN(auto store, OpenAfterCut(b_dir));
    BRAID_ASSIGN_OR_RETURN(b, AllRecords(*store));
  }
  for (const auto& [key, r] : a) {
    auto it = b.find(key);
    if (it == b.end()) return Status::Corruption("after syncing, only a has " + key);
    if (Describe(r) != Describe(it->second)) {
      return Status::Corruption("after syncing, a and b differ on " + key +
                                ":\n    a: " + Describe(r) + "\n    b: " + Describe(it->second));
    }
  }
  if (b.size() != a.size()) return Status::Corruption("after syncing, b has records a lacks");
  BRAID_RETURN_IF_ERROR(AllIncluded(a, writes, "a"));
  return AllIncluded(b, writes, "b");
}

std::string SharedKey(std::mt19937_64& rng) { return "s/k" + std::to_string(rng() % 8); }

// a serves; b writes the same records and syncs with a twice per round
// (the second sync pulls the versions a merged from the first one's push).
// Fails until the store stops reissuing versions lost to a power cut (the
// next commits): disabled so that each commit passes.
TEST(PowerCutTest, PushesThatMergeOnTheServer) {
  const uint64_t seed = Seed();
  std::mt19937_64 rng(seed);
  Recording rec;
  ASSERT_EQ(RunBraid(rec.Dir("a"), {"init"}).exit_code, 0);
  ASSERT_EQ(RunBraid(rec.Dir("b"), {"init"}).exit_code, 0);
  const std::string token = CreateToken(rec.Dir("a"));
  rec.Snapshot();
  const std::vector<std::string> env = rec.Env();
  {
    auto server = Server::Start(rec.Dir("a"), env, rec.Work("a.log"));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    // b pushes alone first, so that a merges (pulling first, b would merge
    // and a would only fast-forward), then syncs both ways.
    ASSERT_TRUE(AddRemote(rec.Dir("b"), "a", (*server)->url(), token, env).ok());
    ASSERT_EQ(RunBraid(rec.Dir("b"),
                       {"remote", "add", "a-push", (*server)->url(), "--token", token,
                        "--direction", "push"},
                       env)
                  .exit_code,
              0);
    auto client = (*server)->Client();
    for (int round = 0; round < 8; ++round) {
      for (int i = 0; i < 3; ++i) {
        const std::string key = i == 0 ? "a/own" + std::to_string(rng() % 5) : SharedKey(rng);
        auto v = ApiPut(*client, (*server)->url(), key,
                        "{\"a\":" + std::to_string(round) + ",\"pad\":\"" + Pad(rng, 300) + "\"}");
        ASSERT_TRUE(v.ok()) << v.status().ToString();
        rec.Mark("wrote " + key + " " + *v);
      }
      for (int i = 0; i < 3; ++i) {
        const std::string key = SharedKey(rng);
        auto v = CliPut(rec.Dir("b"), key, "{\"b\":" + std::to_string(round) + "}", env);
        ASSERT_TRUE(v.ok()) << v.status().ToString();
        rec.Mark("wrote " + key + " " + *v);
      }
      ASSERT_TRUE(Sync(rec.Dir("b"), "a-push", env).ok());
      ASSERT_TRUE(Sync(rec.Dir("b"), "a", env).ok());
      rec.Mark("quiet " + std::to_string(round));
    }
    auto code = (*server)->Stop();
    ASSERT_TRUE(code.ok() && *code == 0);
  }
  ASSERT_TRUE(rec.Finish().ok());
  auto live = rec.LiveStates("a", [](const std::string& m) {
    return m.rfind("quiet ", 0) == 0 || m.rfind("wrote ", 0) == 0;
  });
  ASSERT_TRUE(live.ok()) << live.status().ToString();

  std::vector<Cut> points;
  const auto quiet = [](const std::string& m) { return m.rfind("quiet ", 0) == 0; };
  int n = 0;
  for (size_t at : ChooseCuts(rec.trace(), Scaled(100), rng, quiet)) {
    points.push_back({at, RandomSpec(rng, "a"), ++n % 6 == 0});
  }
  const std::vector<std::string> after = {std::string("BRAID_BOOT_ID=") + kAfterCutBoot};
  RunCuts(rec, points, [&](const std::string& dir, const Cut& cut) -> Status {
    BRAID_RETURN_IF_ERROR(CheckOwnCut(dir, "a", cut, rec, *live));
    if (!cut.deep) return Status::OK();
    auto writes = WritesBefore(rec.trace(), cut.at);
    {
      BRAID_ASSIGN_OR_RETURN(auto server,
                             Server::Start(dir + "/a", after, rec.Work("a-after.log")));
      BRAID_RETURN_IF_ERROR(AddRemote(dir + "/b", "a", server->url(), token, after));
      auto client = server->Client();
      for (int i = 0; i < 4; ++i) {
        const std::string key = "s/k" + std::to_string(i);
        BRAID_ASSIGN_OR_RETURN(const std::string v,
                               ApiPut(*client, server->url(), key, "{\"after\":\"a\"}"));
        writes.emplace_back(key, v);
        BRAID_ASSIGN_OR_RETURN(
            const std::string w,
            CliPut(dir + "/b", "s/k" + std::to_string(i + 4), "{\"after\":\"b\"}", after));
        writes.emplace_back("s/k" + std::to_string(i + 4), w);
      }
      for (int i = 0; i < 3; ++i) BRAID_RETURN_IF_ERROR(Sync(dir + "/b", "a", after));
    }
    return CheckConverged(dir + "/a", dir + "/b", writes);
  });
}

// a pulls from b's server and pushes back in one `braid sync`; cuts inside
// it find a's merges pushed to b but not yet on a's disk.
// Fails until the store stops reissuing versions lost to a power cut (the
// next commits): disabled so that each commit passes.
TEST(PowerCutTest, PullsThatMergeOnTheClient) {
  const uint64_t seed = Seed();
  std::mt19937_64 rng(seed);
  Recording rec;
  ASSERT_EQ(RunBraid(rec.Dir("a"), {"init"}).exit_code, 0);
  ASSERT_EQ(RunBraid(rec.Dir("b"), {"init"}).exit_code, 0);
  const std::string token = CreateToken(rec.Dir("b"));
  rec.Snapshot();
  const std::vector<std::string> env = rec.Env();
  {
    auto server = Server::Start(rec.Dir("b"), env, rec.Work("b.log"));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    ASSERT_TRUE(AddRemote(rec.Dir("a"), "b", (*server)->url(), token, env).ok());
    auto client = (*server)->Client();
    for (int round = 0; round < 8; ++round) {
      for (int i = 0; i < 3; ++i) {
        const std::string key = SharedKey(rng);
        auto v = CliPut(rec.Dir("a"), key, "{\"a\":" + std::to_string(round) + "}", env);
        ASSERT_TRUE(v.ok()) << v.status().ToString();
        rec.Mark("wrote " + key + " " + *v);
        auto w = ApiPut(*client, (*server)->url(), SharedKey(rng),
                        "{\"b\":" + std::to_string(round) + ",\"pad\":\"" + Pad(rng, 300) + "\"}");
        ASSERT_TRUE(w.ok()) << w.status().ToString();
      }
      ASSERT_TRUE(Sync(rec.Dir("a"), "b", env).ok());
      rec.Mark("quiet " + std::to_string(round));
    }
    auto code = (*server)->Stop();
    ASSERT_TRUE(code.ok() && *code == 0);
  }
  ASSERT_TRUE(rec.Finish().ok());
  auto live = rec.LiveStates("a", [](const std::string& m) {
    return m.rfind("quiet ", 0) == 0 || m.rfind("wrote ", 0) == 0;
  });
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  // Deep checks where the most is unsynced (just before a sync of a's
  // files: inside a sync, before its durable record), and a few elsewhere.
  std::vector<Cut> points;
  int n = 0;
  for (size_t at :
       ChooseCuts(rec.trace(), Scaled(60), rng, [](const std::string&) { return false; })) {
    const bool before_sync = at < rec.size() && rec.trace().at(at).header.op == Op::kSync &&
                             rec.trace().at(at).path.rfind("a/", 0) == 0;
    points.push_back({at, RandomSpec(rng, "a"), before_sync || ++n % 5 == 0});
  }
  const std::vector<std::string> after = {std::string("BRAID_BOOT_ID=") + kAfterCutBoot};
  RunCuts(rec, points, [&](const std::string& dir, const Cut& cut) -> Status {
    BRAID_RETURN_IF_ERROR(CheckOwnCut(dir, "a", cut, rec, *live));
    if (!cut.deep) return Status::OK();
    auto writes = WritesBefore(rec.trace(), cut.at);
    {
      BRAID_ASSIGN_OR_RETURN(auto server,
                             Server::Start(dir + "/b", after, rec.Work("b-after.log")));
      BRAID_RETURN_IF_ERROR(AddRemote(dir + "/a", "b", server->url(), token, after));
      for (int i = 0; i < 4; ++i) {
        const std::string key = "s/k" + std::to_string(i);
        BRAID_ASSIGN_OR_RETURN(const std::string v,
                               CliPut(dir + "/a", key, "{\"after\":1}", after));
        writes.emplace_back(key, v);
      }
      for (int i = 0; i < 3; ++i) BRAID_RETURN_IF_ERROR(Sync(dir + "/a", "b", after));
    }
    return CheckConverged(dir + "/a", dir + "/b", writes);
  });
}

// ---------------------------------------------------------------------------
// Compaction: records never change, and a client starting from scratch
// still gets every live record.

Status PostBatch(http::Client& client, const std::string& url, const std::string& records) {
  BRAID_ASSIGN_OR_RETURN(auto r,
                         client.Post(url + "/api/v1/batch", "{\"records\":[" + records + "]}"));
  if (r.status != 200) return Status::Internal("batch: " + r.body);
  return Status::OK();
}

TEST(PowerCutTest, Compaction) {
  std::mt19937_64 rng(Seed());
  Recording rec;
  ASSERT_EQ(RunBraid(rec.Dir("a"), {"init"}).exit_code, 0);
  {
    auto server = Server::Start(rec.Dir("a"), {}, rec.Work("setup.log"));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    auto client = (*server)->Client();
    // Enough events that compaction deletes them in several transactions.
    std::vector<int> ids(400);
    for (int i = 0; i < 400; ++i) ids[i] = i;
    std::vector<bool> live(400, false);
    for (int round = 0; round < 300; ++round) {
      std::shuffle(ids.begin(), ids.end(), rng);
      std::string items;
      for (int i = 0; i < 60; ++i) {
        const std::string id = "r" + std::to_string(ids[i]);
        if (!items.empty()) items += ",";
        const bool del = live[ids[i]] && rng() % 6 == 0;
        live[ids[i]] = !del;
        items += del ? "{\"collection\":\"w\",\"id\":\"" + id + "\",\"deleted\":true}"
                     : "{\"collection\":\"w\",\"id\":\"" + id + "\",\"parent\":\"p" +
                           std::to_string(rng() % 3) +
                           "\",\"body\":{\"round\":" + std::to_string(round) + ",\"pad\":\"" +
                           Pad(rng, 200) + "\"}}";
      }
      ASSERT_TRUE(PostBatch(*client, (*server)->url(), items).ok());
    }
    ASSERT_TRUE((*server)->Stop().ok());
  }
  rec.Snapshot();
  // Compaction must not change a record: the reference is the store before.
  std::map<std::string, std::string> before;
  {
    const std::string copy = rec.Work("before");
    std::filesystem::copy(rec.Dir("a"), copy, std::filesystem::copy_options::recursive);
    auto store = OpenAfterCut(copy);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto all = AllRecords(**store);
    ASSERT_TRUE(all.ok());
    for (const auto& [key, r] : *all) before[key] = Describe(r);
  }
  const auto compact = RunBraid(rec.Dir("a"), {"compact", "--older-than", "0"}, rec.Env());
  ASSERT_EQ(compact.exit_code, 0) << compact.err;
  ASSERT_TRUE(rec.Finish().ok());
  std::vector<Cut> points;
  for (size_t at :
       ChooseCuts(rec.trace(), Scaled(50), rng, [](const std::string&) { return false; })) {
    points.push_back({at, RandomSpec(rng, "a"), false});
  }
  RunCuts(rec, points, [&](const std::string& dir, const Cut&) -> Status {
    const std::string data = dir + "/a";
    {
      BRAID_ASSIGN_OR_RETURN(auto store, OpenAfterCut(data));
      BRAID_ASSIGN_OR_RETURN(const auto all, AllRecords(*store));
      for (const auto& [key, r] : all) {
        auto it = before.find(key);
        if (it == before.end() || it->second != Describe(r)) {
          return Status::Corruption(key + " changed: " + Describe(r));
        }
      }
      if (all.size() != before.size()) return Status::Corruption("records were lost");
      // The feed from the start: every live record's last event is not a delete.
      std::map<std::string, ChangeOp> last;
      ChangeQuery q;
      q.limit = 1000;
      q.with_records = false;
      for (;;) {
        BRAID_ASSIGN_OR_RETURN(const ChangePage page, store->ReadChanges(q));
        for (const ChangeEvent& e : page.events) last[e.collection + "/" + e.id] = e.op;
        if (!page.has_more) break;
        q.after_seq = page.complete_to;
      }
      for (const auto& [key, r] : all) {
        auto it = last.find(key);
        if (!r.deleted && (it == last.end() || it->second == ChangeOp::kDelete)) {
          return Status::Corruption("a new client would not get the live record " + key);
        }
      }
    }
    return IntegrityCheck(data);
  });
}

// ---------------------------------------------------------------------------
// A transaction large enough that the WAL outgrows the size braid keeps it
// at (64 MiB): at the close braid empties it and cuts it back.

// Fails until the kept WAL is synced emptied before it is cut (the next
// commits): disabled so that each commit passes.
TEST(PowerCutTest, ClosingAfterALargeTransaction) {
  std::mt19937_64 rng(Seed());
  Recording rec;
  ASSERT_EQ(RunBraid(rec.Dir("a"), {"init"}).exit_code, 0);
  ASSERT_TRUE(testing::SetConfig(rec.Dir("a"), "max_request_bytes", "268435456").ok());
  // The store's close is the subject: no search index work beside it.
  ASSERT_TRUE(testing::SetConfig(rec.Dir("a"), "search", "false").ok());
  rec.Snapshot();
  constexpr int kRecords = 60'000;
  {
    auto server = Server::Start(rec.Dir("a"), rec.Env(), rec.Work("a.log"));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    auto client = (*server)->Client();
    // Small commits first, in the same WAL as the large one: replayed over
    // the database, their older page images would undo the large one.
    for (int i = 0; i < 3; ++i) {
      auto v = ApiPut(*client, (*server)->url(), "docs/d" + std::to_string(i), "{\"first\":true}");
      ASSERT_TRUE(v.ok()) << v.status().ToString();
    }
    const std::string pad(1000, 'x');
    std::string items;
    for (int i = 0; i < kRecords; ++i) {
      if (!items.empty()) items += ",";
      items += "{\"collection\":\"docs\",\"id\":\"d" + std::to_string(i) +
               "\",\"body\":{\"n\":" + std::to_string(i) + ",\"pad\":\"" + pad + "\"}}";
    }
    ASSERT_TRUE(PostBatch(*client, (*server)->url(), items).ok());
    rec.Mark("wrote");
    auto code = (*server)->Stop();
    ASSERT_TRUE(code.ok() && *code == 0);
  }
  ASSERT_TRUE(rec.Finish().ok());
  // The close: the last checkpoint's sync of the database, then braid's
  // VFS empties the WAL. Cuts after that sync, each with several fates,
  // and a few anywhere (inside the checkpoint, inside the pull).
  size_t close_from = 0;
  for (size_t i = 0; i < rec.size(); ++i) {
    const auto& e = rec.trace().at(i);
    if (e.header.op == Op::kSync && e.path == "a/store.db") close_from = i + 1;
  }
  ASSERT_GT(close_from, 0u);
  std::vector<Cut> points;
  for (size_t at = close_from; at <= rec.size(); ++at) {
    for (size_t k = 0; k < Scaled(3); ++k) {
      CutSpec spec = RandomSpec(rng, "a");
      spec.fates["a"] = Fate::kSubset;
      points.push_back({at, spec, false});
    }
  }
  for (size_t at :
       ChooseCuts(rec.trace(), Scaled(4), rng, [](const std::string&) { return false; })) {
    if (at < close_from) points.push_back({at, RandomSpec(rng, "a"), false});
  }
  std::sort(points.begin(), points.end(), [](const Cut& x, const Cut& y) { return x.at < y.at; });
  const size_t acked = rec.trace().markers().at(0).first;
  RunCuts(rec, points, [&](const std::string& dir, const Cut& cut) -> Status {
    const std::string data = dir + "/a";
    {
      BRAID_ASSIGN_OR_RETURN(auto store, OpenAfterCut(data));
      BRAID_ASSIGN_OR_RETURN(const StoreStats stats, store->Stats());
      // The small writes a prefix, then the batch all or nothing, and all
      // once acknowledged.
      if (stats.live > 3 && stats.live != kRecords) {
        return Status::Corruption("holds " + std::to_string(stats.live) +
                                  " records of a batch of " + std::to_string(kRecords));
      }
      if (cut.at > acked && stats.live != kRecords) {
        return Status::Corruption("the acknowledged batch is gone");
      }
    }
    return IntegrityCheck(data);
  });
}

// ---------------------------------------------------------------------------
// A schema upgrade (tests/fixtures/v1, schema 1): a cut leaves the old
// schema or the new one, and either opens with everything in it.

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(PowerCutTest, SchemaUpgrade) {
  std::mt19937_64 rng(Seed());
  Recording rec;
  const std::string data = rec.Dir("a");
  ASSERT_EQ(RunBraid(data, {"init"}).exit_code, 0);
  std::filesystem::remove(data + "/store.db");
  std::filesystem::copy_file(std::string(BRAID_FIXTURES) + "/v1/store.db", data + "/store.db");
  {
    // The fixture as an in-place upgrade finds it (tests/integration/upgrade_test.cc).
    struct stat st;
    ASSERT_EQ(::stat((data + "/store.db").c_str(), &st), 0);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((data + "/store.db").c_str(), &db), SQLITE_OK);
    const std::string sql =
        "UPDATE meta SET value = '" + std::to_string(st.st_ino) + "' WHERE key = 'file_id'";
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  rec.Snapshot();
  const auto status = RunBraid(data, {"status"}, rec.Env());
  ASSERT_EQ(status.exit_code, 0) << status.err;
  ASSERT_TRUE(rec.Finish().ok());
  const std::string want = ReadText(std::string(BRAID_FIXTURES) + "/v1/expected.json");
  std::vector<Cut> points;
  for (size_t at = 0; at <= rec.size(); ++at) {
    for (int k = 0; k < 2; ++k) points.push_back({at, RandomSpec(rng, "a"), false});
  }
  for (size_t i = 0; i < points.size(); ++i) {
    if (i > 0 && points[i].at == points[i - 1].at &&
        points[i].spec.fates == points[i - 1].spec.fates &&
        points[i].spec.seed == points[i - 1].spec.seed) {
      points.erase(points.begin() + static_cast<std::ptrdiff_t>(i--));
    }
  }
  RunCuts(rec, points, [&](const std::string& dir, const Cut&) -> Status {
    {
      BRAID_ASSIGN_OR_RETURN(auto store, OpenAfterCut(dir + "/a"));
      BRAID_ASSIGN_OR_RETURN(const std::string dump, testing::DumpStore(*store, {"lab_a"}));
      if (dump != want) return Status::Corruption("the store's contents changed in the upgrade");
    }
    return IntegrityCheck(dir + "/a");
  });
}

TEST(PowerCutTest, ApiWritesAndBatchesWithFullDurability) {
  ApiWritesScenario("full", Scaled(200));
}

// Fails until the store stops reissuing versions lost to a power cut (the
// next commits): disabled so that each commit passes.
TEST(PowerCutTest, ApiWritesAndBatchesWithNormalDurability) {
  ApiWritesScenario("normal", Scaled(100));
}

}  // namespace
}  // namespace braid::powercut
