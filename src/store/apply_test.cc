// The store's replication side: applying peer versions, version streams,
// FSIC, held versions, conflict resolution, settings. Part of the store
// test suite: every test runs on every backend (test_backends.h).

#include <gtest/gtest.h>

#include "braid/hlc.h"
#include "braid/store.h"
#include "store/test_backends.h"
#include "store/wire.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace braid {
namespace {

InstanceId Id(char c) { return *InstanceId::FromHex(std::string(32, c)); }

class ApplyTest : public ::testing::TestWithParam<testing::TestBackend> {
 protected:
  void SetUp() override {
    auto store =
        Store::Open(GetParam().spec(dir_.path(), "store"), testing::TestStoreOptions(&clock_));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    self_ = store_->instance_id();
  }

  // A version written by `origin`.
  Record Peer(char origin, uint64_t counter, std::string body, std::string id = "n1") {
    Record r;
    r.collection = "notes";
    r.id = std::move(id);
    r.partition = "notes";
    r.version = {Id(origin), counter};
    r.vv.Set(Id(origin), counter);
    r.hlc = hlc::Make(clock_.NowMillis(), counter);
    r.body = std::move(body);
    return r;
  }
  Result<ApplyResult> Apply(const Record& r, ConflictPolicy p = ConflictPolicy::kMerge) {
    BRAID_ASSIGN_OR_RETURN(auto txn, store_->BeginWrite());
    BRAID_ASSIGN_OR_RETURN(const ApplyResult a, txn->Apply(r, p));
    BRAID_RETURN_IF_ERROR(txn->Commit());
    return a;
  }
  Result<WriteResult> Put(std::string_view id, std::string_view body) {
    BRAID_ASSIGN_OR_RETURN(auto txn, store_->BeginWrite());
    PutRequest req;
    req.collection = "notes";
    req.id = id;
    req.body = body;
    BRAID_ASSIGN_OR_RETURN(WriteResult w, txn->Put(req));
    BRAID_RETURN_IF_ERROR(txn->Commit());
    return w;
  }
  Record Get(std::string_view id) { return **store_->Get("notes", id); }
  std::vector<uint64_t> Stream(const InstanceId& origin) {
    std::vector<uint64_t> positions;
    auto stream = store_->StreamVersions(origin, 0, 100, SIZE_MAX);
    EXPECT_TRUE(stream.ok());
    if (!stream.ok()) return positions;
    for (const auto& v : *stream) {
      if (!v.stale) positions.push_back(v.position);
    }
    return positions;
  }

  testing::TempDir dir_;
  FakeClock clock_{1'700'000'000'000};
  std::unique_ptr<Store> store_;
  InstanceId self_;
};

TEST_P(ApplyTest, NewRecordsAreStoredAsReceived) {
  Record in = Peer('a', 5, R"({"x":1})");
  in.vv.Set(Id('b'), 2);
  auto r = Apply(in);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kind, ApplyResult::Kind::kApplied);
  const Record got = Get("n1");
  EXPECT_EQ(got.version, in.version);
  EXPECT_EQ(got.vv, in.vv);
  EXPECT_EQ(got.hlc, in.hlc);
  EXPECT_EQ(Stream(Id('a')), std::vector<uint64_t>{5});
  EXPECT_EQ(Stream(Id('b')), std::vector<uint64_t>{2});
  const auto known = *store_->KnownInstances();
  EXPECT_EQ(known.size(), 3u);  // self, a, b
  auto page = store_->ReadChanges({});
  ASSERT_EQ(page->events.size(), 1u);
  EXPECT_EQ(page->events[0].op, ChangeOp::kCreate);
}

