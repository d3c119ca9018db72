#include "blob/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "base/failpoint.h"
#include "blob/hasher.h"

namespace braid::blob {
namespace {

constexpr std::string_view kHex = "0123456789abcdef";
constexpr size_t kIoBytes = 1 << 20;
// Temp files younger than this are never taken for abandoned: a writer
// locks its file the moment it creates it.
constexpr int64_t kTempGraceSeconds = 60;

bool IsLowerHex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (kHex.find(c) == std::string_view::npos) return false;
  }
  return true;
}

Status Errno(std::string_view what, const std::string& path, int err = errno) {
  std::string m = std::string(what) + " " + path + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) m += " (the disk is full: free space and try again)";
  if (err == EFBIG) m += " (larger than this process may write a file: see ulimit -f)";
  return Status::IoError(std::move(m));
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& o) noexcept : fd_(o.Release()) {}
  Fd& operator=(Fd&& o) noexcept {
    Reset(o.Release());
    return *this;
  }
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

Status FsyncPath(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return Errno("cannot open", path);
  if (::fsync(fd.get()) != 0) return Errno("cannot sync", path);
  return Status::OK();
}

Status MakeDir(const std::string& path, bool* created = nullptr) {
  if (::mkdir(path.c_str(), 0700) == 0) {
    if (created != nullptr) *created = true;
    return Status::OK();
  }
  if (errno == EEXIST) return Status::OK();
  return Errno("cannot create directory", path);
}

Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

// Feeds bytes [0, limit) of `fd` to `hasher`, from the current offset 0.
Status HashFile(int fd, const std::string& path, Hasher* hasher, uint64_t* size) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Errno("cannot stat", path);
  *size = 0;
  // Most resumed downloads start empty: no buffer for them (an attachments
  // step resumes one per blob). Not zero-filled: read() fills it.
  if (st.st_size == 0) return Status::OK();
  const auto buf = std::make_unique_for_overwrite<char[]>(kIoBytes);
  uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf.get(), kIoBytes, static_cast<off_t>(total));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot read", path);
    }
    if (n == 0) break;
    hasher->Update(std::string_view(buf.get(), static_cast<size_t>(n)));
    total += static_cast<uint64_t>(n);
  }
  *size = total;
  return Status::OK();
}

class WriterImpl final : public Writer {
 public:
  // `path` is a temp file, or a partial download (`partial_sha256` set).
  WriterImpl(BlobStore* store, Fd fd, std::string path, std::string partial_sha256,
             uint64_t max_bytes, bool with_md5)
      : store_(store),
        fd_(std::move(fd)),
        path_(std::move(path)),
        partial_sha256_(std::move(partial_sha256)),
        max_bytes_(max_bytes),
        hasher_(with_md5) {}

  ~WriterImpl() override {
    if (!done_ && partial_sha256_.empty()) ::unlink(path_.c_str());
  }

  // For a resumed download: takes in the bytes already there.
  Status Load() { return HashFile(fd_.get(), path_, &hasher_, &size_); }

  uint64_t size() const override { return size_; }

  Status Append(std::string_view bytes) override {
    if (done_ || failed_) return Status::Internal("blob writer used after it finished or failed");
    if (bytes.size() > max_bytes_ - size_) {
      failed_ = true;
      return Status::PayloadTooLarge("attachment is larger than the limit of " +
                                     std::to_string(max_bytes_) + " bytes");
    }
    BRAID_RETURN_IF_ERROR(Failpoint("blob-append"));
    Status s = WriteAll(fd_.get(), bytes, path_);
    if (!s.ok()) {
      failed_ = true;
      return s;
    }
    hasher_.Update(bytes);
    size_ += bytes.size();
    return Status::OK();
  }

