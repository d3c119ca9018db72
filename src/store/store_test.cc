// The store test suite. Every test runs against every backend (today:
// SQLite), so backends agree on behaviour, not just on an interface.

#include "braid/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "braid/hlc.h"
#include "store/test_backends.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace braid {
namespace {

using testing::TempDir;

// The field-clock entry of a record version's own write.
std::string Write(const Record& r) {
  return "[" + std::to_string(r.hlc) + ",\"" + r.version.origin.Hex() + "\"," +
         std::to_string(r.version.counter) + "]";
}

PutRequest Req(std::string_view collection, std::string_view id, std::string_view body) {
  PutRequest r;
  r.collection = collection;
  r.id = id;
  r.body = body;
  return r;
}

using testing::TestBackend;

class StoreTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  void SetUp() override { store_ = Open(); }
  // The test's store (another handle on it, when one is open: as another
  // process would open it).
  std::unique_ptr<Store> Open() {
    auto s = Store::Open(GetParam().spec(dir_.path(), "store"), Options());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  StoreOptions Options() {
    StoreOptions o = testing::TestStoreOptions(&clock_);
    o.max_body_bytes = 1024;
    return o;
  }

  Result<WriteResult> Put(std::string_view collection, std::string_view id, std::string_view body,
                          std::optional<std::string_view> partition = std::nullopt) {
    BRAID_ASSIGN_OR_RETURN(auto txn, store_->BeginWrite());
    PutRequest req;
    req.collection = collection;
    req.id = id;
    req.body = body;
    req.partition = partition;
    BRAID_ASSIGN_OR_RETURN(auto r, txn->Put(req));
    BRAID_RETURN_IF_ERROR(txn->Commit());
    return r;
  }
  Result<WriteResult> PutWithParent(std::string_view id, std::string_view body,
                                    std::string_view parent) {
    BRAID_ASSIGN_OR_RETURN(auto txn, store_->BeginWrite());
    PutRequest req;
    req.collection = "notes";
    req.id = id;
    req.body = body;
    req.parent_mode = PutRequest::ParentMode::kSet;
    req.parent = parent;
    BRAID_ASSIGN_OR_RETURN(auto r, txn->Put(req));
    BRAID_RETURN_IF_ERROR(txn->Commit());
    return r;
  }
  Result<WriteResult> Del(std::string_view collection, std::string_view id) {
    BRAID_ASSIGN_OR_RETURN(auto txn, store_->BeginWrite());
    BRAID_ASSIGN_OR_RETURN(auto r, txn->Delete(collection, id));
    BRAID_RETURN_IF_ERROR(txn->Commit());
    return r;
  }
  std::vector<ChangeEvent> Changes(ChangeQuery q = {}) {
    q.limit = 1000;
    auto page = store_->ReadChanges(q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->events : std::vector<ChangeEvent>{};
  }

  TempDir dir_;
  FakeClock clock_{1'700'000'000'000};
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, PutCreatesThenUpdatesWithNewVersions) {
  auto r1 = Put("notes", "n1", R"({ "title" : "a", "n": 1 })");
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ(r1->op, WriteOp::kCreated);
  EXPECT_EQ(r1->seq, 1u);
  EXPECT_EQ(r1->record.body, R"({"title":"a","n":1})");
  EXPECT_EQ(r1->record.partition, "notes");
  EXPECT_EQ(r1->record.version.origin, store_->instance_id());
  EXPECT_EQ(r1->record.version.counter, 1u);
  EXPECT_EQ(r1->record.vv.Get(store_->instance_id()), 1u);

  auto r2 = Put("notes", "n1", R"({"title":"b","n":1})");
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->op, WriteOp::kUpdated);
  EXPECT_EQ(r2->seq, 2u);
  EXPECT_EQ(r2->record.version.counter, 2u);
  EXPECT_GT(r2->record.hlc, r1->record.hlc);
  // "n" did not change, so it keeps the first write: [hlc, origin, counter].
  EXPECT_EQ(r2->record.field_clocks, R"({"n":)" + Write(r1->record) + "}");

  auto got = store_->Get("notes", "n1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->body, R"({"title":"b","n":1})");
  EXPECT_EQ((*got)->version, r2->record.version);
  EXPECT_EQ((*got)->vv, r2->record.vv);
  EXPECT_EQ((*got)->field_clocks, r2->record.field_clocks);
}

TEST_P(StoreTest, WritingTheSameContentMakesNoVersion) {
  ASSERT_TRUE(Put("notes", "n1", R"({"a":1})").ok());
  auto r = Put("notes", "n1", R"({ "a" : 1 })");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->op, WriteOp::kUnchanged);
  EXPECT_EQ(r->seq, 0u);
  EXPECT_EQ(r->record.version.counter, 1u);
  EXPECT_EQ(Changes().size(), 1u);
}

TEST_P(StoreTest, RemovedFieldsKeepTheirRemovalTime) {
  auto r1 = Put("notes", "n1", R"({"a":1,"b":2})");
  auto r2 = Put("notes", "n1", R"({"a":1})");
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(r2->record.field_clocks,
            R"({"a":)" + Write(r1->record) + R"(,"b":)" + Write(r2->record) + "}");
  auto r3 = Put("notes", "n1", R"({"a":2})");
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->record.field_clocks, R"({"b":)" + Write(r2->record) + "}");
}