// A peer's attachment list is checked like the rest of its version, and a
// version that is stored names its blobs in the store's index.
// One write names one record: the same (origin, counter) under another id
// (a remote's prefix on one path and not on another) is refused, and the
// transaction that brings it writes nothing.
TEST_P(ApplyTest, AWriteUnderASecondNameIsRefused) {
  ASSERT_TRUE(Apply(Peer('a', 5, R"({"x":1})", "s1")).ok());
  auto second = Apply(Peer('a', 5, R"({"x":1})", "lab_a_s1"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kConflict);
  EXPECT_NE(second.status().message().find("another record's name"), std::string::npos)
      << second.status().ToString();
  EXPECT_FALSE(store_->Get("notes", "lab_a_s1")->has_value());
  EXPECT_EQ(Get("s1").body, R"({"x":1})");
}

TEST_P(ApplyTest, PeersAttachmentListsAreCheckedAndIndexed) {
  const std::string good = R"({"_attachments":{"a.txt":{"content_type":"text/plain","md5":")" +
                           std::string(32, '1') + R"(","sha256":")" + std::string(64, 'e') +
                           R"(","size":4}}})";
  for (
      const std::string bad : {
          R"({"_attachments":[]})",
          R"({"_attachments":{"../x":{}}})",
          R"({"_attachments":{"a":{"content_type":"text/plain","md5":"x","sha256":"y","size":1}}})",
          R"({"\u005fattachments":{"a":1}})",
      }) {
    auto r = Apply(Peer('a', 1, bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }
  auto none = store_->Get("notes", "n1");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(Apply(Peer('a', 1, good)).ok());
  auto refs = store_->ListBlobRefs("", 10);
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0].sha256, std::string(64, 'e'));
  // The peer's next version drops it.
  ASSERT_TRUE(Apply(Peer('a', 2, R"({"x":1})")).ok());
  refs = store_->ListBlobRefs("", 10);
  ASSERT_TRUE(refs.ok());
  EXPECT_TRUE(refs->empty());
  auto dropped = store_->DroppedBlobs(10);
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, std::vector<std::string>{std::string(64, 'e')});
}

TEST_P(ApplyTest, TombstonesOfUnknownRecordsAreKeptButNotFed) {
  Record in = Peer('a', 3, "{}");
  in.deleted = true;
  ASSERT_TRUE(Apply(in).ok());
  EXPECT_TRUE(Get("n1").deleted);
  EXPECT_TRUE(store_->ReadChanges({})->events.empty());
}

TEST_P(ApplyTest, OlderVersionsAreIgnoredNewerOnesReplace) {
  ASSERT_TRUE(Apply(Peer('a', 2, R"({"x":2})")).ok());
  EXPECT_EQ(Apply(Peer('a', 1, R"({"x":1})"))->kind, ApplyResult::Kind::kIgnored);
  EXPECT_EQ(Apply(Peer('a', 2, R"({"x":2})"))->kind, ApplyResult::Kind::kIgnored);
  EXPECT_EQ(Apply(Peer('a', 3, R"({"x":3})"))->kind, ApplyResult::Kind::kApplied);
  EXPECT_EQ(Get("n1").body, R"({"x":3})");
  EXPECT_EQ(Stream(Id('a')), std::vector<uint64_t>{3});  // the old entry went
  auto page = store_->ReadChanges({});
  ASSERT_EQ(page->events.size(), 2u);
  EXPECT_EQ(page->events[1].op, ChangeOp::kUpdate);
}

TEST_P(ApplyTest, ConcurrentVersionsMergeIntoALocalVersion) {
  ASSERT_TRUE(Apply(Peer('a', 1, R"({"x":1,"y":1})")).ok());
  ASSERT_TRUE(Put("n1", R"({"x":2,"y":1})").ok());  // local edit of x
  // A concurrent edit of y by b, which still has x as a wrote it.
  const Record base = Get("n1");
  Record in = Peer('b', 1, R"({"x":1,"y":3})");
  in.vv.Set(Id('a'), 1);
  in.field_clocks = R"({"x":[)" + std::to_string(hlc::Make(clock_.NowMillis(), 1)) + R"(,")" +
                    std::string(32, 'a') + R"(",1]})";
  (void)base;
  auto r = Apply(in);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kind, ApplyResult::Kind::kMerged);
  EXPECT_FALSE(r->conflict);
  const Record got = Get("n1");
  EXPECT_EQ(got.body, R"({"x":2,"y":3})");
  EXPECT_EQ(got.version.origin, self_);
  EXPECT_EQ(got.vv.Get(Id('a')), 1u);
  EXPECT_EQ(got.vv.Get(Id('b')), 1u);
  EXPECT_EQ(Stream(Id('b')), std::vector<uint64_t>{1});
  EXPECT_EQ(Stream(self_), std::vector<uint64_t>{got.version.counter});
  // Applying the merged inputs again changes nothing.
  EXPECT_EQ(Apply(in)->kind, ApplyResult::Kind::kIgnored);
}

