// libbraid_powercut.so: an LD_PRELOAD shim that records every change a
// process makes to the files under one directory, for the power-cut tests
// (tests/powercut/README.md).
//
//   BRAID_POWERCUT_ROOT=/abs/dir   the directory whose files are recorded
//   BRAID_POWERCUT_TRACE=/abs/file the trace (trace.h), appended to
//
// Without both variables every call goes straight to libc. With them, the
// calls that change files (open with O_CREAT or O_TRUNC, write, pwrite,
// writev, pwritev, ftruncate, truncate, fallocate, fsync, fdatasync, sync,
// syncfs, unlink, rename, mkdir) are made, then recorded when they
// succeeded. One mutex per process orders each call with its record, so the
// trace has a process's operations in the order they took effect. SQLite's
// shared-memory index (`-shm`) is not recorded: after a power cut SQLite
// rebuilds it from the WAL. A writable shared mapping of a recorded file, or
// a rename into the root from outside, would escape the record: the shim
// stops the process with a message rather than record something false.
//
// What the shim cannot see (writes through stdio, which glibc makes inside
// libc) is caught afterwards: the test compares the files with the trace
// replayed in full (crash_state.h, VerifyLive).

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tests/powercut/trace.h"

namespace {

using braid::powercut::EncodeRecord;
using braid::powercut::Op;

// libc's functions, found with RTLD_NEXT on first use.
struct Libc {
  int (*open)(const char*, int, ...);
  int (*open64)(const char*, int, ...);
  int (*openat)(int, const char*, int, ...);
  int (*openat64)(int, const char*, int, ...);
  int (*close)(int);
  ssize_t (*write)(int, const void*, size_t);
  ssize_t (*pwrite)(int, const void*, size_t, off_t);
  ssize_t (*pwrite64)(int, const void*, size_t, off64_t);
  ssize_t (*writev)(int, const struct iovec*, int);
  ssize_t (*pwritev)(int, const struct iovec*, int, off_t);
  ssize_t (*pwritev64)(int, const struct iovec*, int, off64_t);
  int (*ftruncate)(int, off_t);
  int (*ftruncate64)(int, off64_t);
  int (*truncate)(const char*, off_t);
  int (*truncate64)(const char*, off64_t);
  int (*fallocate)(int, int, off_t, off_t);
  int (*fallocate64)(int, int, off64_t, off64_t);
  int (*posix_fallocate)(int, off_t, off_t);
  int (*posix_fallocate64)(int, off64_t, off64_t);
  int (*fsync)(int);
  int (*fdatasync)(int);
  void (*sync)();
  int (*syncfs)(int);
  int (*unlink)(const char*);
  int (*unlinkat)(int, const char*, int);
  int (*rename)(const char*, const char*);
  int (*renameat)(int, const char*, int, const char*);
  int (*renameat2)(int, const char*, int, const char*, unsigned);
  int (*mkdir)(const char*, mode_t);
  int (*mkdirat)(int, const char*, mode_t);
  int (*rmdir)(const char*);
  int (*dup)(int);
  int (*dup2)(int, int);
  int (*dup3)(int, int, int);
  int (*fcntl)(int, int, ...);
  void* (*mmap)(void*, size_t, int, int, int, off_t);
  void* (*mmap64)(void*, size_t, int, int, int, off64_t);
};

Libc libc;
pthread_once_t libc_once = PTHREAD_ONCE_INIT;

template <typename T>
void Find(T* fn, const char* name) {
  *fn = reinterpret_cast<T>(dlsym(RTLD_NEXT, name));
}

void FindLibc() {
  Find(&libc.open, "open");
  Find(&libc.open64, "open64");
  Find(&libc.openat, "openat");
  Find(&libc.openat64, "openat64");
  Find(&libc.close, "close");
  Find(&libc.write, "write");
  Find(&libc.pwrite, "pwrite");
  Find(&libc.pwrite64, "pwrite64");
  Find(&libc.writev, "writev");
  Find(&libc.pwritev, "pwritev");
  Find(&libc.pwritev64, "pwritev64");
  Find(&libc.ftruncate, "ftruncate");
  Find(&libc.ftruncate64, "ftruncate64");
  Find(&libc.truncate, "truncate");
  Find(&libc.truncate64, "truncate64");
  Find(&libc.fallocate, "fallocate");
  Find(&libc.fallocate64, "fallocate64");
  Find(&libc.posix_fallocate, "posix_fallocate");
  Find(&libc.posix_fallocate64, "posix_fallocate64");
  Find(&libc.fsync, "fsync");
  Find(&libc.fdatasync, "fdatasync");
  Find(&libc.sync, "sync");
  Find(&libc.syncfs, "syncfs");
  Find(&libc.unlink, "unlink");
  Find(&libc.unlinkat, "unlinkat");
  Find(&libc.rename, "rename");
  Find(&libc.renameat, "renameat");
  Find(&libc.renameat2, "renameat2");
  Find(&libc.mkdir, "mkdir");
  Find(&libc.mkdirat, "mkdirat");
  Find(&libc.rmdir, "rmdir");
  Find(&libc.dup, "dup");
  Find(&libc.dup2, "dup2");
  Find(&libc.dup3, "dup3");
  Find(&libc.fcntl, "fcntl");
  Find(&libc.mmap, "mmap");
  Find(&libc.mmap64, "mmap64");
}

const Libc& L() {
  pthread_once(&libc_once, FindLibc);
  return libc;
}

// What a descriptor refers to, when it is under the root.
struct Tracked {
  bool dir = false;
  uint64_t ino = 0;
  std::string rel;
};

struct State {
  bool enabled = false;
  std::string root;  // absolute, no trailing '/'
  int trace_fd = -1;
  std::mutex mu;  // orders each operation with its record
  std::unordered_map<int, Tracked> fds;
  std::string buffer;  // the record being written (under mu)
};

State& S() {
  static State* s = new State();  // never destroyed: used until the last syscall
  return *s;
}

[[noreturn]] void Die(const char* what, const std::string& path) {
  std::fprintf(stderr, "braid power-cut shim: %s (%s); the recording would be false\n", what,
               path.c_str());
  std::abort();
}

__attribute__((constructor)) void Init() {
  const char* root = std::getenv("BRAID_POWERCUT_ROOT");
  const char* trace = std::getenv("BRAID_POWERCUT_TRACE");
  if (root == nullptr || trace == nullptr || root[0] != '/') return;
  State& s = S();
  s.root = root;
  while (s.root.size() > 1 && s.root.back() == '/') s.root.pop_back();
  s.trace_fd = L().open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (s.trace_fd < 0) Die("cannot open the trace", trace);
  s.enabled = true;
}

// Writes the record in S().buffer; the caller holds mu.
void Emit(Op op, uint64_t ino, int64_t offset, std::string_view path, std::string_view path2,
          std::string_view data) {
  State& s = S();
  EncodeRecord(&s.buffer, op, ino, offset, path, path2, data);
  const char* p = s.buffer.data();
  const ssize_t n = L().write(s.trace_fd, p, s.buffer.size());
  if (n != static_cast<ssize_t>(s.buffer.size())) Die("cannot append to the trace", s.root);
}

// Lexically normalized absolute form of `path` relative to `dirfd`.
std::string Absolute(int dirfd, const char* path) {
  std::string abs;
  if (path[0] == '/') {
    abs = path;
  } else {
    char base[PATH_MAX];
    if (dirfd == AT_FDCWD) {
      if (::getcwd(base, sizeof base) == nullptr) return "";
      abs = base;
    } else {
      const std::string link = "/proc/self/fd/" + std::to_string(dirfd);
      const ssize_t n = ::readlink(link.c_str(), base, sizeof base - 1);
      if (n <= 0) return "";
      abs.assign(base, static_cast<size_t>(n));
    }
    abs += "/";
    abs += path;
  }
  std::string out;
  size_t i = 0;
  while (i < abs.size()) {
    while (i < abs.size() && abs[i] == '/') ++i;
    const size_t j = abs.find('/', i);
    const std::string part = abs.substr(i, j == std::string::npos ? std::string::npos : j - i);
    i = j == std::string::npos ? abs.size() : j;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      const size_t cut = out.rfind('/');
      out.resize(cut == std::string::npos ? 0 : cut);
      continue;
    }
    out += "/" + part;
  }
  return out.empty() ? "/" : out;
}

