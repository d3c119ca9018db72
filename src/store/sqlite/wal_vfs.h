// A SQLite VFS over the platform's default one that gathers each write
// transaction's WAL frames into large writes.
//
// SQLite appends a WAL frame as two writes, its 24-byte header and then the
// page: a 10,000-record replication chunk is ~2,600 pwrite calls, each of
// which finds or allocates one 4 KiB page of the file in the kernel. This
// VFS keeps the appends of a transaction in a buffer (kWalBufferBytes) and
// writes it out as one call when it fills, when the transaction's commit
// frame has been written, and before anything else touches the file (read,
// sync, size, truncate, close). A commit therefore reaches the file before
// SQLite publishes it in the WAL index, exactly as without the buffer: other
// connections and processes never see a frame the file lacks, and a crash
// loses only what SQLite had not committed. As a safety net, the WAL index
// barrier that publishes a commit also writes out anything still buffered
// (BufferedWalStats::late_flushes counts such cases; tests require zero).
//
// When SQLite deletes a WAL of kKeepWalFromBytes or more (the last
// connection closing, with every frame copied into the database), the file
// is kept and emptied instead, its header zeroed and its length cut to
// kKeptWalBytes at most: freeing the blocks of a large file is slow on some
// filesystems, and the next writer would allocate them again.
//
// A connection can ask for its next commit to be synced before SQLite
// publishes it (SyncNextCommit), whatever its synchronous setting: the
// WAL is synced right after the commit frame, and again at the WAL-index
// barrier that publishes the commit should SQLite write to the WAL in
// between (frame checksums it rewrites at commit).
//
// Everything else (the database file's reads and writes, locks, shared
// memory, journals) goes straight to the default VFS.

#ifndef BRAID_STORE_SQLITE_WAL_VFS_H_
#define BRAID_STORE_SQLITE_WAL_VFS_H_

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>

#include "braid/status.h"

namespace braid::sqlite {

inline constexpr size_t kWalBufferBytes = 1024 * 1024;
// A WAL SQLite deletes is kept, emptied, from this size on (smaller ones
// are deleted), and cut to the second size (the store's journal_size_limit).
inline constexpr int64_t kKeepWalFromBytes = 1024 * 1024;
inline constexpr int64_t kKeptWalBytes = 64 * 1024 * 1024;

// Registers the VFS (once, thread-safe) and returns its name, for
// sqlite3_open_v2. Null when SQLite has no default VFS to wrap.
const char* BufferedWalVfs();

// Inside a write transaction on `db` (opened through BufferedWalVfs()):
// with `on`, its commit reaches stable storage before other connections
// can see it; without, cancels that. Errors: Internal when the connection's
// WAL is not open through this VFS.
Status SyncNextCommit(sqlite3* db, bool on = true);

// Process-wide counters, for tests and benchmarks.
struct BufferedWalStats {
  uint64_t appends = 0;       // WAL writes SQLite made
  uint64_t writes = 0;        // writes this VFS made to WAL files
  uint64_t late_flushes = 0;  // buffers written out by the WAL-index barrier
  uint64_t kept_wals = 0;     // WAL files emptied instead of deleted
  uint64_t commit_syncs = 0;  // syncs SyncNextCommit asked for (resyncs included)
};
BufferedWalStats GetBufferedWalStats();

}  // namespace braid::sqlite

#endif  // BRAID_STORE_SQLITE_WAL_VFS_H_
