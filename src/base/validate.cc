#include "base/validate.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "base/json.h"

namespace braid {
namespace {

bool IsSegmentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// Quotes a name for an error message, cut short so a huge name cannot
// produce a huge message.
std::string Shown(std::string_view s) {
  std::string out;
  json::AppendQuoted(&out, s.substr(0, 80));
  if (s.size() > 80) out.insert(out.size() - 1, "...");
  return out;
}

// A key that appears twice among `keys` (as written between quotes), or
// nullopt. Escaped keys are compared decoded ("a" and "\u0061" are one key).
std::optional<std::string> DuplicateKey(std::vector<std::string_view>& keys) {
  bool escaped = false;
  for (auto k : keys) escaped = escaped || k.find('\\') != std::string_view::npos;
  if (escaped) {
    std::vector<std::string> decoded;
    decoded.reserve(keys.size());
    for (auto k : keys) {
      const std::string quoted = "\"" + std::string(k) + "\"";
      decoded.push_back(json::Value(quoted).AsString().value_or(""));
    }
    std::sort(decoded.begin(), decoded.end());
    const auto dup = std::adjacent_find(decoded.begin(), decoded.end());
    if (dup != decoded.end()) return *dup;
    return std::nullopt;
  }
  if (keys.size() <= 16) {
    // Typical bodies have a handful of fields: compare pairs, no sorting.
    for (size_t i = 1; i < keys.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (keys[i] == keys[j]) return std::string(keys[i]);
      }
    }
    return std::nullopt;
  }
  std::sort(keys.begin(), keys.end());
  const auto dup = std::adjacent_find(keys.begin(), keys.end());
  if (dup != keys.end()) return std::string(*dup);
  return std::nullopt;
}

}  // namespace

// Control characters: C0, DEL and C1 (U+0080 to U+009F, encoded as C2 80
// to C2 9F).
Status ValidateName(std::string_view what, std::string_view s) {
  if (s.empty()) return Status::InvalidArgument(std::string(what) + " must not be empty");
  if (s.size() > kMaxIdBytes) {
    return Status::InvalidArgument(std::string(what) + " is " + std::to_string(s.size()) +
                                   " bytes long; the limit is " + std::to_string(kMaxIdBytes));
  }
  if (!IsValidUtf8(s)) {
    return Status::InvalidArgument(std::string(what) + " " + Shown(s) + " is not valid UTF-8");
  }
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const bool c1 = c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xA0;
    if (c < 0x20 || c == 0x7F || c1) {
      return Status::InvalidArgument(std::string(what) + " " + Shown(s) +
                                     " contains a control character");
    }
  }
  return Status::OK();
}

Status ValidateCollection(std::string_view c) {
  bool ok = !c.empty() && c.size() <= 64 && c[0] >= 'a' && c[0] <= 'z';
  for (size_t i = 1; ok && i < c.size(); ++i) {
    const char ch = c[i];
    ok =
        (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
  }
  if (ok) return Status::OK();
  return Status::InvalidArgument("collection " + Shown(c) +
                                 " is invalid: use 1 to 64 characters matching "
                                 "[a-z][a-z0-9_.-]*");
}

Status ValidateRecordId(std::string_view id) { return ValidateName("record id", id); }

Status ValidateParent(std::string_view parent) { return ValidateName("parent", parent); }

Status ValidatePartition(std::string_view p) {
  bool ok = !p.empty() && p.size() <= kMaxPartitionBytes;
  size_t segment = 0;
  for (size_t i = 0; ok && i <= p.size(); ++i) {
    if (i == p.size() || p[i] == ':') {
      ok = segment >= 1 && segment <= 64;
      segment = 0;
    } else {
      ok = IsSegmentChar(p[i]);
      ++segment;
    }
  }
  if (ok) return Status::OK();
  return Status::InvalidArgument("partition " + Shown(p) +
                                 " is invalid: use ':'-separated segments of 1 to 64 "
                                 "characters [A-Za-z0-9_.-], at most 255 bytes in all");
}

bool PartitionCovers(std::string_view prefix, std::string_view partition) {
  if (partition.size() < prefix.size() || partition.compare(0, prefix.size(), prefix) != 0) {
    return false;
  }
  return partition.size() == prefix.size() || partition[prefix.size()] == ':';
}

std::vector<std::string> DropCoveredPrefixes(std::vector<std::string> prefixes) {
  std::sort(prefixes.begin(), prefixes.end());
  prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
  const auto less = [](std::string_view a, std::string_view b) { return a < b; };
  std::vector<std::string> out;
  for (const auto& p : prefixes) {
    // Covered when one of its ancestors ("a" and "a:b" of "a:b:c") is there.
    bool covered = false;
    for (size_t i = p.find(':'); i != std::string::npos && !covered; i = p.find(':', i + 1)) {
      covered = std::binary_search(prefixes.begin(), prefixes.end(),
                                   std::string_view(p).substr(0, i), less);
    }
    if (!covered) out.push_back(p);
  }
  return out;
}

Status NormalizeBody(std::string_view text, size_t max_bytes, std::string* minified) {
  minified->clear();
  if (text.size() > max_bytes * 4 + 4096) {
    // Even after dropping whitespace this cannot fit; do not spend time on it.
    return Status::PayloadTooLarge("record body is " + std::to_string(text.size()) +
                                   " bytes; the limit is " + std::to_string(max_bytes));
  }
  // Top-level keys are fields: merges work per field, so each name once.
  // The validator collects them in its single pass; the scratch vector keeps
  // its capacity from one body to the next on this thread.
  thread_local std::vector<std::string_view> keys;
  keys.clear();
  BRAID_RETURN_IF_ERROR(
      json::Validate(text, minified, json::kDefaultMaxDepth, &keys).WithContext("record body"));
  if (minified->size() > max_bytes) {
    return Status::PayloadTooLarge("record body is " + std::to_string(minified->size()) +
                                   " bytes; the limit is " + std::to_string(max_bytes));
  }
  if (!json::Value(*minified).IsObject()) {
    return Status::InvalidArgument("record body must be a JSON object");
  }
  return CheckBodyFields(keys);
}

Status CheckBodyFields(std::vector<std::string_view>& names) {
  if (const auto dup = DuplicateKey(names)) {
    return Status::InvalidArgument("record body has the field " + Shown(*dup) + " twice");
  }
  return Status::OK();
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

}  // namespace braid
