// A remote's rules as its sessions apply them (SENAITE.SYNC's; docs/
// remotes.md): which records of a pull are stored here and under which
// ids, which records a push sends and under which ids, and the references
// in bodies renamed the same way.
//
// Ids change only in two ways, both reversible: records of `prefixable`
// collections pulled from the remote are stored with its prefix before
// their id (and pushed back without it); records of `update_only`
// collections carry this instance's `local_prefix` on the remote (pulled
// without it, pushed with it). A version keeps its (origin, counter) and
// vector under either name.

#ifndef BRAID_REPL_RULES_H_
#define BRAID_REPL_RULES_H_

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "braid/catalog.h"
#include "braid/record.h"
#include "braid/status.h"
#include "braid/store.h"

namespace braid::repl {

// A record's name: (collection, id).
using RecordName = std::pair<std::string, std::string>;

class Rules {
 public:
  // `refs`: every collection's references (Store::References()).
  Rules(const RemoteRules& rules,
        const std::vector<std::pair<std::string, std::vector<Reference>>>& refs);

  // The remote's rules change what its sessions carry (ShapesStream).
  bool shapes() const { return shapes_; }

  enum class Fate {
    kTake,      // store it (renamed)
    kDrop,      // never stored from this remote (update-only, not this instance's)
    kIfWanted,  // skipped or not included: stored only when it is here already or a
                // record taken references it
  };
  // Pull: renames `r` (its id and the references in its body) from the
  // remote's ids to this instance's, and says whether it is stored. A
  // record whose id would grow past the limit with the prefix is dropped.
  Fate Incoming(Record* r) const;
  // Push: renames `r` from this instance's ids to the remote's. False: not
  // sent (a record of a prefixable collection without the remote's prefix
  // was made here or came from elsewhere). A reference to an update-only
  // collection gets the local prefix only when `here` says the record it
  // names is here (one made here); another's, kept as the remote names it
  // when pulled, is left alone.
  using Here = std::function<bool(std::string_view collection, std::string_view id)>;
  bool Outgoing(Record* r, const Here& here) const;

  // The records of kIfWanted collections that `r` (taken, renamed) names,
  // added to `wanted` by their names here.
  void AddWanted(const Record& r, std::set<RecordName>* wanted) const;
  // The remote's id of a record here (for dependency fetches); nullopt when
  // it has none there.
  std::optional<std::string> RemoteId(std::string_view collection, std::string_view id) const;

  // The collections whose records the remote's rules may rename.
  bool Renames(std::string_view collection) const;

 private:
  std::optional<std::string> PullId(std::string_view collection, std::string_view id) const;
  std::optional<std::string> PushId(std::string_view collection, std::string_view id) const;
  // Rewrites the references in `r`'s body with `map`; true when it changed.
  template <typename Map>
  bool RenameReferences(Record* r, const Map& map) const;

  bool shapes_;
  std::string prefix_, local_prefix_;
  std::set<std::string, std::less<>> include_, skip_, prefixable_, update_only_;
  std::map<std::string, std::vector<Reference>, std::less<>> refs_;
};

// A remote as `remote show --json` and GET /api/v1/remotes/NAME give it:
// everything but its token or password.
std::string RemoteJson(const Remote& r);

// Checks of a remote's rules against the rest of the store, before it is
// saved (ValidateRemote checks the rules among themselves): its prefix
// must not be one of another remote's, or begin another's, and every
// collection a rule names must be known here (records, settings or
// references). Errors: InvalidArgument naming what is wrong.
Status CheckRules(Store& store, const Remote& remote);

}  // namespace braid::repl

#endif  // BRAID_REPL_RULES_H_
