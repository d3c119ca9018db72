// JSON forms of records and delta pages, shared by the HTTP API and the CLI
// so both print exactly what docs/protocol.md describes.
//
// Record envelope:
//   {"collection":"notes","id":"n1","partition":"notes","parent":null,
//    "deleted":false,"version":"<origin hex>:<counter>","body":{...}}
// Delta page:
//   {"items":[{"type":"create","collection":"notes","id":"n1","parent":null,
//              "seq":12,"record":{envelope}|null}],"cursor":"...","has_more":false}

#ifndef BRAID_FEED_FORMAT_H_
#define BRAID_FEED_FORMAT_H_

#include <string>

#include "base/json.h"
#include "braid/delta.h"
#include "braid/record.h"
#include "braid/store.h"

namespace braid {

void WriteRecord(json::Writer& w, const Record& record);
std::string RecordJson(const Record& record);
std::string DeltaPageJson(const DeltaPage& page);

// A record with conflicts, for `braid conflicts` and GET /api/v1/conflicts:
//   {"record": {envelope}, "conflicts": [...], "held": [{"version", "deleted", "body"}]}
void WriteConflictRecord(json::Writer& w, const Record& record, const std::vector<Record>& held);

// The members of a stats object (inside an object the caller opened):
// instance_id, schema, records, tombstones, changes, last_seq, horizon, counter,
// collections: [{name, records, tombstones}].
void WriteStatsMembers(json::Writer& w, const StoreStats& stats);

}  // namespace braid

#endif  // BRAID_FEED_FORMAT_H_
