// What the fuzz targets share: a check that aborts when a property of a
// parser does not hold. libFuzzer reports the abort as a crash and keeps
// the input that caused it, the same as for a sanitizer's report.

#ifndef BRAID_FUZZ_CHECK_H_
#define BRAID_FUZZ_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

// Not assert(): the fuzz build may define NDEBUG, and a failed property
// should name itself in the report.
#define FUZZ_CHECK(condition)                                                                      \
  do {                                                                                             \
    if (!(condition)) {                                                                            \
      std::fprintf(stderr, "%s:%d: property does not hold: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)

namespace braid::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace braid::fuzz

#endif  // BRAID_FUZZ_CHECK_H_