TEST_P(StoreTest, DeleteWritesATombstoneOnce) {
  ASSERT_TRUE(Put("notes", "n1", R"({"a":1})").ok());
  auto d = Del("notes", "n1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->op, WriteOp::kDeleted);
  EXPECT_TRUE(d->record.deleted);
  EXPECT_EQ(d->record.body, "{}");
  EXPECT_EQ(d->record.version.counter, 2u);
  auto again = Del("notes", "n1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->op, WriteOp::kUnchanged);
  auto missing = Del("notes", "nope");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);

  auto got = store_->Get("notes", "n1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_TRUE((*got)->deleted);

  auto back = Put("notes", "n1", R"({"a":1})");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->op, WriteOp::kCreated);
  EXPECT_EQ(back->record.field_clocks, "");
  const auto events = Changes();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].op, ChangeOp::kCreate);
  EXPECT_EQ(events[1].op, ChangeOp::kDelete);
  EXPECT_EQ(events[2].op, ChangeOp::kCreate);
}

TEST_P(StoreTest, LocalWritesKeepTheAttachmentsMember) {
  const std::string list =
      R"({"a.pdf":{"content_type":"application/pdf","md5":"m","sha256":"s","size":1}})";
  {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    const std::string body = R"({"title":"T","_attachments":)" + list + "}";
    PutRequest req = Req("books", "b1", body);
    // Only the attachments layer sets the member ...
    auto refused = (*txn)->Put(req);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Code::kConflict) << refused.status().ToString();
  }
  // ... and an escaped spelling of its name is the same member.
  auto escaped = Put("books", "b1", R"({"\u005fattachments":{}})");
  ASSERT_FALSE(escaped.ok());
  EXPECT_EQ(escaped.status().code(), Code::kConflict);
  {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    const std::string body = R"({"title":"T","_attachments":)" + list + "}";
    PutRequest req = Req("books", "b1", body);
    req.attachments = PutRequest::AttachmentsMode::kSet;
    ASSERT_TRUE((*txn)->Put(req).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  // A body without the member keeps the stored one.
  auto kept = Put("books", "b1", R"({"title":"U"})");
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->record.body, R"({"title":"U","_attachments":)" + list + "}");
  // A read-modify-write of the whole body carries it unchanged.
  auto same = Put("books", "b1", R"({"title":"V","_attachments":)" + list + "}");
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(same->record.body, R"({"title":"V","_attachments":)" + list + "}");
  // Writing the stored content again (the member left out) is no write.
  auto unchanged = Put("books", "b1", R"({"title":"V"})");
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(unchanged->op, WriteOp::kUnchanged);
  // A changed member is refused; nothing is written.
  auto changed = Put("books", "b1", R"({"title":"W","_attachments":{}})");
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.status().code(), Code::kConflict);
  auto stored = store_->Get("books", "b1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->body, R"({"title":"V","_attachments":)" + list + "}");
  // A delete drops it with the body: the record comes back without it.
  ASSERT_TRUE(Del("books", "b1").ok());
  auto back = Put("books", "b1", R"({"title":"X"})");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->record.body, R"({"title":"X"})");
}

