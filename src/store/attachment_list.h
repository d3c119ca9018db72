// A record's attachment list: the "_attachments" member of its body
// (kAttachmentsField, braid/record.h), parsed and checked. The store needs
// it to keep its index of the blobs records name (blob_refs, schema 5) and
// to refuse a peer's malformed list; src/blob/attachments.h builds the
// record writes that change a list.
//
// Canonical form, written last in the body, names in byte order:
//   "_attachments": {"NAME": {"content_type": T, "md5": HEX, "sha256": HEX,
//                             "size": N}, ...}

#ifndef BRAID_STORE_ATTACHMENT_LIST_H_
#define BRAID_STORE_ATTACHMENT_LIST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "braid/status.h"

namespace braid {

struct Attachment {
  std::string name;
  std::string content_type = "application/octet-stream";
  std::string md5;     // lowercase hex
  std::string sha256;  // lowercase hex
  uint64_t size = 0;

  bool operator==(const Attachment&) const = default;
};

// 64 lowercase hex digits; 32 for MD5.
bool IsSha256Hex(std::string_view s);
bool IsMd5Hex(std::string_view s);

// 1..255 bytes of UTF-8 without control characters, '/', '\' or "..".
// Errors: InvalidArgument saying which rule.
Status ValidateAttachmentName(std::string_view name);
// A media type: type/subtype with optional parameters, printable ASCII,
// at most 255 bytes. Errors: InvalidArgument.
Status ValidateContentType(std::string_view type);

// The attachments a body lists, sorted by name; none when it has no
// "_attachments". Every member is checked (bodies come from peers too).
// Errors: InvalidArgument naming the attachment and what is wrong.
Result<std::vector<Attachment>> ParseAttachments(std::string_view body);

}  // namespace braid

#endif  // BRAID_STORE_ATTACHMENT_LIST_H_