TEST_P(ApplyTest, LocalUpdatesMoveTheirVersionEntry) {
  ASSERT_TRUE(Put("n1", R"({"x":1})").ok());
  ASSERT_TRUE(Put("n1", R"({"x":2})").ok());
  ASSERT_TRUE(Put("n2", R"({"x":1})").ok());
  EXPECT_EQ(Stream(self_), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(*store_->CountVersions(self_, 2), 1u);
  EXPECT_EQ(*store_->CountVersions(Id('e'), 0), 0u);
}

TEST_P(ApplyTest, SupersededEntriesAreStaleUntilCompactionPurgesThem) {
  ASSERT_TRUE(Put("n1", R"({"x":1})").ok());
  ASSERT_TRUE(Put("n1", R"({"x":2})").ok());
  ASSERT_TRUE(Put("n1", R"({"x":3})").ok());
  auto all = store_->StreamVersions(self_, 0, 10, SIZE_MAX);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_TRUE((*all)[0].stale);
  EXPECT_TRUE((*all)[1].stale);
  EXPECT_FALSE((*all)[2].stale);
  auto r = store_->Compact(0);  // nothing old in the log; stale entries go anyway
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->stale_versions_removed, 2u);
  all = store_->StreamVersions(self_, 0, 10, SIZE_MAX);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].position, 3u);
}

TEST_P(ApplyTest, FsicIsPerPrefixAndTheFilterTakesTheMinimum) {
  ASSERT_TRUE(Put("n1", "{}").ok());
  {
    auto txn = std::move(*store_->BeginWrite());
    ASSERT_TRUE(txn->AdvanceFsic({"lab_a"}, {{Id('c'), 10}}).ok());
    ASSERT_TRUE(txn->AdvanceFsic({"lab_a"}, {{Id('c'), 7}}).ok());  // never goes back
    ASSERT_TRUE(txn->AdvanceFsic({""}, {{Id('c'), 4}, {Id('d'), 2}}).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_EQ(store_->Fsic({"lab_a"})->Get(Id('c')), 10u);
  EXPECT_EQ(store_->Fsic({"lab_a:room1"})->Get(Id('c')), 10u);  // covered by lab_a
  EXPECT_EQ(store_->Fsic({"lab_ab"})->Get(Id('c')), 4u);        // only by ""
  EXPECT_EQ(store_->Fsic({})->Get(Id('c')), 4u);
  EXPECT_EQ(store_->Fsic({"lab_a", "lab_b"})->Get(Id('c')), 4u);
  EXPECT_EQ(store_->Fsic({"lab_a"})->Get(Id('d')), 2u);
  EXPECT_EQ(store_->Fsic({})->Get(self_), 1u);  // own writes: the counter
}

TEST_P(ApplyTest, SkipHoldsVersionsUntilResolved) {
  ASSERT_TRUE(Apply(Peer('a', 1, R"({"x":1})")).ok());
  ASSERT_TRUE(Put("n1", R"({"x":"mine"})").ok());
  Record in = Peer('b', 1, R"({"x":"theirs"})");
  in.vv.Set(Id('a'), 1);
  auto r = Apply(in, ConflictPolicy::kSkip);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, ApplyResult::Kind::kHeld);
  EXPECT_EQ(Get("n1").body, R"({"x":"mine"})");
  auto held = store_->HeldVersions("notes", "n1");
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ((*held)[0].body, R"({"x":"theirs"})");
  auto listed = store_->ListConflicts("", "", 10);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, "n1");

  auto txn = std::move(*store_->BeginWrite());
  auto res = txn->Resolve("notes", "n1", std::string_view(R"({"x":"both"})"));
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  ASSERT_TRUE(txn->Commit().ok());
  const Record got = Get("n1");
  EXPECT_EQ(got.body, R"({"x":"both"})");
  EXPECT_EQ(got.vv.Compare(in.vv), Ordering::kAfter);  // dominates what it chose from
  EXPECT_TRUE(store_->HeldVersions("notes", "n1")->empty());
  EXPECT_TRUE(store_->ListConflicts("", "", 10)->empty());
}