// The store's index of the blobs live records name follows every write:
// set, replaced, kept by a body without the member, removed, deleted.
TEST_P(StoreTest, TheBlobIndexFollowsTheRecords) {
  const std::string x(64, 'a'), y(64, 'b'), z(64, 'c'), md5(32, '0');
  auto entry = [&](const std::string& name, const std::string& sha, int size) {
    return "\"" + name + R"(":{"content_type":"text/plain","md5":")" + md5 + R"(","sha256":")" +
           sha + R"(","size":)" + std::to_string(size) + "}";
  };
  auto set = [&](std::string_view id, const std::string& list) -> Status {
    BRAID_ASSIGN_OR_RETURN(auto txn, store_->BeginWrite());
    const std::string body = R"({"t":1,"_attachments":{)" + list + "}}";
    PutRequest req = Req("books", id, body);
    req.attachments = PutRequest::AttachmentsMode::kSet;
    BRAID_RETURN_IF_ERROR(txn->Put(req).status());
    return txn->Commit();
  };
  auto refs = [&]() {
    std::vector<std::string> out;
    auto list = store_->ListBlobRefs("", 100);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    if (list.ok()) {
      for (const auto& r : *list) out.push_back(r.sha256.substr(0, 1) + std::to_string(r.size));
    }
    return out;
  };
  auto dropped = [&]() {
    auto d = store_->DroppedBlobs(100);
    EXPECT_TRUE(d.ok());
    return d.ok() ? *d : std::vector<std::string>{};
  };
  using V = std::vector<std::string>;
  ASSERT_TRUE(Put("books", "b1", R"({"t":0})").ok());
  ASSERT_TRUE(Put("books", "b2", R"({"t":0})").ok());
  const uint64_t before = Changes().back().seq;
  ASSERT_TRUE(set("b1", entry("a.txt", x, 1) + "," + entry("b.txt", y, 2)).ok());
  ASSERT_TRUE(set("b2", entry("c.txt", x, 1)).ok());
  EXPECT_EQ(refs(), (V{"a1", "b2"}));
  auto changed = store_->BlobRefsChanged(before, before + 1);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->size(), 2u);  // b1's two blobs; b2's write is after the window
  // A body without the member keeps the list: nothing changes in the index.
  ASSERT_TRUE(Put("books", "b1", R"({"t":2})").ok());
  EXPECT_EQ(refs(), (V{"a1", "b2"}));
  EXPECT_TRUE(dropped().empty());
  // Replacing b.txt's blob drops y; x stays named (by b1 and b2).
  ASSERT_TRUE(set("b1", entry("a.txt", x, 1) + "," + entry("b.txt", z, 3)).ok());
  EXPECT_EQ(refs(), (V{"a1", "c3"}));
  EXPECT_EQ(dropped(), (V{y}));
  // Deleting b1 drops x and z from it; x is still named by b2.
  ASSERT_TRUE(Del("books", "b1").ok());
  EXPECT_EQ(refs(), (V{"a1"}));
  EXPECT_EQ(dropped(), (V{x, y, z}));
  auto naming = store_->RecordsNamingBlob(x, 10);
  ASSERT_TRUE(naming.ok());
  ASSERT_EQ(naming->size(), 1u);
  EXPECT_EQ((*naming)[0].id, "b2");
  {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->ForgetDroppedBlobs({x, y}).ok());
    EXPECT_EQ((*txn)->ForgetDroppedBlobs({"nothex"}).code(), Code::kInvalidArgument);
  }
  EXPECT_EQ(dropped(), (V{x, y, z}));  // that transaction was abandoned
  {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->ForgetDroppedBlobs({x, y}).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  EXPECT_EQ(dropped(), (V{z}));
  // Another handle (another process) sees the same index.
  auto other = Open();
  ASSERT_NE(other, nullptr);
  auto seen = other->ListBlobRefs("", 100);
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ((*seen)[0], (BlobRef{x, md5, 1}));
}

TEST_P(StoreTest, StepRunsKeepTheLastSuccess) {
  auto record = [&](const StepRun& run) -> Status {
    BRAID_ASSIGN_OR_RETURN(auto txn, store_->BeginWrite());
    BRAID_RETURN_IF_ERROR(txn->RecordStep(run));
    return txn->Commit();
  };
  ASSERT_TRUE(record({"attachments", 10, 20, true, R"({"files":1})", 7, 0}).ok());
  ASSERT_TRUE(record({"attachments", 30, 40, false, R"({"error":"x"})", 7, 0}).ok());
  ASSERT_TRUE(record({"index", 50, 60, true, "{}", 9, 0}).ok());
  EXPECT_EQ(record({"Bad Name", 1, 2, true, "{}", 0, 0}).code(), Code::kInvalidArgument);
  auto runs = store_->StepRuns();
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2u);
  const StepRun& a = (*runs)[0];
  EXPECT_EQ(a.step, "attachments");
  EXPECT_EQ(a.finished_ms, 40);
  EXPECT_FALSE(a.ok);
  EXPECT_EQ(a.result, R"({"error":"x"})");
  EXPECT_EQ(a.cursor, 7u);
  EXPECT_EQ(a.last_ok_ms, 20);
  EXPECT_EQ((*runs)[1].last_ok_ms, 60);
}

