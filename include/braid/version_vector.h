// Version vectors: which writes a record version includes.
//
// A version vector maps an instance to the highest counter of that instance
// whose write the version includes (absent means 0). Entries are kept sorted
// by key with no zero counters, so equal vectors have equal representations.
//
// Comparison is the usual partial order: A dominates B when every entry of A
// is >= the one in B and some entry is greater. Two versions where neither
// dominates are concurrent: a conflict, resolved by the collection's policy.
// braid never compares wall-clock times to detect conflicts.
//
// Text form (wire and API): a JSON object {"<instance hex>": counter, ...}.
// The store keeps a compact binary form keyed by a local instance number
// (docs/storage.md).

#ifndef BRAID_VERSION_VECTOR_H_
#define BRAID_VERSION_VECTOR_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "braid/instance_id.h"

namespace braid {

enum class Ordering { kEqual, kBefore, kAfter, kConcurrent };

template <typename Key>
class BasicVersionVector {
 public:
  using Entry = std::pair<Key, uint64_t>;

  BasicVersionVector() = default;

  // From entries sorted by key, unique, with no zero counters (the caller
  // checks): linear, where Set() per entry would be quadratic for input in
  // descending order.
  static BasicVersionVector FromSortedEntries(std::vector<Entry> entries) {
    BasicVersionVector vv;
    vv.entries_ = std::move(entries);
    return vv;
  }

  uint64_t Get(const Key& key) const {
    auto it = Find(key);
    return it != entries_.end() && it->first == key ? it->second : 0;
  }

  // Sets the entry for `key`; a counter of 0 removes it.
  void Set(const Key& key, uint64_t counter) {
    auto it = Find(key);
    if (it != entries_.end() && it->first == key) {
      if (counter == 0) {
        entries_.erase(it);
      } else {
        it->second = counter;
      }
    } else if (counter != 0) {
      entries_.insert(it, Entry{key, counter});
    }
  }

  // Pointwise maximum with `other`.
  void MergeFrom(const BasicVersionVector& other) {
    for (const auto& [k, c] : other.entries_) {
      if (c > Get(k)) Set(k, c);
    }
  }

  // How this vector relates to `other`: kAfter when this dominates it,
  // kBefore when it dominates this.
  Ordering Compare(const BasicVersionVector& other) const {
    bool greater = false, less = false;
    auto a = entries_.begin(), b = other.entries_.begin();
    while (a != entries_.end() || b != other.entries_.end()) {
      if (b == other.entries_.end() || (a != entries_.end() && a->first < b->first)) {
        greater = true;
        ++a;
      } else if (a == entries_.end() || b->first < a->first) {
        less = true;
        ++b;
      } else {
        if (a->second > b->second) greater = true;
        if (a->second < b->second) less = true;
        ++a;
        ++b;
      }
    }
    if (greater && less) return Ordering::kConcurrent;
    if (greater) return Ordering::kAfter;
    if (less) return Ordering::kBefore;
    return Ordering::kEqual;
  }

  // True when every write this vector includes is included by `other` too.
  bool IsIncludedIn(const BasicVersionVector& other) const {
    const Ordering o = Compare(other);
    return o == Ordering::kEqual || o == Ordering::kBefore;
  }

  const std::vector<Entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  bool operator==(const BasicVersionVector&) const = default;

 private:
  typename std::vector<Entry>::iterator Find(const Key& key) {
    return std::lower_bound(entries_.begin(), entries_.end(), key,
                            [](const Entry& e, const Key& k) { return e.first < k; });
  }
  typename std::vector<Entry>::const_iterator Find(const Key& key) const {
    return std::lower_bound(entries_.begin(), entries_.end(), key,
                            [](const Entry& e, const Key& k) { return e.first < k; });
  }

  std::vector<Entry> entries_;
};

using VersionVector = BasicVersionVector<InstanceId>;

// The most entries a version vector from outside may have: far more
// instances than any deployment syncs, few enough to bound the work a
// malformed one can cause.
inline constexpr size_t kMaxVersionVectorEntries = 65536;

// {"<instance hex>": counter, ...} in key order.
std::string VersionVectorToJson(const VersionVector& vv);
// Parses the text form. Errors: InvalidArgument for anything that is not an
// object of 32-hex-digit keys (not all zero) to counters from 1 to 2^63-1,
// has duplicates, or more than kMaxVersionVectorEntries entries.
Result<VersionVector> VersionVectorFromJson(std::string_view text);

}  // namespace braid

#endif  // BRAID_VERSION_VECTOR_H_