  Result<BlobInfo> Commit(const Expected& expected, Sync sync) override {
    if (done_ || failed_) return Status::Internal("blob writer used after it finished or failed");
    BlobInfo info;
    info.size = size_;
    BRAID_RETURN_IF_ERROR(hasher_.Finish(&info.sha256, &info.md5));
    const std::string& want_sha = expected.sha256.empty() ? partial_sha256_ : expected.sha256;
    std::string mismatch;
    if (expected.size && *expected.size != info.size) {
      mismatch = "its size is " + std::to_string(info.size) + " bytes, not " +
                 std::to_string(*expected.size);
    } else if (!want_sha.empty() && want_sha != info.sha256) {
      mismatch = "its SHA-256 is " + info.sha256 + ", not " + want_sha;
    } else if (!expected.md5.empty() && !info.md5.empty() && expected.md5 != info.md5) {
      mismatch = "its MD5 is " + info.md5 + ", not " + expected.md5;
    }
    if (!mismatch.empty()) {
      done_ = true;
      ::unlink(path_.c_str());  // a partial download that went wrong starts over
      return Status::InvalidArgument("the attachment's bytes do not match what was announced: " +
                                     mismatch + "; nothing was kept");
    }
    if (sync == Sync::kDurable && ::fsync(fd_.get()) != 0) return Errno("cannot sync", path_);
    const std::string final_path = store_->PathOf(info.sha256);
    const std::string subdir = final_path.substr(0, final_path.rfind('/'));
    bool created = false;
    BRAID_RETURN_IF_ERROR(MakeDir(subdir, &created));
    if (created && sync == Sync::kDurable) BRAID_RETURN_IF_ERROR(FsyncPath(store_->dir()));
    BRAID_RETURN_IF_ERROR(Failpoint("blob-rename"));
    if (::rename(path_.c_str(), final_path.c_str()) != 0) {
      return Errno("cannot move blob into", final_path);
    }
    done_ = true;
    fd_.Reset();
    if (sync == Sync::kDurable) {
      BRAID_RETURN_IF_ERROR(FsyncPath(subdir));
      if (!partial_sha256_.empty()) BRAID_RETURN_IF_ERROR(FsyncPath(store_->dir() + "/partial"));
    }
    return info;
  }

 private:
  BlobStore* const store_;
  Fd fd_;
  const std::string path_;
  const std::string partial_sha256_;
  const uint64_t max_bytes_;
  Hasher hasher_;
  uint64_t size_ = 0;
  bool done_ = false;
  bool failed_ = false;
};

class ReaderImpl final : public Reader {
 public:
  ReaderImpl(Fd fd, std::string path, uint64_t offset, uint64_t length)
      : fd_(std::move(fd)), path_(std::move(path)), next_(offset), end_(offset + length) {}

  uint64_t size() const override { return end_ - next_ + consumed_; }

  Result<size_t> Read(char* buf, size_t n) override {
    const uint64_t left = end_ - next_;
    if (left == 0 || n == 0) return size_t{0};
    const size_t want = static_cast<size_t>(std::min<uint64_t>(left, n));
    for (;;) {
      const ssize_t got = ::pread(fd_.get(), buf, want, static_cast<off_t>(next_));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return Errno("cannot read", path_);
      if (got == 0) return Status::IoError("blob " + path_ + " is shorter than it was");
      next_ += static_cast<uint64_t>(got);
      consumed_ += static_cast<uint64_t>(got);
      return static_cast<size_t>(got);
    }
  }

 private:
  Fd fd_;
  const std::string path_;
  uint64_t next_;
  const uint64_t end_;
  uint64_t consumed_ = 0;
};

// Calls fn(name) for every entry of directory `path` but "." and "..".
Status ListDir(const std::string& path, const std::function<Status(const char*)>& fn) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return Status::OK();
    return Errno("cannot list", path);
  }
  Status s;
  while (s.ok()) {
    errno = 0;
    const dirent* e = ::readdir(d);
    if (e == nullptr) {
      if (errno != 0) s = Errno("cannot list", path);
      break;
    }
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    s = fn(e->d_name);
  }
  ::closedir(d);
  return s;
}

int64_t MtimeNanos(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

std::atomic<uint64_t> temp_counter{0};

}  // namespace

BlobStore::BlobStore(std::string dir) : dir_(std::move(dir)) {}