// `braid clean cache`: the records go without a tombstone, the settings
// stay, delta cursors must start over, and the store writes under a fresh
// identity (it no longer holds the old one's writes, which come back by
// pulls as a peer's).
TEST_P(StoreTest, ClearingForgetsTheRecordsButNotTheCounter) {
  ASSERT_TRUE(Put("notes", "n1", R"({"t":1})").ok());
  ASSERT_TRUE(Put("notes", "n2", R"({"t":2})").ok());
  ASSERT_TRUE(Del("notes", "n2").ok());
  {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->SetPolicy("notes", ConflictPolicy::kLww).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto before = store_->ReadChanges({});
  ASSERT_TRUE(before.ok());
  const InstanceId old_id = store_->instance_id();
  auto cleared = store_->ClearRecords();
  ASSERT_TRUE(cleared.ok()) << cleared.status().ToString();
  EXPECT_EQ(*cleared, 2u);  // the tombstone too
  EXPECT_FALSE(store_->Get("notes", "n1")->has_value());
  EXPECT_FALSE(store_->Get("notes", "n2")->has_value());
  auto after = store_->ReadChanges({});
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->events.empty());
  EXPECT_NE(after->epoch, before->epoch);
  EXPECT_EQ(after->horizon, before->last_seq);
  EXPECT_EQ(after->last_seq, before->last_seq);
  EXPECT_NE(store_->instance_id(), old_id);
  auto fsic = store_->Fsic({});
  ASSERT_TRUE(fsic.ok());
  EXPECT_EQ(fsic->Get(old_id), 0u);  // a pull brings the old identity's writes back
  EXPECT_EQ(*store_->Policy("notes"), ConflictPolicy::kLww);
  // New writes: the new identity's, the seq goes on.
  auto r = Put("notes", "n1", R"({"t":3})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->record.version.origin, store_->instance_id());
  EXPECT_EQ(r->record.version.counter, 1u);
  EXPECT_GT(Changes().front().seq, before->last_seq);
}

TEST_P(StoreTest, BadInputWritesNothing) {
  const std::vector<std::tuple<std::string, std::string, std::string, Code>> cases = {
      {"Notes", "n1", "{}", Code::kInvalidArgument},
      {"", "n1", "{}", Code::kInvalidArgument},
      {"notes", "", "{}", Code::kInvalidArgument},
      {"notes", std::string("a\x01", 2), "{}", Code::kInvalidArgument},
      {"notes", "\xff", "{}", Code::kInvalidArgument},
      {"notes", std::string(256, 'x'), "{}", Code::kInvalidArgument},
      {"notes", "n1", "[1]", Code::kInvalidArgument},
      {"notes", "n1", "{\"a\":}", Code::kInvalidArgument},
      {"notes", "n1", R"({"a":1,"a":2})", Code::kInvalidArgument},
      {"notes", "n1", "{\"a\":\"" + std::string(2000, 'x') + "\"}", Code::kPayloadTooLarge},
  };
  for (const auto& [c, id, body, code] : cases) {
    auto r = Put(c, id, body);
    EXPECT_EQ(r.status().code(), code) << c << "/" << id << " " << body.substr(0, 40);
  }
  auto bad_partition = Put("notes", "n1", "{}", "lab a");
  EXPECT_EQ(bad_partition.status().code(), Code::kInvalidArgument);
  auto stats = store_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->last_seq, 0u);
  EXPECT_EQ(stats->counter, 0u);
  EXPECT_EQ(stats->live + stats->deleted, 0u);
}

TEST_P(StoreTest, PartitionsDefaultToTheCollectionAndNeverChange) {
  ASSERT_TRUE(Put("notes", "n1", "{}", "lab_a:x").ok());
  ASSERT_TRUE(Put("notes", "n2", "{}").ok());
  EXPECT_EQ((*store_->Get("notes", "n2"))->partition, "notes");
  auto moved = Put("notes", "n1", R"({"a":1})", "lab_b");
  EXPECT_EQ(moved.status().code(), Code::kConflict);
  auto kept = Put("notes", "n1", R"({"a":1})");  // absent: keeps lab_a:x
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->record.partition, "lab_a:x");
}

TEST_P(StoreTest, AnAbortedTransactionLeavesNothing) {
  {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    PutRequest req = Req("notes", "n1", "{}");
    ASSERT_TRUE((*txn)->Put(req).ok());
    req.id = "n2";
    ASSERT_TRUE((*txn)->Put(req).ok());
  }  // no Commit()
  EXPECT_FALSE(store_->Get("notes", "n1")->has_value());
  auto r = Put("notes", "n3", "{}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seq, 1u);  // the aborted seqs and counters were not consumed
  EXPECT_EQ(r->record.version.counter, 1u);
}

TEST_P(StoreTest, CommitEndsTheTransactionAndNestingIsRefused) {
  auto first = store_->BeginWrite();
  ASSERT_TRUE(first.ok());
  // A second transaction on the same thread would wait for itself.
  EXPECT_EQ(store_->BeginWrite().status().code(), Code::kInternal);
  ASSERT_TRUE((*first)->Put(Req("notes", "n1", "{}")).ok());
  ASSERT_TRUE((*first)->Commit().ok());
  // Committed but not destroyed: the next transaction may begin.
  auto second = store_->BeginWrite();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_TRUE((*second)->Put(Req("notes", "n2", "{}")).ok());
  ASSERT_TRUE((*second)->Commit().ok());
  EXPECT_EQ(Changes().size(), 2u);
}

TEST_P(StoreTest, AFailedPutInsideATransactionKeepsTheOthers) {
  auto txn = store_->BeginWrite();
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE((*txn)->Put(Req("notes", "n1", "{}")).ok());
  EXPECT_FALSE((*txn)->Put(Req("notes", "n2", "not json")).ok());
  ASSERT_TRUE((*txn)->Put(Req("notes", "n3", "{}")).ok());
  ASSERT_TRUE((*txn)->Commit().ok());
  EXPECT_EQ(Changes().size(), 2u);
  EXPECT_FALSE((*txn)->Put(Req("notes", "n4", "{}")).ok());  // used after commit
}

TEST_P(StoreTest, ParentMovesLogALeaveAndAnArrival) {
  ASSERT_TRUE(PutWithParent("n1", "{}", "folder-a").ok());
  ASSERT_TRUE(PutWithParent("n1", R"({"x":1})", "folder-a").ok());
  ASSERT_TRUE(PutWithParent("n1", R"({"x":1})", "folder-b").ok());
  ChangeQuery qa;
  qa.parent = "folder-a";
  const auto a = Changes(qa);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].op, ChangeOp::kCreate);
  EXPECT_EQ(a[1].op, ChangeOp::kUpdate);
  EXPECT_EQ(a[2].op, ChangeOp::kDelete);
  ChangeQuery qb;
  qb.parent = "folder-b";
  const auto b = Changes(qb);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].op, ChangeOp::kCreate);
  ASSERT_TRUE(b[0].record.has_value());
  EXPECT_EQ(b[0].record->parent, "folder-b");
}

