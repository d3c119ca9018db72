#include "base/failpoint.h"

#include <signal.h>

#include <charconv>
#include <cstdlib>
#include <map>
#include <string>

#include "base/mutex.h"

namespace braid {
namespace {

struct Failpoints {
  Mutex mu;
  std::map<std::string, long, std::less<>> remaining GUARDED_BY(mu);
};

Failpoints* Load() {
  const char* spec = std::getenv("BRAID_FAILPOINTS");
  if (spec == nullptr || *spec == '\0') return nullptr;
  auto* f = new Failpoints();
  MutexLock lock(f->mu);
  std::string_view rest(spec);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    long n = 0;
    const std::string_view digits = item.substr(eq + 1);
    std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (n > 0) f->remaining.emplace(std::string(item.substr(0, eq)), n);
  }
  return f;
}

}  // namespace

Status Failpoint(std::string_view name) {
  static Failpoints* const failpoints = Load();  // never destroyed
  if (failpoints == nullptr) return Status::OK();
  MutexLock lock(failpoints->mu);
  auto it = failpoints->remaining.find(name);
  if (it != failpoints->remaining.end() && --it->second == 0) ::raise(SIGKILL);
  return Status::OK();
}

}  // namespace braid
