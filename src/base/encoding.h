// Small byte encodings: base64url (RFC 4648 section 5, no padding), base64
// (section 4, padded: HTTP Basic credentials) and the FNV-1a 32-bit hash used
// as a typo check in opaque tokens.

#ifndef BRAID_BASE_ENCODING_H_
#define BRAID_BASE_ENCODING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace braid {

std::string Base64UrlEncode(std::string_view bytes);
// nullopt for characters outside the alphabet, padding, or an impossible length.
std::optional<std::string> Base64UrlDecode(std::string_view text);

std::string Base64Encode(std::string_view bytes);
// nullopt for characters outside the alphabet, missing or misplaced padding.
std::optional<std::string> Base64Decode(std::string_view text);

uint32_t Fnv1a32(std::string_view bytes);

}  // namespace braid

#endif  // BRAID_BASE_ENCODING_H_
