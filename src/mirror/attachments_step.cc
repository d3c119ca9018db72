// The attachments step (attachments_step.h explains the design).

#include "mirror/attachments_step.h"

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "base/json.h"
#include "base/log.h"
#include "mirror/fetch.h"

namespace braid::mirror {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kPage = 1000;           // refs per store read
constexpr uint64_t kSeqWindow = 10'000;  // change-log seqs per store read
constexpr size_t kOrphanBatch = 256;     // orphans checked per write lock
constexpr size_t kMaxErrors = 10;        // failures kept for the summary
constexpr auto kProgressEvery = std::chrono::milliseconds(200);

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Calls `fn` with every blob the step wants: those named by records
// changed after `after` up to `upto`, or on a full run by every live
// record. A blob may come more than once on an incremental run.
Status ForEachWanted(Store& store, bool full, uint64_t after, uint64_t upto,
                     const std::function<Status(const BlobRef&)>& fn) {
  if (full) {
    std::string last;
    for (;;) {
      BRAID_ASSIGN_OR_RETURN(const auto page, store.ListBlobRefs(last, kPage));
      for (const BlobRef& r : page) {
        if (IsSha256Hex(r.sha256)) BRAID_RETURN_IF_ERROR(fn(r));
      }
      if (page.size() < kPage) return Status::OK();
      last = page.back().sha256;
    }
  }
  for (uint64_t from = after; from < upto;) {
    const uint64_t to = std::min(upto, from + kSeqWindow);
    BRAID_ASSIGN_OR_RETURN(const auto refs, store.BlobRefsChanged(from, to));
    for (const BlobRef& r : refs) {
      if (IsSha256Hex(r.sha256)) BRAID_RETURN_IF_ERROR(fn(r));
    }
    from = to;
  }
  return Status::OK();
}

// An incremental run reads the change log in windows, and a blob named in
// several of them comes once per window: each is dealt with once per pass
// (by the first 64 bits of its SHA-256: 8 bytes a blob, not the whole
// name; two blobs sharing them would leave the second for a --full run).
class SeenBlobs {
 public:
  explicit SeenBlobs(bool needed) : needed_(needed) {}
  bool First(const BlobRef& ref) {
    if (!needed_) return true;
    return seen_.insert(std::stoull(ref.sha256.substr(0, 16), nullptr, 16)).second;
  }

 private:
  const bool needed_;
  std::unordered_set<uint64_t> seen_;
};

// True when blob `ref` is here with its size.
Result<bool> Present(const blob::BlobStore& blobs, const BlobRef& ref) {
  BRAID_ASSIGN_OR_RETURN(const auto size, blobs.SizeOf(ref.sha256));
  return size.has_value() && *size == ref.size;
}

// An error that concerns the remote as a whole, not one blob: the step
// stops rather than fail every blob the same way.
bool EndsTheStep(const Status& s) {
  switch (s.code()) {
    case Code::kUnauthorized:
    case Code::kForbidden:
    case Code::kUnavailable:
    case Code::kTooManyRequests:
    case Code::kIoError:
      return true;
    default:
      return false;
  }
}

// The fetches of one run: `parallel` threads, each with its own client,
// taking jobs from a bounded queue. A job is one large blob (GET, resumed
// with Range after a failure) or a batch of small ones (one POST: the cost
// of a request is paid once per batch, not once per file).
class Fetcher {
 public:
  Fetcher(blob::BlobStore& blobs, const BlobSource& source) : blobs_(blobs), source_(source) {}

  ~Fetcher() { Finish(); }

  Status Start(size_t parallel) {
    http::ClientOptions options;
    options.ca_cert = source_.ca_cert;
    for (size_t i = 0; i < std::max<size_t>(1, parallel); ++i) {
      BRAID_ASSIGN_OR_RETURN(auto client, http::Client::Create(options));
      threads_.emplace_back(
          [this, c = std::shared_ptr<http::Client>(std::move(client))] { Work(*c); });
    }
    return Status::OK();
  }

  // Queues a blob; waits while the queue is full. False once the step ends.
  bool Add(const BlobRef& ref) {
    if (ref.size > kSmallBlob) return Push({ref});
    batch_bytes_ += ref.size;
    batch_.push_back(ref);
    if (batch_.size() < kBatchBlobs && batch_bytes_ < kBatchBytes) return true;
    return PushBatch();
  }