bool IsShm(const std::string& rel) {
  return rel.size() >= 4 && rel.compare(rel.size() - 4, 4, "-shm") == 0;
}

// True with `rel` set when `path` is under the root (rel "" is the root).
bool UnderRoot(int dirfd, const char* path, std::string* rel) {
  const State& s = S();
  if (!s.enabled || path == nullptr) return false;
  const std::string abs = Absolute(dirfd, path);
  if (abs == s.root) {
    rel->clear();
    return true;
  }
  if (abs.size() > s.root.size() && abs.compare(0, s.root.size(), s.root) == 0 &&
      abs[s.root.size()] == '/') {
    *rel = abs.substr(s.root.size() + 1);
    return !IsShm(*rel);
  }
  return false;
}

const Tracked* Lookup(int fd) {
  auto& fds = S().fds;
  auto it = fds.find(fd);
  return it == fds.end() ? nullptr : &it->second;
}

template <typename Fn>
int TrackedOpen(int dirfd, const char* path, int flags, mode_t mode, Fn&& real) {
  std::string rel;
  if (!UnderRoot(dirfd, path, &rel)) return real(flags, mode);
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  struct stat before;
  const bool existed = ::fstatat(dirfd, path, &before, 0) == 0;
  const int fd = real(flags, mode);
  if (fd < 0) return fd;
  const int saved = errno;
  struct stat st;
  if (::fstat(fd, &st) == 0) {
    Tracked t;
    t.dir = S_ISDIR(st.st_mode);
    t.ino = st.st_ino;
    t.rel = rel;
    if (!t.dir && S_ISREG(st.st_mode)) {
      Emit(Op::kOpen, t.ino, existed ? 0 : 1, rel, "", "");
      if (existed && (flags & O_TRUNC) != 0 && (flags & O_ACCMODE) != O_RDONLY) {
        Emit(Op::kTruncate, t.ino, 0, rel, "", "");
      }
    }
    s.fds[fd] = std::move(t);
  }
  errno = saved;
  return fd;
}

