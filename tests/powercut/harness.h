// The power-cut test harness (tests/powercut/README.md): records real braid
// processes through the shim, then rebuilds and checks the files that power
// cuts at chosen points of the recording leave behind.

#ifndef BRAID_TESTS_POWERCUT_HARNESS_H_
#define BRAID_TESTS_POWERCUT_HARNESS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "braid/status.h"
#include "braid/store.h"
#include "http/client.h"
#include "tests/powercut/crash_state.h"
#include "tests/support/process.h"

namespace braid::powercut {

// The boot id the recorded processes run under, and the one the checks
// run under: braid treats a different boot id as a restart after a power
// cut (BRAID_BOOT_ID, docs/cli.md).
inline constexpr const char* kRecordingBoot = "powercut-recording";
inline constexpr const char* kAfterCutBoot = "powercut-after-the-cut";

// The state row of a store as the file holds it, read with plain SQLite
// from a copy (braid's own open may give the store a new identity).
struct RawState {
  std::string self;  // instance id, hex
  uint64_t epoch = 0, counter = 0, seq = 0;
};
// A recording: under a temporary directory T, the recorded root T/root
// (one data directory per instance, T/root/NAME), its snapshot, the trace,
// and logs. Cuts are rebuilt onto T/root. T is removed at the end unless
// a check failed (then the replay commands name it).
class Recording {
 public:
  Recording();
  ~Recording();
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;

  std::string Dir(const std::string& instance) const { return root_ + "/" + instance; }
  // A path under T outside the recorded root (logs, peers' directories).
  std::string Work(const std::string& name) const { return base_ + "/" + name; }

  // Copies the root as it is now: what the trace starts from. Called once,
  // after setting up and before any recorded process starts.
  void Snapshot();
  // NAME=value settings that make a braid process recorded.
  std::vector<std::string> Env() const;
  // A marker in the trace (a point the test knows something about).
  void Mark(const std::string& text);

  // After every recorded process ended: loads the trace and checks that the
  // files under the root are exactly the trace replayed in full.
  Status Finish();
  const Trace& trace() const { return *trace_; }
  size_t size() const { return trace_->size(); }

  // Rebuilds a cut before record `cut` onto the root (files keep the inodes
  // the recorded processes saw, as after a real power cut) and returns the
  // root's path. Cuts must come in ascending order.
  Result<std::string> Cut(size_t cut, const CutSpec& spec);
  // The raw state of `instance` as readers saw it right after each marker
  // `want` returns true for (every change up to the marker kept: markers are
  // placed where the recorded processes had nothing in flight). Keyed by the
  // marker's record index.
  Result<std::map<size_t, RawState>> LiveStates(
      const std::string& instance, const std::function<bool(const std::string&)>& want) const;
  // The shell command that rebuilds the same cut (for failure messages).
  std::string ReplayCommand(size_t cut, const CutSpec& spec) const;
  void Keep() { keep_ = true; }

 private:
  std::string base_, root_, snapshot_, trace_path_;
  std::unique_ptr<Trace> trace_;
  std::unique_ptr<Model> model_;
  bool keep_ = false;
};

// A braid command run to completion with extra environment ("NAME=value").
testing::RunResult RunBraid(const std::string& data_dir, const std::vector<std::string>& args,
                            const std::vector<std::string>& env = {},
                            const std::string& input = "");

// A braid serve with extra environment; its log goes to `log_path`.
class Server {
 public:
  static Result<std::unique_ptr<Server>> Start(const std::string& data_dir,
                                               const std::vector<std::string>& env,
                                               const std::string& log_path);
  ~Server();
  const std::string& url() const { return url_; }
  // A client sending the first admin's credentials (DIR/admin-password).
  std::unique_ptr<http::Client> Client() const;
  // SIGTERM, then the exit code.
  Result<int> Stop();

 private:
  std::unique_ptr<testing::Process> process_;
  std::string url_;
  std::string data_dir_;
};

Result<RawState> ReadRawState(const std::string& data_dir);

// PRAGMA integrity_check of DIR/store.db: OK or what it reported.
Status IntegrityCheck(const std::string& data_dir);

// Opens DIR/store.db with braid as a restart after the cut would.
Result<std::unique_ptr<Store>> OpenAfterCut(const std::string& data_dir);

// Every record of a store (tombstones too), by "collection/id".
Result<std::map<std::string, Record>> AllRecords(Store& store);
// A record as one line: "version vv live|deleted body conflicts".
std::string Describe(const Record& r);

// Cut points: `count` records drawn from the trace, with more weight just
// before and after syncs (where the most is unsynced) and just after the
// markers for which `after_marker` returns true; sorted, distinct.
std::vector<size_t> ChooseCuts(const Trace& trace, size_t count, std::mt19937_64& rng,
                               const std::function<bool(const std::string&)>& after_marker);

// How many cuts a scenario checks: `base`, times BRAID_POWERCUT_SCALE
// (make check-long sets 10).
size_t Scaled(size_t base);

// The last marker at or before record `cut` whose text starts with
// `prefix`: its index and text, or nullopt.
std::optional<std::pair<size_t, std::string>> LastMarker(const Trace& trace, size_t cut,
                                                         const std::string& prefix);

}  // namespace braid::powercut

#endif  // BRAID_TESTS_POWERCUT_HARNESS_H_
