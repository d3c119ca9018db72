// InstanceCache: a store's committed instance dictionary entries (local
// number <-> instance id), shared by its connections (internal).
//
// Backends keep instance ids as small local numbers (codec.h); an entry
// never changes once committed, so it is cached for the store's lifetime.
// Entries a write transaction added reach the cache only once it commits.
//
// Thread-safe.

#ifndef BRAID_STORE_INSTANCE_CACHE_H_
#define BRAID_STORE_INSTANCE_CACHE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>

#include "base/mutex.h"
#include "braid/instance_id.h"

namespace braid {

class InstanceCache {
 public:
  std::optional<InstanceId> Find(uint32_t num) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    auto it = ids_.find(num);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<uint32_t> NumOf(const InstanceId& id) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    auto it = nums_.find(id);
    if (it == nums_.end()) return std::nullopt;
    return it->second;
  }
  void Add(uint32_t num, const InstanceId& id) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    ids_.emplace(num, id);
    nums_.emplace(id, num);
  }

 private:
  Mutex mu_;
  std::unordered_map<uint32_t, InstanceId> ids_ GUARDED_BY(mu_);
  std::map<InstanceId, uint32_t> nums_ GUARDED_BY(mu_);
};

}  // namespace braid

#endif  // BRAID_STORE_INSTANCE_CACHE_H_
