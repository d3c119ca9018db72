#include "store/merge.h"

#include <algorithm>

namespace braid {
namespace {

// Same deletion state and the same present field values (writes ignored):
// what a person would call "the same record".
bool SameValues(const Content& a, const Content& b) {
  if (a.deleted != b.deleted) return false;
  auto present = [](const Content& c) {
    std::vector<std::pair<std::string_view, std::string_view>> v;
    for (const auto& f : c.fields) {
      if (f.value) v.emplace_back(f.name, *f.value);
    }
    return v;
  };
  return present(a) == present(b);
}

// The order whole-version choices use (the lww winner, and the parent under
// merge): HLC, then the content (deletion, field values, parent), then the
// version name. A version a merge made carries the greater HLC of the two it
// merged (see Merge's caller) and, under lww, the winner's content, so it
// sorts just where the winner does: taking the greater is a join, whatever
// the order of merges. (Its name differs, but names only break ties between
// versions whose HLC and content are the same.)
bool LaterVersion(const Record& a, const Content& ca, const Record& b, const Content& cb) {
  if (a.hlc != b.hlc) return a.hlc > b.hlc;
  if (ca.deleted != cb.deleted) return ca.deleted;
  auto values = [](const Content& c) {
    std::vector<std::pair<std::string_view, std::string_view>> v;
    for (const auto& f : c.fields) {
      if (f.value) v.emplace_back(f.name, *f.value);
    }
    return v;
  };
  if (auto va = values(ca), vb = values(cb); va != vb) return va > vb;
  if (ca.parent != cb.parent) return ca.parent > cb.parent;
  return std::make_pair(a.version.origin, a.version.counter) >
         std::make_pair(b.version.origin, b.version.counter);
}

// Of two states of a field written by the same write (only a faulty peer
// sends that with different values): the same choice on every replica.
const FieldState& SameWriteWinner(const FieldState& a, const FieldState& b) {
  return std::make_pair(a.value.has_value(), a.value) >=
                 std::make_pair(b.value.has_value(), b.value)
             ? a
             : b;
}

void AddConflict(std::vector<std::string>* conflicts, std::string entry) {
  auto it = std::lower_bound(conflicts->begin(), conflicts->end(), entry);
  if (it == conflicts->end() || *it != entry) conflicts->insert(it, std::move(entry));
}

// Field-level merge of two live records (the `merge` policy).
Content MergeFields(const Content& l, const Content& i, const VersionVector& lvv,
                    const VersionVector& ivv, bool* conflict) {
  Content m;
  m.conflicts = UnionConflicts(l.conflicts, i.conflicts);
  auto li = l.fields.begin(), ii = i.fields.begin();
  while (li != l.fields.end() || ii != i.fields.end()) {
    if (ii == i.fields.end() || (li != l.fields.end() && li->name < ii->name)) {
      // Only local has it. If incoming knows the write, incoming dropped the
      // field (a delete and re-create): the later history wins.
      if (!li->write.KnownBy(ivv)) m.fields.push_back(*li);
      ++li;
    } else if (li == l.fields.end() || ii->name < li->name) {
      if (!ii->write.KnownBy(lvv)) m.fields.push_back(*ii);
      ++ii;
    } else {
      if (li->write == ii->write) {
        m.fields.push_back(SameWriteWinner(*li, *ii));
      } else {
        const bool incoming_wins = li->write < ii->write;
        const FieldState& winner = incoming_wins ? *ii : *li;
        const FieldState& loser = incoming_wins ? *li : *ii;
        // Written on both sides without either knowing the other's write:
        // the losing value is a conflict, kept for a person to look at.
        const bool concurrent = !li->write.KnownBy(ivv) && !ii->write.KnownBy(lvv);
        if (concurrent && loser.value != winner.value) {
          AddConflict(&m.conflicts, FieldConflict(loser));
          *conflict = true;
        }
        m.fields.push_back(winner);
      }
      ++li;
      ++ii;
    }
  }
  return m;
}

}  // namespace

Result<MergeDecision> Merge(const Record& local, const Record& incoming, ConflictPolicy policy) {
  MergeDecision d;
  const Ordering order = incoming.vv.Compare(local.vv);
  if (order == Ordering::kBefore || order == Ordering::kEqual) return d;  // kIgnore
  if (order == Ordering::kAfter) {
    d.kind = MergeDecision::Kind::kTakeIncoming;
    d.vv = incoming.vv;
    return d;
  }
  d.vv = local.vv;
  d.vv.MergeFrom(incoming.vv);
  if (policy == ConflictPolicy::kSkip) {
    d.kind = MergeDecision::Kind::kHold;
    d.conflict = true;
    return d;
  }
  BRAID_ASSIGN_OR_RETURN(const Content l, ParseContent(local));
  BRAID_ASSIGN_OR_RETURN(const Content i, ParseContent(incoming));
  Content m;
  const bool incoming_later = LaterVersion(incoming, i, local, l);
  if (policy == ConflictPolicy::kMerge && l.deleted == i.deleted) {
    if (l.deleted) {
      m.deleted = true;
      m.conflicts = UnionConflicts(l.conflicts, i.conflicts);
    } else {
      m = MergeFields(l, i, local.vv, incoming.vv, &d.conflict);
    }
    m.parent = incoming_later ? i.parent : l.parent;
  } else {
    // Whole-version policies; and under `merge`, a delete concurrent with an
    // update: the update wins, the delete is listed.
    bool incoming_wins = false;
    switch (policy) {
      case ConflictPolicy::kMerge:
        incoming_wins = local.deleted;
        break;
      case ConflictPolicy::kLww:
        incoming_wins = incoming_later;
        break;
      case ConflictPolicy::kRemoteWins:
        incoming_wins = true;
        break;
      case ConflictPolicy::kLocalWins:
      case ConflictPolicy::kSkip:
        incoming_wins = false;
        break;
    }
    const Content& w = incoming_wins ? i : l;
    const Content& lost = incoming_wins ? l : i;
    m.deleted = w.deleted;
    m.parent = w.parent;
    m.fields = w.fields;
    m.conflicts = UnionConflicts(l.conflicts, i.conflicts);
    if (!SameValues(w, lost)) {
      AddConflict(&m.conflicts, VersionConflict(incoming_wins ? local : incoming));
      d.conflict = true;
    }
  }
  const bool same_as_local = m == l, same_as_incoming = m == i;
  if (same_as_local && same_as_incoming) {
    // Both sides already agree: every replica picks the same version.
    const auto key = [](const Record& r) {
      return std::make_pair(r.version.origin, r.version.counter);
    };
    d.kind = key(local) < key(incoming) ? MergeDecision::Kind::kTakeIncoming
                                        : MergeDecision::Kind::kKeepLocal;
  } else if (same_as_local) {
    d.kind = MergeDecision::Kind::kKeepLocal;
  } else if (same_as_incoming) {
    d.kind = MergeDecision::Kind::kTakeIncoming;
  } else {
    d.kind = MergeDecision::Kind::kNewVersion;
    d.content = std::move(m);
  }
  return d;
}

}  // namespace braid
