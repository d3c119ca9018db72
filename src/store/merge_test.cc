#include "store/merge.h"

#include <gtest/gtest.h>

#include <random>

namespace braid {
namespace {

InstanceId Id(char c) { return *InstanceId::FromHex(std::string(32, c)); }

// Builds versions the way replicas make them: local writes through
// ContentAfterPut, each taking the writer's next counter and a later HLC.
class Writer {
 public:
  Writer(char name, uint64_t hlc_base) : id_(Id(name)), hlc_(hlc_base) {}

  Record Put(const Record& base, const std::string& body) {
    Record next = base;
    const FieldWrite w{++hlc_, id_, ++counter_};
    Content c = *ContentAfterPut(base, body, w);
    next.version = {id_, counter_};
    next.hlc = w.hlc;
    next.vv.Set(id_, counter_);
    next.deleted = false;
    next.body = body;
    next.field_clocks = ClocksFor(c, w);
    next.conflicts = ConflictsText(c);
    return next;
  }
  Record Delete(const Record& base) {
    Record next = base;
    next.version = {id_, ++counter_};
    next.hlc = ++hlc_;
    next.vv.Set(id_, counter_);
    next.deleted = true;
    next.body = "{}";
    next.field_clocks.clear();
    return next;
  }

 private:
  InstanceId id_;
  uint64_t hlc_;
  uint64_t counter_ = 0;
};

Record Empty() {
  Record r;
  r.collection = "notes";
  r.id = "n1";
  r.partition = "notes";
  r.deleted = true;  // "never existed": a put starts fresh
  r.body = "{}";
  return r;
}

MergeDecision M(const Record& l, const Record& i, ConflictPolicy p = ConflictPolicy::kMerge) {
  auto d = Merge(l, i, p);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return d.ok() ? *d : MergeDecision{};
}

using K = MergeDecision::Kind;

TEST(MergeTest, DominatedIsIgnoredDominatingIsTaken) {
  Writer a('a', 100);
  const Record v1 = a.Put(Empty(), R"({"x":1})");
  const Record v2 = a.Put(v1, R"({"x":2})");
  EXPECT_EQ(M(v2, v1).kind, K::kIgnore);
  EXPECT_EQ(M(v2, v2).kind, K::kIgnore);
  const MergeDecision d = M(v1, v2);
  EXPECT_EQ(d.kind, K::kTakeIncoming);
  EXPECT_EQ(d.vv, v2.vv);
  EXPECT_FALSE(d.conflict);
}

TEST(MergeTest, DisjointFieldEditsMergeWithoutConflict) {
  Writer a('a', 100), b('b', 100);
  const Record base = a.Put(Empty(), R"({"x":1,"y":1})");
  const Record l = a.Put(base, R"({"x":2,"y":1})");
  const Record i = b.Put(base, R"({"x":1,"y":3})");
  const MergeDecision d = M(l, i);
  EXPECT_EQ(d.kind, K::kNewVersion);
  EXPECT_FALSE(d.conflict);
  Record out = l;
  StoreContent(d.content, &out);
  EXPECT_EQ(out.body, R"({"x":2,"y":3})");
  EXPECT_EQ(d.vv.Get(Id('a')), 2u);
  EXPECT_EQ(d.vv.Get(Id('b')), 1u);
}

TEST(MergeTest, TheSameFieldWrittenOnBothSidesKeepsTheLoser) {
  Writer a('a', 100), b('b', 200);  // b's clock is later
  const Record base = a.Put(Empty(), R"({"x":1})");
  const Record l = a.Put(base, R"({"x":"from a"})");
  const Record i = b.Put(base, R"({"x":"from b"})");
  const MergeDecision d = M(l, i);
  EXPECT_TRUE(d.conflict);
  ASSERT_EQ(d.kind, K::kNewVersion);  // incoming's content plus a conflict
  Record out = l;
  StoreContent(d.content, &out);
  EXPECT_EQ(out.body, R"({"x":"from b"})");
  EXPECT_NE(out.conflicts.find(R"("value":"from a")"), std::string::npos) << out.conflicts;
  // Both replicas compute the same content.
  const MergeDecision other = M(i, l);
  EXPECT_EQ(other.content, d.content);
}

TEST(MergeTest, EqualConcurrentValuesAreNoConflict) {
  Writer a('a', 100), b('b', 200);
  const Record base = a.Put(Empty(), R"({"x":1})");
  const Record l = a.Put(base, R"({"x":2})");
  const Record i = b.Put(base, R"({"x":2})");
  EXPECT_FALSE(M(l, i).conflict);
}

TEST(MergeTest, AnUpdateBeatsAConcurrentDeleteWhichIsListed) {
  Writer a('a', 100), b('b', 50);  // the delete is even later by clock
  const Record base = b.Put(Empty(), R"({"x":1})");
  const Record deleted = a.Delete(base);
  const Record updated = b.Put(base, R"({"x":2})");
  for (const auto& [l, i] : {std::pair(deleted, updated), std::pair(updated, deleted)}) {
    const MergeDecision d = M(l, i);
    EXPECT_TRUE(d.conflict);
    ASSERT_EQ(d.kind, K::kNewVersion);
    EXPECT_FALSE(d.content.deleted);
    Record out = l;
    StoreContent(d.content, &out);
    EXPECT_EQ(out.body, R"({"x":2})");
    EXPECT_NE(out.conflicts.find(R"("deleted":true)"), std::string::npos);
  }
}

TEST(MergeTest, ConcurrentDeletesAgreeWithoutANewVersion) {
  Writer a('a', 100), b('b', 100);
  const Record base = a.Put(Empty(), R"({"x":1})");
  const Record l = a.Delete(base), i = b.Delete(base);
  const MergeDecision d1 = M(l, i), d2 = M(i, l);
  EXPECT_FALSE(d1.conflict);
  // Same content both ways: both replicas keep the greater version (b's).
  EXPECT_EQ(d1.kind, K::kTakeIncoming);
  EXPECT_EQ(d2.kind, K::kKeepLocal);
}

TEST(MergeTest, IdenticalMergeResultsDoNotPingPong) {
  Writer a('a', 100), b('b', 100);
  const Record base = a.Put(Empty(), R"({"p":1,"q":1})");
  const Record l = a.Put(base, R"({"p":2,"q":1})");
  const Record i = b.Put(base, R"({"p":1,"q":2})");
  // Replicas x and y each merge l and i into a new version of their own.
  auto merged = [&](char replica, const MergeDecision& d) {
    Record r = l;
    r.version = {Id(replica), 1};
    r.hlc = 400;
    r.vv = d.vv;
    r.vv.Set(r.version.origin, 1);
    StoreContent(d.content, &r);
    return r;
  };
  const Record mx = merged('c', M(l, i)), my = merged('d', M(i, l));
  ASSERT_EQ(mx.body, my.body);
  const MergeDecision d = M(mx, my);
  EXPECT_NE(d.kind, K::kNewVersion);
  EXPECT_FALSE(d.conflict);
}

TEST(MergeTest, WholeVersionPolicies) {
  Writer a('a', 100), b('b', 200);
  const Record base = a.Put(Empty(), R"({"x":1,"y":1})");
  const Record l = a.Put(base, R"({"x":2,"y":1})");
  const Record i = b.Put(base, R"({"x":1,"y":3})");
  // lww: b's write is later, it wins whole; a's version is listed.
  MergeDecision d = M(l, i, ConflictPolicy::kLww);
  EXPECT_TRUE(d.conflict);
  Record out = l;
  StoreContent(d.content, &out);
  EXPECT_EQ(out.body, R"({"x":1,"y":3})");
  EXPECT_NE(out.conflicts.find(l.version.ToString()), std::string::npos);
  // remote-wins / local-wins.
  d = M(l, i, ConflictPolicy::kRemoteWins);
  StoreContent(d.content, &out);
  EXPECT_EQ(out.body, R"({"x":1,"y":3})");
  d = M(l, i, ConflictPolicy::kLocalWins);
  StoreContent(d.content, &out);
  EXPECT_EQ(out.body, R"({"x":2,"y":1})");
  // skip holds the incoming version.
  d = M(l, i, ConflictPolicy::kSkip);
  EXPECT_EQ(d.kind, K::kHold);
  // A dominating version is never a conflict, whatever the policy.
  EXPECT_EQ(M(base, l, ConflictPolicy::kSkip).kind, K::kTakeIncoming);
}

// The outcome at a replica that had `local` and received `incoming`: the
// stored version (or "new") and content.
struct Outcome {
  std::string version;
  Content content;
  VersionVector vv;
};

Outcome Apply(const Record& local, const Record& incoming, ConflictPolicy p) {
  const MergeDecision d = M(local, incoming, p);
  Outcome o;
  switch (d.kind) {
    case K::kIgnore:
      o.version = local.version.ToString();
      o.content = *ParseContent(local);
      o.vv = local.vv;
      break;
    case K::kTakeIncoming:
      o.version = incoming.version.ToString();
      o.content = *ParseContent(incoming);
      o.vv = d.vv;
      break;
    case K::kKeepLocal:
      o.version = local.version.ToString();
      o.content = *ParseContent(local);
      o.vv = d.vv;
      break;
    case K::kNewVersion:
    case K::kHold:
      o.version = "new";
      o.content = d.content;
      o.vv = d.vv;
      break;
  }
  return o;
}

// What a replica stores after merging `incoming` into `local` (as Apply
// does: a new version of its own carries the greater HLC of the two).
Record Stored(const Record& local, const Record& incoming, ConflictPolicy p, char replica) {
  const MergeDecision d = M(local, incoming, p);
  Record r = d.kind == K::kTakeIncoming ? incoming : local;
  if (d.kind == K::kIgnore) return r;
  r.vv = d.vv;
  if (d.kind == K::kNewVersion) {
    r.version = {Id(replica), 1};
    r.vv.Set(r.version.origin, 1);
    r.hlc = std::max(local.hlc, incoming.hlc);
    StoreContent(d.content, &r);
  }
  return r;
}

// Three concurrent versions, merged in every order: the same content. Under
// lww the latest write wins however the others were merged first; under
// merge the parent comes from the latest version the same way.
TEST(MergeTest, WholeVersionChoicesAreJoins) {
  for (const ConflictPolicy p : {ConflictPolicy::kLww, ConflictPolicy::kMerge}) {
    Writer a('a', 100), b('b', 200), c('c', 300);
    const Record base = a.Put(Empty(), R"({"x":0,"y":0,"z":0})");
    Record va = a.Put(base, R"({"x":1,"y":0,"z":0})");
    Record vb = b.Put(base, R"({"x":0,"y":2,"z":0})");
    Record vc = c.Put(base, R"({"x":0,"y":0,"z":3})");
    va.parent = "pa";
    vb.parent = "pb";
    vc.parent = "pc";
    const Record ab_c = Stored(Stored(va, vb, p, 'd'), vc, p, 'e');
    const Record a_bc = Stored(va, Stored(vb, vc, p, 'd'), p, 'e');
    const Record ac_b = Stored(Stored(va, vc, p, 'd'), vb, p, 'e');
    const Content x = *ParseContent(ab_c), y = *ParseContent(a_bc), z = *ParseContent(ac_b);
    auto values = [](Content c) {
      c.conflicts.clear();
      for (auto& f : c.fields) f.write = {};
      return c;
    };
    EXPECT_EQ(values(x), values(y)) << PolicyName(p) << ": " << ab_c.body << " vs " << a_bc.body;
    EXPECT_EQ(values(x), values(z)) << PolicyName(p) << ": " << ab_c.body << " vs " << ac_b.body;
    EXPECT_EQ(x.parent, "pc") << PolicyName(p);
    if (p == ConflictPolicy::kLww) {
      EXPECT_EQ(ab_c.body, R"({"x":0,"y":0,"z":3})");
    }
  }
}

// A faulty peer may send one write with two values; every replica still
// keeps the same one.
TEST(MergeTest, OneWriteWithTwoValuesIsDecidedTheSameEverywhere) {
  Writer a('a', 100), b('b', 200);
  const Record base = a.Put(Empty(), R"({"x":1})");
  const Record l = b.Put(base, R"({"x":1,"y":1})");
  const Record i = a.Put(base, R"({"x":1,"z":1})");  // x keeps the write a:1
  Record forged = i;
  forged.body = R"({"x":9,"z":1})";  // x claims a's first write, with another value
  const Outcome one = Apply(l, forged, ConflictPolicy::kMerge);
  const Outcome two = Apply(forged, l, ConflictPolicy::kMerge);
  EXPECT_EQ(one.content, two.content);
}

// Random concurrent histories: whichever replica merges, and in whichever
// order it receives the versions, it ends with the same content.
TEST(MergeTest, RandomConcurrentEditsConvergeInAnyOrder) {
  for (const ConflictPolicy p : {ConflictPolicy::kMerge, ConflictPolicy::kLww}) {
    std::mt19937 rng(7);
    for (int round = 0; round < 500; ++round) {
      Writer a('a', rng() % 1000), b('b', rng() % 1000);
      auto random_body = [&]() {
        std::string body = "{";
        for (char f = 'p'; f <= 't'; ++f) {
          if (rng() % 3 == 0) continue;
          if (body.size() > 1) body += ",";
          body += std::string("\"") + f + "\":" + std::to_string(rng() % 3);
        }
        return body + "}";
      };
      Record base = a.Put(Empty(), random_body());
      Record l = base, i = base;
      for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) {
        l = rng() % 5 == 0 ? a.Delete(l) : a.Put(l, random_body());
      }
      for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) {
        i = rng() % 5 == 0 ? b.Delete(i) : b.Put(i, random_body());
      }
      const Outcome x = Apply(l, i, p), y = Apply(i, l, p);
      EXPECT_EQ(x.content, y.content) << "round " << round << " policy " << PolicyName(p);
      EXPECT_EQ(x.version, y.version) << "round " << round;
      EXPECT_EQ(x.vv, y.vv);
    }
  }
}

}  // namespace
}  // namespace braid