TEST_P(StoreTest, ChangePagesAreLimitedAndFiltered) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(Put(i % 2 ? "odd" : "even", "r" + std::to_string(i), "{}").ok());
  }
  ChangeQuery q;
  q.limit = 4;
  auto page = store_->ReadChanges(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->events.size(), 4u);
  EXPECT_TRUE(page->has_more);
  EXPECT_EQ(page->last_seq, 10u);
  EXPECT_EQ(page->events[0].seq, 1u);
  EXPECT_EQ(page->events[3].seq, 4u);
  q.after_seq = 8;
  page = store_->ReadChanges(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->events.size(), 2u);
  EXPECT_FALSE(page->has_more);

  ChangeQuery odd;
  odd.collection = "odd";
  odd.limit = 5;
  page = store_->ReadChanges(odd);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->events.size(), 5u);
  EXPECT_FALSE(page->has_more);
  for (const auto& e : page->events) {
    EXPECT_EQ(e.collection, "odd");
    EXPECT_EQ(e.seq % 2, 0u);
    ASSERT_TRUE(e.record.has_value());
    EXPECT_EQ(e.record->id, e.id);
  }
}

TEST_P(StoreTest, ListPagesByIdAndHidesTombstones) {
  for (const char* id : {"c", "a", "b", "d"}) ASSERT_TRUE(Put("notes", id, "{}").ok());
  ASSERT_TRUE(Del("notes", "b").ok());
  ListQuery q;
  q.collection = "notes";
  q.limit = 2;
  auto first = store_->List(q);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].id, "a");
  EXPECT_EQ((*first)[1].id, "c");
  q.after_id = "c";
  auto second = store_->List(q);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].id, "d");
  q.after_id = "";
  q.limit = 10;
  q.include_deleted = true;
  EXPECT_EQ(store_->List(q)->size(), 4u);
}

TEST_P(StoreTest, StatsCountRecordsAndChanges) {
  ASSERT_TRUE(Put("a", "1", "{}").ok());
  ASSERT_TRUE(Put("a", "2", "{}").ok());
  ASSERT_TRUE(Put("b", "1", "{}").ok());
  ASSERT_TRUE(Del("a", "2").ok());
  auto s = store_->Stats();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->instance_id, store_->instance_id());
  EXPECT_EQ(s->last_seq, 4u);
  EXPECT_EQ(s->changes, 4u);
  EXPECT_EQ(s->counter, 4u);
  EXPECT_EQ(s->live, 2u);
  EXPECT_EQ(s->deleted, 1u);
  ASSERT_EQ(s->collections.size(), 2u);
  EXPECT_EQ(s->collections[0].name, "a");
  EXPECT_EQ(s->collections[0].live, 1u);
  EXPECT_EQ(s->collections[0].deleted, 1u);
}

