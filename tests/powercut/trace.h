// The trace of a power-cut recording (tests/powercut/README.md).
//
// The shim (shim.cc), preloaded into braid processes, appends one record per
// file-system operation that changes a file under the recorded root, after
// the operation succeeded and before it returns to its caller; the test
// appends markers the same way. Records are appended with O_APPEND, one
// write(2) each, so records of several processes never interleave, and an
// operation that finished before another began is recorded before it.
//
// A record is a fixed header, then `path` (path_len bytes, relative to the
// root), `path2` (rename target), then `data_len` bytes of written data for
// kWrite. Integers are little-endian (the machine's; traces do not travel).

#ifndef BRAID_TESTS_POWERCUT_TRACE_H_
#define BRAID_TESTS_POWERCUT_TRACE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace braid::powercut {

enum class Op : uint32_t {
  kOpen = 1,      // path was opened and is the file `ino`; offset 1: it was created
  kWrite = 2,     // data written to `ino` at `offset`
  kTruncate = 3,  // `ino` cut or extended to `offset` bytes
  kSync = 4,      // fsync/fdatasync of `ino`: its data and size are durable
  kDirSync = 5,   // fsync of directory `path`: every earlier name change is durable
  kUnlink = 6,    // path removed
  kRename = 7,    // path renamed to path2
  kMkdir = 8,     // directory path created
  kSyncAll = 9,   // sync(2)/syncfs(2): everything is durable
  kMarker = 10,   // the test's note: `path` is its text
};

const char* OpName(Op op);

struct RecordHeader {
  uint32_t magic;  // kMagic: catches a torn or misread trace
  Op op;
  uint32_t pid;
  uint32_t path_len;
  uint32_t path2_len;
  uint32_t reserved;
  uint64_t ino;
  int64_t offset;
  uint64_t data_len;
};
inline constexpr uint32_t kMagic = 0x54435042;  // "BPCT"

// Encodes one record into `out` (replacing its contents).
void EncodeRecord(std::string* out, Op op, uint64_t ino, int64_t offset, std::string_view path,
                  std::string_view path2, std::string_view data);

// Appends a marker with `text` to the trace at `trace_path` (the test's side).
// Returns false when the trace cannot be written.
bool AppendMarker(const std::string& trace_path, std::string_view text);

}  // namespace braid::powercut

#endif  // BRAID_TESTS_POWERCUT_TRACE_H_
