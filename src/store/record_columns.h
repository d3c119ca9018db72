// The record columns every backend keeps (internal), decoded and encoded
// once for both: collection, id, partition (NULL: the collection), parent,
// deleted, origin (a local instance number), counter, vv (a local vector,
// codec.h; NULL: just {origin: counter}), hlc, clocks (content.h; NULL:
// none), body, conflicts (NULL: none).
//
// `Row` reads a result row by column (sqlite::Stmt, pg::Row: Text, Int,
// Bool, IsNull, OptionalText, Blob); `instance_for(num)` and
// `num_for(id)` map local numbers to instance ids and back
// (Result<InstanceId>, Result<uint32_t>).

#ifndef BRAID_STORE_RECORD_COLUMNS_H_
#define BRAID_STORE_RECORD_COLUMNS_H_

#include <cstdint>
#include <string>

#include "braid/record.h"
#include "braid/status.h"
#include "store/codec.h"
#include "store/content.h"

namespace braid {

// A local vector as instance ids. Records only `self` wrote (the most
// common) need no lookup.
template <typename InstanceFor>
Result<VersionVector> LocalToVersionVector(const LocalVector& local, const InstanceId& self,
                                           uint32_t self_num, InstanceFor&& instance_for) {
  VersionVector vv;
  if (local.entries().size() == 1 && local.entries()[0].first == self_num) {
    vv.Set(self, local.entries()[0].second);
    return vv;
  }
  for (const auto& [num, counter] : local.entries()) {
    BRAID_ASSIGN_OR_RETURN(const InstanceId id, instance_for(num));
    vv.Set(id, counter);
  }
  return vv;
}

// Decodes the twelve record columns of `row` from column `col`.
template <typename Row, typename InstanceFor>
Status DecodeRecordColumns(const Row& row, int col, const InstanceId& self, uint32_t self_num,
                           InstanceFor&& instance_for, Record* out) {
  out->collection.assign(row.Text(col));
  out->id.assign(row.Text(col + 1));
  // NULL stands for the default partition, the collection (saves a copy of
  // the name in most rows).
  out->partition.assign(row.IsNull(col + 2) ? row.Text(col) : row.Text(col + 2));
  out->parent = row.OptionalText(col + 3);
  out->deleted = row.Bool(col + 4);
  const auto origin = static_cast<uint32_t>(row.Int(col + 5));
  BRAID_ASSIGN_OR_RETURN(out->version.origin, instance_for(origin));
  out->version.counter = static_cast<uint64_t>(row.Int(col + 6));
  LocalVector local;
  if (row.IsNull(col + 7)) {
    local = ImpliedVector(origin, out->version.counter);
  } else {
    BRAID_ASSIGN_OR_RETURN(local, DecodeLocalVector(row.Blob(col + 7)));
  }
  BRAID_ASSIGN_OR_RETURN(out->vv, LocalToVersionVector(local, self, self_num, instance_for));
  out->hlc = static_cast<uint64_t>(row.Int(col + 8));
  out->field_clocks.clear();
  if (!row.IsNull(col + 9)) {
    BRAID_ASSIGN_OR_RETURN(out->field_clocks, ClocksFromLocal(row.Blob(col + 9), instance_for));
  }
  out->body.assign(row.Text(col + 10));
  out->conflicts.assign(row.IsNull(col + 11) ? std::string_view() : row.Text(col + 11));
  return Status::OK();
}

// The local columns of a record: its origin's number, whether its vector
// is just {version} (`implied`: stored as NULL; else `vv` holds it), and
// its clocks (`clocks`; empty when none).
template <typename NumFor>
Status EncodeRecordColumns(const Record& r, NumFor&& num_for, uint32_t* origin, bool* implied,
                           std::string* vv, std::string* clocks) {
  BRAID_ASSIGN_OR_RETURN(*origin, num_for(r.version.origin));
  const auto& entries = r.vv.entries();
  *implied = entries.size() == 1 && entries[0].first == r.version.origin &&
             entries[0].second == r.version.counter;
  vv->clear();
  if (!*implied) {
    LocalVector local;
    for (const auto& [id, counter] : entries) {
      BRAID_ASSIGN_OR_RETURN(const uint32_t num, num_for(id));
      local.Set(num, counter);
    }
    *vv = EncodeLocalVector(local);
  }
  clocks->clear();
  if (!r.field_clocks.empty()) {
    BRAID_ASSIGN_OR_RETURN(*clocks, ClocksToLocal(r.field_clocks, num_for));
  }
  return Status::OK();
}

}  // namespace braid

#endif  // BRAID_STORE_RECORD_COLUMNS_H_
