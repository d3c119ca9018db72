// Mirror commands: the index step of `braid sync`, `braid search`,
// `braid clean` (mirror/clean.h).

#include <unistd.h>

#include <cstdio>

#include "auth/keyring.h"
#include "base/json.h"
#include "base/log.h"
#include "blob/blob_store.h"
#include "braid/catalog.h"
#include "braid/clock.h"
#include "cli/cli.h"
#include "index/results.h"
#include "index/search_index.h"
#include "mirror/attachments_step.h"
#include "mirror/clean.h"
#include "repl/client.h"

namespace braid::cli {
namespace {

// One updating line on a terminal while the index is rebuilt.
void ShowIndexProgress(const index::UpdateProgress& p) {
  if (!p.full) return;
  std::string line = "index: rebuilding, " + std::to_string(p.events_done) + "/" +
                     std::to_string(p.events_total) + " changes read, " +
                     std::to_string(static_cast<int>(p.seconds)) + " s";
  const double rate = p.seconds > 0 ? static_cast<double>(p.events_done) / p.seconds : 0;
  if (rate > 0 && p.events_total > p.events_done) {
    line += ", ETA " +
            std::to_string(static_cast<int>((p.events_total - p.events_done) / rate) + 1) + " s";
  }
  std::fprintf(stderr, "\r%-78s", line.c_str());
  std::fflush(stderr);
}

Result<std::unique_ptr<index::SearchIndex>> OpenIndex(Instance& inst) {
  return index::SearchIndex::Open(inst.dir() + "/index");
}

struct SearchArgs {
  std::string query;
  std::string collection;
  std::string cursor;
  size_t limit = index::kDefaultSearchLimit;
};

Status RunSearch(const Globals& g, const SearchArgs& a) {
  index::SearchRequest req;
  req.query = a.query;
  if (!a.collection.empty()) req.collection = a.collection;
  req.limit = a.limit;
  if (!a.cursor.empty()) {
    BRAID_ASSIGN_OR_RETURN(req.after, index::DecodeCursor(a.cursor));
  }
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto idx, OpenIndex(*inst));
  // Catch up with the change log first (its cost follows the changes since
  // the last update); a first search builds the index.
  const bool live = !g.json && ::isatty(STDERR_FILENO);
  index::UpdateOptions options;
  options.progress = [live](const index::UpdateProgress& p) {
    if (live) ShowIndexProgress(p);
  };
  Result<index::UpdateSummary> updated = idx->Update(inst->store(), options);
  if (live && updated.ok() && updated->full) std::fprintf(stderr, "\n");
  uint64_t pending = 0;
  if (!updated.ok()) {
    // Another process rebuilding it, say: the generation in use still answers.
    std::fprintf(stderr, "braid: the search index could not catch up (%s); searching it as it is\n",
                 updated.status().message().c_str());
    if (auto head = LogHead(inst->store()); head.ok()) pending = head->last_seq;
  }
  BRAID_ASSIGN_OR_RETURN(const index::SearchPage page, idx->Search(req));
  if (pending > page.indexed_to) {
    pending -= page.indexed_to;
  } else {
    pending = 0;
  }
  if (g.json) {
    Print(index::SearchPageJson(page, pending));
    return Status::OK();
  }
  const bool bold = ::isatty(STDOUT_FILENO);
  if (page.hits.empty()) Print("no results");
  for (const index::SearchHit& h : page.hits) {
    char score[32];
    std::snprintf(score, sizeof score, "%.2f", h.score);
    Print(h.collection + "/" + h.id + "  (" + score + ")");
    Print("    " + index::SnippetText(h.snippet, bold));
  }
  if (page.next) {
    Print("more: braid search '" + a.query + "' --cursor " + index::EncodeCursor(*page.next) +
          (a.collection.empty() ? "" : " --collection " + a.collection));
  }
  return Status::OK();
}

struct CleanArgs {
  std::string what;
  bool force = false;
  bool wait = false;
};

// Refuses while records hold writes made here that no remote has (they
// would be lost: mirror/clean.h). Asks every remote that receives pushes.
Status CheckNothingUnsent(Instance& inst) {
  Store& store = inst.store();
  BRAID_ASSIGN_OR_RETURN(const std::vector<Remote> remotes, store.ListRemotes());
  BRAID_ASSIGN_OR_RETURN(auto keys, auth::Keyring::Open(store, inst.dir() + "/keys"));
  std::vector<std::pair<Remote, VersionVector>> known;
  for (const Remote& r : remotes) {
    if (r.direction == Direction::kPull) continue;  // it never receives our writes
    spdlog::debug("clean: asking remote {} which of this instance's writes it holds", r.name);
    Result<VersionVector> fsic = repl::RemoteFsic(store, r, keys.get());
    if (!fsic.ok()) {
      return Status(fsic.status().code(),
                    "cannot tell whether remote \"" + r.name + "\" holds this instance's writes (" +
                        fsic.status().message() + "); give --force to clean anyway");
    }
    known.emplace_back(r, *std::move(fsic));
  }
  BRAID_ASSIGN_OR_RETURN(const mirror::UnsentWrites unsent, mirror::FindUnsentWrites(store, known));
  if (unsent.count == 0) return Status::OK();
  std::string examples;
  for (const auto& e : unsent.examples) examples += (examples.empty() ? "" : ", ") + e;
  return Status::Conflict(std::to_string(unsent.count) +
                          " record(s) hold writes made here that no remote has yet (" + examples +
                          (unsent.count > unsent.examples.size() ? ", ..." : "") +
                          "): push them first (braid sync REMOTE), or give --force to drop them");
}

Status RunClean(const Globals& g, const CleanArgs& a) {
  const bool all = a.what == "all";
  const bool index = all || a.what == "index";
  const bool attachments = all || a.what == "attachments";
  const bool cache = all || a.what == "cache";
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  Store& store = inst->store();
  // No server and no sync step works on what goes: a server would go on
  // writing under the identity the cache's clean renews, and serve blobs
  // and uploads the attachments' clean removes.
  std::unique_ptr<Instance::DirLock> serve_lock, sync_lock;
  if (cache || attachments) {
    BRAID_ASSIGN_OR_RETURN(
        serve_lock, inst->LockDirectory("braid serve is running on " + g.data + "; stop it first"));
    BRAID_ASSIGN_OR_RETURN(sync_lock, inst->LockSync(a.wait));
    if (!a.force) BRAID_RETURN_IF_ERROR(CheckNothingUnsent(*inst));
  }
  std::string out;
  json::Writer w(&out);
  w.BeginObject();
  if (index) {
    BRAID_ASSIGN_OR_RETURN(auto idx, OpenIndex(*inst));
    BRAID_RETURN_IF_ERROR(idx->Clean());
    w.Key("index").Bool(true);
    if (!g.json) Print("index: removed; `braid sync index` (or a running braid serve) rebuilds it");
  }
  if (attachments) {
    BRAID_ASSIGN_OR_RETURN(auto blobs, blob::BlobStore::Open(inst->blob_dir()));
    BRAID_RETURN_IF_ERROR(blobs->Clear());
    // The next attachments step compares every blob live records name.
    BRAID_ASSIGN_OR_RETURN(const std::vector<StepRun> runs, store.StepRuns());
    for (StepRun run : runs) {
      if (run.step != mirror::kAttachmentsStep) continue;
      run.cursor = 0;
      BRAID_ASSIGN_OR_RETURN(auto txn, store.BeginWrite());
      BRAID_RETURN_IF_ERROR(txn->RecordStep(run));
      BRAID_RETURN_IF_ERROR(txn->Commit());
    }
    w.Key("attachments").Bool(true);
    if (!g.json) Print("attachments: every blob removed; the next attachments step fetches them");
  }
  if (cache) {
    BRAID_ASSIGN_OR_RETURN(const uint64_t records, store.ClearRecords());
    w.Key("cache").BeginObject().Key("records").Uint(records).EndObject();
    if (!g.json) {
      Print("cache: " + std::to_string(records) +
            " records forgotten (no tombstones: peers keep theirs); the next `braid sync` brings "
            "them back, and the attachments step fetches no blob still here");
    }
  }
  w.EndObject();
  if (g.json) Print(out);
  return Status::OK();
}

}  // namespace

