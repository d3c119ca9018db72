// The files a power cut leaves behind, rebuilt from a recording
// (tests/powercut/README.md).
//
// A Model starts from a snapshot of the recorded root taken before the
// recording, and replays the trace (trace.h) record by record. It keeps,
// for every file, what is on stable storage (written, then synced) and the
// changes made since the file's last sync; and for the names in the
// directory tree, which creations, removals and renames a directory sync has
// made durable (in order, as a journaling file system commits them). At any
// point Materialize() writes out the files as a power cut there would leave
// them: for each top-level directory of the root, its `Fate` decides what
// happens to the unsynced changes.

#ifndef BRAID_TESTS_POWERCUT_CRASH_STATE_H_
#define BRAID_TESTS_POWERCUT_CRASH_STATE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "braid/status.h"
#include "tests/powercut/trace.h"

namespace braid::powercut {

enum class Fate {
  kAll,     // every change survives (a process killed, the machine still up)
  kNone,    // only synced changes survive
  kPrefix,  // per file, a random prefix of the unsynced changes; the first one
            // dropped, if a write, torn after a random number of 512-byte sectors
  kSubset,  // per file, each unsynced change survives or not at random, and
            // each 512-byte sector of a write on its own
};
const char* FateName(Fate fate);
Result<Fate> ParseFate(std::string_view name);

// What a cut keeps: per top-level directory of the root, its fate.
struct CutSpec {
  uint64_t seed = 0;
  Fate fallback = Fate::kNone;
  std::map<std::string, Fate> fates;  // by directory name
  Fate FateOf(const std::string& top) const;
  // "a=subset,b=all" (FateOf's fallback when a directory is not named).
  static Result<CutSpec> Parse(std::string_view fates, uint64_t seed);
  std::string ToString() const;
};

// The records of a trace file, indexed (the written data stays on disk).
class Trace {
 public:
  struct Entry {
    RecordHeader header;
    std::string path, path2;
    uint64_t data_at = 0;  // file offset of the written data
  };
  static Result<std::unique_ptr<Trace>> Open(const std::string& path);
  ~Trace();
  size_t size() const { return entries_.size(); }
  const Entry& at(size_t i) const { return entries_[i]; }
  // Reads `n` bytes of record i's data, from byte `from` of it.
  Status ReadData(size_t i, uint64_t from, uint64_t n, char* out) const;
  // Indexes of the markers, in order, with their texts.
  const std::vector<std::pair<size_t, std::string>>& markers() const { return markers_; }

 private:
  Trace() = default;
  int fd_ = -1;
  std::vector<Entry> entries_;
  std::vector<std::pair<size_t, std::string>> markers_;
};

class Model {
 public:
  // Loads every regular file under `snapshot` as synced (SQLite's `-shm`
  // files excepted: they are rebuilt after a cut).
  static Result<std::unique_ptr<Model>> Load(const std::string& snapshot, const Trace* trace);

  // Replays records [applied(), until) of the trace.
  Status Advance(size_t until);
  size_t applied() const { return applied_; }

  // Writes the files as a power cut after the records replayed so far would
  // leave them, into `out`. A new directory, or with `onto`, an existing
  // one rewritten in place: files that stay keep their inodes (as after a
  // real power cut, which braid's copy detection looks at), files the cut
  // lacks are removed.
  Status Materialize(const CutSpec& spec, const std::string& out, bool onto = false) const;

  // Compares the files under `dir` with the replayed trace with every
  // change kept (what a process that stopped normally left). Files whose
  // name `ignore` returns true for are skipped. A difference means the shim
  // missed a change: the recording cannot be trusted.
  Status CheckAgainst(const std::string& dir, bool (*ignore)(const std::string& rel)) const;

 private:
  struct Change {
    Op op;  // kWrite or kTruncate
    int64_t offset = 0;
    uint64_t len = 0;
    size_t record = 0;  // kWrite: the trace record holding the data
  };
  struct File {
    std::string durable;
    std::vector<Change> pending;
  };
  struct NameChange {
    Op op;  // kOpen (a creation), kUnlink, kRename
    std::string path, path2;
    int file = -1;
  };
  using Names = std::map<std::string, int>;  // path -> file

  Model() = default;
  Status ApplyChange(const Change& c, std::string* content, const std::vector<bool>* sectors) const;
  static void ApplyName(const NameChange& c, Names* names);
  Status Content(int file, Fate fate, uint64_t seed, std::string* out) const;

  const Trace* trace_ = nullptr;
  size_t applied_ = 0;
  std::vector<File> files_;
  Names durable_names_, live_names_;
  std::vector<NameChange> pending_names_;
  std::unordered_map<uint64_t, int> by_ino_;
};

}  // namespace braid::powercut

#endif  // BRAID_TESTS_POWERCUT_CRASH_STATE_H_