mode_t ModeArg(int flags, va_list ap) {
  return ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) ? va_arg(ap, mode_t) : 0;
}

// A write at `offset` (-1: the descriptor's position, read before the
// write) made by `real`, of the bytes at `data` (as many as it wrote).
template <typename Fn>
ssize_t TrackedWrite(int fd, int64_t offset, const void* data, Fn&& real) {
  State& s = S();
  if (!s.enabled) return real();
  std::lock_guard<std::mutex> lock(s.mu);
  const Tracked* t = Lookup(fd);
  if (t == nullptr || t->dir) return real();
  if (offset < 0) {
    const int fl = L().fcntl(fd, F_GETFL);
    struct stat st;
    if (fl >= 0 && (fl & O_APPEND) != 0 && ::fstat(fd, &st) == 0) {
      offset = st.st_size;
    } else {
      offset = ::lseek(fd, 0, SEEK_CUR);
    }
  }
  const ssize_t done = real();
  if (done > 0) {
    const int saved = errno;
    Emit(Op::kWrite, t->ino, offset, t->rel, "",
         std::string_view(static_cast<const char*>(data), static_cast<size_t>(done)));
    errno = saved;
  }
  return done;
}

std::string Gather(const struct iovec* iov, int count) {
  std::string out;
  for (int i = 0; i < count; ++i)
    out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  return out;
}

template <typename Fn>
int TrackedSize(int fd, int64_t size, Fn&& real) {
  State& s = S();
  if (!s.enabled) return real();
  std::lock_guard<std::mutex> lock(s.mu);
  const Tracked* t = Lookup(fd);
  const int rc = real();
  if (rc == 0 && t != nullptr && !t->dir) {
    const int saved = errno;
    Emit(Op::kTruncate, t->ino, size, t->rel, "", "");
    errno = saved;
  }
  return rc;
}

// fallocate: the file grows to at least offset + len (unless KEEP_SIZE).
template <typename Fn>
int TrackedAllocate(int fd, int mode, Fn&& real) {
  State& s = S();
  if (!s.enabled) return real();
  std::lock_guard<std::mutex> lock(s.mu);
  const Tracked* t = Lookup(fd);
  if (t == nullptr || t->dir) return real();
  if (mode != 0) Die("fallocate with a mode of a recorded file", t->rel);
  const int rc = real();
  if (rc == 0) {
    struct stat st;
    if (::fstat(fd, &st) == 0) Emit(Op::kTruncate, t->ino, st.st_size, t->rel, "", "");
  }
  return rc;
}

template <typename Fn>
int TrackedSync(int fd, Fn&& real) {
  State& s = S();
  if (!s.enabled) return real();
  std::lock_guard<std::mutex> lock(s.mu);
  const Tracked* t = Lookup(fd);
  const int rc = real();
  if (rc == 0 && t != nullptr) {
    const int saved = errno;
    if (t->dir) {
      Emit(Op::kDirSync, 0, 0, t->rel, "", "");
    } else {
      Emit(Op::kSync, t->ino, 0, t->rel, "", "");
    }
    errno = saved;
  }
  return rc;
}

template <typename Fn>
int TrackedName(Op op, int dirfd, const char* path, Fn&& real) {
  std::string rel;
  if (!UnderRoot(dirfd, path, &rel)) return real();
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  const int rc = real();
  if (rc == 0) {
    const int saved = errno;
    Emit(op, 0, 0, rel, "", "");
    errno = saved;
  }
  return rc;
}