TEST_P(ApplyTest, ResolvingKeepsTheBodyAndClearsMergeConflicts) {
  ASSERT_TRUE(Apply(Peer('a', 1, R"({"x":1})")).ok());
  ASSERT_TRUE(Put("n1", R"({"x":"mine"})").ok());
  clock_.Advance(1000);
  Record in = Peer('b', 1, R"({"x":"theirs"})");
  in.vv.Set(Id('a'), 1);
  auto r = Apply(in);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->conflict);
  EXPECT_EQ(Get("n1").body, R"({"x":"theirs"})");  // later write wins
  EXPECT_NE(Get("n1").conflicts.find("mine"), std::string::npos);
  auto txn = std::move(*store_->BeginWrite());
  ASSERT_TRUE(txn->Resolve("notes", "n1", std::nullopt).ok());
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_EQ(Get("n1").body, R"({"x":"theirs"})");
  EXPECT_EQ(Get("n1").conflicts, "");
  auto again = std::move(*store_->BeginWrite());
  EXPECT_EQ(again->Resolve("notes", "n1", std::nullopt).status().code(), Code::kNotFound);
}

TEST_P(ApplyTest, BadPeerVersionsAreRefusedAndWriteNothing) {
  ASSERT_TRUE(Apply(Peer('a', 1, R"({"x":1})", "kept")).ok());
  std::vector<std::pair<std::string, Record>> cases;
  Record r = Peer('a', 4, "{}");
  r.vv = VersionVector();
  r.vv.Set(Id('a'), 3);
  cases.emplace_back("version outside its version vector", r);
  r = Peer('a', 4, "{}");
  r.hlc = hlc::Make(clock_.NowMillis() + 2 * 3'600'000, 0);
  cases.emplace_back("clock far ahead", r);
  r = Peer('a', 4, "{}");
  r.field_clocks = R"({"x":5})";
  cases.emplace_back("malformed clocks", r);
  r = Peer('a', 4, "{}");
  r.conflicts = R"([{"oops":1}])";
  cases.emplace_back("malformed conflicts", r);
  r = Peer('a', 4, R"({"x":1})");
  r.deleted = true;
  cases.emplace_back("tombstone with a body", r);
  r = Peer('a', 4, "{}");
  r.deleted = true;
  r.field_clocks = R"({"x":[1,")" + std::string(32, 'a') + R"(",4]})";
  cases.emplace_back("clocks on a tombstone", r);
  r = Peer('a', 4, R"({"x":1})");
  r.field_clocks = R"({"x":[1,")" + std::string(32, 'b') + R"(",1]})";
  cases.emplace_back("a field write outside the version vector", r);
  r = Peer('a', 4, "[1]");
  cases.emplace_back("body not an object", r);
  r = Peer('a', 4, "{}");
  r.collection = "Bad";
  cases.emplace_back("bad collection", r);
  r = Peer('a', 4, "{}");
  r.id = std::string(300, 'x');
  cases.emplace_back("id too long", r);
  const uint64_t seq = store_->Stats()->last_seq;
  for (const auto& [what, rec] : cases) {
    auto res = Apply(rec);
    EXPECT_EQ(res.status().code(), Code::kInvalidArgument)
        << what << ": " << res.status().ToString();
  }
  EXPECT_EQ(store_->Stats()->last_seq, seq);
  EXPECT_FALSE(store_->Get("notes", "n1")->has_value());
}

// A body ReadWireRecord already normalized skips the second check, but not
// the store's size limit, which only the store knows.
TEST_P(ApplyTest, NormalizedBodiesStillMeetTheSizeLimit) {
  const Record big = Peer('a', 1, R"({"x":")" + std::string(5 * 1024 * 1024, 'y') + "\"}");
  for (const BodyForm form : {BodyForm::kUnchecked, BodyForm::kNormalized}) {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    auto res = (*txn)->Apply(big, ConflictPolicy::kMerge, form);
    EXPECT_EQ(res.status().code(), Code::kPayloadTooLarge);
    EXPECT_NE(res.status().message().find("store.max_record_bytes"), std::string::npos)
        << res.status().message();
  }
  auto txn = store_->BeginWrite();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE((*txn)
                  ->Apply(Peer('a', 1, R"({"x":1})"), ConflictPolicy::kMerge, BodyForm::kNormalized)
                  .ok());
  ASSERT_TRUE((*txn)->Commit().ok());
  EXPECT_EQ(Get("n1").body, R"({"x":1})");
}

