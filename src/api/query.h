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

}  // namespace braid::api

#endif  // BRAID_API_QUERY_H_
