// Who is asking: the credentials of an HTTP request (Basic with a user's
// password, or a bearer token) turned into a Principal with a role and a
// partition scope, and failed logins slowed down.
//
// Every check reads the user or token row, so removing a user, changing its
// role or password, or revoking a token takes effect on the next request.
// A password is verified with scrypt (~0.1 s) only the first time: a verified
// (user, password, stored hash) triple is remembered for `cache_ttl`, so a
// client sending Basic credentials with every request pays a hash lookup.
//
// Failed logins: after `free_failures` failures in a row from one address,
// or for one user name, further attempts from it (or for it) are refused
// with tooManyRequests, without checking the password, for 1 s, then 2 s,
// 4 s, ... up to `max_delay`; a success resets the user's and the address's
// count. An unknown user costs the same scrypt as a wrong password, and both
// get the same answer, so neither the timing nor the message tells which.
//
// Thread-safe.

#ifndef BRAID_AUTH_AUTHENTICATOR_H_
#define BRAID_AUTH_AUTHENTICATOR_H_

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/mutex.h"
#include "braid/catalog.h"
#include "braid/store.h"

namespace braid::auth {

// An authenticated caller.
struct Principal {
  // kCertificate: a replication session opened with a certificate
  // (repl/proof.h); kNone: no credentials (only for what needs none).
  enum class Kind { kUser, kToken, kCertificate, kNone };
  Kind kind = Kind::kUser;
  std::string name;
  Role role = Role::kReader;
  Scope scope;  // empty: every partition

  bool Has(Role r) const { return static_cast<int>(role) >= static_cast<int>(r); }
  bool CanRead(std::string_view partition) const { return InScope(scope, partition); }
  bool CanWrite(std::string_view partition) const {
    return Has(Role::kWriter) && InScope(scope, partition);
  }
  // "user alice", "token lab-b", "certificate 3f..": for messages and logs.
  std::string Describe() const;
};

// Errors for refusals, with the message the caller should see.
// Forbidden: "user alice (reader) cannot write; ...".
Status NeedRole(const Principal& who, Role role, std::string_view to_do);
Status NeedWrite(const Principal& who, std::string_view partition);
Status NeedRead(const Principal& who, std::string_view partition);
// For reads that span every partition (`what`: "the delta feed", ...):
// Forbidden for a principal with a scope.
Status NeedAllPartitions(const Principal& who, std::string_view what);

struct AuthOptions {
  int free_failures = 5;
  std::chrono::seconds max_delay{60};
  std::chrono::seconds cache_ttl{300};
  size_t max_tracked = 10000;  // addresses and names with failures, and cache entries
};

struct AuthResult {
  Status status;  // Unauthorized, TooManyRequests, or storage errors
  Principal principal;
  int retry_after_s = 0;  // with TooManyRequests
};

class Authenticator {
 public:
  explicit Authenticator(Store& store, AuthOptions options = {});
  ~Authenticator();

  // `authorization` is the Authorization header ("" when absent); `address`
  // the client's IP address, without the port.
  AuthResult Authenticate(std::string_view authorization, std::string_view address);

 private:
  using Clock = std::chrono::steady_clock;
  struct Failures {
    int count = 0;
    Clock::time_point until;  // refused before this
    Clock::time_point last;
  };
  // The wait left for `key`, 0 when it may try.
  int WaitSeconds(const std::string& key, Clock::time_point now) REQUIRES(mu_);
  void Failed(const std::string& key, Clock::time_point now) REQUIRES(mu_);
  void Trim(Clock::time_point now) REQUIRES(mu_);
  AuthResult Refuse(const std::string& address_key, const std::string& user_key);
  AuthResult Password(std::string_view name, std::string_view password,
                      const std::string& address_key);

  Store& store_;
  AuthOptions options_;
  std::string pepper_;  // random per process: cache keys mean nothing elsewhere
  std::once_flag dummy_once_;
  std::string dummy_hash_;  // verified for unknown users, so they cost the same
  Mutex mu_;
  std::unordered_map<std::string, Failures> failures_ GUARDED_BY(mu_);
  std::unordered_map<std::string, Clock::time_point> verified_ GUARDED_BY(mu_);
};

}  // namespace braid::auth

#endif  // BRAID_AUTH_AUTHENTICATOR_H_
