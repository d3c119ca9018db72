// The search index of an instance (Kerko's step 2; DESIGN section 5): SQLite
// FTS5 over the text of live records (index/text.h), in files of its own
// under DIR/index, apart from the store.
//
// Files: DIR/index/CURRENT names the generation in use ("search-N.db");
// that file holds the FTS5 table, a map from (collection, id) to document
// numbers, and its cursor: the store's change-log seq it has dealt with,
// with the store's identity, epoch and index settings it was built for.
// An update and its cursor commit in one transaction, so a crash at any
// point leaves an index that matches its cursor, and the next update goes
// on from there.
//
// Update() is incremental: it reads the change log after the cursor (with
// each changed record as it is now) and replaces those records' entries,
// so its cost follows the changes. A full rebuild happens when there is no
// index, when asked (`braid sync index --full`, after `braid clean index`),
// or when the cursor cannot go on: the store's index settings, identity or
// epoch changed, or compaction dropped events past the cursor. It builds
// generation N+1 in a new file from the whole change log, makes it
// durable, then points CURRENT at it (written aside, synced, renamed):
// searches meanwhile read generation N, and a crash before the rename
// leaves N in use (the partial file is removed by the next rebuild).
// Only one process rebuilds at a time (DIR/index/rebuild.lock).
//
// Thread-safety: every method may be called from any thread; updates in
// one process run one at a time, searches run alongside them. Several
// processes may share DIR/index (`braid serve` and the CLI): SQLite's
// locks order their updates and the cursor makes each change applied once.

#ifndef BRAID_INDEX_SEARCH_INDEX_H_
#define BRAID_INDEX_SEARCH_INDEX_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "braid/status.h"
#include "braid/store.h"
#include "index/query.h"

namespace braid::index {

// FTS5 merges a level's segments into one when it has `automerge` of them.
// At its default (4) the merges took half of an update of 1,000 records
// (bench/index_bench: 126 -> 59 ms at 100,000 records); at 16 an index
// keeps more segments per level (searches read each), with no measurable
// change of search time. `crisismerge` (default 16) must stay above it.
inline constexpr char kFtsMergeSettings[] =
    "INSERT INTO fts(fts, rank) VALUES('automerge', 16);"
    "INSERT INTO fts(fts, rank) VALUES('crisismerge', 64);";

// Pages merged after each commit of an update with UpdateOptions::merge:
// enough to keep pace with updates of a few thousand records (larger ones
// leave more for the next, and FTS5's crisismerge bounds the segments of a
// level meanwhile).
inline constexpr int64_t kMergePages = 1000;

inline constexpr size_t kDefaultSearchLimit = 20;
inline constexpr size_t kMaxSearchLimit = 1000;

struct SearchRequest {
  std::string query;  // the user's syntax (index/query.h)
  std::optional<std::string> collection;
  size_t limit = kDefaultSearchLimit;  // 1 to kMaxSearchLimit
  std::optional<PageCursor> after;     // the previous page's `next`
  // Results only from partitions this accepts (an account's read scope);
  // null: every partition.
  std::function<bool(std::string_view partition)> visible;
};

struct SearchHit {
  std::string collection, id, partition;
  double score = 0;  // -bm25: higher is better
  // Text around the best matches, the matches between kMatchStart and
  // kMatchEnd (the indexed text holds no control characters).
  std::string snippet;
  PageCursor position;
};
inline constexpr char kMatchStart = '\x01';
inline constexpr char kMatchEnd = '\x02';

struct SearchPage {
  std::vector<SearchHit> hits;
  std::optional<PageCursor> next;  // set when more results may follow
  uint64_t indexed_to = 0;         // the change-log seq the index had dealt with
};

struct IndexState {
  bool exists = false;
  uint64_t generation = 0;
  uint64_t cursor = 0;  // change-log seq dealt with
  uint64_t docs = 0;    // records indexed
  int64_t built_ms = 0;
};

struct UpdateProgress {
  uint64_t events_done = 0, events_total = 0;
  double seconds = 0;
  bool full = false;
};

struct UpdateOptions {
  bool full = false;  // rebuild even when the cursor could go on
  // Called from the updating thread, at most every 200 ms, and at the end.
  std::function<void(const UpdateProgress&)> progress;
  // Asked between pages; true ends the update with Unavailable (a rebuild
  // cut short leaves the generation before it in use). Null: never.
  std::function<bool()> cancelled;
  // Merge FTS5's segments after each commit (kMergePages pages), as
  // `braid sync index` does; false leaves them to MergeSome, which the
  // follower of `braid serve` calls while no write is waiting, so that a
  // write is searchable without waiting for merges.
  bool merge = true;
};

struct UpdateSummary {
  bool full = false;
  std::string why;          // why a full rebuild ("no index yet", ...); empty when incremental
  uint64_t events = 0;      // change-log events read
  uint64_t indexed = 0;     // records (re)indexed
  uint64_t removed = 0;     // records taken out (deleted, or left with no text)
  uint64_t cursor = 0;      // the change-log seq dealt with
  uint64_t docs = 0;        // records in the index after it (full rebuilds)
  uint64_t generation = 0;  // the generation in use after it
  // Until the changes were committed (searchable); the merge of segments
  // FTS5 needs after them; the whole update.
  double searchable_seconds = 0, merge_seconds = 0, seconds = 0;
};
std::string SummaryJson(const UpdateSummary& s);

class SearchIndex {
 public:
  // Opens (creating the directory) the index under `dir` (DIR/index).
  // Errors: IoError when the directory cannot be made.
  static Result<std::unique_ptr<SearchIndex>> Open(const std::string& dir);
  ~SearchIndex();

  // Brings the index in line with `store` (see above). Errors: the store's;
  // IoError or Corruption of the index file; Busy when another process is
  // rebuilding it and this update needs a rebuild too.
  Result<UpdateSummary> Update(Store& store, const UpdateOptions& options);

  // Errors: InvalidArgument for a bad query (index/query.h) or limit;
  // Unavailable when no index has been built yet.
  Result<SearchPage> Search(const SearchRequest& request);

  Result<IndexState> State();

  // Merges about `pages` pages of the index's segments (FTS5's 'merge') in
  // a transaction of its own: searches read fewer segments afterwards.
  // Returns true when it did some (there may be more), false when nothing
  // was left to merge or there is no index yet.
  Result<bool> MergeSome(int64_t pages);

  // Removes every file of the index; the next Update rebuilds it. Errors:
  // Busy when another process is rebuilding it.
  Status Clean();

  const std::string& dir() const;

 private:
  class Impl;
  explicit SearchIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The text of a store's index settings, as the index keeps it to notice a
// change: every collection's canonical spec, by collection.
Result<std::string> SettingsText(Store& store);

}  // namespace braid::index

#endif  // BRAID_INDEX_SEARCH_INDEX_H_
