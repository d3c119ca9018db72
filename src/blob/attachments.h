// A record's attachments: the "_attachments" member of its body
// (kAttachmentsField, braid/record.h), and the writes that change it.
//
// Canonical form, written last in the body, names in byte order:
//   "_attachments": {"NAME": {"content_type": T, "md5": HEX, "sha256": HEX,
//                             "size": N}, ...}
// The member merges like any other field (last writer wins on the whole
// list; the loser is kept among the record's conflicts). The bytes live in
// the blob store (blob_store.h) under their SHA-256; a record names a blob
// only once it is stored here (SetAttachment checks it inside its write),
// while a replica may hold records whose blobs its attachments step has
// not fetched yet.

#ifndef BRAID_BLOB_ATTACHMENTS_H_
#define BRAID_BLOB_ATTACHMENTS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "blob/blob_store.h"
#include "braid/status.h"
#include "braid/store.h"

namespace braid::blob {

struct Attachment {
  std::string name;
  std::string content_type = "application/octet-stream";
  std::string md5;     // lowercase hex
  std::string sha256;  // lowercase hex
  uint64_t size = 0;

  bool operator==(const Attachment&) const = default;
};

// 1..255 bytes of UTF-8 without control characters, '/', '\' or "..".
// Errors: InvalidArgument saying which rule.
Status ValidateAttachmentName(std::string_view name);
// A media type: type/subtype with optional parameters, printable ASCII,
// at most 255 bytes. Errors: InvalidArgument.
Status ValidateContentType(std::string_view type);

// A media type for a file name's extension (.pdf, .txt, .png, ...);
// application/octet-stream for the rest.
std::string GuessContentType(std::string_view name);

// The attachments a body lists, sorted by name; none when it has no
// "_attachments". Every member is checked (bodies come from peers too).
// Errors: InvalidArgument naming the attachment and what is wrong.
Result<std::vector<Attachment>> ParseAttachments(std::string_view body);
// The attachment `name` of a body, nullopt when it has none.
Result<std::optional<Attachment>> FindAttachment(std::string_view body, std::string_view name);

// {"name","content_type","size","sha256","md5"}: how the API and the CLI
// show one attachment.
std::string AttachmentJson(const Attachment& a);

// `body` (a minified JSON object) with "_attachments" set to `list` in its
// canonical form, or removed when `list` is empty.
std::string BodyWithAttachments(std::string_view body, std::vector<Attachment> list);

// Who may change a record: called with the stored record inside the write
// transaction, before anything is written (an error aborts it).
using WriteCheck = std::function<Status(const Record&)>;

// Sets (adds or replaces) attachment `a` of the live record (collection,
// id), whose blob must be in `blobs` with a.size bytes. One record write
// (a new version, replicated); setting the same attachment again is
// kUnchanged. Errors: NotFound (no live record), InvalidArgument (name,
// type, hashes), Unavailable (the blob is gone: send it again), what
// `check` returns, store errors.
Result<WriteResult> SetAttachment(Store& store, const BlobStore& blobs, std::string_view collection,
                                  std::string_view id, const Attachment& a,
                                  const WriteCheck& check);
// Removes attachment `name` of a live record: a record write; the blob
// stays until no record names it and an attachments step removes it.
// Errors: NotFound (no live record, or no such attachment), what `check`
// returns, store errors.
Result<WriteResult> RemoveAttachment(Store& store, std::string_view collection, std::string_view id,
                                     std::string_view name, const WriteCheck& check);

}  // namespace braid::blob

#endif  // BRAID_BLOB_ATTACHMENTS_H_
