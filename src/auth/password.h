// Password hashing for user accounts: scrypt (RFC 7914, OpenSSL's
// EVP_PBE_scrypt), a memory-hard KDF, so that a leaked store.db costs an
// attacker 16 MiB and tens of milliseconds per guess.
//
// A stored hash names its parameters: "scrypt$14$8$1$SALT$KEY" (log2 N, r,
// p, then base64url salt and key), so the cost can be raised later and older
// hashes still verify.

#ifndef BRAID_AUTH_PASSWORD_H_
#define BRAID_AUTH_PASSWORD_H_

#include <string>
#include <string_view>

#include "braid/status.h"

namespace braid::auth {

// The parameters new hashes use: N = 2^14, r = 8, p = 1 (16 MiB), scrypt's
// own recommendation for interactive logins (Percival, 2009; also Django's
// default). ~0.1 s on this project's 2-core test VM.
inline constexpr int kScryptLog2N = 14;
inline constexpr int kScryptR = 8;
inline constexpr int kScryptP = 1;

// Passwords are 8 to 1024 bytes of UTF-8 without control characters (so a
// password file's trailing newline cannot become part of one).
// Errors: InvalidArgument saying which rule failed.
Status ValidatePassword(std::string_view password);

// A new hash of `password` with a fresh random salt.
// Errors: Internal when OpenSSL fails (out of memory).
Result<std::string> HashPassword(std::string_view password);

// True when `password` matches `stored`, compared in constant time. False
// for a malformed `stored` or parameters out of the accepted range (log2 N
// 10..20, r 1..32, p 1..16), so a tampered row cannot make a login cost
// gigabytes.
bool VerifyPassword(std::string_view password, std::string_view stored);

// True when `stored` is a hash another instance may hand over
// (--import-users): the shape VerifyPassword reads, with parameters no
// costlier than twice this build's (log2 N at most 15, r at most 8, p at
// most 2), so an imported row cannot make logins expensive.
bool ImportableHash(std::string_view stored);

// A random password of 24 base64url characters (144 bits), for the first
// admin made by `braid init`.
std::string NewPassword();

}  // namespace braid::auth

#endif  // BRAID_AUTH_PASSWORD_H_