BlobStore::~BlobStore() {
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

Result<std::unique_ptr<BlobStore>> BlobStore::Open(const std::string& dir) {
  std::unique_ptr<BlobStore> store(new BlobStore(dir));
  BRAID_RETURN_IF_ERROR(MakeDir(dir));
  BRAID_RETURN_IF_ERROR(MakeDir(dir + "/tmp"));
  BRAID_RETURN_IF_ERROR(MakeDir(dir + "/partial"));
  store->dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (store->dir_fd_ < 0) return Errno("cannot open", dir);
  BRAID_RETURN_IF_ERROR(store->RemoveAbandonedTemps());
  return store;
}

std::string BlobStore::PathOf(std::string_view sha256) const {
  std::string path = dir_;
  path += '/';
  path += sha256.substr(0, 2);
  path += '/';
  path += sha256.substr(std::min<size_t>(2, sha256.size()));
  return path;
}

Status BlobStore::RemoveAbandonedTemps() {
  const std::string tmp = dir_ + "/tmp";
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  return ListDir(tmp, [&](const char* name) {
    const std::string path = tmp + "/" + name;
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    struct stat st;
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) return Status::OK();
    if (st.st_mtim.tv_sec > now - kTempGraceSeconds) return Status::OK();
    // A live writer holds its lock; a dead one's went with its process.
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) ::unlink(path.c_str());
    return Status::OK();
  });
}

Result<std::unique_ptr<Writer>> BlobStore::Create(uint64_t max_bytes, bool with_md5) {
  const std::string path = dir_ + "/tmp/" + std::to_string(::getpid()) + "-" +
                           std::to_string(temp_counter.fetch_add(1)) + ".tmp";
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Errno("cannot create", path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return Errno("cannot lock", path, err);
  }
  return std::unique_ptr<Writer>(
      new WriterImpl(this, std::move(fd), path, "", max_bytes, with_md5));
}

Result<std::unique_ptr<Writer>> BlobStore::Resume(std::string_view sha256, uint64_t max_bytes) {
  if (!IsSha256Hex(sha256)) {
    return Status::InvalidArgument("\"" + std::string(sha256) + "\" is not a SHA-256 in hex");
  }
  const std::string path = dir_ + "/partial/" + std::string(sha256);
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return Errno("cannot open", path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::Busy("another process is downloading blob " + std::string(sha256));
    }
    return Errno("cannot lock", path);
  }
  if (::lseek(fd.get(), 0, SEEK_END) < 0) return Errno("cannot seek", path);
  auto writer = std::make_unique<WriterImpl>(this, std::move(fd), path, std::string(sha256),
                                             max_bytes, /*with_md5=*/false);
  BRAID_RETURN_IF_ERROR(writer->Load());
  if (writer->size() > max_bytes) {
    ::unlink(path.c_str());
    return Status::PayloadTooLarge("partial download " + path + " is over the limit; removed");
  }
  return std::unique_ptr<Writer>(std::move(writer));
}

Status BlobStore::DropPartial(std::string_view sha256) {
  if (!IsSha256Hex(sha256)) return Status::OK();
  const std::string path = dir_ + "/partial/" + std::string(sha256);
  Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) return errno == ENOENT ? Status::OK() : Errno("cannot open", path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    return Status::Busy("another process is downloading blob " + std::string(sha256));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("cannot remove", path);
  return Status::OK();
}

Result<std::optional<uint64_t>> BlobStore::SizeOf(std::string_view sha256) const {
  if (!IsSha256Hex(sha256)) return std::optional<uint64_t>();
  struct stat st;
  const std::string path = PathOf(sha256);
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::optional<uint64_t>();
    return Errno("cannot stat", path);
  }
  return std::optional<uint64_t>(static_cast<uint64_t>(st.st_size));
}