// Two stores created one id in different partitions: held aside, so the
// rest of the sync goes on, and the FSIC does not claim the held write.
TEST_P(ApplyTest, APartitionClashIsHeldNotFatal) {
  ASSERT_TRUE(Apply(Peer('a', 1, R"({"x":1})", "kept")).ok());
  Record r = Peer('a', 4, R"({"x":2})", "kept");
  r.partition = "elsewhere";
  auto res = Apply(r);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->kind, ApplyResult::Kind::kHeld);
  EXPECT_TRUE(res->conflict);
  EXPECT_EQ(Get("kept").body, R"({"x":1})");
  EXPECT_EQ(Get("kept").partition, "notes");
  EXPECT_EQ(store_->HeldVersions("notes", "kept")->size(), 1u);
  EXPECT_EQ(Apply(r)->kind, ApplyResult::Kind::kIgnored);  // sent again: held once
  {
    auto txn = std::move(*store_->BeginWrite());
    ASSERT_TRUE(txn->AdvanceFsic({""}, {{Id('a'), 9}}).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_EQ(store_->Fsic({})->Get(Id('a')), 3u);  // below the held a:4
}

// A peer that knows more writes of this store's id than it issued: the
// store was restored in place; reusing those names would lose writes.
TEST_P(ApplyTest, WritesOfOurOwnIdBeyondOurCounterAreRefused) {
  ASSERT_TRUE(Put("mine", R"({"x":1})").ok());
  Record r = Peer('a', 1, R"({"x":2})", "mine");
  r.vv.Set(self_, 5);
  const uint64_t seq = store_->Stats()->last_seq;
  auto res = Apply(r);
  EXPECT_EQ(res.status().code(), Code::kConflict);
  EXPECT_NE(res.status().message().find("braid identity renew"), std::string::npos);
  EXPECT_EQ(store_->Stats()->last_seq, seq);
}

TEST_P(ApplyTest, ARolledBackTransactionForgetsTheInstancesItAdded) {
  {
    auto txn = std::move(*store_->BeginWrite());
    ASSERT_TRUE(txn->Apply(Peer('a', 1, "{}", "gone"), ConflictPolicy::kMerge).ok());
  }  // aborted: instance a's number is free again
  ASSERT_TRUE(Apply(Peer('b', 1, "{}", "kept")).ok());
  EXPECT_EQ(Get("kept").version.origin, Id('b'));
  EXPECT_EQ(Stream(Id('b')), std::vector<uint64_t>{1});
  EXPECT_TRUE(Stream(Id('a')).empty());
}

TEST_P(ApplyTest, WireFormRoundTrips) {
  Record r = Peer('a', 7, R"({"x":[1,2]})");
  r.vv.Set(Id('b'), 3);
  r.parent = "folder";
  r.field_clocks = R"({"y":[5,")" + std::string(32, 'b') + R"(",3]})";
  const std::string text = WireRecordJson(r);
  auto back = ParseWireRecord(json::Value(text));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(WireRecordJson(*back), text);
  EXPECT_EQ(back->vv, r.vv);
  for (const std::string& bad :
       std::vector<std::string>{"[]", R"({"collection":"n"})", R"({"collection":1})",
                                text.substr(0, text.size() - 1) + R"(,"extra":1})"}) {
    std::string scratch;
    if (!json::Validate(bad, &scratch).ok()) continue;
    EXPECT_FALSE(ParseWireRecord(json::Value(scratch)).ok()) << bad;
  }
}

// StreamWireVersions writes rows straight into their wire form; it must say
// exactly what StreamVersions' records say, for every kind of row: merged
// vectors, field clocks, conflicts, tombstones, parents, partitions, and
// stale entries.
TEST_P(ApplyTest, WireStreamsSayWhatRecordStreamsSay) {
  ASSERT_TRUE(Apply(Peer('a', 1, R"({"x":1,"y":1})")).ok());
  ASSERT_TRUE(Put("n1", R"({"x":2,"y":1})").ok());
  Record in = Peer('b', 1, R"({"x":1,"y":3})");
  in.vv.Set(Id('a'), 1);
  in.field_clocks = R"({"x":[)" + std::to_string(hlc::Make(clock_.NowMillis(), 1)) + R"(,")" +
                    std::string(32, 'a') + R"(",1]})";
  ASSERT_EQ(Apply(in)->kind, ApplyResult::Kind::kMerged);
  // An update of n2 here, its delete at c: the delete is listed.
  ASSERT_TRUE(Apply(Peer('a', 2, R"({"z":1})", "n2")).ok());
  ASSERT_TRUE(Put("n2", R"({"z":2})").ok());
  Record del = Peer('c', 1, "{}", "n2");
  del.deleted = true;
  del.vv.Set(Id('a'), 2);
  ASSERT_TRUE(Apply(del).ok());
  ASSERT_FALSE(Get("n2").conflicts.empty());
  Record tomb = Peer('a', 3, "{}", "gone");
  tomb.deleted = true;
  ASSERT_TRUE(Apply(tomb).ok());
  Record other = Peer('a', 4, R"({"q":"\u00e9\"x"})", "in-lab");
  other.partition = "notes:lab";
  other.parent = "folder";
  ASSERT_TRUE(Apply(other).ok());
  ASSERT_TRUE(Put("n3", "{}").ok());
  ASSERT_TRUE(Put("n3", R"({"v":2})").ok());  // the first entry is stale now

  std::string all;  // every wire text, to check each kind of row came by
  size_t stale = 0;
  for (const InstanceId& origin : {self_, Id('a'), Id('b'), Id('c'), Id('e')}) {
    auto records = store_->StreamVersions(origin, 0, 100, SIZE_MAX);
    auto wire = store_->StreamWireVersions(origin, 0, 100, SIZE_MAX);
    ASSERT_TRUE(records.ok() && wire.ok());
    ASSERT_EQ(wire->entries.size(), records->size());
    for (size_t i = 0; i < records->size(); ++i) {
      const StreamedVersion& v = (*records)[i];
      const WireVersions::Entry& e = wire->entries[i];
      SCOPED_TRACE(v.record.id);
      EXPECT_EQ(e.position, v.position);
      EXPECT_EQ(e.stale, v.stale);
      EXPECT_EQ(wire->View(e.json), WireRecordJson(v.record));
      EXPECT_EQ(wire->View(e.collection), v.record.collection);
      EXPECT_EQ(wire->View(e.id), v.record.id);
      EXPECT_EQ(wire->View(e.partition), v.record.partition);
      const bool implied = v.record.vv.entries().size() == 1 &&
                           v.record.vv.Get(v.record.version.origin) == v.record.version.counter;
      EXPECT_EQ(e.vv, implied ? VersionVector() : v.record.vv);
      all += wire->View(e.json);
      stale += e.stale;
    }
  }
  EXPECT_GT(stale, 0u);
  for (const char* part : {"\"vv\":", "\"clocks\":", "\"conflicts\":", "\"deleted\":true",
                           "\"parent\":\"folder\"", "\"partition\":\"notes:lab\""}) {
    EXPECT_NE(all.find(part), std::string::npos) << part;
  }
  // The byte budget: the entry that reaches it is the last.
  auto one = store_->StreamWireVersions(Id('a'), 0, 100, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->entries.size(), 1u);
}

