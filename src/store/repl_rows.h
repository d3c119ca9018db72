// What the replication reads of every backend share (internal): the FSIC
// of a filter from the stored FSIC rows, and the wire form of the rows of a
// version stream.

#ifndef BRAID_STORE_REPL_ROWS_H_
#define BRAID_STORE_REPL_ROWS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/json.h"
#include "braid/instance_id.h"
#include "braid/status.h"
#include "braid/version_stream.h"
#include "braid/version_vector.h"
#include "store/codec.h"
#include "store/content.h"
#include "store/wire.h"

namespace braid {

// A row of the fsic table: the store holds every write of `origin` (a
// local instance number) up to `counter` within partition prefix `prefix`.
struct FsicRow {
  std::string prefix;
  uint32_t origin = 0;
  uint64_t counter = 0;
};

// The FSIC of the filter `prefixes` (empty: everything) that `rows` say,
// `id_for` naming their instances: per prefix, the best of every stored
// prefix that covers it; of the filter, what every one of its prefixes
// holds. (The store's own entry is its counter: the caller's to set.)
Result<VersionVector> FilterFsic(const std::vector<FsicRow>& rows,
                                 const std::vector<std::string>& prefixes, const IdForNum& id_for);

// Builds StreamWireVersions' answer from the rows of a version stream's
// query, in counter order: column 0 the entry's counter, columns 1.. the
// record columns both backends select (collection, id, partition, parent,
// deleted, origin, counter, vv, hlc, clocks, body, conflicts), read as
// sqlite::Stmt and pg::Row read them. Each row goes from its columns
// straight into its wire form: a sender building a chunk spent about a
// quarter of its time allocating, moving and freeing the strings of
// Records it only wrote out again.
class WireStreamWriter {
 public:
  using IdFor = std::function<Result<InstanceId>(uint32_t num)>;
  using VectorFor = std::function<Result<VersionVector>(const LocalVector& local)>;

  // For the stream of `origin` (local number `origin_num`), at most `limit`
  // rows, stopping once their JSON adds up to `max_bytes`. `id_for` and
  // `vector_for` turn local numbers into instance ids.
  WireStreamWriter(const InstanceId& origin, uint32_t origin_num, size_t limit, size_t max_bytes,
                   IdFor id_for, VectorFor vector_for);

  // False once the entries added reach the byte budget (the one that
  // reached it is kept).
  bool wants_more() const { return bytes_ < max_bytes_; }
  template <typename Row>
  Status Add(const Row& row);
  WireVersions Finish() { return std::move(out_); }

 private:
  WireVersions::Span Append(std::string_view v) {
    const WireVersions::Span span{out_.text.size(), v.size()};
    out_.text.append(v);
    return span;
  }

  const InstanceId origin_;
  const uint32_t origin_num_;
  const size_t max_bytes_;
  const IdFor id_for_;
  const VectorFor vector_for_;
  WireVersions out_;
  // Most rows of a stream were written by one instance: its id is looked
  // up once, not per row.
  std::optional<std::pair<uint32_t, InstanceId>> writer_;
  std::string clocks_;  // scratch
  size_t bytes_ = 0;
};

template <typename Row>
Status WireStreamWriter::Add(const Row& row) {
  WireVersions::Entry& e = out_.entries.emplace_back();
  e.position = static_cast<uint64_t>(row.Int(0));
  WireFields f;
  f.collection = row.Text(1);
  f.id = row.Text(2);
  f.partition = row.IsNull(3) ? f.collection : row.Text(3);
  if (!row.IsNull(4)) f.parent = row.Text(4);
  f.deleted = row.Bool(5);
  const auto writer_num = static_cast<uint32_t>(row.Int(6));
  if (!writer_ || writer_->first != writer_num) {
    BRAID_ASSIGN_OR_RETURN(const InstanceId id, id_for_(writer_num));
    writer_.emplace(writer_num, id);
  }
  f.version = {writer_->second, static_cast<uint64_t>(row.Int(7))};
  if (row.IsNull(8)) {
    // Just {writer: counter}.
    e.stale = !(writer_num == origin_num_ && f.version.counter == e.position);
  } else {
    BRAID_ASSIGN_OR_RETURN(const LocalVector local, DecodeLocalVector(row.Blob(8)));
    BRAID_ASSIGN_OR_RETURN(e.vv, vector_for_(local));
    e.stale = e.vv.Get(origin_) != e.position;
    f.vv = &e.vv;
  }
  f.hlc = static_cast<uint64_t>(row.Int(9));
  if (!row.IsNull(10)) {
    BRAID_ASSIGN_OR_RETURN(clocks_, ClocksFromLocal(row.Blob(10), id_for_));
    f.field_clocks = clocks_;
  }
  f.body = row.Text(11);
  if (!row.IsNull(12)) f.conflicts = row.Text(12);
  const size_t json_at = out_.text.size();
  json::Writer w(&out_.text);
  WriteWireRecord(w, f);
  e.json = {json_at, out_.text.size() - json_at};
  e.collection = Append(f.collection);
  e.id = Append(f.id);
  e.partition = row.IsNull(3) ? e.collection : Append(f.partition);
  bytes_ += e.json.size;
  return Status::OK();
}

}  // namespace braid

#endif  // BRAID_STORE_REPL_ROWS_H_
