// A remote's rules (include/braid/catalog.h, repl/rules.h): the JSON the
// remotes API and the store hand over, references and auto-sync periods,
// and the renaming of records a rule-shaped session applies.
//
// The input is offered as rules JSON, as a reference spec, as an auto-sync
// period; and its first line, when it is rules, shapes a record whose body
// is the rest of the input (when that is a JSON object).
//
// Checks that accepted rules, references and periods written back parse to
// the same; that validation never crashes; and that renaming a pulled
// record back for a push gives the remote's record again: id and body.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/json.h"
#include "braid/catalog.h"
#include "fuzz/check.h"
#include "repl/rules.h"

namespace {

using namespace braid;  // NOLINT(google-build-using-namespace)

void RulesRoundTrip(std::string_view text) {
  auto rules = ParseRulesJson(text);
  if (!rules.ok()) return;
  const auto back = ParseRulesJson(RulesJson(*rules));
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(*back == *rules);
  Remote r;
  r.name = "fuzz";
  r.url = "http://127.0.0.1:1";
  r.rules = *rules;
  (void)ValidateRemote(r);
}

void ReferenceRoundTrips(std::string_view text) {
  auto ref = ParseReference(text);
  if (!ref.ok()) return;
  const auto back = ParseReference(ReferenceSpec(*ref));
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(*back == *ref);
  const auto list = ParseReferencesJson(ReferencesJson({*ref, *ref}));
  FUZZ_CHECK(list.ok() && list->size() == 2);
}

void AutoSyncRoundTrips(std::string_view text) {
  auto a = ParseAutoSync(text);
  if (!a.ok()) return;
  const auto back = ParseAutoSync(AutoSyncText(*a));
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(*back == *a);
}

// Pulled, renamed here, then pushed back: the remote's record again.
void RenamingRoundTrips(std::string_view text) {
  const size_t nl = text.find('\n');
  if (nl == std::string_view::npos) return;
  auto rules = ParseRulesJson(text.substr(0, nl));
  if (!rules.ok()) return;
  Remote remote;
  remote.name = "fuzz";
  remote.url = "http://127.0.0.1:1";
  remote.rules = *rules;
  if (!ValidateRemote(remote).ok()) return;
  std::string body;
  if (!json::Validate(text.substr(nl + 1), &body).ok() || !json::Value(body).IsObject()) return;
  const std::vector<std::pair<std::string, std::vector<Reference>>> refs = {
      {"samples", {{"client", false, "clients"}, {"parts", true, "samples"}}},
      {"analyses", {{"sample", false, "samples"}}},
  };
  const repl::Rules shaped(*rules, refs);
  for (const std::string collection : {"samples", "analyses", "clients"}) {
    Record r;
    r.collection = collection;
    r.id = "x1";
    r.body = body;
    if (!rules->update_only.empty()) r.id = rules->local_prefix + r.id;
    Record here = r;
    if (shaped.Incoming(&here) == repl::Rules::Fate::kDrop) continue;
    Record there = here;
    // Records here: those whose names a pull took the local prefix off.
    const auto made_here = [&](std::string_view, std::string_view id) {
      return !rules->local_prefix.empty() &&
             body.find("\"" + rules->local_prefix + std::string(id) + "\"") != std::string::npos;
    };
    FUZZ_CHECK(shaped.Outgoing(&there, made_here));
    FUZZ_CHECK(there.id == r.id);
    FUZZ_CHECK(json::Validate(here.body, nullptr).ok());
    FUZZ_CHECK(json::Validate(there.body, nullptr).ok());
    // Prefixes alone (no local prefix) rename both ways exactly (a renamed
    // id is written anew, without the escapes it may have had).
    if (rules->update_only.empty() && body.find('\\') == std::string::npos) {
      FUZZ_CHECK(there.body == r.body);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = braid::fuzz::AsText(data, size);
  RulesRoundTrip(text);
  ReferenceRoundTrips(text);
  AutoSyncRoundTrips(text);
  RenamingRoundTrips(text);
  return 0;
}
