#include "store/repl_rows.h"

#include <algorithm>
#include <map>

#include "base/validate.h"

namespace braid {

Result<VersionVector> FilterFsic(const std::vector<FsicRow>& rows,
                                 const std::vector<std::string>& requested,
                                 const IdForNum& id_for) {
  const std::vector<std::string> prefixes =
      requested.empty() ? std::vector<std::string>{""} : requested;
  std::map<uint32_t, uint64_t> result;
  bool first = true;
  for (const std::string& p : prefixes) {
    // Effective FSIC of p: the best of every stored prefix that covers it.
    std::map<uint32_t, uint64_t> eff;
    for (const FsicRow& row : rows) {
      if (!row.prefix.empty() && !PartitionCovers(row.prefix, p)) continue;
      uint64_t& c = eff[row.origin];
      c = std::max(c, row.counter);
    }
    // The filter's FSIC is what every one of its prefixes holds.
    if (first) {
      result = std::move(eff);
      first = false;
    } else {
      for (auto it = result.begin(); it != result.end();) {
        auto e = eff.find(it->first);
        if (e == eff.end()) {
          it = result.erase(it);
        } else {
          it->second = std::min(it->second, e->second);
          ++it;
        }
      }
    }
  }
  VersionVector vv;
  for (const auto& [num, counter] : result) {
    BRAID_ASSIGN_OR_RETURN(const InstanceId id, id_for(num));
    vv.Set(id, counter);
  }
  return vv;
}

WireStreamWriter::WireStreamWriter(const InstanceId& origin, uint32_t origin_num, size_t limit,
                                   size_t max_bytes, IdFor id_for, VectorFor vector_for)
    : origin_(origin),
      origin_num_(origin_num),
      max_bytes_(max_bytes),
      id_for_(std::move(id_for)),
      vector_for_(std::move(vector_for)) {
  out_.entries.reserve(std::min<size_t>(limit, 65536));
  // About what a ~200-byte record takes, so a chunk's text rarely moves.
  out_.text.reserve(std::min(max_bytes, std::min<size_t>(limit, 65536) * 384));
}

}  // namespace braid
