#include "tests/support/store_dump.h"

#include <nlohmann/json.hpp>

#include "store/wire.h"

namespace braid::testing {
namespace {

using Json = nlohmann::ordered_json;

// The wire form, with the body, field clocks and conflicts as the exact
// text stored (a reformatted number would be a change).
Json RecordJson(const Record& r) {
  Json j = Json::parse(WireRecordJson(r));
  j["body"] = r.body;
  if (j.contains("clocks")) j["clocks"] = r.field_clocks;
  if (j.contains("conflicts")) j["conflicts"] = r.conflicts;
  return j;
}

}  // namespace

Result<std::string> DumpStore(Store& store, const std::vector<std::string>& fsic_prefixes) {
  Json out;
  BRAID_ASSIGN_OR_RETURN(const StoreStats stats, store.Stats());
  out["instance_id"] = stats.instance_id.Hex();
  out["epoch"] = stats.epoch;
  out["counter"] = stats.counter;
  out["last_seq"] = stats.last_seq;
  out["horizon"] = stats.horizon;
  out["changes"] = stats.changes;
  out["live"] = stats.live;
  out["deleted"] = stats.deleted;

  Json records = Json::array();
  for (const CollectionStats& c : stats.collections) {
    ListQuery q;
    q.collection = c.name;
    q.include_deleted = true;
    q.limit = 1000;
    for (;;) {
      BRAID_ASSIGN_OR_RETURN(const auto page, store.List(q));
      for (const Record& r : page) records.push_back(RecordJson(r));
      if (page.size() < q.limit) break;
      q.after_id = page.back().id;
    }
  }
  out["records"] = std::move(records);

  Json changes = Json::array();
  ChangeQuery cq;
  cq.limit = 1000;
  cq.with_records = false;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const ChangePage page, store.ReadChanges(cq));
    for (const ChangeEvent& e : page.events) {
      Json j;
      j["seq"] = e.seq;
      j["op"] = std::string(ChangeOpName(e.op));
      j["collection"] = e.collection;
      j["id"] = e.id;
      j["parent"] = e.parent ? Json(*e.parent) : Json(nullptr);
      j["at"] = e.at_ms;
      changes.push_back(std::move(j));
    }
    if (!page.has_more) break;
    cq.after_seq = page.complete_to;
  }
  out["change_log"] = std::move(changes);

  std::vector<std::string> prefixes = {""};
  prefixes.insert(prefixes.end(), fsic_prefixes.begin(), fsic_prefixes.end());
  Json fsic = Json::object();
  for (const std::string& p : prefixes) {
    BRAID_ASSIGN_OR_RETURN(
        const VersionVector vv,
        store.Fsic(p.empty() ? std::vector<std::string>{} : std::vector<std::string>{p}));
    fsic[p] = Json::parse(VersionVectorToJson(vv));
  }
  out["fsic"] = std::move(fsic);

  Json instances = Json::array();
  BRAID_ASSIGN_OR_RETURN(const auto known, store.KnownInstances());
  for (const InstanceId& id : known) instances.push_back(id.Hex());
  out["known_instances"] = std::move(instances);

  Json policies = Json::object();
  BRAID_ASSIGN_OR_RETURN(const auto pols, store.Policies());
  for (const auto& [name, policy] : pols) policies[name] = std::string(PolicyName(policy));
  out["policies"] = std::move(policies);

  Json remotes = Json::array();
  BRAID_ASSIGN_OR_RETURN(const auto rs, store.ListRemotes());
  for (const Remote& r : rs) {
    Json j;
    j["name"] = r.name;
    j["url"] = r.url;
    j["direction"] = std::string(DirectionName(r.direction));
    j["filter"] = r.filter;
    j["chunk_size"] = r.chunk_size;
    j["token"] = r.token;
    j["last_sync_ms"] = r.last_sync_ms;
    j["last_result"] = r.last_result;
    remotes.push_back(std::move(j));
  }
  out["remotes"] = std::move(remotes);

  Json tokens = Json::array();
  BRAID_ASSIGN_OR_RETURN(const auto ts, store.ListTokens());
  for (const TokenInfo& t : ts) tokens.push_back({{"name", t.name}, {"created_ms", t.created_ms}});
  out["tokens"] = std::move(tokens);

  Json conflicts = Json::array();
  std::string after_c, after_id;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const auto page, store.ListConflicts(after_c, after_id, 500));
    for (const Record& r : page) {
      Json j;
      j["record"] = RecordJson(r);
      Json held = Json::array();
      BRAID_ASSIGN_OR_RETURN(const auto hs, store.HeldVersions(r.collection, r.id));
      for (const Record& h : hs) held.push_back(RecordJson(h));
      j["held"] = std::move(held);
      conflicts.push_back(std::move(j));
    }
    if (page.size() < 500) break;
    after_c = page.back().collection;
    after_id = page.back().id;
  }
  out["conflicts"] = std::move(conflicts);
  return out.dump(1) + "\n";
}

}  // namespace braid::testing