Result<std::string> RunIndexStep(const Globals& g, Instance& inst, bool full, bool live) {
  Store& store = inst.store();
  BRAID_ASSIGN_OR_RETURN(auto idx, OpenIndex(inst));
  spdlog::debug("index: {} from the change log into {}",
                full ? "rebuilding"
                     : "catching up (or rebuilding "
                       "when there is no index, or its settings, store or epoch changed)",
                idx->dir());
  index::UpdateOptions options;
  options.full = full;
  options.progress = [live](const index::UpdateProgress& p) {
    if (live) ShowIndexProgress(p);
  };
  const int64_t started = Clock::Real().NowMillis();
  Result<index::UpdateSummary> sum = idx->Update(store, options);
  if (live && sum.ok() && sum->full) std::fprintf(stderr, "\n");
  std::string result;
  if (sum.ok()) {
    result = index::SummaryJson(*sum);
  } else {
    json::Writer(&result).BeginObject().Key("error").String(sum.status().message()).EndObject();
  }
  StepRun run{
      "index", started, Clock::Real().NowMillis(), sum.ok(), result, sum.ok() ? sum->cursor : 0, 0};
  if (auto txn = store.BeginWrite(); txn.ok()) {
    if ((*txn)->RecordStep(run).ok()) (void)(*txn)->Commit();
  }
  if (!sum.ok()) return sum.status();
  if (!g.json) {
    if (sum->full) {
      Print("index: rebuilt (" + sum->why + "): " + std::to_string(sum->docs) + " records in " +
            std::to_string(sum->seconds).substr(0, 5) + " s");
    } else {
      Print("index: " + std::to_string(sum->indexed) + " records indexed, " +
            std::to_string(sum->removed) + " removed, from " + std::to_string(sum->events) +
            " changes");
    }
  }
  return result;
}

