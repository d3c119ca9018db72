// Reading the top-level members of a replication message (protocol.h,
// proof.h): one place for the checks every message shares.

#ifndef BRAID_REPL_FIELDS_H_
#define BRAID_REPL_FIELDS_H_

#include <string>
#include <string_view>

#include "base/json.h"
#include "braid/status.h"

namespace braid::repl {

// Validates `body` and hands its top-level object members to `fn`, which
// returns an error for a member it does not know. Errors name `what`.
template <typename Fn>
Status ForEachMember(std::string_view body, std::string_view what, Fn&& fn) {
  BRAID_RETURN_IF_ERROR(json::Validate(body, nullptr).WithContext(what));
  const json::Value v(body);
  if (!v.IsObject()) return Status::InvalidArgument(std::string(what) + " must be a JSON object");
  Status status;
  v.ForEachMember([&](std::string_view key, json::Value value) {
    status = fn(key, value);
    return status.ok();
  });
  return status.WithContext(what);
}

inline Status UnknownMember(std::string_view key) {
  return Status::InvalidArgument("unknown member \"" + std::string(key) + "\"");
}

}  // namespace braid::repl

#endif  // BRAID_REPL_FIELDS_H_