TEST_P(ApplyTest, SettingsRoundTrip) {
  auto txn = std::move(*store_->BeginWrite());
  ASSERT_TRUE(txn->SetPolicy("notes", ConflictPolicy::kLww).ok());
  Remote remote;
  remote.name = "lab-b";
  remote.url = "http://127.0.0.1:8471";
  remote.direction = Direction::kPull;
  remote.filter = {"lab_a", "lab_c:x"};
  remote.token = "secret";
  ASSERT_TRUE(txn->PutRemote(remote).ok());
  Remote bad = remote;
  bad.url = "ftp://x";
  EXPECT_EQ(txn->PutRemote(bad).code(), Code::kInvalidArgument);
  bad = remote;
  bad.filter = {"a::b"};
  EXPECT_EQ(txn->PutRemote(bad).code(), Code::kInvalidArgument);
  bad = remote;
  bad.chunk_size = 0;
  EXPECT_EQ(txn->PutRemote(bad).code(), Code::kInvalidArgument);
  bad.chunk_size = kMaxChunkSize + 1;
  EXPECT_EQ(txn->PutRemote(bad).code(), Code::kInvalidArgument);
  const std::string hash(32, '\x01');
  TokenInfo token;
  token.name = "lab-b";
  token.role = Role::kReader;
  token.scope = {"lab-b", "shared:x"};
  ASSERT_TRUE(txn->CreateToken(token, hash).ok());
  EXPECT_EQ(txn->CreateToken(token, std::string(32, '\x02')).code(), Code::kAlreadyExists);
  TokenInfo bad_token = token;
  bad_token.name = "other";
  bad_token.scope = {"a::b"};
  EXPECT_EQ(txn->CreateToken(bad_token, std::string(32, '\x04')).code(), Code::kInvalidArgument);
  User user;
  user.name = "alice";
  user.role = Role::kWriter;
  user.scope = {"lab-a"};
  user.password_hash = "scrypt$14$8$1$salt$key";
  ASSERT_TRUE(txn->PutUser(user).ok());
  User bad_user = user;
  bad_user.name = "Alice!";
  EXPECT_EQ(txn->PutUser(bad_user).code(), Code::kInvalidArgument);
  bad_user = user;
  bad_user.password_hash.clear();
  EXPECT_EQ(txn->PutUser(bad_user).code(), Code::kInvalidArgument);
  bad_user = user;
  bad_user.scope = {""};
  EXPECT_EQ(txn->PutUser(bad_user).code(), Code::kInvalidArgument);
  // Search fields beside the policy: neither overwrites the other.
  ASSERT_TRUE(txn->SetSearchFields("notes", "title:3,text:1").ok());
  ASSERT_TRUE(txn->SetSearchFields("books", "title:1").ok());
  ASSERT_TRUE(txn->SetSearchFields("books", std::nullopt).ok());
  EXPECT_EQ(txn->SetSearchFields("Bad/Name", "title:1").code(), Code::kInvalidArgument);
  EXPECT_EQ(txn->SetSearchFields("notes", "").code(), Code::kInvalidArgument);
  EXPECT_EQ(txn->SetSearchFields("notes", std::string(kMaxSearchFieldsBytes + 1, 'a')).code(),
            Code::kInvalidArgument);
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_EQ(*store_->SearchFields(),
            (std::vector<std::pair<std::string, std::string>>{{"notes", "title:3,text:1"}}));

  auto alice = store_->GetUser("alice");
  ASSERT_TRUE(alice.ok() && alice->has_value());
  EXPECT_EQ((*alice)->role, Role::kWriter);
  EXPECT_EQ((*alice)->scope, user.scope);
  EXPECT_EQ((*alice)->password_hash, user.password_hash);
  EXPECT_GT((*alice)->created_ms, 0);
  EXPECT_FALSE(store_->GetUser("bob")->has_value());
  EXPECT_EQ(store_->ListUsers()->size(), 1u);

  EXPECT_EQ(*store_->Policy("notes"), ConflictPolicy::kLww);
  EXPECT_EQ(*store_->Policy("other"), ConflictPolicy::kMerge);
  auto got = store_->GetRemote("lab-b");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->filter, remote.filter);
  EXPECT_EQ((*got)->direction, Direction::kPull);
  auto found = store_->FindToken(hash);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->name, "lab-b");
  EXPECT_EQ((*found)->role, Role::kReader);
  EXPECT_EQ((*found)->scope, token.scope);
  EXPECT_FALSE(store_->FindToken(std::string(32, '\x03'))->has_value());

  auto txn2 = std::move(*store_->BeginWrite());
  ASSERT_TRUE(txn2->RevokeToken("lab-b").ok());
  EXPECT_EQ(txn2->RevokeToken("lab-b").code(), Code::kNotFound);
  ASSERT_TRUE(txn2->DeleteRemote("lab-b").ok());
  EXPECT_EQ(txn2->DeleteRemote("lab-b").code(), Code::kNotFound);
  ASSERT_TRUE(txn2->DeleteUser("alice").ok());
  EXPECT_EQ(txn2->DeleteUser("alice").code(), Code::kNotFound);
  ASSERT_TRUE(txn2->Commit().ok());
  EXPECT_TRUE(store_->ListRemotes()->empty());
  EXPECT_TRUE(store_->ListTokens()->empty());
  EXPECT_TRUE(store_->ListUsers()->empty());
}

