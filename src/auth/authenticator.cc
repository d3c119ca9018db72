#include "auth/authenticator.h"

#include <openssl/sha.h>

#include <algorithm>

#include "auth/password.h"
#include "auth/token.h"
#include "base/encoding.h"
#include "base/ids.h"
#include "base/log.h"

namespace braid::auth {
namespace {

constexpr std::string_view kNeedCredentials =
    "this server needs credentials: HTTP Basic with a user made by `braid user add` "
    "(curl -u NAME), or \"Authorization: Bearer <token>\" with a token made by "
    "`braid token create`";

// A failure streak older than this starts over.
constexpr std::chrono::minutes kForget{15};

bool SchemeIs(std::string_view header, std::string_view scheme) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return false;
  for (size_t i = 0; i < scheme.size(); ++i) {
    if ((header[i] | 0x20) != (scheme[i] | 0x20)) return false;
  }
  return true;
}

std::string Sha256(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

std::string RoleWord(Role r) { return std::string(RoleName(r)); }

std::string ScopeText(const Scope& scope) {
  if (scope.empty()) return "every partition";
  std::string out;
  for (const auto& p : scope) out += (out.empty() ? "" : ", ") + p;
  return out;
}

}  // namespace

std::string Principal::Describe() const {
  switch (kind) {
    case Kind::kUser:
      return "user " + name;
    case Kind::kToken:
      return "token " + name;
    case Kind::kCertificate:
      return "certificate " + name;
    case Kind::kNone:
      break;
  }
  return "a client without credentials";
}

Status NeedRole(const Principal& who, Role role, std::string_view to_do) {
  if (who.Has(role)) return Status::OK();
  return Status::Forbidden(who.Describe() + " (" + RoleWord(who.role) + ") cannot " +
                           std::string(to_do) + ": that needs the " + RoleWord(role) + " role");
}

Status NeedWrite(const Principal& who, std::string_view partition) {
  BRAID_RETURN_IF_ERROR(NeedRole(who, Role::kWriter, "write records"));
  if (who.CanWrite(partition)) return Status::OK();
  return Status::Forbidden(who.Describe() + " may write in " + ScopeText(who.scope) +
                           ", not in partition \"" + std::string(partition) + "\"");
}

Status NeedRead(const Principal& who, std::string_view partition) {
  if (who.CanRead(partition)) return Status::OK();
  return Status::Forbidden(who.Describe() + " may read " + ScopeText(who.scope) +
                           ", not partition \"" + std::string(partition) + "\"");
}

Status NeedAllPartitions(const Principal& who, std::string_view what) {
  if (who.scope.empty()) return Status::OK();
  return Status::Forbidden(std::string(what) + " spans every partition, and " + who.Describe() +
                           " may read only " + ScopeText(who.scope) +
                           ": read single records, or pull with a filter inside that scope");
}

Authenticator::Authenticator(Store& store, AuthOptions options)
    : store_(store), options_(options), pepper_(32, '\0') {
  RandomBytes(pepper_.data(), pepper_.size());
}

Authenticator::~Authenticator() = default;

int Authenticator::WaitSeconds(const std::string& key, Clock::time_point now) {
  auto it = failures_.find(key);
  if (it == failures_.end() || it->second.until <= now) return 0;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(it->second.until - now);
  return static_cast<int>((left.count() + 999) / 1000);
}

void Authenticator::Failed(const std::string& key, Clock::time_point now) {
  Trim(now);
  Failures& f = failures_[key];
  if (now - f.last > kForget) f.count = 0;
  f.last = now;
  ++f.count;
  if (f.count > options_.free_failures) {
    const int doublings = std::min(f.count - options_.free_failures - 1, 16);
    const auto delay = std::min<std::chrono::seconds>(std::chrono::seconds(int64_t{1} << doublings),
                                                      options_.max_delay);
    f.until = now + delay;
  }
}

void Authenticator::Trim(Clock::time_point now) {
  if (failures_.size() >= options_.max_tracked) {
    std::erase_if(failures_, [&](const auto& kv) {
      return kv.second.until <= now && now - kv.second.last > kForget;
    });
    // Still full (a flood of names): forget streaks that are not holding
    // anyone back right now.
    if (failures_.size() >= options_.max_tracked) {
      std::erase_if(failures_, [&](const auto& kv) { return kv.second.until <= now; });
    }
  }
  if (verified_.size() >= options_.max_tracked) {
    std::erase_if(verified_, [&](const auto& kv) { return kv.second <= now; });
    if (verified_.size() >= options_.max_tracked) verified_.clear();
  }
}

AuthResult Authenticator::Authenticate(std::string_view authorization, std::string_view address) {
  AuthResult out;
  const std::string address_key = "a:" + std::string(address);
  if (authorization.empty()) {
    out.status = Status::Unauthorized(std::string(kNeedCredentials));
    return out;
  }
  if (SchemeIs(authorization, "Basic")) {
    std::string_view encoded = authorization.substr(6);
    while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
    while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
    const auto decoded = Base64Decode(encoded);
    const size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) {
      out.status =
          Status::Unauthorized("malformed Basic credentials: send base64 of \"NAME:PASSWORD\"");
      return out;
    }
    return Password(std::string_view(*decoded).substr(0, colon),
                    std::string_view(*decoded).substr(colon + 1), address_key);
  }
  if (SchemeIs(authorization, "Bearer")) {
    const auto now = Clock::now();
    {
      MutexLock lock(mu_);
      if (const int wait = WaitSeconds(address_key, now); wait > 0) {
        out.retry_after_s = wait;
        out.status = Status::TooManyRequests("too many failed logins from " + std::string(address) +
                                             "; retry in " + std::to_string(wait) + " s");
        return out;
      }
    }
    auto found = store_.FindToken(TokenHash(BearerToken(authorization)));
    if (!found.ok()) {
      out.status = found.status();
      return out;
    }
    if (!found->has_value()) {
      MutexLock lock(mu_);
      Failed(address_key, now);
      out.status = Status::Unauthorized(
          "this server does not accept that token (revoked, or made by another instance)");
      return out;
    }
    out.principal.kind = Principal::Kind::kToken;
    out.principal.name = (*found)->name;
    out.principal.role = (*found)->role;
    out.principal.scope = std::move((*found)->scope);
    return out;
  }
  out.status =
      Status::Unauthorized("unsupported Authorization scheme; " + std::string(kNeedCredentials));
  return out;
}

