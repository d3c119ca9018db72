#include "base/boot_id.h"

#include <cstdlib>
#include <fstream>

namespace braid {

std::string BootId() {
  if (const char* env = std::getenv("BRAID_BOOT_ID"); env != nullptr && *env != '\0') return env;
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return id;
}

}  // namespace braid
