#include "container/checkout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

#include "base/json.h"
#include "blob/attachments.h"
#include "blob/hasher.h"
#include "container/path_codec.h"

namespace braid::container {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kIoBytes = 1 << 20;
constexpr size_t kMaxListed = 100;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Status Errno(const std::string& what) {
  return Status::IoError(what + ": " + std::strerror(errno));
}

// The folder holding `path` below `root`, made when `create`; each step
// opened without following a symlink. Sets *leaf to the file's name.
Result<Fd> OpenParent(int root, const std::string& path, bool create, std::string* leaf) {
  Fd dir(::dup(root));
  if (dir.get() < 0) return Errno("dup");
  size_t start = 0;
  for (;;) {
    const size_t slash = path.find('/', start);
    if (slash == std::string::npos) {
      *leaf = path.substr(start);
      return dir;
    }
    const std::string part = path.substr(start, slash - start);
    int fd = ::openat(dir.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(dir.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
        return Errno("cannot make the folder " + path.substr(0, slash));
      }
      fd = ::openat(dir.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      if (errno == ENOENT) return Status::NotFound(path.substr(0, slash) + " is not there");
      return Errno("cannot open the folder " + path.substr(0, slash) +
                   " (a symlink or a file there is not followed)");
    }
    dir = Fd(fd);
    start = slash + 1;
  }
}

// The stat of `leaf` in `dir`: nullopt when absent; Conflict when it is not
// a regular file.
Result<std::optional<FileStat>> StatAt(int dir, const std::string& leaf) {
  struct stat st {};
  if (::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return std::optional<FileStat>();
    return Errno("cannot stat " + leaf);
  }
  if (!S_ISREG(st.st_mode)) return Status::Conflict("something other than a file is there");
  return std::optional<FileStat>(StatOf(st));
}

Result<std::string> Sha256Of(int dir, const std::string& leaf) {
  Fd fd(::openat(dir, leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return Errno("cannot read " + leaf);
  blob::Hasher h(/*md5=*/false);
  std::vector<char> buf(kIoBytes);
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("cannot read " + leaf);
    if (n == 0) break;
    h.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  std::string sha, unused;
  BRAID_RETURN_IF_ERROR(h.Finish(&sha, &unused));
  return sha;
}

class Run {
 public:
  Run(Store& store, ContainerState& state, const blob::BlobStore& blobs, const CheckoutSpec& spec,
      int root)
      : store_(store), state_(state), blobs_(blobs), spec_(spec), root_(root), buf_(kIoBytes) {
    summary_.container = spec.name;
  }

  Result<CheckoutSummary> Go() {
    const auto start = Clock::now();
    BRAID_ASSIGN_OR_RETURN(const ChangePage head, LogHead(store_));
    ChangeQuery q;
    q.after_seq = spec_.cursor < head.horizon ? 0 : spec_.cursor;  // compacted past it: all
    q.collection = spec_.collection;
    q.limit = 1000;
    for (;;) {
      BRAID_ASSIGN_OR_RETURN(const ChangePage page, store_.ReadChanges(q));
      std::map<std::string_view, const Record*> latest;  // a record once per page
      for (const ChangeEvent& e : page.events) {
        if (e.record) latest[e.record->id] = &*e.record;
      }
      for (const auto& [id, record] : latest) BRAID_RETURN_IF_ERROR(Apply(*record));
      q.after_seq = page.complete_to;
      if (!page.has_more) break;
    }
    const bool clean =
        summary_.pending == 0 && summary_.conflict_count == 0 && summary_.error_count == 0;
    summary_.cursor = clean ? q.after_seq : spec_.cursor;
    summary_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    BRAID_RETURN_IF_ERROR(
        state_.SetCheckoutRun(spec_.name, summary_.cursor, CheckoutSummaryJson(summary_)));
    return summary_;
  }

 private:
  void Note(std::vector<std::pair<std::string, std::string>>* list, uint64_t* count,
            const std::string& path, const std::string& why) {
    ++*count;
    if (list->size() < kMaxListed) list->emplace_back(EncodePath(path), why);
  }
  void Conflict(const std::string& path, const std::string& why) {
    Note(&summary_.conflicts, &summary_.conflict_count, path, why);
  }
  void Error(const std::string& path, const std::string& why) {
    Note(&summary_.errors, &summary_.error_count, path, why);
  }

  Status Apply(const Record& r) {
    if (r.id == kSummaryId) return Status::OK();
    BRAID_ASSIGN_OR_RETURN(std::optional<CheckoutFile> row,
                           state_.GetCheckoutFile(spec_.name, r.id));
    if (r.deleted) return row ? Remove(*row) : Status::OK();
    // What the record says: where, which bytes, which mtime.
    const json::Value body(r.body);
    const auto path_text = body.Find("path");
    const auto mtime = body.Find("mtime_ns");
    Result<std::string> path = DecodePath(path_text ? path_text->AsString().value_or("") : "");
    if (!path.ok()) {
      Error(r.id, path.status().message());
      return Status::OK();
    }
    BRAID_ASSIGN_OR_RETURN(const auto content, blob::FindAttachment(r.body, "content"));
    if (!content) {
      ++summary_.skipped;  // a container without --content blobs: no bytes to write
      return Status::OK();
    }
    std::string leaf;
    Result<Fd> parent = OpenParent(root_, *path, /*create=*/true, &leaf);
    if (!parent.ok()) {
      Error(*path, parent.status().message());
      return Status::OK();
    }
    Result<std::optional<FileStat>> disk = StatAt(parent->get(), leaf);
    if (!disk.ok()) {
      if (disk.status().code() == Code::kConflict) {
        Conflict(*path, disk.status().message());
      } else {
        Error(*path, disk.status().message());
      }
      return Status::OK();
    }
    if (row && *disk && !(**disk == row->stat)) {
      Conflict(*path, "changed here since it was checked out; kept, not overwritten");
      return Status::OK();
    }
    if (*disk && row && row->sha256 == content->sha256) {
      ++summary_.unchanged;
      return Status::OK();
    }
    if (*disk && !row) {
      // Not written by this checkout: taken as such only with the bytes.
      Result<std::string> sha = Sha256Of(parent->get(), leaf);
      if (!sha.ok() || *sha != content->sha256) {
        Conflict(*path, "a file checkout did not write is there; kept, not overwritten");
        return Status::OK();
      }
      ++summary_.unchanged;
      return state_.PutCheckoutFile(spec_.name, {r.id, *path, content->sha256, **disk});
    }
    BRAID_ASSIGN_OR_RETURN(const auto have, blobs_.SizeOf(content->sha256));
    if (!have) {
      ++summary_.pending;  // the attachments step has not fetched it yet
      return Status::OK();
    }
    const int64_t mtime_ns = mtime ? mtime->AsInt64().value_or(0) : 0;
    Result<FileStat> written = Write(parent->get(), leaf, *content, mtime_ns);
    if (!written.ok()) {
      Error(*path, written.status().message());
      return Status::OK();
    }
    ++summary_.written;
    summary_.bytes_written += content->size;
    return state_.PutCheckoutFile(spec_.name, {r.id, *path, content->sha256, *written});
  }

  Status Remove(const CheckoutFile& row) {
    std::string leaf;
    Result<Fd> parent = OpenParent(root_, row.path, /*create=*/false, &leaf);
    if (!parent.ok()) {
      if (parent.status().code() == Code::kNotFound) {
        return state_.RemoveCheckoutFile(spec_.name, row.id);  // gone already
      }
      Error(row.path, parent.status().message());
      return Status::OK();
    }
    Result<std::optional<FileStat>> disk = StatAt(parent->get(), leaf);
    if (!disk.ok()) {
      Conflict(row.path, disk.status().message());
      return Status::OK();
    }
    if (*disk && !(**disk == row.stat)) {
      Conflict(row.path, "removed by its container, changed here since; kept");
      return Status::OK();
    }
    if (*disk) {
      if (::unlinkat(parent->get(), leaf.c_str(), 0) != 0 && errno != ENOENT) {
        Error(row.path, std::string("cannot remove it: ") + std::strerror(errno));
        return Status::OK();
      }
      if (::fsync(parent->get()) != 0) return Errno("syncing the folder of " + row.path);
      ++summary_.removed;
    }
    return state_.RemoveCheckoutFile(spec_.name, row.id);
  }

  // The blob's bytes into a temp file beside `leaf`, synced, dated, renamed
  // over it; the folder synced. Returns the file's stat after.
  Result<FileStat> Write(int dir, const std::string& leaf, const blob::Attachment& content,
                         int64_t mtime_ns) {
    const std::string tmp =
        ".braid-checkout-" + std::to_string(::getpid()) + "-" + std::to_string(++temp_counter_);
    Fd fd(::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (fd.get() < 0) return Errno("cannot create a temp file beside " + leaf);
    auto fail = [&](Status s) -> Result<FileStat> {
      ::unlinkat(dir, tmp.c_str(), 0);
      return s;
    };
    Result<std::unique_ptr<blob::Reader>> reader = blobs_.Read(content.sha256, 0, content.size);
    if (!reader.ok()) return fail(reader.status());
    uint64_t copied = 0;
    for (;;) {
      Result<size_t> n = (*reader)->Read(buf_.data(), buf_.size());
      if (!n.ok()) return fail(n.status());
      if (*n == 0) break;
      for (size_t off = 0; off < *n;) {
        const ssize_t w = ::write(fd.get(), buf_.data() + off, *n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return fail(Errno("cannot write " + leaf));
        off += static_cast<size_t>(w);
      }
      copied += *n;
    }
    if (copied != content.size)
      return fail(Status::Corruption("blob " + content.sha256 + " is short"));
    const timespec times[2] = {{0, UTIME_NOW},
                               {static_cast<time_t>(mtime_ns / 1'000'000'000),
                                static_cast<long>(mtime_ns % 1'000'000'000)}};
    if (mtime_ns > 0 && ::futimens(fd.get(), times) != 0) return fail(Errno("cannot date " + leaf));
    if (::fsync(fd.get()) != 0) return fail(Errno("cannot sync " + leaf));
    if (::renameat(dir, tmp.c_str(), dir, leaf.c_str()) != 0) {
      return fail(Errno("cannot put " + leaf + " in place"));
    }
    if (::fsync(dir) != 0) return Errno("cannot sync the folder of " + leaf);
    BRAID_ASSIGN_OR_RETURN(const std::optional<FileStat> st, StatAt(dir, leaf));
    if (!st) return Status::IoError(leaf + " vanished after it was written");
    return *st;
  }

  Store& store_;
  ContainerState& state_;
  const blob::BlobStore& blobs_;
  const CheckoutSpec& spec_;
  const int root_;
  std::vector<char> buf_;
  uint64_t temp_counter_ = 0;
  CheckoutSummary summary_;
};

void ListJson(json::Writer& w, const char* key,
              const std::vector<std::pair<std::string, std::string>>& list) {
  w.Key(key).BeginArray();
  for (const auto& [path, why] : list) {
    w.BeginObject().Key("path").String(path).Key("why").String(why).EndObject();
  }
  w.EndArray();
}

}  // namespace

std::string CheckoutSummaryJson(const CheckoutSummary& s) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("container")
      .String(s.container)
      .Key("written")
      .Uint(s.written)
      .Key("removed")
      .Uint(s.removed)
      .Key("unchanged")
      .Uint(s.unchanged)
      .Key("pending")
      .Uint(s.pending)
      .Key("skipped")
      .Uint(s.skipped)
      .Key("conflict_count")
      .Uint(s.conflict_count)
      .Key("error_count")
      .Uint(s.error_count)
      .Key("bytes_written")
      .Uint(s.bytes_written)
      .Key("cursor")
      .Uint(s.cursor)
      .Key("seconds")
      .Double(s.seconds);
  ListJson(w, "conflicts", s.conflicts);
  ListJson(w, "errors", s.errors);
  w.EndObject();
  return out;
}

Result<CheckoutSummary> RunCheckout(Store& store, ContainerState& state,
                                    const blob::BlobStore& blobs, const CheckoutSpec& spec) {
  Fd root(::open(spec.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) {
    const std::string what =
        "cannot open the checkout folder " + spec.dir + ": " + std::strerror(errno);
    return errno == ENOENT ? Status::NotFound(what) : Status::IoError(what);
  }
  Run run(store, state, blobs, spec, root.get());
  return run.Go();
}

}  // namespace braid::container
