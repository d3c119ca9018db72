#include "store/sqlite/wal_vfs.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <unordered_map>

#include "base/mutex.h"

namespace braid::sqlite {
namespace {

constexpr int kWalHeaderBytes = 32;    // WAL_HDRSIZE in SQLite's wal.c
constexpr int kFrameHeaderBytes = 24;  // WAL_FRAME_HDRSIZE

std::atomic<uint64_t> g_appends{0}, g_writes{0}, g_late_flushes{0}, g_kept_wals{0},
    g_commit_syncs{0};

// An open main database or WAL file. `real` is the default VFS's file,
// which lives in the same allocation, after this struct.
struct File {
  sqlite3_file base;  // first: SQLite hands out &base
  sqlite3_file* real;
  // Main database: its name as given to xOpen. WAL: the name of its
  // database, the same pointer (SQLite keeps the names of one connection's
  // files in one allocation), which links a database's barrier to its WAL.
  const char* db_name;
  bool wal;
  // WAL only: bytes [start, start + len) not yet written to the file.
  char* buffer;
  size_t len;
  sqlite3_int64 start;
  // Where this connection's appends reached: writes below it rewrite bytes.
  sqlite3_int64 end;
  bool commit_frame;  // the last write was a commit frame's header
  // SyncNextCommit: sync after the commit frame; then, until the barrier
  // that publishes the commit, whether it was synced and written since.
  bool sync_commit;
  bool synced_commit;
  bool resync;
};

sqlite3_vfs* g_real = nullptr;

const sqlite3_io_methods* Real(File* f) { return f->real->pMethods; }

// WAL files by db_name, for the barrier.
Mutex g_registry_mu;
std::unordered_map<const char*, File*>& Registry() REQUIRES(g_registry_mu) {
  static auto* m = new std::unordered_map<const char*, File*>;
  return *m;
}

// The default VFS writes at most 128 KiB - 1 bytes per call (it masks
// the count to 17 bits), so a buffer goes out in pieces of this size.
constexpr size_t kMaxWriteBytes = 0x1f000;

int Flush(File* f) {
  int rc = SQLITE_OK;
  for (size_t done = 0; done < f->len && rc == SQLITE_OK;) {
    const size_t n = std::min(f->len - done, kMaxWriteBytes);
    rc = Real(f)->xWrite(f->real, f->buffer + done, static_cast<int>(n),
                         f->start + static_cast<sqlite3_int64>(done));
    g_writes.fetch_add(1, std::memory_order_relaxed);
    done += n;
  }
  f->len = 0;
  return rc;
}

File* AsFile(sqlite3_file* p) { return reinterpret_cast<File*>(p); }

int Close(sqlite3_file* p) {
  File* f = AsFile(p);
  int rc = SQLITE_OK;
  if (f->wal) {
    rc = Flush(f);
    MutexLock lock(g_registry_mu);
    auto it = Registry().find(f->db_name);
    if (it != Registry().end() && it->second == f) Registry().erase(it);
  }
  const int close_rc = Real(f)->xClose(f->real);
  delete[] f->buffer;
  f->buffer = nullptr;
  return rc != SQLITE_OK ? rc : close_rc;
}

int Read(sqlite3_file* p, void* out, int n, sqlite3_int64 offset) {
  File* f = AsFile(p);
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f)->xRead(f->real, out, n, offset);
}

int Write(sqlite3_file* p, const void* data, int n, sqlite3_int64 offset) {
  File* f = AsFile(p);
  if (!f->wal) return Real(f)->xWrite(f->real, data, n, offset);
  g_appends.fetch_add(1, std::memory_order_relaxed);
  if (f->synced_commit) f->resync = true;  // written after the commit's sync
  const size_t size = static_cast<size_t>(n);
  if (offset == 0 && n == kWalHeaderBytes) f->end = 0;  // the log starts over
  if (offset < f->end || size > kWalBufferBytes) {
    // Bytes this connection wrote before: a frame of the transaction
    // rewritten in place, or a frame header whose checksum SQLite rewrites
    // at commit (then no page follows the commit frame's header). In
    // place, after what is buffered.
    if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
    g_writes.fetch_add(1, std::memory_order_relaxed);
    return Real(f)->xWrite(f->real, data, n, offset);
  }
  if (f->len > 0 && (offset != f->start + static_cast<sqlite3_int64>(f->len) ||
                     f->len + size > kWalBufferBytes)) {
    if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  if (f->len == 0) f->start = offset;
  if (f->buffer == nullptr) {  // readers never need one
    f->buffer = new (std::nothrow) char[kWalBufferBytes];
    if (f->buffer == nullptr) return SQLITE_NOMEM;
  }
  std::memcpy(f->buffer + f->len, data, size);
  f->len += size;
  f->end = offset + n;
  // A frame header with a non-zero "database size after commit" field
  // starts the commit frame; its page, the next write, ends the
  // transaction's frames, which must be in the file before SQLite
  // publishes them.
  if (n == kFrameHeaderBytes) {
    const auto* h = static_cast<const unsigned char*>(data);
    f->commit_frame = (h[4] | h[5] | h[6] | h[7]) != 0;
    return SQLITE_OK;
  }
  if (f->commit_frame) {
    f->commit_frame = false;
    int rc = Flush(f);
    if (rc == SQLITE_OK && f->sync_commit) {
      rc = Real(f)->xSync(f->real, SQLITE_SYNC_NORMAL);
      g_commit_syncs.fetch_add(1, std::memory_order_relaxed);
      f->sync_commit = false;
      f->synced_commit = true;
    }
    return rc;
  }
  return SQLITE_OK;
}

int Truncate(sqlite3_file* p, sqlite3_int64 size) {
  File* f = AsFile(p);
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  f->end = std::min(f->end, size);  // what is cut off is no longer a rewrite
  return Real(f)->xTruncate(f->real, size);
}

int Sync(sqlite3_file* p, int flags) {
  File* f = AsFile(p);
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f)->xSync(f->real, flags);
}

int FileSize(sqlite3_file* p, sqlite3_int64* size) {
  File* f = AsFile(p);
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f)->xFileSize(f->real, size);
}

