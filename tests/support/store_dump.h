// A canonical JSON dump of everything a store holds that users and peers
// depend on, read through the public Store API only: identity and counters,
// every record (tombstones included) in its wire form, the change log,
// FSICs, known instances, policies, remotes, tokens, conflicts and held
// versions. Two stores with equal dumps are equal to their users.
//
// The schema-upgrade tests compare the dump of a fixture store opened by
// today's code with the dump its generator wrote (tests/fixtures/), so the
// format must only grow: a key once written keeps its name and meaning.

#ifndef BRAID_TESTS_SUPPORT_STORE_DUMP_H_
#define BRAID_TESTS_SUPPORT_STORE_DUMP_H_

#include <string>
#include <vector>

#include "braid/status.h"
#include "braid/store.h"

namespace braid::testing {

// `fsic_prefixes`: the filters whose FSIC to include ("" = everything is
// always included).
Result<std::string> DumpStore(Store& store, const std::vector<std::string>& fsic_prefixes);

}  // namespace braid::testing

#endif  // BRAID_TESTS_SUPPORT_STORE_DUMP_H_
