// SENAITE.SYNC's imports (docs/remotes.md, "Imports"): a remote's
// collection settings (--import-settings) and users (--import-users),
// taken before a sync pulls, so the pull applies the remote's policies and
// references.

#ifndef BRAID_REPL_IMPORTS_H_
#define BRAID_REPL_IMPORTS_H_

#include <string>
#include <vector>

#include "braid/catalog.h"
#include "braid/status.h"
#include "braid/store.h"

namespace braid::repl {

struct ImportSummary {
  bool ran = false;
  size_t settings = 0;  // collections whose settings changed here
  size_t users_created = 0, users_updated = 0;
  // Users of the remote not taken, each with why: a user of that name made
  // here (or imported from another remote) is never overwritten; one whose
  // row does not hold (name, scope, a hash this build accepts) is refused.
  std::vector<std::string> users_kept;
};

// What `remote`'s rules ask for, through its API with `authorization`
// (ReadAuthorization): GET /api/v1/collections (reader), GET /api/v1/users
// (admin: the remote's credentials must be an admin's). Everything checked
// before anything is written; then one transaction. Errors: those of the
// remote's answers (Unauthorized, Forbidden, Unavailable), InvalidArgument
// for an answer that is not what the API sends.
Result<ImportSummary> Import(Store& store, const Remote& remote, const std::string& authorization);

// {"settings","users_created","users_updated","users_kept"}.
std::string ImportSummaryJson(const ImportSummary& s);

}  // namespace braid::repl

#endif  // BRAID_REPL_IMPORTS_H_