namespace {

// Opens blob `sha256` at `path` for reading. Errors: NotFound, IoError.
Result<Fd> OpenBlob(std::string_view sha256, const std::string& path) {
  if (!IsSha256Hex(sha256)) return Status::NotFound("no blob " + std::string(sha256));
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Status::NotFound("no blob " + std::string(sha256) + " here");
    return Errno("cannot open", path);
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<Reader>> BlobStore::Read(std::string_view sha256, uint64_t offset,
                                                uint64_t length) const {
  const std::string path = PathOf(sha256);
  BRAID_ASSIGN_OR_RETURN(Fd fd, OpenBlob(sha256, path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Errno("cannot stat", path);
  const auto size = static_cast<uint64_t>(st.st_size);
  if (offset > size || length > size - offset) {
    return Status::InvalidArgument("range " + std::to_string(offset) + "+" +
                                   std::to_string(length) + " is past the end of a blob of " +
                                   std::to_string(size) + " bytes");
  }
  ::posix_fadvise(fd.get(), static_cast<off_t>(offset), static_cast<off_t>(length),
                  POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<Reader>(new ReaderImpl(std::move(fd), path, offset, length));
}

Result<BlobInfo> BlobStore::Hash(std::string_view sha256) const {
  const std::string path = PathOf(sha256);
  BRAID_ASSIGN_OR_RETURN(Fd fd, OpenBlob(sha256, path));
  Hasher hasher;
  BlobInfo info;
  BRAID_RETURN_IF_ERROR(HashFile(fd.get(), path, &hasher, &info.size));
  BRAID_RETURN_IF_ERROR(hasher.Finish(&info.sha256, &info.md5));
  return info;
}

Status BlobStore::Remove(std::string_view sha256) {
  if (!IsSha256Hex(sha256)) return Status::OK();
  const std::string path = PathOf(sha256);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("cannot remove", path);
  return Status::OK();
}

Status BlobStore::ForEach(
    const std::function<Status(std::string_view sha256, uint64_t size)>& fn) const {
  return ListDir(dir_, [&](const char* sub) {
    if (!IsLowerHex(sub, 2)) return Status::OK();  // tmp, partial, unsynced
    const std::string subdir = dir_ + "/" + sub;
    return ListDir(subdir, [&](const char* name) {
      if (!IsLowerHex(name, 62)) return Status::OK();
      struct stat st;
      const std::string path = subdir + "/" + name;
      if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return Status::OK();  // removed meanwhile
        return Errno("cannot stat", path);
      }
      return fn(std::string(sub) + name, static_cast<uint64_t>(st.st_size));
    });
  });
}

Status BlobStore::Clear() {
  BRAID_RETURN_IF_ERROR(ForEach([&](std::string_view sha256, uint64_t) { return Remove(sha256); }));
  const std::string partial = dir_ + "/partial";
  BRAID_RETURN_IF_ERROR(ListDir(partial, [&](const char* name) {
    const std::string path = partial + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("cannot remove", path);
    return Status::OK();
  }));
  BRAID_RETURN_IF_ERROR(RemoveAbandonedTemps());
  if (::syncfs(dir_fd_) != 0) return Errno("cannot sync", dir_);
  return Status::OK();
}

Status BlobStore::BeginBatch() {
  const std::string marker = dir_ + "/unsynced";
  // A marker left by a batch cut short stays: its time is the older one.
  Fd fd(::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Errno("cannot create", marker);
  if (::fsync(fd.get()) != 0) return Errno("cannot sync", marker);
  return FsyncPath(dir_);
}

Status BlobStore::EndBatch() {
  // Every deferred commit's data and rename, whatever file it went to.
  if (::syncfs(dir_fd_) != 0) return Errno("cannot sync", dir_);
  const std::string marker = dir_ + "/unsynced";
  if (::unlink(marker.c_str()) != 0 && errno != ENOENT) return Errno("cannot remove", marker);
  return FsyncPath(dir_);
}

bool BlobStore::NeedsVerify() const {
  struct stat st;
  return ::stat((dir_ + "/unsynced").c_str(), &st) == 0;
}

Result<uint64_t> BlobStore::VerifyUnsynced() {
  struct stat marker;
  if (::stat((dir_ + "/unsynced").c_str(), &marker) != 0) return uint64_t{0};
  // File systems may round times; take a second of slack.
  const int64_t since = MtimeNanos(marker) - 1000000000;
  std::vector<std::string> suspects;
  BRAID_RETURN_IF_ERROR(ForEach([&](std::string_view sha256, uint64_t) {
    struct stat st;
    if (::stat(PathOf(sha256).c_str(), &st) == 0 && MtimeNanos(st) >= since) {
      suspects.emplace_back(sha256);
    }
    return Status::OK();
  }));
  uint64_t removed = 0;
  for (const auto& sha256 : suspects) {
    auto info = Hash(sha256);
    if (info.ok() && info->sha256 == sha256) continue;
    if (!info.ok() && info.status().code() == Code::kNotFound) continue;  // removed meanwhile
    if (!info.ok()) return info.status();
    BRAID_RETURN_IF_ERROR(Remove(sha256));
    ++removed;
  }
  BRAID_RETURN_IF_ERROR(EndBatch());
  return removed;
}

}  // namespace braid::blob