// Certificates and revocations are immutable: a serial stored once keeps
// its text; RevokedAmong answers for the serials asked only.
TEST_P(ApplyTest, CertificatesAndRevocationsAreKeptOnce) {
  const std::string a(32, 'a'), b(32, 'b'), c(32, 'c');
  auto txn = std::move(*store_->BeginWrite());
  ASSERT_TRUE(txn->PutCertificate({a, a, "k1", "{\"root\":1}", "", 0}).ok());
  ASSERT_TRUE(txn->PutCertificate({b, a, "k2", "{\"b\":1}", "user alice", 0}).ok());
  ASSERT_TRUE(txn->PutCertificate({b, a, "k1", "{\"b\":2}", "user eve", 0}).ok());
  ASSERT_TRUE(txn->PutRevocation({b, "{\"revoked\":1}", 0}).ok());
  ASSERT_TRUE(txn->PutRevocation({b, "{\"revoked\":2}", 0}).ok());
  ASSERT_TRUE(txn->Commit().ok());
  auto got = store_->GetCertificate(b);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->issuer, a);
  EXPECT_EQ((*got)->text, "{\"b\":1}");
  EXPECT_EQ((*got)->signed_for, "user alice");
  EXPECT_GT((*got)->stored_ms, 0);
  EXPECT_FALSE(store_->GetCertificate(c)->has_value());
  auto all = store_->ListCertificates();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].serial, a);
  auto of_k1 = store_->ListCertificatesOf("k1");
  ASSERT_TRUE(of_k1.ok());
  ASSERT_EQ(of_k1->size(), 1u);
  EXPECT_EQ((*of_k1)[0].serial, a);
  auto revocations = store_->ListRevocations();
  ASSERT_TRUE(revocations.ok());
  ASSERT_EQ(revocations->size(), 1u);
  EXPECT_EQ((*revocations)[0].text, "{\"revoked\":1}");
  EXPECT_EQ(*store_->RevokedAmong({a, b, c}), std::vector<std::string>{b});
  EXPECT_TRUE(store_->RevokedAmong({})->empty());
}