int Lock(sqlite3_file* p, int level) { return Real(AsFile(p))->xLock(AsFile(p)->real, level); }
int Unlock(sqlite3_file* p, int level) { return Real(AsFile(p))->xUnlock(AsFile(p)->real, level); }
int CheckReservedLock(sqlite3_file* p, int* out) {
  return Real(AsFile(p))->xCheckReservedLock(AsFile(p)->real, out);
}

int FileControl(sqlite3_file* p, int op, void* arg) {
  File* f = AsFile(p);
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f)->xFileControl(f->real, op, arg);
}

int SectorSize(sqlite3_file* p) { return Real(AsFile(p))->xSectorSize(AsFile(p)->real); }
int DeviceCharacteristics(sqlite3_file* p) {
  return Real(AsFile(p))->xDeviceCharacteristics(AsFile(p)->real);
}

int ShmMap(sqlite3_file* p, int region, int size, int extend, void volatile** out) {
  return Real(AsFile(p))->xShmMap(AsFile(p)->real, region, size, extend, out);
}
int ShmLock(sqlite3_file* p, int offset, int n, int flags) {
  return Real(AsFile(p))->xShmLock(AsFile(p)->real, offset, n, flags);
}
int ShmUnmap(sqlite3_file* p, int remove) {
  return Real(AsFile(p))->xShmUnmap(AsFile(p)->real, remove);
}

// SQLite calls the barrier between writing the two copies of the WAL-index
// header, that is, as it publishes a commit. The commit frame has flushed
// the buffer by then; should it not have (a SQLite whose WAL writes this
// file does not recognize), the frames are written out here instead, before
// the header names them.
//
// A commit SyncNextCommit asked for was synced after its commit frame; if
// SQLite wrote to the WAL since (checksums it rewrites at commit), the WAL
// is synced again here, before the header names the commit.
void ShmBarrier(sqlite3_file* p) {
  File* f = AsFile(p);
  {
    MutexLock lock(g_registry_mu);
    auto it = Registry().find(f->db_name);
    if (it != Registry().end()) {
      File* wal = it->second;
      if (wal->len > 0) {
        g_late_flushes.fetch_add(1, std::memory_order_relaxed);
        (void)Flush(wal);
      }
      if (wal->resync) {
        // An error cannot be returned from here; the sync is retried by
        // nothing, so the commit is then as durable as synchronous=NORMAL
        // makes it. The default VFS's sync fails only on I/O errors, which
        // SQLite reports at the next write.
        (void)Real(wal)->xSync(wal->real, SQLITE_SYNC_NORMAL);
        g_commit_syncs.fetch_add(1, std::memory_order_relaxed);
      }
      wal->synced_commit = false;
      wal->resync = false;
    }
  }
  Real(f)->xShmBarrier(f->real);
}

