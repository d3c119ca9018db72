// A record's attachment list: parsing and checks (attachment_list.h).

#include "store/attachment_list.h"

#include <algorithm>
#include <utility>

#include "base/json.h"
#include "base/validate.h"
#include "store/content.h"

namespace braid {
namespace {

bool IsLowerHex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// JSON numbers above 2^53 do not survive every peer's parser.
constexpr int64_t kMaxSize = int64_t{1} << 53;

std::string Quoted(std::string_view s) {
  std::string out;
  json::AppendQuoted(&out, s.substr(0, 80));
  return out;
}

Result<Attachment> ParseOne(std::string_view name, const json::Value& v) {
  Attachment a;
  a.name.assign(name);
  BRAID_RETURN_IF_ERROR(ValidateAttachmentName(name));
  auto fail = [&](std::string_view what) {
    return Status::InvalidArgument("attachment " + Quoted(name) + ": " + std::string(what));
  };
  if (!v.IsObject()) return fail("must be an object {content_type, md5, sha256, size}");
  bool seen[4] = {false, false, false, false};
  Status status;
  v.ForEachMember([&](std::string_view key, json::Value m) {
    if (key == "size") {
      const auto n = m.AsInt64();
      if (!n || *n < 0 || *n > kMaxSize) {
        status = fail("size must be an integer from 0 to 2^53");
        return false;
      }
      a.size = static_cast<uint64_t>(*n);
      seen[0] = true;
      return true;
    }
    std::string* dst = key == "content_type" ? &a.content_type
                       : key == "md5"        ? &a.md5
                       : key == "sha256"     ? &a.sha256
                                             : nullptr;
    if (dst == nullptr) {
      status = fail("unknown member " + Quoted(key));
      return false;
    }
    auto text = m.AsString();
    if (!text) {
      status = fail(std::string(key) + " must be a string");
      return false;
    }
    *dst = std::move(*text);
    seen[key == "content_type" ? 1 : key == "md5" ? 2 : 3] = true;
    return true;
  });
  BRAID_RETURN_IF_ERROR(status);
  if (!(seen[0] && seen[1] && seen[2] && seen[3])) {
    return fail("needs content_type, md5, sha256 and size");
  }
  if (!IsSha256Hex(a.sha256)) return fail("sha256 must be 64 lowercase hex digits");
  if (!IsMd5Hex(a.md5)) return fail("md5 must be 32 lowercase hex digits");
  BRAID_RETURN_IF_ERROR(
      ValidateContentType(a.content_type).WithContext("attachment " + Quoted(name)));
  return a;
}

}  // namespace

bool IsSha256Hex(std::string_view s) { return IsLowerHex(s, 64); }
bool IsMd5Hex(std::string_view s) { return IsLowerHex(s, 32); }

Status ValidateAttachmentName(std::string_view name) {
  BRAID_RETURN_IF_ERROR(ValidateName("attachment name", name));
  if (name.find('/') != std::string_view::npos || name.find('\\') != std::string_view::npos) {
    return Status::InvalidArgument("attachment name " + Quoted(name) +
                                   " contains a slash; a name is one file name, not a path");
  }
  if (name.find("..") != std::string_view::npos) {
    return Status::InvalidArgument("attachment name " + Quoted(name) + " contains \"..\"");
  }
  if (name == ".") return Status::InvalidArgument("attachment name \".\" is not a file name");
  return Status::OK();
}

Status ValidateContentType(std::string_view type) {
  const size_t slash = type.find('/');
  bool ok = !type.empty() && type.size() <= 255 && slash != std::string_view::npos && slash > 0 &&
            slash + 1 < type.size();
  for (char c : type) ok = ok && c >= 0x20 && c < 0x7f;
  if (ok) return Status::OK();
  return Status::InvalidArgument("content type " + Quoted(type) +
                                 " is not a media type such as application/pdf (printable "
                                 "ASCII, at most 255 bytes)");
}

Result<std::vector<Attachment>> ParseAttachments(std::string_view body) {
  std::vector<Attachment> out;
  const std::string_view raw = AttachmentsMember(body);
  if (raw.empty()) return out;
  const json::Value list(raw);
  if (!list.IsObject()) {
    return Status::InvalidArgument("\"_attachments\" must be an object of attachments by name");
  }
  Status status;
  list.ForEachMember([&](std::string_view name, json::Value v) {
    auto a = ParseOne(name, v);
    if (!a.ok()) {
      status = a.status();
      return false;
    }
    out.push_back(std::move(*a));
    return true;
  });
  BRAID_RETURN_IF_ERROR(status);
  std::sort(out.begin(), out.end(),
            [](const Attachment& a, const Attachment& b) { return a.name < b.name; });
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].name == out[i - 1].name) {
      return Status::InvalidArgument("attachment " + Quoted(out[i].name) + " is listed twice");
    }
  }
  return out;
}

}  // namespace braid
