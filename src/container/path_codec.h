// How a container names a file in its records (docs/protocol.md,
// "Containers"): the path relative to the container's folder, '/'
// between components, as text that any record may carry.
//
// File names are bytes; records hold UTF-8 without control characters. A
// path is encoded by writing '%' as "%25", and every byte that is a
// control character (C0, DEL, C1) or not part of well-formed UTF-8 as %XX
// (uppercase hex); everything else is kept. Decoding is the exact inverse,
// so names that are not UTF-8 come back byte for byte on checkout.
//
// The record id is the encoded path when it fits in a record id (255
// bytes); a longer one is "%%" followed by the SHA-256 (hex) of the encoded
// path, which no encoded path can be ("%" is always followed by two hex
// digits). The container's summary record is kSummaryId.

#ifndef BRAID_CONTAINER_PATH_CODEC_H_
#define BRAID_CONTAINER_PATH_CODEC_H_

#include <string>
#include <string_view>

#include "braid/status.h"

namespace braid::container {

inline constexpr char kSummaryId[] = "%%container";

std::string EncodePath(std::string_view bytes);

// The bytes of an encoded path, checked to be in EncodePath's form (one
// spelling per path) and to stay inside a folder: not empty,
// relative, no empty, "." or ".." component, no NUL byte, at most 4,095
// bytes. Errors: InvalidArgument saying what is wrong (paths come from
// peers' records).
Result<std::string> DecodePath(std::string_view text);

std::string RecordIdFor(std::string_view encoded);

}  // namespace braid::container

#endif  // BRAID_CONTAINER_PATH_CODEC_H_