int Fetch(sqlite3_file* p, sqlite3_int64 offset, int n, void** out) {
  File* f = AsFile(p);
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f)->xFetch(f->real, offset, n, out);
}
int Unfetch(sqlite3_file* p, sqlite3_int64 offset, void* page) {
  return Real(AsFile(p))->xUnfetch(AsFile(p)->real, offset, page);
}

sqlite3_io_methods MakeMethods(int version) {
  sqlite3_io_methods m{};
  m.iVersion = version;
  m.xClose = Close;
  m.xRead = Read;
  m.xWrite = Write;
  m.xTruncate = Truncate;
  m.xSync = Sync;
  m.xFileSize = FileSize;
  m.xLock = Lock;
  m.xUnlock = Unlock;
  m.xCheckReservedLock = CheckReservedLock;
  m.xFileControl = FileControl;
  m.xSectorSize = SectorSize;
  m.xDeviceCharacteristics = DeviceCharacteristics;
  if (version >= 2) {
    m.xShmMap = ShmMap;
    m.xShmLock = ShmLock;
    m.xShmBarrier = ShmBarrier;
    m.xShmUnmap = ShmUnmap;
  }
  if (version >= 3) {
    m.xFetch = Fetch;
    m.xUnfetch = Unfetch;
  }
  return m;
}

// Methods by the real file's version (1 to 3), as SQLite calls only what a
// file's version has.
const sqlite3_io_methods* MethodsFor(int version) {
  static const sqlite3_io_methods m1 = MakeMethods(1), m2 = MakeMethods(2), m3 = MakeMethods(3);
  return version >= 3 ? &m3 : version == 2 ? &m2 : &m1;
}

size_t RealOffset() { return (sizeof(File) + 15) & ~size_t{15}; }

int Open(sqlite3_vfs*, const char* name, sqlite3_file* out, int flags, int* out_flags) {
  const bool wal = (flags & SQLITE_OPEN_WAL) != 0;
  if (!wal && (flags & SQLITE_OPEN_MAIN_DB) == 0) {
    // Journals, temporary files: the default VFS's file, used directly.
    return g_real->xOpen(g_real, name, out, flags, out_flags);
  }
  File* f = AsFile(out);
  std::memset(static_cast<void*>(f), 0, sizeof(File));
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + RealOffset());
  const int rc = g_real->xOpen(g_real, name, f->real, flags, out_flags);
  if (f->real->pMethods == nullptr) return rc;  // SQLite calls no xClose then
  f->base.pMethods = MethodsFor(f->real->pMethods->iVersion);
  f->wal = wal;
  f->db_name = wal ? sqlite3_filename_database(name) : name;
  if (wal) {
    MutexLock lock(g_registry_mu);
    Registry()[f->db_name] = f;
  }
  return rc;
}

bool IsWalName(const char* name) {
  const size_t n = std::strlen(name);
  return n > 4 && std::memcmp(name + n - 4, "-wal", 4) == 0;
}