TEST_P(StoreTest, IdentityAndCountersSurviveReopening) {
  const InstanceId id = store_->instance_id();
  ASSERT_TRUE(Put("notes", "n1", "{}").ok());
  const uint64_t hlc1 = store_->Get("notes", "n1")->value().hlc;
  store_.reset();
  clock_.Advance(-3'600'000);  // the wall clock went back an hour
  store_ = Open();
  EXPECT_EQ(store_->instance_id(), id);
  auto r = Put("notes", "n2", "{}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seq, 2u);
  EXPECT_EQ(r->record.version.counter, 2u);
  EXPECT_GT(r->record.hlc, hlc1);
}

TEST_P(StoreTest, CompactionKeepsWhatANewClientNeeds) {
  // Old history: n1 created and updated three times; n2 created and deleted;
  // n3 created, deleted and created again.
  ASSERT_TRUE(Put("notes", "n1", R"({"v":1})").ok());  // 1
  ASSERT_TRUE(Put("notes", "n1", R"({"v":2})").ok());  // 2
  ASSERT_TRUE(Put("notes", "n2", R"({"v":1})").ok());  // 3
  ASSERT_TRUE(Put("notes", "n1", R"({"v":3})").ok());  // 4
  ASSERT_TRUE(Del("notes", "n2").ok());                // 5
  ASSERT_TRUE(Put("notes", "n3", R"({"v":1})").ok());  // 6
  ASSERT_TRUE(Del("notes", "n3").ok());                // 7
  ASSERT_TRUE(Put("notes", "n3", R"({"v":2})").ok());  // 8
  clock_.Advance(10 * 86'400'000LL);
  ASSERT_TRUE(Put("notes", "n1", R"({"v":4})").ok());  // 9: recent, kept
  auto r = store_->Compact(clock_.NowMillis() - 86'400'000LL);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->events_removed, 5u);  // 2, 3, 5, 6, 7
  EXPECT_EQ(r->horizon, 7u);
  std::vector<uint64_t> seqs;
  for (const auto& e : Changes()) seqs.push_back(e.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 4, 8, 9}));
  auto page = store_->ReadChanges({});
  EXPECT_EQ(page->horizon, 7u);
  // Compacting again changes nothing.
  auto again = store_->Compact(clock_.NowMillis() - 86'400'000LL);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->events_removed, 0u);
  EXPECT_EQ(again->horizon, 7u);
}

TEST_P(StoreTest, CompactionWithNothingOldDoesNothing) {
  ASSERT_TRUE(Put("notes", "n1", "{}").ok());
  auto r = store_->Compact(clock_.NowMillis() - 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->events_removed, 0u);
  EXPECT_EQ(r->horizon, 0u);
}

TEST_P(StoreTest, ListenersHearCommitsOfOtherConnections) {
  auto other = Open();  // as another process would
  ASSERT_NE(other, nullptr);
  std::atomic<int> heard{0};
  const uint64_t id = store_->AddChangeListener([&] { heard++; });
  {
    auto txn = other->BeginWrite();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->Put(Req("notes", "n1", "{}")).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (heard == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GT(heard.load(), 0);
  const int before = heard;
  ASSERT_TRUE(Put("notes", "n2", "{}").ok());  // own commits notify at once
  EXPECT_GT(heard.load(), before);
  store_->RemoveChangeListener(id);
}

TEST_P(StoreTest, ConcurrentWritersAreSerialized) {
  constexpr int kThreads = 4, kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!Put("notes", std::to_string(t) + "-" + std::to_string(i), "{}").ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const auto events = Changes();
  ASSERT_EQ(events.size(), size_t{kThreads * kPerThread});
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].seq, i + 1);
  EXPECT_EQ(store_->Stats()->counter, uint64_t{kThreads * kPerThread});
}

// A write waiting for another gives up after the busy timeout, whether the
// other is a thread of this process or another process: a server thread is
// never blocked without bound.
TEST_P(StoreTest, AWriteWaitsForAnotherAtMostTheBusyTimeout) {
  StoreOptions o = Options();
  o.busy_timeout = std::chrono::milliseconds(200);
  auto opened = Store::Open(GetParam().spec(dir_.path(), "bounded"), o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Store& store = **opened;
  auto other_process = Store::Open(GetParam().spec(dir_.path(), "bounded"), o);
  ASSERT_TRUE(other_process.ok());

  std::mutex mu;
  std::condition_variable cv;
  bool holding = false, release = false;
  std::thread holder([&] {
    auto txn = store.BeginWrite();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->Put(Req("notes", "held", "{}")).ok());
    std::unique_lock<std::mutex> lock(mu);
    holding = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    EXPECT_TRUE((*txn)->Commit().ok());
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return holding; });
  }
  auto same = store.BeginWrite();
  EXPECT_EQ(same.status().code(), Code::kBusy) << same.status().ToString();
  EXPECT_NE(same.status().message().find("busy_timeout"), std::string::npos);
  auto other = (*other_process)->BeginWrite();
  EXPECT_EQ(other.status().code(), Code::kBusy) << other.status().ToString();
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  holder.join();
  auto after = store.BeginWrite();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  ASSERT_TRUE((*after)->Put(Req("notes", "after", "{}")).ok());
  ASSERT_TRUE((*after)->Commit().ok());
  EXPECT_EQ(store.Stats()->live, 2u);
}

