// Query-string parameters of API requests, parsed strictly: an unknown or
// repeated parameter is an error, so a typo ("curser=") is reported instead
// of silently ignored.

#ifndef BRAID_API_QUERY_H_
#define BRAID_API_QUERY_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "braid/status.h"

namespace braid::api {

class Query {
 public:
  // Parses "a=1&b=x%20y". Errors: InvalidArgument for bad escapes, unknown
  // names (not in `allowed`) and repeated names.
  static Result<Query> Parse(std::string_view raw, std::initializer_list<std::string_view> allowed);

  std::optional<std::string> Get(std::string_view name) const;
  // The integer value, or nullopt when absent. Errors: not an integer, or
  // outside [min, max].
  Result<std::optional<int64_t>> GetInt(std::string_view name, int64_t min, int64_t max) const;
  // true/1/false/0; `fallback` when absent.
  Result<bool> GetBool(std::string_view name, bool fallback) const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

// One "bytes=" range of a body of `size` bytes (RFC 9110 section 14.1.2),
// as {offset, length}: nullopt for no range (absent, several ranges, or a
// malformed one, which the RFC lets a server ignore and answer whole);
// {size, 0} for an unsatisfiable one (416).
std::optional<std::pair<uint64_t, uint64_t>> ParseByteRange(std::string_view header, uint64_t size);

}  // namespace braid::api

#endif  // BRAID_API_QUERY_H_
