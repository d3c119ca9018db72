#include "index/text.h"

#include <charconv>
#include <optional>

#include "base/json.h"

namespace braid::index {
namespace {

constexpr size_t kMaxFieldName = 128;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Status CheckField(std::string_view field) {
  if (field.empty()) return Status::InvalidArgument("an index field has no name");
  if (field.size() > kMaxFieldName) {
    return Status::InvalidArgument("index field name longer than " + std::to_string(kMaxFieldName) +
                                   " bytes");
  }
  if (field.front() == '_') {
    return Status::InvalidArgument("index field \"" + std::string(field) +
                                   "\": fields starting with '_' are braid's, not text");
  }
  for (const char c : field) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ':' || c == ',') {
      return Status::InvalidArgument("index field \"" + std::string(field) +
                                     "\": names cannot hold ':', ',' or control characters");
    }
  }
  return Status::OK();
}

void AppendText(std::string* out, std::string_view text) {
  if (text.empty()) return;
  if (!out->empty()) out->append(kFieldSeparator);
  const size_t at = out->size();
  out->append(text);
  for (size_t i = at; i < out->size(); ++i) {
    const auto c = static_cast<unsigned char>((*out)[i]);
    if (c < 0x20 || c == 0x7f) (*out)[i] = ' ';
  }
}

// Appends every string inside `v` (itself, or the members and elements of
// an object or array, at any depth) to `out`.
void AppendStrings(const json::Value& v, std::string* out) {
  switch (v.type()) {
    case json::Type::kString: {
      const std::optional<std::string> s = v.AsString();
      if (s) AppendText(out, *s);
      break;
    }
    case json::Type::kArray:
      v.ForEachElement([&](const json::Value& e) {
        AppendStrings(e, out);
        return true;
      });
      break;
    case json::Type::kObject:
      v.ForEachMember([&](std::string_view key, const json::Value& m) {
        if (!key.starts_with('_')) AppendStrings(m, out);
        return true;
      });
      break;
    default:
      break;
  }
}

}  // namespace

Result<IndexSpec> ParseIndexSpec(std::string_view text) {
  IndexSpec spec;
  if (Trim(text).empty()) {
    return Status::InvalidArgument(
        "index settings name no field (give FIELD[:WEIGHT],...; or --index-all for every string "
        "field)");
  }
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view part = Trim(text.substr(start, end - start));
    FieldWeight fw;
    const size_t colon = part.rfind(':');
    fw.field = std::string(Trim(part.substr(0, colon)));
    if (colon != std::string_view::npos) {
      const std::string_view w = Trim(part.substr(colon + 1));
      const auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), fw.weight);
      if (w.empty() || ec != std::errc() || p != w.data() + w.size() || fw.weight < 1 ||
          fw.weight > kMaxWeight) {
        return Status::InvalidArgument("index field \"" + fw.field + "\": weight \"" +
                                       std::string(w) + "\" is not a whole number from 1 to " +
                                       std::to_string(kMaxWeight));
      }
    }
    BRAID_RETURN_IF_ERROR(CheckField(fw.field));
    for (const FieldWeight& other : spec.fields) {
      if (other.field == fw.field) {
        return Status::InvalidArgument("index field \"" + fw.field + "\" is named twice");
      }
    }
    spec.fields.push_back(std::move(fw));
    if (spec.fields.size() > kMaxIndexFields) {
      return Status::InvalidArgument("more than " + std::to_string(kMaxIndexFields) +
                                     " index fields");
    }
    start = end + 1;
  }
  return spec;
}

std::string FormatIndexSpec(const IndexSpec& spec) {
  std::string out;
  for (const FieldWeight& fw : spec.fields) {
    if (!out.empty()) out += ',';
    out += fw.field;
    out += ':';
    out += std::to_string(fw.weight);
  }
  return out;
}

bool RecordText::empty() const {
  for (const std::string& s : by_weight) {
    if (!s.empty()) return false;
  }
  return true;
}

void ExtractText(std::string_view body, const IndexSpec* spec, RecordText* out) {
  for (std::string& s : out->by_weight) s.clear();
  const json::Value root(body);
  if (!root.IsObject()) return;
  root.ForEachMember([&](std::string_view key, const json::Value& v) {
    if (spec == nullptr || spec->fields.empty()) {
      if (!key.starts_with('_')) AppendStrings(v, &out->by_weight[0]);
      return true;
    }
    for (const FieldWeight& fw : spec->fields) {
      if (fw.field == key) {
        AppendStrings(v, &out->by_weight[fw.weight - 1]);
        break;
      }
    }
    return true;
  });
}

}  // namespace braid::index
