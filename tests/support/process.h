// Child processes for integration tests: start a real `braid`, read its
// stdout line by line, signal it, wait for it.

#ifndef BRAID_TESTS_SUPPORT_PROCESS_H_
#define BRAID_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "braid/status.h"

namespace braid::testing {

// The braid binary under test: $BRAID_BIN, set by CTest.
std::string BraidBin();

// Peak resident memory (VmHWM) of a live process, in KiB; 0 once it is gone.
long PeakRssKib(pid_t pid);

class Process {
 public:
  // Starts argv[0] (a path) with the arguments. Its stdout is a pipe read
  // by ReadLine(); its stderr goes to `stderr_path` (appended), or is
  // inherited when empty.
  static Result<std::unique_ptr<Process>> Start(const std::vector<std::string>& argv,
                                                const std::string& stderr_path = "");
  // Kills (SIGKILL) and reaps the process if it still runs.
  ~Process();

  pid_t pid() const { return pid_; }
  // The next stdout line without '\n'. Errors: Unavailable on timeout or EOF.
  Result<std::string> ReadLine(std::chrono::milliseconds timeout);
  void Signal(int sig);
  // The exit code, or 128 + signal number when a signal ended it.
  // Errors: Unavailable on timeout.
  Result<int> Wait(std::chrono::milliseconds timeout);
  // Peak resident memory, in KiB, as sampled while Wait() waited (see
  // RunResult::max_rss_kib).
  long max_rss_kib() const { return max_rss_kib_; }

 private:
  Process() = default;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  bool exited_ = false;
  int exit_code_ = 0;
  long max_rss_kib_ = 0;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  // Peak resident memory of the command, sampled from /proc while it runs
  // (a peak reached in its last milliseconds can be missed). Not rusage:
  // a spawned child's ru_maxrss counts the spawning process's memory, which
  // it shares until exec (Linux keeps the old address space's high-water
  // mark at exec), so a benchmark holding its dataset made every command
  // it ran look as big as itself.
  long max_rss_kib = 0;
};

// Runs a command to completion with `input` on stdin; captures everything.
RunResult Run(const std::vector<std::string>& argv, const std::string& input = "");

}  // namespace braid::testing

#endif  // BRAID_TESTS_SUPPORT_PROCESS_H_
