// The entries of an origin's version stream as a store gives them to
// replication (Store::StreamVersions, Store::StreamWireVersions;
// docs/protocol.md, "Stream order").

#ifndef BRAID_VERSION_STREAM_H_
#define BRAID_VERSION_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "braid/record.h"
#include "braid/version_vector.h"

namespace braid {

// One entry of an origin's version stream (replication, docs/protocol.md):
// a record whose version vector includes `origin`'s write `position`.
// Entries are never moved when a record's vector grows (that would cost a
// random write per update): the old entry stays, marked stale, until
// compaction purges it. Senders skip stale entries.
struct StreamedVersion {
  uint64_t position = 0;
  bool stale = false;  // the record's vector has a later write of the origin now
  Record record;
};

// Entries of a version stream in their wire form (docs/protocol.md), for a
// sender that forwards records as they are: no Record is built per entry.
// `text` holds each entry's record as WriteWireRecord writes it, and its
// name; an entry gives offsets into it.
struct WireVersions {
  struct Span {
    size_t at = 0, size = 0;
  };
  struct Entry {
    uint64_t position = 0;
    bool stale = false;  // as in StreamedVersion
    Span json, collection, id, partition;
    // The record's version vector when it has more than its own version;
    // empty when it is just {version}.
    VersionVector vv;
  };
  std::string text;
  std::vector<Entry> entries;

  std::string_view View(Span s) const { return std::string_view(text).substr(s.at, s.size); }
};

}  // namespace braid

#endif  // BRAID_VERSION_STREAM_H_
