// Bearer tokens (`braid token create`): for API clients and replicating
// peers.
//
// A token is "braid_" followed by 43 base64url characters (32 random
// bytes). Stores keep only its SHA-256, so a leaked store.db does not leak
// usable tokens.

#ifndef BRAID_AUTH_TOKEN_H_
#define BRAID_AUTH_TOKEN_H_

#include <string>
#include <string_view>

namespace braid::auth {

std::string NewToken();
// The 32-byte SHA-256 of `token`.
std::string TokenHash(std::string_view token);
// The token of an "Authorization: Bearer <token>" header, or "".
std::string_view BearerToken(std::string_view authorization);

}  // namespace braid::auth

#endif  // BRAID_AUTH_TOKEN_H_