template <typename Fn>
int TrackedRename(int olddir, const char* from, int newdir, const char* to, Fn&& real) {
  std::string a, b;
  const bool from_in = UnderRoot(olddir, from, &a);
  const bool to_in = UnderRoot(newdir, to, &b);
  if (!from_in && !to_in) return real();
  if (!from_in) Die("a rename into the recorded directory", to);
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  const int rc = real();
  if (rc == 0) {
    const int saved = errno;
    if (to_in) {
      Emit(Op::kRename, 0, 0, a, b, "");
    } else {
      Emit(Op::kUnlink, 0, 0, a, "", "");
    }
    errno = saved;
  }
  return rc;
}

int TrackedDup(int from, int to) {
  State& s = S();
  if (!s.enabled || to < 0) return to;
  std::lock_guard<std::mutex> lock(s.mu);
  s.fds.erase(to);
  if (const Tracked* t = Lookup(from)) {
    Tracked copy = *t;
    s.fds[to] = std::move(copy);
  }
  return to;
}

void CheckMap(int prot, int flags, int fd) {
  State& s = S();
  if (!s.enabled || fd < 0 || (prot & PROT_WRITE) == 0 || (flags & MAP_SHARED) == 0) return;
  std::lock_guard<std::mutex> lock(s.mu);
  if (const Tracked* t = Lookup(fd); t != nullptr && !t->dir) {
    Die("a writable shared mapping of a recorded file", t->rel);
  }
}

}  // namespace

extern "C" {

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return TrackedOpen(AT_FDCWD, path, flags, mode,
                     [&](int f, mode_t m) { return L().open(path, f, m); });
}

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return TrackedOpen(AT_FDCWD, path, flags, mode,
                     [&](int f, mode_t m) { return L().open64(path, f, m); });
}

int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return TrackedOpen(dirfd, path, flags, mode,
                     [&](int f, mode_t m) { return L().openat(dirfd, path, f, m); });
}

int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return TrackedOpen(dirfd, path, flags, mode,
                     [&](int f, mode_t m) { return L().openat64(dirfd, path, f, m); });
}

// The fortified forms (_FORTIFY_SOURCE) of open without a mode.
int __open_2(const char* path, int flags) { return open(path, flags); }
int __open64_2(const char* path, int flags) { return open64(path, flags); }
int __openat_2(int dirfd, const char* path, int flags) { return openat(dirfd, path, flags); }
int __openat64_2(int dirfd, const char* path, int flags) { return openat64(dirfd, path, flags); }

