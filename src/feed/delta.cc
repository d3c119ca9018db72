#include "braid/delta.h"

#include <algorithm>
#include <string>
#include <unordered_map>

#include "base/encoding.h"
#include "base/validate.h"

namespace braid {
namespace {

constexpr unsigned char kCursorVersion = 1;
constexpr size_t kCursorBytes = 21;

void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian(std::string_view in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

// Compression states of one item within a page (see braid/delta.h).
enum class Fold { kCreate, kUpdate, kDelete, kNothing };

Fold Apply(std::optional<Fold> state, ChangeOp op) {
  if (!state) {
    return op == ChangeOp::kCreate   ? Fold::kCreate
           : op == ChangeOp::kUpdate ? Fold::kUpdate
                                     : Fold::kDelete;
  }
  switch (*state) {
    case Fold::kCreate:
      return op == ChangeOp::kDelete ? Fold::kNothing : Fold::kCreate;
    case Fold::kUpdate:
      return op == ChangeOp::kDelete ? Fold::kDelete : Fold::kUpdate;
    case Fold::kDelete:
      // The item came back (or, in a parent feed, moved back in).
      return op == ChangeOp::kDelete ? Fold::kDelete : Fold::kCreate;
    case Fold::kNothing:
      // Created and deleted within the page: for the client it never existed.
      return op == ChangeOp::kDelete ? Fold::kNothing : Fold::kCreate;
  }
  return Fold::kNothing;
}

}  // namespace

std::string EncodeCursor(const DeltaCursor& c) {
  std::string raw;
  raw.reserve(kCursorBytes);
  raw.push_back(static_cast<char>(kCursorVersion));
  PutBigEndian(&raw, c.epoch, 8);
  PutBigEndian(&raw, c.seq, 8);
  PutBigEndian(&raw, Fnv1a32(raw), 4);
  return Base64UrlEncode(raw);
}

Result<DeltaCursor> DecodeCursor(std::string_view text) {
  const auto raw = Base64UrlDecode(text);
  if (!raw || raw->size() != kCursorBytes ||
      static_cast<unsigned char>((*raw)[0]) != kCursorVersion ||
      GetBigEndian(std::string_view(*raw).substr(17), 4) !=
          Fnv1a32(std::string_view(*raw).substr(0, 17))) {
    return Status::ResyncRequired(
        "the cursor is not one this server issued; drop it and sync again without a cursor");
  }
  DeltaCursor c;
  c.epoch = GetBigEndian(std::string_view(*raw).substr(1), 8);
  c.seq = GetBigEndian(std::string_view(*raw).substr(9), 8);
  return c;
}

std::vector<DeltaItem> CompressEvents(std::vector<ChangeEvent> events) {
  struct Slot {
    std::optional<Fold> fold;
    size_t last = 0;  // index in `events` of the item's last event
  };
  std::unordered_map<std::string, Slot> slots;
  slots.reserve(events.size());
  std::string key;
  for (size_t i = 0; i < events.size(); ++i) {
    key.assign(events[i].collection);
    key.push_back('\0');
    key.append(events[i].id);
    Slot& slot = slots[key];
    slot.fold = Apply(slot.fold, events[i].op);
    slot.last = i;
  }
  std::vector<DeltaItem> items;
  items.reserve(slots.size());
  for (auto& [k, slot] : slots) {
    if (*slot.fold == Fold::kNothing) continue;
    ChangeEvent& e = events[slot.last];
    DeltaItem& item = items.emplace_back();
    item.type = *slot.fold == Fold::kCreate   ? ChangeOp::kCreate
                : *slot.fold == Fold::kUpdate ? ChangeOp::kUpdate
                                              : ChangeOp::kDelete;
    item.collection = std::move(e.collection);
    item.id = std::move(e.id);
    item.parent = std::move(e.parent);
    item.seq = e.seq;
    if (item.type != ChangeOp::kDelete) {
      item.record = std::move(e.record);
      if (item.record && item.record->deleted) {
        // Deleted after this page: say so now rather than send a dead body.
        item.type = ChangeOp::kDelete;
        item.record.reset();
      }
    }
  }
  std::sort(items.begin(), items.end(),
            [](const DeltaItem& a, const DeltaItem& b) { return a.seq < b.seq; });
  return items;
}

Result<DeltaPage> ReadDelta(Store& store, const DeltaRequest& req) {
  if (req.limit < 1 || req.limit > kMaxDeltaLimit) {
    return Status::InvalidArgument("limit must be between 1 and " + std::to_string(kMaxDeltaLimit));
  }
  if (req.collection) BRAID_RETURN_IF_ERROR(ValidateCollection(*req.collection));
  if (req.parent) BRAID_RETURN_IF_ERROR(ValidateParent(*req.parent));
  std::optional<DeltaCursor> cursor;
  if (!req.cursor.empty()) {
    BRAID_ASSIGN_OR_RETURN(cursor, DecodeCursor(req.cursor));
  }
  ChangeQuery q;
  q.after_seq = cursor ? cursor->seq : 0;
  q.limit = req.limit;
  q.collection = req.collection;
  q.parent = req.parent;
  BRAID_ASSIGN_OR_RETURN(ChangePage changes, store.ReadChanges(q));
  if (cursor) {
    if (cursor->epoch != changes.epoch) {
      return Status::ResyncRequired(
          "the cursor was issued by another store (or before this one was copied); "
          "sync again without a cursor");
    }
    if (cursor->seq > changes.last_seq) {
      return Status::ResyncRequired(
          "the cursor is ahead of this store's change log (was the store restored from a "
          "backup?); sync again without a cursor");
    }
    if (cursor->seq < changes.horizon) {
      return Status::ResyncRequired(
          "the cursor is older than the compacted part of the change log; "
          "sync again without a cursor");
    }
  }
  DeltaPage page;
  page.has_more = changes.has_more;
  page.last_seq = changes.last_seq;
  page.cursor = EncodeCursor({changes.epoch, changes.complete_to});
  page.items = CompressEvents(std::move(changes.events));
  return page;
}

}  // namespace braid