AuthResult Authenticator::Password(std::string_view name, std::string_view password,
                                   const std::string& address_key) {
  AuthResult out;
  const std::string user_key = "u:" + std::string(name.substr(0, 64));
  const auto now = Clock::now();
  {
    MutexLock lock(mu_);
    const int wait = std::max(WaitSeconds(address_key, now), WaitSeconds(user_key, now));
    if (wait > 0) {
      out.retry_after_s = wait;
      out.status = Status::TooManyRequests("too many failed logins; retry in " +
                                           std::to_string(wait) + " s");
      return out;
    }
  }
  std::optional<User> user;
  if (name.size() <= 64) {
    auto found = store_.GetUser(name);
    if (!found.ok()) {
      out.status = found.status();
      return out;
    }
    user = std::move(*found);
  }
  std::call_once(dummy_once_, [this] {
    auto h = HashPassword("no such user");
    if (h.ok()) dummy_hash_ = std::move(*h);
  });
  const std::string_view stored = user ? std::string_view(user->password_hash) : dummy_hash_;
  const std::string cache_key = Sha256(pepper_ + std::string(name) + '\0' + std::string(password) +
                                       '\0' + std::string(stored));
  bool ok = false;
  if (user) {
    MutexLock lock(mu_);
    auto it = verified_.find(cache_key);
    ok = it != verified_.end() && it->second > now;
  }
  if (!ok) ok = VerifyPassword(password, stored) && user.has_value();
  MutexLock lock(mu_);
  if (!ok) {
    Failed(address_key, now);
    Failed(user_key, now);
    out.status = Status::Unauthorized("wrong user name or password");
    return out;
  }
  Trim(now);
  verified_[cache_key] = now + options_.cache_ttl;
  failures_.erase(address_key);
  failures_.erase(user_key);
  out.principal.kind = Principal::Kind::kUser;
  out.principal.name = user->name;
  out.principal.role = user->role;
  out.principal.scope = std::move(user->scope);
  return out;
}

}  // namespace braid::auth
