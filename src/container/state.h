// What braid keeps of its containers, in DIR/containers.db (SQLite, WAL),
// apart from the store: each container's definition (folder, patterns,
// sidecar suffix, collection), its last pass, and per file what the last
// pass saw (stat, sidecar stat, SHA-256 and what the summary needs), so
// that the next pass reads only files whose stat changed.
//
// The state is derived, and may run behind the store: a pass commits a
// batch's records first and the batch's file rows after, so a crash
// between the two leaves rows that the next pass finds stale; it hashes
// those files again and writes no record whose body did not change
// (docs/storage.md, "Containers"). Deleting the file costs one full pass
// (every file hashed), nothing else.
//
// Thread-safety: one ContainerState per thread; several processes may
// share the file (SQLite's locks; a pass holds DIR/containers.lock).

#ifndef BRAID_CONTAINER_STATE_H_
#define BRAID_CONTAINER_STATE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "braid/status.h"
#include "container/walk.h"
#include "sqlite/db.h"

namespace braid::container {

struct ContainerSpec {
  std::string name;        // [a-z][a-z0-9_.-]{0,63}, as a collection
  std::string dir;         // absolute
  std::string collection;  // where its records go (default: the name)
  WalkOptions walk;
  // The files' bytes go to the blob store too, as each record's attachment
  // "content", so they replicate with the records (`--content blobs`).
  bool content_blobs = false;
  int64_t created_ms = 0;
  std::string last_pass;  // the last pass's JSON summary; "" before the first
};

// Checks a container's name, folder and patterns. Errors: InvalidArgument.
Status ValidateSpec(const ContainerSpec& spec);

// What the summary record takes from a file's metadata.
struct Extent {
  std::optional<std::string> begin_time, end_time;  // ISO 8601, as given
  std::optional<std::array<double, 4>> footprint;   // west, south, east, north
};

struct FileRow {
  std::string path;  // bytes, relative
  FileStat stat;
  std::optional<FileStat> sidecar;
  std::string sha256;
  Extent extent;
};

struct Totals {
  uint64_t files = 0, bytes = 0;
  Extent extent;  // earliest begin, latest end, the box around every footprint
};

// A checkout (container/checkout.h): a container's files written into a
// folder from its records, and what was written of each.
struct CheckoutSpec {
  std::string name, dir, collection;
  uint64_t cursor = 0;   // the change-log seq dealt with
  std::string last_run;  // JSON summary; "" before the first
};
struct CheckoutFile {
  std::string id, path;  // the record; the path's bytes
  std::string sha256;
  FileStat stat;  // right after it was written: another stat is a local change
};

class ContainerState {
 public:
  // Opens (creating) DIR/containers.db. Errors: IoError, Corruption (not a
  // state file of this format).
  static Result<std::unique_ptr<ContainerState>> Open(const std::string& data_dir);

  // Errors: AlreadyExists; InvalidArgument (ValidateSpec).
  Status Add(const ContainerSpec& spec);
  Result<std::optional<ContainerSpec>> Get(const std::string& name);
  Result<std::vector<ContainerSpec>> List();
  // Forgets the container and its file rows (not its records). NotFound.
  Status Remove(const std::string& name);
  Status SetLastPass(const std::string& name, const std::string& summary);

  // The container's file rows in byte order of their paths, from a
  // snapshot taken when this is called (writes of the pass do not show).
  class Cursor {
   public:
    virtual ~Cursor() = default;
    // The next row, or false at the end.
    virtual Result<bool> Next(FileRow* row) = 0;
  };
  Result<std::unique_ptr<Cursor>> Files(const std::string& name);
  // Only the rows below folder `prefix` ("a/b/").
  Result<std::unique_ptr<Cursor>> FilesBelow(const std::string& name, const std::string& prefix);
  // The row of one file, read now.
  Result<std::optional<FileRow>> FileOf(const std::string& name, const std::string& path);

  // One transaction: rows put (inserted or replaced) and paths removed.
  Status Apply(const std::string& name, const std::vector<FileRow>& put,
               const std::vector<std::string>& removed);

  Result<Totals> Total(const std::string& name);

  // Checkouts. AddCheckout errors: AlreadyExists.
  Status AddCheckout(const CheckoutSpec& spec);
  Result<std::optional<CheckoutSpec>> GetCheckout(const std::string& name);
  Status SetCheckoutRun(const std::string& name, uint64_t cursor, const std::string& summary);
  Result<std::optional<CheckoutFile>> GetCheckoutFile(const std::string& name,
                                                      const std::string& id);
  Status PutCheckoutFile(const std::string& name, const CheckoutFile& file);
  Status RemoveCheckoutFile(const std::string& name, const std::string& id);

 private:
  ContainerState(std::string path, std::unique_ptr<sqlite::Db> db)
      : path_(std::move(path)), db_(std::move(db)) {}
  std::string path_;
  std::unique_ptr<sqlite::Db> db_;
};

}  // namespace braid::container

#endif  // BRAID_CONTAINER_STATE_H_