// Empties a WAL that SQLite is done with (below): zeroes its header, then
// cuts what is past kKeptWalBytes. False, with the file untouched, when it
// is small enough to delete or cannot be opened or written.
bool ResetWal(const char* name) {
  const int fd = ::open(name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  struct stat st;
  bool kept = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= kKeepWalFromBytes;
  if (kept) {
    static const char kZeros[kWalHeaderBytes] = {};
    kept = ::pwrite(fd, kZeros, sizeof kZeros, 0) == static_cast<ssize_t>(sizeof kZeros);
  }
  // The zeroed header must be on disk before the cut: a disk may keep the
  // cut and lose the header, and a WAL cut short with its header intact
  // replays the commits that fit in what is left, older page images over
  // the newer ones in the database (tests/powercut found it). A header
  // that never reaches the disk is harmless: every frame behind it is in
  // the synced database already. With the header gone nothing in the file
  // counts, so a failed or partial cut still leaves a valid (empty) WAL.
  if (kept && st.st_size > static_cast<off_t>(kKeptWalBytes) && ::fdatasync(fd) == 0) {
    (void)!::ftruncate(fd, static_cast<off_t>(kKeptWalBytes));
  }
  ::close(fd);
  if (kept) g_kept_wals.fetch_add(1, std::memory_order_relaxed);
  return kept;
}

// SQLite deletes a WAL when the last connection to its database closes,
// after copying all of it into the database and syncing that, while it
// still holds the database's exclusive lock. A large WAL is kept instead,
// emptied: its header zeroed. SQLite reads a WAL whose header lacks the
// magic number as holding no frames, and writes a new header, with new
// salts that no leftover frame matches, before the next frame; its
// journal_mode=PERSIST does the same to rollback journals. Deleting a file
// frees its blocks, which on a filesystem mounted with `discard` waits for
// the device (docs/storage.md), and the next writer allocates them again.
// As with deletion, the emptied header is not synced: a WAL that reappears
// whole after a power cut holds only frames already in the synced
// database. Only a WAL cut back to kKeptWalBytes needs the sync (above).
int Delete(sqlite3_vfs*, const char* name, int sync_dir) {
  if (IsWalName(name) && ResetWal(name)) return SQLITE_OK;
  return g_real->xDelete(g_real, name, sync_dir);
}

// The rest is the default VFS's.
int Access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_real->xAccess(g_real, name, flags, out);
}
int FullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
void* DlOpen(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void DlError(sqlite3_vfs*, int n, char* out) { g_real->xDlError(g_real, n, out); }
void (*DlSym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return g_real->xDlSym(g_real, handle, symbol);
}
void DlClose(sqlite3_vfs*, void* handle) { g_real->xDlClose(g_real, handle); }
int Randomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int Sleep(sqlite3_vfs*, int micros) { return g_real->xSleep(g_real, micros); }
int CurrentTime(sqlite3_vfs*, double* out) { return g_real->xCurrentTime(g_real, out); }
int GetLastError(sqlite3_vfs*, int n, char* out) {
  return g_real->xGetLastError != nullptr ? g_real->xGetLastError(g_real, n, out) : 0;
}
int CurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) {
  return g_real->xCurrentTimeInt64(g_real, out);
}

bool IsOurs(const sqlite3_io_methods* m) {
  return m == MethodsFor(1) || m == MethodsFor(2) || m == MethodsFor(3);
}

}  // namespace

Status SyncNextCommit(sqlite3* db, bool on) {
  sqlite3_file* p = nullptr;
  const int rc = sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &p);
  if (rc != SQLITE_OK || p == nullptr || p->pMethods == nullptr || !IsOurs(p->pMethods) ||
      !AsFile(p)->wal) {
    return on ? Status::Internal("the store's WAL is not open through braid's VFS") : Status::OK();
  }
  File* f = AsFile(p);
  f->sync_commit = on;
  if (!on) f->synced_commit = f->resync = false;
  return Status::OK();
}

const char* BufferedWalVfs() {
  static const char* const name = []() -> const char* {
    g_real = sqlite3_vfs_find(nullptr);
    if (g_real == nullptr) return nullptr;
    static sqlite3_vfs vfs{};
    vfs.iVersion = 2;
    vfs.szOsFile = static_cast<int>(RealOffset()) + g_real->szOsFile;
    vfs.mxPathname = g_real->mxPathname;
    vfs.zName = "braid-buffered-wal";
    vfs.xOpen = Open;
    vfs.xDelete = Delete;
    vfs.xAccess = Access;
    vfs.xFullPathname = FullPathname;
    vfs.xDlOpen = DlOpen;
    vfs.xDlError = DlError;
    vfs.xDlSym = DlSym;
    vfs.xDlClose = DlClose;
    vfs.xRandomness = Randomness;
    vfs.xSleep = Sleep;
    vfs.xCurrentTime = CurrentTime;
    vfs.xGetLastError = GetLastError;
    vfs.xCurrentTimeInt64 = g_real->iVersion >= 2 ? CurrentTimeInt64 : nullptr;
    if (vfs.xCurrentTimeInt64 == nullptr) vfs.iVersion = 1;
    if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK) return nullptr;
    return vfs.zName;
  }();
  return name;
}

BufferedWalStats GetBufferedWalStats() {
  BufferedWalStats s;
  s.appends = g_appends.load(std::memory_order_relaxed);
  s.writes = g_writes.load(std::memory_order_relaxed);
  s.late_flushes = g_late_flushes.load(std::memory_order_relaxed);
  s.kept_wals = g_kept_wals.load(std::memory_order_relaxed);
  s.commit_syncs = g_commit_syncs.load(std::memory_order_relaxed);
  return s;
}

}  // namespace braid::sqlite