int creat(const char* path, mode_t mode) { return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode); }
int creat64(const char* path, mode_t mode) {
  return open64(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int close(int fd) {
  State& s = S();
  if (s.enabled) {
    std::lock_guard<std::mutex> lock(s.mu);
    s.fds.erase(fd);
  }
  return L().close(fd);
}

ssize_t write(int fd, const void* data, size_t n) {
  return TrackedWrite(fd, -1, data, [&] { return L().write(fd, data, n); });
}

ssize_t pwrite(int fd, const void* data, size_t n, off_t offset) {
  return TrackedWrite(fd, offset, data, [&] { return L().pwrite(fd, data, n, offset); });
}

ssize_t pwrite64(int fd, const void* data, size_t n, off64_t offset) {
  return TrackedWrite(fd, offset, data, [&] { return L().pwrite64(fd, data, n, offset); });
}

ssize_t writev(int fd, const struct iovec* iov, int count) {
  if (!S().enabled) return L().writev(fd, iov, count);
  const std::string all = Gather(iov, count);
  return TrackedWrite(fd, -1, all.data(), [&] { return L().writev(fd, iov, count); });
}

ssize_t pwritev(int fd, const struct iovec* iov, int count, off_t offset) {
  if (!S().enabled) return L().pwritev(fd, iov, count, offset);
  const std::string all = Gather(iov, count);
  return TrackedWrite(fd, offset, all.data(), [&] { return L().pwritev(fd, iov, count, offset); });
}

ssize_t pwritev64(int fd, const struct iovec* iov, int count, off64_t offset) {
  if (!S().enabled) return L().pwritev64(fd, iov, count, offset);
  const std::string all = Gather(iov, count);
  return TrackedWrite(fd, offset, all.data(),
                      [&] { return L().pwritev64(fd, iov, count, offset); });
}

int ftruncate(int fd, off_t size) {
  return TrackedSize(fd, size, [&] { return L().ftruncate(fd, size); });
}

int ftruncate64(int fd, off64_t size) {
  return TrackedSize(fd, size, [&] { return L().ftruncate64(fd, size); });
}

int truncate(const char* path, off_t size) {
  std::string rel;
  if (UnderRoot(AT_FDCWD, path, &rel)) Die("truncate(2) by name of a recorded file", rel);
  return L().truncate(path, size);
}

int truncate64(const char* path, off64_t size) {
  std::string rel;
  if (UnderRoot(AT_FDCWD, path, &rel)) Die("truncate(2) by name of a recorded file", rel);
  return L().truncate64(path, size);
}

int fallocate(int fd, int mode, off_t offset, off_t len) {
  return TrackedAllocate(fd, mode, [&] { return L().fallocate(fd, mode, offset, len); });
}

int fallocate64(int fd, int mode, off64_t offset, off64_t len) {
  return TrackedAllocate(fd, mode, [&] { return L().fallocate64(fd, mode, offset, len); });
}

int posix_fallocate(int fd, off_t offset, off_t len) {
  return TrackedAllocate(fd, 0, [&] { return L().posix_fallocate(fd, offset, len); });
}

int posix_fallocate64(int fd, off64_t offset, off64_t len) {
  return TrackedAllocate(fd, 0, [&] { return L().posix_fallocate64(fd, offset, len); });
}

int fsync(int fd) {
  return TrackedSync(fd, [&] { return L().fsync(fd); });
}

int fdatasync(int fd) {
  return TrackedSync(fd, [&] { return L().fdatasync(fd); });
}

void sync() {
  State& s = S();
  if (!s.enabled) return L().sync();
  std::lock_guard<std::mutex> lock(s.mu);
  L().sync();
  Emit(Op::kSyncAll, 0, 0, "", "", "");
}

int syncfs(int fd) {
  State& s = S();
  if (!s.enabled) return L().syncfs(fd);
  std::lock_guard<std::mutex> lock(s.mu);
  const int rc = L().syncfs(fd);
  if (rc == 0) Emit(Op::kSyncAll, 0, 0, "", "", "");
  return rc;
}

int unlink(const char* path) {
  return TrackedName(Op::kUnlink, AT_FDCWD, path, [&] { return L().unlink(path); });
}

int unlinkat(int dirfd, const char* path, int flags) {
  // A removed directory is an unlink of its (empty) name.
  return TrackedName(Op::kUnlink, dirfd, path, [&] { return L().unlinkat(dirfd, path, flags); });
}

int rmdir(const char* path) {
  return TrackedName(Op::kUnlink, AT_FDCWD, path, [&] { return L().rmdir(path); });
}

int mkdir(const char* path, mode_t mode) {
  return TrackedName(Op::kMkdir, AT_FDCWD, path, [&] { return L().mkdir(path, mode); });
}

int mkdirat(int dirfd, const char* path, mode_t mode) {
  return TrackedName(Op::kMkdir, dirfd, path, [&] { return L().mkdirat(dirfd, path, mode); });
}

int rename(const char* from, const char* to) {
  return TrackedRename(AT_FDCWD, from, AT_FDCWD, to, [&] { return L().rename(from, to); });
}

int renameat(int olddir, const char* from, int newdir, const char* to) {
  return TrackedRename(olddir, from, newdir, to,
                       [&] { return L().renameat(olddir, from, newdir, to); });
}

int renameat2(int olddir, const char* from, int newdir, const char* to, unsigned flags) {
  if (flags != 0 && S().enabled) {
    std::string rel;
    if (UnderRoot(olddir, from, &rel)) Die("renameat2 with flags in the recorded directory", rel);
  }
  return TrackedRename(olddir, from, newdir, to,
                       [&] { return L().renameat2(olddir, from, newdir, to, flags); });
}

int dup(int fd) { return TrackedDup(fd, L().dup(fd)); }
int dup2(int fd, int to) { return TrackedDup(fd, L().dup2(fd, to)); }
int dup3(int fd, int to, int flags) { return TrackedDup(fd, L().dup3(fd, to, flags)); }

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  // Every fcntl argument is an int, a long or a pointer: passing it on as a
  // pointer-sized integer is what glibc's own wrappers do.
  const unsigned long arg = va_arg(ap, unsigned long);
  va_end(ap);
  const int rc = L().fcntl(fd, cmd, arg);
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) return TrackedDup(fd, rc);
  return rc;
}

void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  CheckMap(prot, flags, fd);
  return L().mmap(addr, len, prot, flags, fd, offset);
}

void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off64_t offset) {
  CheckMap(prot, flags, fd);
  return L().mmap64(addr, len, prot, flags, fd, offset);
}

}  // extern "C"
