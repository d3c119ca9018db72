// Mirror commands: the index step of `braid sync`, `braid search`,
// `braid clean`.

#include <unistd.h>

#include <cstdio>

#include "base/json.h"
#include "base/log.h"
#include "braid/catalog.h"
#include "braid/clock.h"
#include "cli/cli.h"
#include "index/results.h"
#include "index/search_index.h"

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

Status RunClean(const Globals& g, const std::string& what) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto idx, OpenIndex(*inst));
  BRAID_RETURN_IF_ERROR(idx->Clean());
  if (g.json) {
    Print(R"({"cleaned":")" + what + R"("})");
  } else {
    Print("search index removed; `braid sync index` (or a running braid serve) rebuilds it");
  }
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

  auto what = std::make_shared<std::string>();
  CLI::App* clean = app.add_subcommand(
      "clean", "Remove what a mirror step made, so that its next run starts over");
  clean
      ->add_option("what", *what,
                   "index: the search index's files (the next `braid sync index`, or a running "
                   "braid serve, rebuilds it)")
      ->required()
      ->check(CLI::IsMember({"index"}));
  clean->callback([&g, &action, what] { action = [&g, what] { return RunClean(g, *what); }; });
}

}  // namespace braid::cli
