#include "tests/powercut/harness.h"

#include <signal.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "braid/version_vector.h"
#include "tests/support/server.h"

namespace braid::powercut {
namespace fs = std::filesystem;
namespace {

// Files braid does not write through the recorded calls: the servers' logs
// (stderr, opened by the test) live outside the root, and nothing else may.
bool IgnoreNothing(const std::string&) { return false; }

std::vector<std::string> WithEnv(const std::vector<std::string>& env,
                                 std::vector<std::string> argv) {
  if (env.empty()) return argv;
  std::vector<std::string> out = {"/usr/bin/env"};
  out.insert(out.end(), env.begin(), env.end());
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

}  // namespace

Recording::Recording() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/braid-powercut-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) std::abort();
  base_ = pattern;
  root_ = base_ + "/root";
  snapshot_ = base_ + "/snapshot";
  trace_path_ = base_ + "/trace";
  fs::create_directories(root_);
}

Recording::~Recording() {
  if (keep_ || std::getenv("BRAID_KEEP_TEMP") != nullptr) {
    std::fprintf(stderr, "power-cut recording kept in %s\n", base_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(base_, ec);
}

void Recording::Snapshot() { fs::copy(root_, snapshot_, fs::copy_options::recursive); }

std::vector<std::string> Recording::Env() const {
  return {"LD_PRELOAD=" BRAID_POWERCUT_SHIM, "BRAID_POWERCUT_ROOT=" + root_,
          "BRAID_POWERCUT_TRACE=" + trace_path_, std::string("BRAID_BOOT_ID=") + kRecordingBoot};
}

void Recording::Mark(const std::string& text) {
  if (!AppendMarker(trace_path_, text)) std::abort();
}

Status Recording::Finish() {
  BRAID_ASSIGN_OR_RETURN(trace_, Trace::Open(trace_path_));
  BRAID_ASSIGN_OR_RETURN(auto full, Model::Load(snapshot_, trace_.get()));
  BRAID_RETURN_IF_ERROR(full->Advance(trace_->size()));
  Status s = full->CheckAgainst(root_, IgnoreNothing);
  if (!s.ok()) {
    keep_ = true;
    return s.WithContext("the shim missed a change (trace " + trace_path_ + ")");
  }
  BRAID_ASSIGN_OR_RETURN(model_, Model::Load(snapshot_, trace_.get()));
  return Status::OK();
}

Result<std::string> Recording::Cut(size_t cut, const CutSpec& spec) {
  if (cut < model_->applied()) return Status::Internal("cuts must come in ascending order");
  BRAID_RETURN_IF_ERROR(model_->Advance(cut));
  BRAID_RETURN_IF_ERROR(model_->Materialize(spec, root_, /*onto=*/true));
  return root_;
}

Result<std::map<size_t, RawState>> Recording::LiveStates(
    const std::string& instance, const std::function<bool(const std::string&)>& want) const {
  std::map<size_t, RawState> out;
  BRAID_ASSIGN_OR_RETURN(auto model, Model::Load(snapshot_, trace_.get()));
  const std::string scratch = base_ + "/live";
  CutSpec all;
  all.fallback = Fate::kAll;
  for (const auto& [at, text] : trace_->markers()) {
    if (!want(text)) continue;
    BRAID_RETURN_IF_ERROR(model->Advance(at + 1));
    std::error_code ec;
    fs::remove_all(scratch, ec);
    BRAID_RETURN_IF_ERROR(model->Materialize(all, scratch));
    BRAID_ASSIGN_OR_RETURN(out[at], ReadRawState(scratch + "/" + instance));
  }
  std::error_code ec;
  fs::remove_all(scratch, ec);
  return out;
}

std::string Recording::ReplayCommand(size_t cut, const CutSpec& spec) const {
  return "powercut_replay --snapshot " + snapshot_ + " --trace " + trace_path_ + " --cut " +
         std::to_string(cut) + " --fates " + spec.ToString() + " --seed " +
         std::to_string(spec.seed) + " --onto " + root_;
}

testing::RunResult RunBraid(const std::string& data_dir, const std::vector<std::string>& args,
                            const std::vector<std::string>& env, const std::string& input) {
  std::vector<std::string> argv = {testing::BraidBin(), "--data", data_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::Run(WithEnv(env, argv), input);
}

Result<std::unique_ptr<Server>> Server::Start(const std::string& data_dir,
                                              const std::vector<std::string>& env,
                                              const std::string& log_path) {
  std::unique_ptr<Server> s(new Server());
  s->data_dir_ = data_dir;
  BRAID_ASSIGN_OR_RETURN(
      s->process_, testing::Process::Start(WithEnv(env, {testing::BraidBin(), "--data", data_dir,
                                                         "serve", "--listen", "127.0.0.1:0"}),
                                           log_path));
  auto line = s->process_->ReadLine(std::chrono::seconds(30));
  if (!line.ok()) return Status::Internal("braid serve on " + data_dir + " did not start");
  const size_t start = line->find("http://");
  if (start == std::string::npos) return Status::Internal("unexpected first line: " + *line);
  s->url_ = line->substr(start, line->find(' ', start) - start);
  return s;
}

std::unique_ptr<http::Client> Server::Client() const {
  http::ClientOptions options;
  options.authorization = testing::BasicAuthorization("admin", testing::AdminPassword(data_dir_));
  return std::move(*http::Client::Create(options));
}

Server::~Server() {
  if (process_) (void)Stop();
}

Result<int> Server::Stop() {
  process_->Signal(SIGTERM);
  return process_->Wait(std::chrono::seconds(60));
}

Result<RawState> ReadRawState(const std::string& data_dir) {
  const std::string scratch = data_dir + ".raw";
  std::error_code ec;
  fs::remove_all(scratch, ec);
  fs::create_directories(scratch);
  for (const char* name : {"store.db", "store.db-wal"}) {
    if (fs::exists(data_dir + "/" + name)) {
      fs::copy_file(data_dir + "/" + name, scratch + "/" + name);
    }
  }
  sqlite3* db = nullptr;
  RawState st;
  Status s;
  if (sqlite3_open_v2((scratch + "/store.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) !=
      SQLITE_OK) {
    s = Status::Corruption("cannot open " + data_dir + "/store.db: " + sqlite3_errmsg(db));
  } else {
    sqlite3_stmt* q = nullptr;
    const int rc = sqlite3_prepare_v2(
        db,
        "SELECT hex(i.id), s.epoch, s.counter, s.seq FROM state s JOIN instances i ON "
        "i.num = s.self",
        -1, &q, nullptr);
    if (rc != SQLITE_OK || sqlite3_step(q) != SQLITE_ROW) {
      s = Status::Corruption(std::string("cannot read the state row: ") + sqlite3_errmsg(db));
    } else {
      std::string hex = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
      std::transform(hex.begin(), hex.end(), hex.begin(), ::tolower);
      st.self = hex;
      st.epoch = static_cast<uint64_t>(sqlite3_column_int64(q, 1));
      st.counter = static_cast<uint64_t>(sqlite3_column_int64(q, 2));
      st.seq = static_cast<uint64_t>(sqlite3_column_int64(q, 3));
    }
    sqlite3_finalize(q);
  }
  sqlite3_close(db);
  fs::remove_all(scratch, ec);
  if (!s.ok()) return s;
  return st;
}

Status IntegrityCheck(const std::string& data_dir) {
  sqlite3* db = nullptr;
  Status s;
  if (sqlite3_open_v2((data_dir + "/store.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) !=
      SQLITE_OK) {
    s = Status::Corruption(std::string("cannot open: ") + sqlite3_errmsg(db));
  } else {
    sqlite3_stmt* q = nullptr;
    std::string report;
    // A large cache: with SQLite's default the check of a 70 MB store
    // takes minutes of random reads.
    (void)sqlite3_exec(db, "PRAGMA cache_size=-262144", nullptr, nullptr, nullptr);
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, nullptr) == SQLITE_OK) {
      while (sqlite3_step(q) == SQLITE_ROW) {
        if (!report.empty()) report += "; ";
        report += reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
      }
    } else {
      report = sqlite3_errmsg(db);
    }
    sqlite3_finalize(q);
    if (report != "ok") s = Status::Corruption("integrity_check: " + report);
  }
  sqlite3_close(db);
  return s;
}

Result<std::unique_ptr<Store>> OpenAfterCut(const std::string& data_dir) {
  ::setenv("BRAID_BOOT_ID", kAfterCutBoot, 1);
  return Store::Open("sqlite:" + data_dir + "/store.db", StoreOptions());
}

std::string Describe(const Record& r) {
  return r.version.ToString() + " " + VersionVectorToJson(r.vv) +
         (r.deleted ? " deleted " : " live ") + r.body + " " + r.conflicts;
}

Result<std::map<std::string, Record>> AllRecords(Store& store) {
  std::map<std::string, Record> out;
  BRAID_ASSIGN_OR_RETURN(const StoreStats stats, store.Stats());
  for (const CollectionStats& c : stats.collections) {
    ListQuery q;
    q.collection = c.name;
    q.include_deleted = true;
    q.limit = 1000;
    for (;;) {
      BRAID_ASSIGN_OR_RETURN(const auto page, store.List(q));
      for (const Record& r : page) out[r.collection + "/" + r.id] = r;
      if (page.size() < q.limit) break;
      q.after_id = page.back().id;
    }
  }
  return out;
}

std::vector<size_t> ChooseCuts(const Trace& trace, size_t count, std::mt19937_64& rng,
                               const std::function<bool(const std::string&)>& after_marker) {
  std::vector<size_t> syncs, marks;
  for (size_t i = 0; i < trace.size(); ++i) {
    const Op op = trace.at(i).header.op;
    if (op == Op::kSync || op == Op::kDirSync || op == Op::kSyncAll) syncs.push_back(i);
    if (op == Op::kMarker && after_marker(trace.at(i).path)) marks.push_back(i + 1);
  }
  std::set<size_t> cuts;
  const size_t n = trace.size() + 1;  // a cut before each record, and one after the last
  for (size_t tries = 0; cuts.size() < std::min(count, n) && tries < count * 20; ++tries) {
    const uint64_t kind = rng() % 4;
    if (kind == 0 && !syncs.empty()) {
      const size_t s = syncs[rng() % syncs.size()];
      cuts.insert(rng() % 2 == 0 ? s : s + 1);  // everything pending, or just synced
    } else if (kind == 1 && !marks.empty()) {
      cuts.insert(std::min(marks[rng() % marks.size()] + rng() % 3, n - 1));
    } else {
      cuts.insert(rng() % n);
    }
  }
  return {cuts.begin(), cuts.end()};
}

size_t Scaled(size_t base) {
  const char* env = std::getenv("BRAID_POWERCUT_SCALE");
  const long scale = env != nullptr ? std::atol(env) : 1;
  return base * static_cast<size_t>(std::max(1L, scale));
}

std::optional<std::pair<size_t, std::string>> LastMarker(const Trace& trace, size_t cut,
                                                         const std::string& prefix) {
  const auto& markers = trace.markers();
  for (auto it = markers.rbegin(); it != markers.rend(); ++it) {
    if (it->first < cut && it->second.rfind(prefix, 0) == 0) return *it;
  }
  return std::nullopt;
}

}  // namespace braid::powercut
