#include "api/query.h"

#include <algorithm>
#include <charconv>

#include "http/client.h"

namespace braid::api {

Result<Query> Query::Parse(std::string_view raw, std::initializer_list<std::string_view> allowed) {
  Query q;
  while (!raw.empty()) {
    const size_t amp = raw.find('&');
    const std::string_view part = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    BRAID_ASSIGN_OR_RETURN(std::string name, http::UrlDecode(part.substr(0, eq), true));
    std::string value;
    if (eq != std::string_view::npos) {
      BRAID_ASSIGN_OR_RETURN(value, http::UrlDecode(part.substr(eq + 1), true));
    }
    bool known = false;
    for (auto a : allowed) known = known || a == name;
    if (!known) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return Status::InvalidArgument(
          "unknown query parameter \"" + name + "\"" +
          (list.empty() ? "; this route takes none" : "; this route takes " + list));
    }
    if (q.Get(name)) {
      return Status::InvalidArgument("query parameter \"" + name + "\" is given twice");
    }
    q.params_.emplace_back(std::move(name), std::move(value));
  }
  return q;
}

std::optional<std::string> Query::Get(std::string_view name) const {
  for (const auto& [k, v] : params_) {
    if (k == name) return v;
  }
  return std::nullopt;
}

Result<std::optional<int64_t>> Query::GetInt(std::string_view name, int64_t min,
                                             int64_t max) const {
  const auto v = Get(name);
  if (!v) return std::optional<int64_t>();
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || end != v->data() + v->size() || n < min || n > max) {
    return Status::InvalidArgument(std::string(name) + " must be an integer from " +
                                   std::to_string(min) + " to " + std::to_string(max));
  }
  return std::optional<int64_t>(n);
}

Result<bool> Query::GetBool(std::string_view name, bool fallback) const {
  const auto v = Get(name);
  if (!v) return fallback;
  if (*v == "true" || *v == "1" || v->empty()) return true;
  if (*v == "false" || *v == "0") return false;
  return Status::InvalidArgument(std::string(name) + " must be true or false");
}

namespace {

uint64_t ParseUint(std::string_view s, bool* ok) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  *ok = !s.empty() && ec == std::errc() && end == s.data() + s.size();
  return v;
}

}  // namespace

std::optional<std::pair<uint64_t, uint64_t>> ParseByteRange(std::string_view h, uint64_t size) {
  if (!h.starts_with("bytes=")) return std::nullopt;
  h.remove_prefix(6);
  const size_t dash = h.find('-');
  if (dash == std::string_view::npos || h.find(',') != std::string_view::npos) {
    return std::nullopt;
  }
  bool ok_first = false, ok_last = false;
  const uint64_t first = ParseUint(h.substr(0, dash), &ok_first);
  const uint64_t last = ParseUint(h.substr(dash + 1), &ok_last);
  if (!ok_first) {  // bytes=-N: the last N bytes
    if (!ok_last || dash != 0) return std::nullopt;
    if (last == 0) return std::pair<uint64_t, uint64_t>{size, 0};
    const uint64_t n = std::min(last, size);
    return std::pair<uint64_t, uint64_t>{size - n, n};
  }
  if (dash + 1 < h.size() && (!ok_last || last < first)) return std::nullopt;
  if (first >= size) return std::pair<uint64_t, uint64_t>{size, 0};
  const uint64_t end = dash + 1 < h.size() ? std::min(last, size - 1) : size - 1;
  return std::pair<uint64_t, uint64_t>{first, end - first + 1};
}

}  // namespace braid::api
