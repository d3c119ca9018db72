#include "mirror/clean.h"

namespace braid::mirror {
namespace {

constexpr size_t kPage = 10'000;
constexpr size_t kPageBytes = size_t{64} << 20;
constexpr size_t kExamples = 5;

}  // namespace

Result<UnsentWrites> FindUnsentWrites(
    Store& store, const std::vector<std::pair<Remote, VersionVector>>& remotes) {
  const InstanceId self = store.instance_id();
  UnsentWrites out;
  uint64_t after = 0;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const auto entries,
                           store.StreamVersions(self, after, kPage, kPageBytes));
    if (entries.empty()) return out;
    for (const StreamedVersion& e : entries) {
      after = e.position;
      if (e.stale) continue;
      bool held = false;
      for (const auto& [remote, fsic] : remotes) {
        if ((remote.filter.empty() || InScope(remote.filter, e.record.partition)) &&
            fsic.Get(self) >= e.position) {
          held = true;
          break;
        }
      }
      if (held) continue;
      ++out.count;
      if (out.examples.size() < kExamples) {
        out.examples.push_back(e.record.collection + "/" + e.record.id);
      }
    }
  }
}

}  // namespace braid::mirror