// Prefetch: lookups in one go, or none (assume_new). A record taken for
// new that exists fails the transaction on a backend that skipped the
// lookup, recognizably and with nothing written; applied again with
// lookups, it merges as usual.
TEST_P(ApplyTest, PrefetchLooksUpOrTakesRecordsForNew) {
  ASSERT_TRUE(Apply(Peer('a', 1, R"({"v":1})")).ok());
  {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    auto found = (*txn)->Prefetch({{"notes", "n1"}, {"notes", "n2"}}, false);
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    EXPECT_TRUE(*found == 1 || *found == 0) << "the backend looked up, or did nothing";
    ASSERT_TRUE((*txn)->Apply(Peer('a', 2, R"({"v":2})"), ConflictPolicy::kMerge).ok());
    ASSERT_TRUE((*txn)->Apply(Peer('a', 3, R"({"v":3})", "n2"), ConflictPolicy::kMerge).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  EXPECT_EQ(Get("n1").body, R"({"v":2})");
  const uint64_t seq = (*store_->Stats()).last_seq;

  auto txn = store_->BeginWrite();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE((*txn)->Prefetch({{"notes", "n1"}, {"notes", "n3"}}, true).ok());
  Status s;
  auto applied = (*txn)->Apply(Peer('a', 4, R"({"v":4})"), ConflictPolicy::kMerge);
  s = applied.status();
  if (s.ok()) s = (*txn)->Apply(Peer('a', 5, R"({"v":5})", "n3"), ConflictPolicy::kMerge).status();
  if (s.ok()) s = (*txn)->Commit();
  txn->reset();
  // PostgreSQL skips the lookup and finds out at the insert.
  if (GetParam().name == "postgresql") {
    EXPECT_FALSE(s.ok());
  }
  if (!s.ok()) {
    EXPECT_TRUE(IsAssumedNewConflict(s)) << s.ToString();
    EXPECT_EQ(Get("n1").body, R"({"v":2})") << "nothing of it written";
    EXPECT_FALSE(store_->Get("notes", "n3")->has_value());
    EXPECT_EQ((*store_->Stats()).last_seq, seq);
    auto again = store_->BeginWrite();
    ASSERT_TRUE(again.ok());
    ASSERT_TRUE((*again)->Prefetch({{"notes", "n1"}, {"notes", "n3"}}, false).ok());
    ASSERT_TRUE((*again)->Apply(Peer('a', 4, R"({"v":4})"), ConflictPolicy::kMerge).ok());
    ASSERT_TRUE((*again)->Apply(Peer('a', 5, R"({"v":5})", "n3"), ConflictPolicy::kMerge).ok());
    ASSERT_TRUE((*again)->Commit().ok());
  }
  EXPECT_EQ(Get("n1").body, R"({"v":4})");
  EXPECT_EQ(Get("n3").body, R"({"v":5})");
  EXPECT_EQ(Get("n1").version.counter, 4u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ApplyTest, ::testing::ValuesIn(testing::TestBackends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace braid
