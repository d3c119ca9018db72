#include "container/pass.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <set>

#include "base/failpoint.h"
#include "base/json.h"
#include "base/validate.h"
#include "blob/attachments.h"
#include "blob/hasher.h"
#include "container/path_codec.h"

namespace braid::container {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kReadBytes = 1 << 20;
constexpr auto kProgressEvery = std::chrono::milliseconds(200);

// UTC, with nanoseconds: "2026-12-04T17:20:00.123456789Z".
std::string IsoTime(int64_t ns) {
  const time_t secs =
      static_cast<time_t>(ns >= 0 ? ns / 1'000'000'000 : (ns + 1) / 1'000'000'000 - 1);
  const long frac = static_cast<long>(ns - static_cast<int64_t>(secs) * 1'000'000'000);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[64];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  std::snprintf(buf + n, sizeof buf - n, ".%09ldZ", frac);
  return buf;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::optional<double> Number(std::string_view text) {
  const std::string s(Trim(text));
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

Result<std::array<double, 4>> Footprint(const json::Value& v) {
  std::vector<std::optional<double>> parts;
  if (auto s = v.AsString()) {
    std::string_view rest = *s;
    for (;;) {
      const size_t comma = rest.find(',');
      parts.push_back(Number(rest.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  } else if (v.IsArray()) {
    v.ForEachElement([&](json::Value e) {
      parts.push_back(e.type() == json::Type::kNumber ? Number(e.raw()) : std::nullopt);
      return true;
    });
  }
  if (parts.size() != 4 || !parts[0] || !parts[1] || !parts[2] || !parts[3] ||
      *parts[1] > *parts[3]) {
    return Status::InvalidArgument(
        "footprint must be [west, south, east, north] (numbers, south <= north)");
  }
  return std::array<double, 4>{*parts[0], *parts[1], *parts[2], *parts[3]};
}

}  // namespace

Result<std::string> ParseMetadata(std::string_view text, Extent* extent) {
  std::string minified;
  const std::string_view trimmed = Trim(text);
  if (!trimmed.empty() && trimmed.front() == '{') {
    BRAID_RETURN_IF_ERROR(NormalizeBody(trimmed, kMaxSidecarBytes, &minified));
  } else {
    if (!IsValidUtf8(text)) return Status::InvalidArgument("metadata is not UTF-8 text");
    json::Writer w(&minified);
    w.BeginObject();
    std::set<std::string, std::less<>> keys;
    size_t line_no = 0;
    for (std::string_view rest = text; !rest.empty();) {
      const size_t nl = rest.find('\n');
      const std::string_view line = Trim(rest.substr(0, nl));
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
      ++line_no;
      if (line.empty() || line.front() == '#') continue;
      const size_t eq = line.find('=');
      const std::string_view key = eq == std::string_view::npos ? "" : Trim(line.substr(0, eq));
      if (key.empty()) {
        return Status::InvalidArgument("metadata line " + std::to_string(line_no) +
                                       ": expected key = value");
      }
      if (!keys.emplace(key).second) {
        return Status::InvalidArgument("metadata line " + std::to_string(line_no) + ": key " +
                                       std::string(key) + " given twice");
      }
      w.Key(key).String(Trim(line.substr(eq + 1)));
    }
    w.EndObject();
  }
  const json::Value v(minified);
  *extent = Extent{};
  if (auto b = v.Find("begin_time")) extent->begin_time = b->AsString();
  if (auto e = v.Find("end_time")) extent->end_time = e->AsString();
  if (auto f = v.Find("footprint")) {
    BRAID_ASSIGN_OR_RETURN(auto box, Footprint(*f));
    extent->footprint = box;
  }
  return minified;
}

std::string SummaryJson(const PassSummary& s) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("container")
      .String(s.container)
      .Key("added")
      .Uint(s.added)
      .Key("updated")
      .Uint(s.updated)
      .Key("removed")
      .Uint(s.removed)
      .Key("unchanged")
      .Uint(s.unchanged)
      .Key("failed")
      .Uint(s.failed)
      .Key("bytes_read")
      .Uint(s.bytes_read)
      .Key("seconds")
      .Double(s.seconds)
      .Key("errors")
      .BeginArray();
  for (const auto& [path, why] : s.errors) {
    w.BeginObject().Key("path").String(path).Key("error").String(why).EndObject();
  }
  w.EndArray().EndObject();
  return out;
}

namespace {

class Pass final : public Visitor {
 public:
  Pass(Store& store, ContainerState& state, const ContainerSpec& spec, const PassOptions& options,
       int root)
      : store_(store),
        state_(state),
        spec_(spec),
        options_(options),
        root_(root),
        buffer_(kReadBytes),
        start_(Clock::now()),
        last_progress_(start_) {
    summary_.container = spec.name;
  }

  // The rows the next files are merged with (all, or a range of them).
  Status Begin(std::unique_ptr<ContainerState::Cursor> rows) {
    rows_ = std::move(rows);
    return Advance();
  }
  // What is left of the rows was not seen: those files are gone.
  Status EndRange() {
    while (has_row_) {
      Remove(row_.path);
      BRAID_RETURN_IF_ERROR(Advance());
    }
    return Flushed();
  }

  // One file named by the watcher: as a walk would see it, or gone.
  Status FileTarget(const std::string& path) {
    BRAID_ASSIGN_OR_RETURN(std::optional<FileRow> row, state_.FileOf(spec_.name, path));
    BRAID_RETURN_IF_ERROR(Begin(std::make_unique<OneRow>(std::move(row))));
    if (Selected(spec_.walk, path)) {
      const size_t slash = path.rfind('/');
      const std::string folder = slash == std::string::npos ? "." : path.substr(0, slash);
      const std::string leaf = path.substr(slash == std::string::npos ? 0 : slash + 1);
      const int dir = folder == "." ? ::dup(root_) : OpenBeneath(root_, folder, O_DIRECTORY);
      struct stat st {};
      if (dir >= 0) {
        const int err = ::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
        if (err == 0 && S_ISREG(st.st_mode)) {
          WalkEntry e{path, StatOf(st), std::nullopt};
          struct stat side {};
          const std::string& suffix = spec_.walk.sidecar_suffix;
          if (!suffix.empty() &&
              ::fstatat(dir, (leaf + suffix).c_str(), &side, AT_SYMLINK_NOFOLLOW) == 0 &&
              S_ISREG(side.st_mode)) {
            e.sidecar = StatOf(side);
          }
          ::close(dir);
          BRAID_RETURN_IF_ERROR(File(std::move(e)));
        } else {
          ::close(dir);  // gone, or not a file (any more): its row goes
          if (err != 0 && err != ENOENT) return Failed(path, false, std::strerror(err));
        }
      } else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP && errno != EXDEV) {
        return Failed(path, false, std::strerror(errno));
      }
    }
    return EndRange();
  }

  Status File(WalkEntry e) override {
    ++progress_.files_seen;
    BRAID_RETURN_IF_ERROR(RemoveRowsBefore(e.path));
    const bool existing = has_row_ && row_.path == e.path;
    if (existing && row_.stat == e.stat && row_.sidecar == e.sidecar) {
      ++summary_.unchanged;
      return Advance();
    }
    BRAID_RETURN_IF_ERROR(Read(e));
    if (existing) BRAID_RETURN_IF_ERROR(Advance());
    Progress();
    return Status::OK();
  }

  Status Folder(const std::string& path) override {
    if (options_.on_folder) options_.on_folder(path);
    return Status::OK();
  }

  Status Failed(const std::string& path, bool folder, const std::string& why) override {
    Fail(path, why + (folder ? " (nothing below it was looked at; its records are kept)" : ""));
    BRAID_RETURN_IF_ERROR(RemoveRowsBefore(path));
    // What the state holds at or below `path` stays as it is.
    while (has_row_ &&
           (folder ? row_.path.compare(0, path.size(), path) == 0 : row_.path == path)) {
      BRAID_RETURN_IF_ERROR(Advance());
    }
    return Status::OK();
  }

  Result<PassSummary> Finish() {
    BRAID_RETURN_IF_ERROR(EndRange());
    BRAID_RETURN_IF_ERROR(Flush());
    BRAID_RETURN_IF_ERROR(WriteSummaryRecord());
    summary_.bytes_read = progress_.bytes_read;
    summary_.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    return summary_;
  }

 private:
  struct Write {
    FileRow row;
    std::string id, body;
  };

  // The row of one file, as a cursor.
  class OneRow : public ContainerState::Cursor {
   public:
    explicit OneRow(std::optional<FileRow> row) : row_(std::move(row)) {}
    Result<bool> Next(FileRow* row) override {
      if (!row_) return false;
      *row = std::move(*row_);
      row_.reset();
      return true;
    }

   private:
    std::optional<FileRow> row_;
  };

  Status Advance() {
    BRAID_ASSIGN_OR_RETURN(has_row_, rows_->Next(&row_));
    return Status::OK();
  }

  Status RemoveRowsBefore(std::string_view path) {
    while (has_row_ && std::string_view(row_.path) < path) {
      Remove(row_.path);
      BRAID_RETURN_IF_ERROR(Advance());
    }
    return Flushed();
  }

  void Remove(const std::string& path) { removals_.push_back(path); }

  void Fail(const std::string& path, const std::string& why) {
    ++summary_.failed;
    if (summary_.errors.size() < PassSummary::kMaxErrors) {
      summary_.errors.emplace_back(EncodePath(path.empty() ? "." : path), why);
    }
  }

  // Reads the file and its sidecar; queues its record.
  Status Read(const WalkEntry& e) {
    const int fd = OpenBeneath(root_, e.path);
    if (fd < 0) {
      if (errno == ENOENT) return Status::OK();  // gone since the walk: the next pass removes it
      Fail(e.path, std::strerror(errno));
      return Status::OK();
    }
    struct stat before {
    }, after{};
    // The bytes go through the blob store's writer (which hashes them) or
    // the hasher alone.
    blob::Hasher hasher;
    std::unique_ptr<blob::Writer> writer;
    if (spec_.content_blobs) {
      BRAID_RETURN_IF_ERROR(BlobBatch());
      Result<std::unique_ptr<blob::Writer>> w = options_.blobs->Create(options_.max_blob_bytes);
      if (!w.ok()) {
        ::close(fd);
        return w.status();
      }
      writer = std::move(*w);
    }
    uint64_t size = 0;
    std::string failure;
    if (fstat(fd, &before) != 0) failure = std::strerror(errno);
    while (failure.empty()) {
      const ssize_t n = ::read(fd, buffer_.data(), buffer_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) failure = std::strerror(errno);
      if (n <= 0) break;
      const std::string_view piece(buffer_.data(), static_cast<size_t>(n));
      if (writer) {
        if (Status s = writer->Append(piece); !s.ok()) failure = s.message();
      } else {
        hasher.Update(piece);
      }
      size += static_cast<uint64_t>(n);
    }
    if (failure.empty() && fstat(fd, &after) != 0) failure = std::strerror(errno);
    ::close(fd);
    progress_.bytes_read += size;
    batch_bytes_ += size;
    ++progress_.files_read;
    if (!failure.empty()) {
      Fail(e.path, failure);
      return Status::OK();
    }
    const FileStat seen = StatOf(before);
    if (!(StatOf(after) == seen) || size != seen.size) {
      Fail(e.path, "it changed while it was read; the next pass reads it again");
      return Status::OK();
    }
    Write w;
    w.row.path = e.path;
    w.row.stat = seen;
    std::string md5, metadata;
    if (writer) {
      Result<blob::BlobInfo> info = writer->Commit({}, blob::Sync::kDeferred);
      if (!info.ok()) {
        Fail(e.path, info.status().message());
        return Status::OK();
      }
      w.row.sha256 = info->sha256;
      md5 = info->md5;
    } else {
      BRAID_RETURN_IF_ERROR(hasher.Finish(&w.row.sha256, &md5));
    }
    if (e.sidecar) {
      Result<std::pair<FileStat, std::string>> side =
          ReadSidecar(e.path + spec_.walk.sidecar_suffix);
      if (!side.ok()) {
        Fail(e.path + spec_.walk.sidecar_suffix, side.status().message());
        return Status::OK();
      }
      w.row.sidecar = side->first;
      Result<std::string> parsed = ParseMetadata(side->second, &w.row.extent);
      if (!parsed.ok()) {
        Fail(e.path + spec_.walk.sidecar_suffix, parsed.status().message());
        return Status::OK();
      }
      metadata = std::move(*parsed);
    }
    const std::string encoded = EncodePath(e.path);
    w.id = RecordIdFor(encoded);
    json::Writer j(&w.body);
    j.BeginObject()
        .Key("container")
        .String(spec_.name)
        .Key("path")
        .String(encoded)
        .Key("size")
        .Uint(seen.size)
        .Key("mtime")
        .String(IsoTime(seen.mtime_ns))
        .Key("mtime_ns")
        .Int(seen.mtime_ns)
        .Key("sha256")
        .String(w.row.sha256)
        .Key("md5")
        .String(md5);
    if (!metadata.empty()) j.Key("metadata").Raw(metadata);
    j.EndObject();
    if (writer) {
      const size_t slash = e.path.rfind('/');
      blob::Attachment content;
      content.name = "content";
      content.content_type =
          blob::GuessContentType(slash == std::string::npos ? e.path : e.path.substr(slash + 1));
      content.md5 = md5;
      content.sha256 = w.row.sha256;
      content.size = seen.size;
      w.body = blob::BodyWithAttachments(w.body, {content});
    }
    writes_.push_back(std::move(w));
    return Flushed();
  }

  Result<std::pair<FileStat, std::string>> ReadSidecar(const std::string& path) {
    const int fd = OpenBeneath(root_, path);
    if (fd < 0) return Status::IoError(std::strerror(errno));
    struct stat st {};
    std::string text;
    Status s;
    if (fstat(fd, &st) != 0) {
      s = Status::IoError(std::strerror(errno));
    } else if (static_cast<uint64_t>(st.st_size) > kMaxSidecarBytes) {
      s = Status::InvalidArgument("metadata larger than 1 MiB");
    } else {
      text.resize(static_cast<size_t>(st.st_size));
      size_t got = 0;
      while (got < text.size()) {
        const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      if (got != text.size()) s = Status::IoError("metadata changed while it was read");
    }
    ::close(fd);
    if (!s.ok()) return s;
    return std::make_pair(StatOf(st), std::move(text));
  }

  // Commits the batch when it is full.
  Status Flushed() {
    if (writes_.size() + removals_.size() >= options_.batch_files ||
        batch_bytes_ >= options_.batch_bytes) {
      return Flush();
    }
    return Status::OK();
  }

  // Blobs written from here on are made durable together by Flush.
  Status BlobBatch() {
    if (in_blob_batch_) return Status::OK();
    BRAID_RETURN_IF_ERROR(options_.blobs->BeginBatch());
    in_blob_batch_ = true;
    return Status::OK();
  }

  // The batch's blobs made durable, its records in one store transaction,
  // then its state rows.
  Status Flush() {
    batch_bytes_ = 0;
    if (in_blob_batch_) {
      BRAID_RETURN_IF_ERROR(options_.blobs->EndBatch());
      in_blob_batch_ = false;
    }
    if (writes_.empty() && removals_.empty()) return Status::OK();
    BRAID_ASSIGN_OR_RETURN(auto txn, store_.BeginWrite());
    std::vector<FileRow> rows;
    rows.reserve(writes_.size());
    for (Write& w : writes_) {
      PutRequest req;
      req.collection = spec_.collection;
      req.id = w.id;
      req.body = w.body;
      // A blob container's records carry the file as attachment "content";
      // another container's keep what the store has (none).
      if (spec_.content_blobs) req.attachments = PutRequest::AttachmentsMode::kSet;
      Result<WriteResult> r = txn->Put(req);
      if (!r.ok()) return r.status().WithContext("writing the record of " + w.id);
      Count(r->op);
      rows.push_back(std::move(w.row));
    }
    for (const std::string& path : removals_) {
      Result<WriteResult> r = txn->Delete(spec_.collection, RecordIdFor(EncodePath(path)));
      if (r.ok()) {
        Count(r->op);
      } else if (r.status().code() != Code::kNotFound) {
        return r.status();
      }
    }
    BRAID_RETURN_IF_ERROR(txn->Commit());
    BRAID_RETURN_IF_ERROR(Failpoint("container-state"));
    BRAID_RETURN_IF_ERROR(state_.Apply(spec_.name, rows, removals_));
    writes_.clear();
    removals_.clear();
    return Status::OK();
  }

  void Count(WriteOp op) {
    switch (op) {
      case WriteOp::kCreated:
        ++summary_.added;
        break;
      case WriteOp::kUpdated:
        ++summary_.updated;
        break;
      case WriteOp::kDeleted:
        ++summary_.removed;
        break;
      case WriteOp::kUnchanged:
        ++summary_.unchanged;
        break;
    }
  }

  // EOxServer's container summary: file count, bytes, time range, footprint.
  Status WriteSummaryRecord() {
    if (summary_.added + summary_.updated + summary_.removed == 0) {
      BRAID_ASSIGN_OR_RETURN(auto existing, store_.Get(spec_.collection, kSummaryId));
      if (existing && !existing->deleted) return Status::OK();
    }
    BRAID_ASSIGN_OR_RETURN(const Totals t, state_.Total(spec_.name));
    std::string body;
    json::Writer w(&body);
    w.BeginObject()
        .Key("container")
        .String(spec_.name)
        .Key("files")
        .Uint(t.files)
        .Key("bytes")
        .Uint(t.bytes);
    if (t.extent.begin_time) w.Key("begin_time").String(*t.extent.begin_time);
    if (t.extent.end_time) w.Key("end_time").String(*t.extent.end_time);
    if (t.extent.footprint) {
      w.Key("footprint").BeginArray();
      for (double d : *t.extent.footprint) w.Double(d);
      w.EndArray();
    }
    w.EndObject();
    BRAID_ASSIGN_OR_RETURN(auto txn, store_.BeginWrite());
    PutRequest req;
    req.collection = spec_.collection;
    req.id = kSummaryId;
    req.body = body;
    BRAID_ASSIGN_OR_RETURN(const WriteResult r, txn->Put(req));
    BRAID_RETURN_IF_ERROR(txn->Commit());
    summary_.summary_written = r.op != WriteOp::kUnchanged;
    return Status::OK();
  }

  void Progress() {
    if (!options_.progress) return;
    const auto now = Clock::now();
    if (now - last_progress_ < kProgressEvery) return;
    last_progress_ = now;
    progress_.seconds = std::chrono::duration<double>(now - start_).count();
    options_.progress(progress_);
  }

  Store& store_;
  ContainerState& state_;
  const ContainerSpec& spec_;
  const PassOptions& options_;
  const int root_;
  std::unique_ptr<ContainerState::Cursor> rows_;
  FileRow row_;
  bool has_row_ = false;
  std::vector<char> buffer_;
  std::vector<Write> writes_;
  std::vector<std::string> removals_;
  uint64_t batch_bytes_ = 0;
  bool in_blob_batch_ = false;
  PassSummary summary_;
  PassProgress progress_;
  const Clock::time_point start_;
  Clock::time_point last_progress_;
};

}  // namespace

namespace {

// What every pass does first: the folder opened (its absence changes
// nothing), a blob batch a crash cut short verified.
Result<int> Prepare(const ContainerSpec& spec, const PassOptions& options) {
  const int root = ::open(spec.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    const std::string what = "cannot open the folder " + spec.dir + " of container " + spec.name +
                             ": " + std::strerror(errno) + " (no record was changed)";
    return errno == ENOENT ? Status::NotFound(what) : Status::IoError(what);
  }
  Status s;
  if (spec.content_blobs && options.blobs == nullptr) {
    s = Status::Internal("a blob container's pass needs the blob store");
  } else if (spec.content_blobs && options.blobs->NeedsVerify()) {
    s = options.blobs->VerifyUnsynced().status();
  }
  if (!s.ok()) {
    ::close(root);
    return s;
  }
  return root;
}

struct Closer {
  int fd;
  ~Closer() { ::close(fd); }
};

}  // namespace

Result<PassSummary> RunPass(Store& store, ContainerState& state, const ContainerSpec& spec,
                            const PassOptions& options) {
  BRAID_ASSIGN_OR_RETURN(const int root, Prepare(spec, options));
  Closer closer{root};
  Pass pass(store, state, spec, options, root);
  BRAID_ASSIGN_OR_RETURN(auto rows, state.Files(spec.name));
  BRAID_RETURN_IF_ERROR(pass.Begin(std::move(rows)));
  BRAID_RETURN_IF_ERROR(Walk(spec.dir, spec.walk, pass));
  return pass.Finish();
}

Result<PassSummary> RunTargetedPass(Store& store, ContainerState& state, const ContainerSpec& spec,
                                    std::vector<std::string> paths, const PassOptions& options) {
  const std::string& suffix = spec.walk.sidecar_suffix;
  for (std::string& p : paths) {  // a sidecar's change is its file's
    if (!suffix.empty() && p.size() > suffix.size() && p.back() != '/' &&
        p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0) {
      p.resize(p.size() - suffix.size());
    }
  }
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  if (paths.size() > kMaxTargets) return RunPass(store, state, spec, options);
  BRAID_ASSIGN_OR_RETURN(const int root, Prepare(spec, options));
  Closer closer{root};
  Pass pass(store, state, spec, options, root);
  std::string covering;  // the last folder target: paths below it were walked
  for (const std::string& p : paths) {
    if (!covering.empty() && p.compare(0, covering.size(), covering) == 0) continue;
    if (p.back() == '/') {
      covering = p;
      BRAID_ASSIGN_OR_RETURN(auto rows, state.FilesBelow(spec.name, p));
      BRAID_RETURN_IF_ERROR(pass.Begin(std::move(rows)));
      BRAID_RETURN_IF_ERROR(WalkBelow(root, p, spec.walk, pass));
      BRAID_RETURN_IF_ERROR(pass.EndRange());
    } else {
      BRAID_RETURN_IF_ERROR(pass.FileTarget(p));
    }
  }
  return pass.Finish();
}

}  // namespace braid::container