  // No more blobs: waits for the fetches to end.
  void Finish() {
    (void)PushBatch();
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  // Waits up to `d` for a change; true once every fetch ended.
  bool WaitIdle(std::chrono::milliseconds d) {
    (void)PushBatch();
    std::unique_lock lock(mu_);
    // After a fatal error the workers leave what is queued.
    auto idle = [&] { return busy_ == 0 && (queue_.empty() || !fatal_.ok()); };
    idle_.wait_for(lock, d, idle);
    return idle();
  }

  std::atomic<uint64_t> files{0}, bytes{0}, resumed{0}, failed{0};

  Status fatal() {
    std::lock_guard lock(mu_);
    return fatal_;
  }
  std::vector<std::string> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  static constexpr size_t kQueue = 64;               // jobs waiting
  static constexpr uint64_t kSmallBlob = 64 * 1024;  // fetched in batches up to this size
  static constexpr size_t kBatchBlobs = 256;
  static constexpr uint64_t kBatchBytes = 4 << 20;

  bool PushBatch() {
    if (batch_.empty()) return true;
    std::vector<BlobRef> job;
    job.swap(batch_);
    batch_bytes_ = 0;
    return Push(std::move(job));
  }
  bool Push(std::vector<BlobRef> job) {
    std::unique_lock lock(mu_);
    room_.wait(lock, [&] { return queue_.size() < kQueue || !fatal_.ok(); });
    if (!fatal_.ok()) return false;
    queue_.push_back(std::move(job));
    ready_.notify_one();
    return true;
  }

  static blob::Attachment Want(const BlobRef& ref) {
    blob::Attachment a;
    a.name = ref.sha256;
    a.sha256 = ref.sha256;
    a.md5 = ref.md5;
    a.size = ref.size;
    return a;
  }

  // Counts one blob's outcome; an error about the remote as a whole ends
  // the step.
  void Report(const BlobRef& ref, const Status& s, uint64_t resumed_at) {
    std::lock_guard lock(mu_);
    if (s.ok()) {
      ++files;
      if (resumed_at > 0) ++resumed;
      spdlog::debug(
          "attachments: fetched {} ({} bytes{})", ref.sha256, ref.size,
          resumed_at > 0 ? ", resumed at byte " + std::to_string(resumed_at) : std::string());
    } else if (EndsTheStep(s)) {
      if (fatal_.ok()) fatal_ = s;
      room_.notify_all();
      ready_.notify_all();
    } else {
      ++failed;
      spdlog::debug("attachments: could not fetch {}: {}", ref.sha256, s.ToString());
      if (errors_.size() < kMaxErrors) errors_.push_back(s.ToString());
    }
  }

  void FetchOne(http::Client& client, const BlobRef& ref) {
    auto r = FetchBlob(client, source_.url + "/api/v1/blobs/" + ref.sha256, source_.headers, blobs_,
                       Want(ref), blob::Sync::kDeferred,
                       [this](uint64_t n) { bytes.fetch_add(n, std::memory_order_relaxed); });
    Report(ref, r.status(), r.ok() ? r->resumed_at : 0);
  }

  void FetchMany(http::Client& client, const std::vector<BlobRef>& refs) {
    if (no_batch_.load()) {
      for (const BlobRef& ref : refs) FetchOne(client, ref);
      return;
    }
    std::vector<blob::Attachment> want;
    want.reserve(refs.size());
    for (const BlobRef& ref : refs) want.push_back(Want(ref));
    size_t reported = 0;
    const Status s = FetchBatch(
        client, source_.url + "/api/v1/blobs", source_.headers, blobs_, want, blob::Sync::kDeferred,
        [&](size_t i, const Status& st) {
          Report(refs[i], st, 0);
          reported = i + 1;
        },
        [this](uint64_t n) { bytes.fetch_add(n, std::memory_order_relaxed); });
    if (s.ok()) return;
    if (reported == 0 && (s.code() == Code::kNotFound || s.code() == Code::kMethodNotAllowed)) {
      // A remote from before POST /api/v1/blobs: one by one.
      spdlog::debug("attachments: the remote fetches no batches ({}); one blob per request",
                    s.ToString());
      no_batch_.store(true);
      for (const BlobRef& ref : refs) FetchOne(client, ref);
      return;
    }
    for (size_t i = reported; i < refs.size(); ++i) Report(refs[i], s, 0);
  }

  void Work(http::Client& client) {
    for (;;) {
      std::vector<BlobRef> job;
      {
        std::unique_lock lock(mu_);
        ready_.wait(lock, [&] { return !queue_.empty() || closed_ || !fatal_.ok(); });
        if (queue_.empty() || !fatal_.ok()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
        ++busy_;
        room_.notify_one();
      }
      if (job.size() == 1 && job[0].size > kSmallBlob) {
        FetchOne(client, job[0]);
      } else {
        FetchMany(client, job);
      }
      std::lock_guard lock(mu_);
      --busy_;
      idle_.notify_all();
    }
  }

  blob::BlobStore& blobs_;
  const BlobSource& source_;
  std::vector<BlobRef> batch_;  // small blobs gathered by Add (the producer's thread)
  uint64_t batch_bytes_ = 0;
  std::atomic<bool> no_batch_{false};
  std::mutex mu_;
  std::condition_variable ready_, room_, idle_;
  std::deque<std::vector<BlobRef>> queue_;
  size_t busy_ = 0;
  bool closed_ = false;
  Status fatal_;
  std::vector<std::string> errors_;
  std::vector<std::thread> threads_;
};

// Removes the blobs of `candidates` that no live record names, under the
// store's write lock; forgets those that came from blob_dropped.
Result<uint64_t> RemoveOrphans(Store& store, blob::BlobStore& blobs,
                               const std::vector<std::string>& candidates, bool forget) {
  BRAID_ASSIGN_OR_RETURN(auto txn, store.BeginWrite(Durability::kFull));
  uint64_t removed = 0;
  for (const std::string& sha : candidates) {
    BRAID_ASSIGN_OR_RETURN(const auto naming, store.BlobReaders(sha, 1));
    if (!naming.empty()) continue;
    BRAID_ASSIGN_OR_RETURN(const auto size, blobs.SizeOf(sha));
    if (!size) continue;
    BRAID_RETURN_IF_ERROR(blobs.Remove(sha));
    spdlog::debug("attachments: removed {} ({} bytes): no live record names it", sha, *size);
    ++removed;
  }
  if (forget) BRAID_RETURN_IF_ERROR(txn->ForgetDroppedBlobs(candidates));
  BRAID_RETURN_IF_ERROR(txn->Commit());
  return removed;
}

Result<uint64_t> SweepOrphans(Store& store, blob::BlobStore& blobs, bool full) {
  uint64_t removed = 0;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const auto dropped, store.DroppedBlobs(kOrphanBatch));
    if (dropped.empty()) break;
    BRAID_ASSIGN_OR_RETURN(const uint64_t n, RemoveOrphans(store, blobs, dropped, true));
    removed += n;
  }
  if (!full) return removed;
  // Every blob no record names, but recent ones: an upload is written
  // before the record that names it.
  const auto cutoff = std::chrono::system_clock::now() - kOrphanGrace;
  std::vector<std::string> batch;
  Status s = blobs.ForEach([&](std::string_view sha, uint64_t) -> Status {
    BRAID_ASSIGN_OR_RETURN(const auto naming, store.BlobReaders(sha, 1));
    if (!naming.empty()) return Status::OK();
    struct stat st;
    if (::stat(blobs.PathOf(sha).c_str(), &st) != 0) return Status::OK();
    const auto mtime = std::chrono::system_clock::from_time_t(st.st_mtim.tv_sec);
    if (mtime > cutoff) return Status::OK();
    batch.emplace_back(sha);
    return Status::OK();
  });
  BRAID_RETURN_IF_ERROR(s);
  for (size_t i = 0; i < batch.size(); i += kOrphanBatch) {
    const std::vector<std::string> part(
        batch.begin() + static_cast<ptrdiff_t>(i),
        batch.begin() + static_cast<ptrdiff_t>(std::min(batch.size(), i + kOrphanBatch)));
    BRAID_ASSIGN_OR_RETURN(const uint64_t n, RemoveOrphans(store, blobs, part, false));
    removed += n;
  }
  return removed;
}

Result<AttachmentsSummary> Run(Store& store, blob::BlobStore& blobs, const BlobSource* source,
                               const AttachmentsOptions& options, uint64_t cursor,
                               Clock::time_point start) {
  AttachmentsSummary sum;
  BRAID_ASSIGN_OR_RETURN(const ChangePage page, LogHead(store));
  const uint64_t upto = page.last_seq;
  // No cursor yet, or one from another change log (the store was replaced).
  sum.full = options.full || cursor == 0 || cursor > upto;
  spdlog::debug("attachments: {} run: {}", sum.full ? "full" : "incremental",
                sum.full ? "comparing every blob live records name"
                         : "comparing the blobs of records changed after change-log seq " +
                               std::to_string(cursor) + " up to " + std::to_string(upto));
  if (blobs.NeedsVerify()) {
    BRAID_ASSIGN_OR_RETURN(const uint64_t bad, blobs.VerifyUnsynced());
    spdlog::warn(
        "attachments: a batch of downloads was cut short; {} blob(s) did not match "
        "their hash and were removed (they are fetched again)",
        bad);
  }

  // Pass 1: what is missing, for the progress totals.
  AttachmentsProgress p;
  SeenBlobs counted(!sum.full);
  BRAID_RETURN_IF_ERROR(
      ForEachWanted(store, sum.full, cursor, upto, [&](const BlobRef& ref) -> Status {
        if (!counted.First(ref)) return Status::OK();
        ++sum.checked;
        BRAID_ASSIGN_OR_RETURN(const bool here, Present(blobs, ref));
        if (!here) {
          ++p.files_total;
          p.bytes_total += ref.size;
        }
        return Status::OK();
      }));
  spdlog::debug("attachments: {} blob(s) compared, {} missing ({} bytes)", sum.checked,
                p.files_total, p.bytes_total);

  // Pass 2: fetch them.
  if (p.files_total > 0 && source == nullptr) {
    sum.failed = p.files_total;
    sum.errors.push_back(std::to_string(p.files_total) +
                         " blob(s) are missing and no remote was given to fetch them from");
  } else if (p.files_total > 0) {
    BRAID_RETURN_IF_ERROR(blobs.BeginBatch());
    Fetcher fetcher(blobs, *source);
    BRAID_RETURN_IF_ERROR(fetcher.Start(options.parallel));
    auto last_report = Clock::now();
    auto report = [&](bool done) {
      if (!options.progress) return;
      if (!done && Clock::now() - last_report < kProgressEvery) return;
      last_report = Clock::now();
      p.files_done = fetcher.files + fetcher.failed;
      p.bytes_done = fetcher.bytes;
      p.seconds = Since(start);
      p.done = done;
      options.progress(p);
    };
    SeenBlobs queued(!sum.full);
    Status s = ForEachWanted(store, sum.full, cursor, upto, [&](const BlobRef& ref) -> Status {
      if (!queued.First(ref)) return Status::OK();
      BRAID_ASSIGN_OR_RETURN(const bool here, Present(blobs, ref));
      if (!here && !fetcher.Add(ref)) return fetcher.fatal();
      report(false);
      return Status::OK();
    });
    while (!fetcher.WaitIdle(kProgressEvery)) report(false);
    fetcher.Finish();
    report(true);
    // The blobs fetched are durable before the run is recorded, whatever
    // happened (an error leaves them in place for the next run).
    const auto sync_start = Clock::now();
    const Status synced = blobs.EndBatch();
    spdlog::debug("attachments: {} blob(s) fetched in {:.3f} s, made durable (syncfs) in {:.3f} s",
                  fetcher.files.load(), std::chrono::duration<double>(sync_start - start).count(),
                  Since(sync_start));
    BRAID_RETURN_IF_ERROR(s);
    BRAID_RETURN_IF_ERROR(fetcher.fatal().WithContext("remote \"" + source->name + "\""));
    BRAID_RETURN_IF_ERROR(synced);
    sum.fetched = fetcher.files;
    sum.bytes = fetcher.bytes;
    sum.resumed = fetcher.resumed;
    sum.failed = fetcher.failed;
    sum.errors = fetcher.errors();
  }

  // Pass 3: orphans.
  BRAID_ASSIGN_OR_RETURN(sum.removed, SweepOrphans(store, blobs, sum.full));
  sum.cursor = sum.failed == 0 ? upto : cursor;
  sum.seconds = Since(start);
  return sum;
}

}  // namespace

