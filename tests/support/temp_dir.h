// A directory under $TMPDIR (or /tmp) removed with everything in it when the
// object is destroyed. For tests and benchmarks.

#ifndef BRAID_TESTS_SUPPORT_TEMP_DIR_H_
#define BRAID_TESTS_SUPPORT_TEMP_DIR_H_

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace braid::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base ? base : "/tmp") + "/braid-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  // BRAID_KEEP_TEMP=1 keeps the directory (data, serve.log) to look at.
  ~TempDir() {
    if (std::getenv("BRAID_KEEP_TEMP") != nullptr) {
      std::fprintf(stderr, "kept %s\n", path_.c_str());
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace braid::testing

#endif  // BRAID_TESTS_SUPPORT_TEMP_DIR_H_