void AddMirrorCommands(CLI::App& app, Globals& g, Action& action) {
  auto s = std::make_shared<SearchArgs>();
  CLI::App* search = app.add_subcommand(
      "search",
      "Search the records' text (the search index; it first catches up with the changes "
      "since its last update, and a first search builds it)");
  search
      ->add_option("query", s->query,
                   "Words (all must match), \"a phrase\", word* (prefix), a OR b, -word or NOT "
                   "word (exclude)")
      ->required();
  search->add_option("--collection", s->collection, "Only this collection");
  search
      ->add_option("--limit", s->limit,
                   "Results per page (1 to " + std::to_string(index::kMaxSearchLimit) + ")")
      ->capture_default_str();
  search->add_option("--cursor", s->cursor, "The next page: the cursor a previous page gave");
  search->callback([&g, &action, s] { action = [&g, s] { return RunSearch(g, *s); }; });

  auto c = std::make_shared<CleanArgs>();
  CLI::App* clean = app.add_subcommand(
      "clean",
      "Remove what a mirror step made, so that its next run starts over (cache and attachments "
      "refuse while records hold writes made here that no remote has)");
  clean
      ->add_option("what", c->what,
                   "cache (forget every record: the next sync brings them back), index (the "
                   "search index's files), attachments (every blob), all")
      ->required()
      ->check(CLI::IsMember({"cache", "index", "attachments", "all"}));
  clean->add_flag("--force", c->force,
                  "Clean even when writes made here are on no remote (they are lost), or a "
                  "remote cannot be asked");
  clean->add_flag("--wait", c->wait,
                  "When a sync of this instance runs, wait for it (default: exit 6, busy)");
  clean->callback([&g, &action, c] { action = [&g, c] { return RunClean(g, *c); }; });
}

}  // namespace braid::cli