std::string SummaryJson(const AttachmentsSummary& s) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("full")
      .Bool(s.full)
      .Key("checked")
      .Uint(s.checked)
      .Key("fetched")
      .Uint(s.fetched)
      .Key("bytes")
      .Uint(s.bytes)
      .Key("resumed")
      .Uint(s.resumed)
      .Key("failed")
      .Uint(s.failed)
      .Key("removed")
      .Uint(s.removed)
      .Key("cursor")
      .Uint(s.cursor)
      .Key("errors")
      .BeginArray();
  for (const auto& e : s.errors) w.String(e);
  w.EndArray().Key("seconds").Double(s.seconds).EndObject();
  return out;
}

Result<AttachmentsSummary> RunAttachmentsStep(Store& store, blob::BlobStore& blobs,
                                              const BlobSource* source,
                                              const AttachmentsOptions& options) {
  const auto start = Clock::now();
  const int64_t started_ms = store.clock().NowMillis();
  uint64_t cursor = 0;
  BRAID_ASSIGN_OR_RETURN(const auto runs, store.StepRuns());
  for (const StepRun& r : runs) {
    if (r.step == kAttachmentsStep) cursor = r.cursor;
  }
  auto result = Run(store, blobs, source, options, cursor, start);
  StepRun run;
  run.step = kAttachmentsStep;
  run.started_ms = started_ms;
  run.finished_ms = store.clock().NowMillis();
  run.ok = result.ok() && result->failed == 0;
  run.cursor = result.ok() ? result->cursor : cursor;
  if (result.ok()) {
    run.result = SummaryJson(*result);
  } else {
    json::Writer w(&run.result);
    w.BeginObject().Key("error").String(result.status().ToString()).EndObject();
  }
  BRAID_ASSIGN_OR_RETURN(auto txn, store.BeginWrite(Durability::kFull));
  BRAID_RETURN_IF_ERROR(txn->RecordStep(run));
  BRAID_RETURN_IF_ERROR(txn->Commit());
  return result;
}

}  // namespace braid::mirror