// Replication sessions (repl/server.h keeps them so that any process
// serving the store goes on with them): what is put is what another handle
// on the store reads back, field for field.
SyncSessionRow Session(const std::string& key_digit, int64_t used_ms) {
  SyncSessionRow s;
  s.key = std::string(64, key_digit[0]);
  s.owner = "token lab-b";
  s.scope = {"lab_a", "lab_b:x"};
  s.peer = *InstanceId::FromHex(std::string(32, 'b'));
  s.direction = Direction::kBoth;
  s.filter = {"lab_a"};
  s.chunk_size = 2500;
  s.codec = "zstd";
  s.peer_fsic.Set(*InstanceId::FromHex(std::string(32, 'b')), 7);
  s.peer_fsic.Set(*InstanceId::FromHex(std::string(32, 'c')), 3);
  s.own_fsic.Set(*InstanceId::FromHex(std::string(32, 'a')), 12);
  // Instances without a stream here are kept too (a position may name one).
  s.ends = {{*InstanceId::FromHex(std::string(32, 'a')), 12},
            {*InstanceId::FromHex(std::string(32, 'b')), 0},
            {*InstanceId::FromHex(std::string(32, 'c')), 5}};
  s.created_ms = used_ms - 1000;
  s.used_ms = used_ms;
  return s;
}

Status InTxn(Store& store, const std::function<Status(WriteTransaction&)>& work) {
  BRAID_ASSIGN_OR_RETURN(auto txn, store.BeginWrite());
  BRAID_RETURN_IF_ERROR(work(*txn));
  return txn->Commit();
}

TEST_P(StoreTest, SyncSessionsAreReadBackByEveryHandleUntilTheyEnd) {
  SyncSessionRow credentials = Session("1", 5000);
  SyncSessionRow certificate = Session("2", 6000);
  certificate.owner = "certificate 3f3f";
  certificate.scope.clear();
  certificate.chain = R"([{"serial":"3f3f"}])";
  certificate.direction = Direction::kPull;
  certificate.filter.clear();
  certificate.codec = "identity";
  certificate.peer_fsic = VersionVector();
  ASSERT_TRUE(InTxn(*store_, [&](WriteTransaction& txn) -> Status {
                BRAID_RETURN_IF_ERROR(txn.PutSyncSession(credentials));
                return txn.PutSyncSession(certificate);
              }).ok());
  auto other = Open();  // as another process would
  ASSERT_NE(other, nullptr);
  for (const SyncSessionRow& want : {credentials, certificate}) {
    auto got = other->GetSyncSession(want.key);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ(**got, want);
  }
  auto none = other->GetSyncSession(std::string(64, '9'));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  // A key is used once.
  EXPECT_EQ(
      InTxn(*other, [&](WriteTransaction& txn) { return txn.PutSyncSession(credentials); }).code(),
      Code::kAlreadyExists);
  SyncSessionRow bad = Session("3", 1);
  bad.key = "not-a-digest";
  EXPECT_EQ(InTxn(*other, [&](WriteTransaction& txn) { return txn.PutSyncSession(bad); }).code(),
            Code::kInvalidArgument);
  // The last use only moves forward.
  ASSERT_TRUE(InTxn(*other, [&](WriteTransaction& txn) -> Status {
                BRAID_RETURN_IF_ERROR(txn.TouchSyncSession(credentials.key, 9000));
                return txn.TouchSyncSession(certificate.key, 100);
              }).ok());
  EXPECT_EQ((*store_->GetSyncSession(credentials.key))->used_ms, 9000);
  EXPECT_EQ((*store_->GetSyncSession(certificate.key))->used_ms, 6000);
  // Ended by one handle, gone for every one; ending it again is no error.
  ASSERT_TRUE(InTxn(*store_, [&](WriteTransaction& txn) -> Status {
                BRAID_RETURN_IF_ERROR(txn.DeleteSyncSession(certificate.key));
                BRAID_RETURN_IF_ERROR(txn.DeleteSyncSession(certificate.key));
                return txn.TouchSyncSession(certificate.key, 99999);  // nothing to touch
              }).ok());
  EXPECT_FALSE(other->GetSyncSession(certificate.key)->has_value());
  EXPECT_TRUE(other->GetSyncSession(credentials.key)->has_value());
}

TEST_P(StoreTest, ExpiringSessionsRemovesTheUnusedThenTheLeastRecentlyUsed) {
  ASSERT_TRUE(InTxn(*store_, [&](WriteTransaction& txn) -> Status {
                for (int i = 1; i <= 6; ++i) {
                  BRAID_RETURN_IF_ERROR(txn.PutSyncSession(Session(std::to_string(i), i * 1000)));
                }
                return Status::OK();
              }).ok());
  uint64_t removed = 0;
  // Used before 2,500: sessions 1 and 2. Then all but the 3 used last: 3.
  ASSERT_TRUE(InTxn(*store_, [&](WriteTransaction& txn) -> Status {
                BRAID_ASSIGN_OR_RETURN(removed, txn.ExpireSyncSessions(2500, 3));
                return Status::OK();
              }).ok());
  EXPECT_EQ(removed, 3u);
  for (int i = 1; i <= 6; ++i) {
    auto got = store_->GetSyncSession(Session(std::to_string(i), 0).key);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->has_value(), i >= 4) << i;
  }
  ASSERT_TRUE(InTxn(*store_, [&](WriteTransaction& txn) -> Status {
                BRAID_ASSIGN_OR_RETURN(removed, txn.ExpireSyncSessions(0, 100));
                return Status::OK();
              }).ok());
  EXPECT_EQ(removed, 0u);
}

