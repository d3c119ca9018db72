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
#include "store/attachment_list.h"

namespace braid::blob {

// The list itself lives with the store, which indexes it
// (store/attachment_list.h).
using ::braid::Attachment;
using ::braid::ParseAttachments;
using ::braid::ValidateAttachmentName;
using ::braid::ValidateContentType;

// A media type for a file name's extension (.pdf, .txt, .png, ...);
// application/octet-stream for the rest.
std::string GuessContentType(std::string_view name);

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