TEST_P(StoreTest, AChallengeIsTakenOnce) {
  ChallengeRow c;
  c.id = std::string(32, 'a');
  c.root = std::string(32, 'f');
  c.client_nonce = std::string("\0\x01\xff client", 10);  // bytes, not text
  c.server_nonce = std::string(32, '\x80');
  c.made_ms = 1000;
  ChallengeRow later = c;
  later.id = std::string(32, 'b');
  later.made_ms = 2000;
  ASSERT_TRUE(InTxn(*store_, [&](WriteTransaction& txn) -> Status {
                BRAID_RETURN_IF_ERROR(txn.PutChallenge(c));
                return txn.PutChallenge(later);
              }).ok());
  EXPECT_EQ(InTxn(*store_, [&](WriteTransaction& txn) { return txn.PutChallenge(c); }).code(),
            Code::kAlreadyExists);
  auto other = Open();
  ASSERT_NE(other, nullptr);
  std::optional<ChallengeRow> taken, again;
  ASSERT_TRUE(InTxn(*other, [&](WriteTransaction& txn) -> Status {
                BRAID_ASSIGN_OR_RETURN(taken, txn.TakeChallenge(c.id));
                BRAID_ASSIGN_OR_RETURN(again, txn.TakeChallenge(c.id));
                return Status::OK();
              }).ok());
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(*taken, c);
  EXPECT_FALSE(again.has_value());
  // A rolled back take leaves the challenge.
  {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    auto t = (*txn)->TakeChallenge(later.id);
    ASSERT_TRUE(t.ok() && t->has_value());
  }
  uint64_t removed = 0;
  ASSERT_TRUE(InTxn(*store_, [&](WriteTransaction& txn) -> Status {
                BRAID_ASSIGN_OR_RETURN(removed, txn.ExpireChallenges(2001, 10));
                BRAID_ASSIGN_OR_RETURN(taken, txn.TakeChallenge(later.id));
                return Status::OK();
              }).ok());
  EXPECT_EQ(removed, 1u);
  EXPECT_FALSE(taken.has_value());
}

TEST_P(StoreTest, OpeningAMissingStoreWithoutCreateFails) {
  auto s = Store::Open(GetParam().spec(dir_.path(), "nothing"), StoreOptions());
  EXPECT_EQ(s.status().code(), Code::kNotFound) << s.status().ToString();
  auto again = Store::Open(GetParam().spec(dir_.path(), "nothing"), StoreOptions());
  EXPECT_EQ(again.status().code(), Code::kNotFound) << "the failed open created something";
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::ValuesIn(testing::TestBackends()),
                         [](const auto& info) { return info.param.name; });

// Specs that name no store braid knows are refused, naming what is wrong.
TEST(StoreSpecTest, BadSpecsAreRefused) {
  TempDir dir;
  struct Case {
    std::string spec, says;
  };
  for (const Case& c : std::vector<Case>{
           {"", "unknown store"},
           {dir.File("store.db"), "unknown store"},
           {"sqlite:", "names no file"},
           {"sqlite:" + dir.File("a.db") + "?cache_mib=0", "cache_mib"},
           {"sqlite:" + dir.File("a.db") + "?cache_mib=12x", "cache_mib"},
           {"sqlite:" + dir.File("a.db") + "?pages=3", "unknown setting \"pages\""},
           {"postgresql:braid", "postgresql://"},
           {"postgresql://127.0.0.1/braid?colour=blue", "invalid URI query parameter"},
       }) {
    StoreOptions o;
    o.create_if_missing = true;
    auto s = Store::Open(c.spec, o);
    EXPECT_EQ(s.status().code(), Code::kInvalidArgument) << c.spec;
    EXPECT_NE(s.status().message().find(c.says), std::string::npos) << s.status().ToString();
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "a refused spec created a file";
  StoreOptions o;
  o.create_if_missing = true;
  EXPECT_TRUE(Store::Open("sqlite:" + dir.File("b.db") + "?cache_mib=8", o).ok());
  // A server that is not there: unavailable (retry later), not a bad spec.
  auto gone = Store::Open("postgresql://127.0.0.1:1/braid?connect_timeout=2", o);
  EXPECT_EQ(gone.status().code(), Code::kUnavailable) << gone.status().ToString();
}

}  // namespace
}  // namespace braid
