#include "braid/delta.h"

#include <gtest/gtest.h>

#include "base/encoding.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace braid {
namespace {

ChangeEvent Event(uint64_t seq, ChangeOp op, std::string id, bool record_deleted = false) {
  ChangeEvent e;
  e.seq = seq;
  e.op = op;
  e.collection = "notes";
  e.id = std::move(id);
  Record r;
  r.collection = "notes";
  r.id = e.id;
  r.deleted = record_deleted;
  r.body = record_deleted ? "{}" : R"({"latest":true})";
  e.record = r;
  return e;
}

std::string Summary(const std::vector<DeltaItem>& items) {
  std::string s;
  for (const auto& i : items) {
    if (!s.empty()) s += " ";
    s += std::string(ChangeOpName(i.type)) + ":" + i.id + "@" + std::to_string(i.seq);
  }
  return s;
}

constexpr auto C = ChangeOp::kCreate;
constexpr auto U = ChangeOp::kUpdate;
constexpr auto D = ChangeOp::kDelete;

TEST(CompressTest, FollowsTheCompressionTable) {
  // create + update -> create, with the latest record
  auto items = CompressEvents({Event(1, C, "a"), Event(2, U, "a"), Event(3, U, "a")});
  EXPECT_EQ(Summary(items), "create:a@3");
  ASSERT_TRUE(items[0].record.has_value());
  EXPECT_EQ(items[0].record->body, R"({"latest":true})");
  // update + update -> update
  EXPECT_EQ(Summary(CompressEvents({Event(1, U, "a"), Event(2, U, "a")})), "update:a@2");
  // create + delete -> nothing (also with updates between)
  EXPECT_EQ(Summary(CompressEvents(
                {Event(1, C, "a", true), Event(2, U, "a", true), Event(3, D, "a", true)})),
            "");
  // update + delete -> delete, without a record
  items = CompressEvents({Event(1, U, "a", true), Event(2, D, "a", true)});
  EXPECT_EQ(Summary(items), "delete:a@2");
  EXPECT_FALSE(items[0].record.has_value());
  // delete + create -> create
  EXPECT_EQ(Summary(CompressEvents({Event(1, D, "a"), Event(2, C, "a")})), "create:a@2");
  // create + delete + create -> create
  EXPECT_EQ(Summary(CompressEvents({Event(1, C, "a"), Event(2, D, "a"), Event(3, C, "a")})),
            "create:a@3");
  // A lone delete stays a delete.
  EXPECT_EQ(Summary(CompressEvents({Event(4, D, "a", true)})), "delete:a@4");
}

TEST(CompressTest, ItemsAreOrderedByTheirLastEvent) {
  auto items = CompressEvents(
      {Event(1, C, "a"), Event(2, C, "b"), Event(3, U, "a"), Event(4, C, "c"), Event(5, U, "b")});
  EXPECT_EQ(Summary(items), "create:a@3 create:c@4 create:b@5");
}

TEST(CompressTest, AnItemDeletedAfterThePageIsReportedDeleted) {
  // The page holds only the create, but the record is already a tombstone.
  auto items = CompressEvents({Event(1, C, "a", /*record_deleted=*/true)});
  EXPECT_EQ(Summary(items), "delete:a@1");
  EXPECT_FALSE(items[0].record.has_value());
}

TEST(CursorTest, RoundTripsAndRejectsAnythingElse) {
  const std::string c = EncodeCursor({0x0123456789abcdefULL, 42});
  auto d = DecodeCursor(c);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->epoch, 0x0123456789abcdefULL);
  EXPECT_EQ(d->seq, 42u);

  std::string flipped = c;
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  for (const std::string& bad :
       {std::string(), std::string("x"), std::string("not a cursor!"), c.substr(0, c.size() - 1),
        c + "A", flipped, std::string(c.size(), '='), Base64UrlEncode(std::string(21, '\0'))}) {
    auto r = DecodeCursor(bad);
    EXPECT_EQ(r.status().code(), Code::kResyncRequired) << bad;
  }
}

class ReadDeltaTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = testing::OpenTestStore(dir_.File("store.db")); }
  void Put(std::string_view collection, std::string_view id, std::string_view body) {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    PutRequest r;
    r.collection = collection;
    r.id = id;
    r.body = body;
    ASSERT_TRUE((*txn)->Put(r).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(ReadDeltaTest, PagesThroughTheLogWithCursors) {
  for (int i = 0; i < 5; ++i) Put("notes", "n" + std::to_string(i), "{}");
  DeltaRequest req;
  req.limit = 2;
  std::vector<std::string> seen;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = ReadDelta(*store_, req);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ASSERT_LE(page->items.size(), 2u);
    for (const auto& item : page->items) seen.push_back(item.id);
    req.cursor = page->cursor;
    if (!page->has_more) break;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"n0", "n1", "n2", "n3", "n4"}));
  // At the end: an empty page and the same position.
  auto end = ReadDelta(*store_, req);
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->items.empty());
  EXPECT_FALSE(end->has_more);
  EXPECT_EQ(end->cursor, req.cursor);
  // New writes show up after the cursor.
  Put("notes", "n0", R"({"v":2})");
  auto next = ReadDelta(*store_, req);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(Summary(next->items), "update:n0@6");
}

TEST_F(ReadDeltaTest, AFilteredCursorSkipsAheadPastOtherCollections) {
  Put("a", "1", "{}");
  Put("b", "1", "{}");
  Put("b", "2", "{}");
  DeltaRequest req;
  req.collection = "a";
  auto page = ReadDelta(*store_, req);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Summary(page->items), "create:1@1");
  EXPECT_EQ(DecodeCursor(page->cursor)->seq, 3u);
}

TEST_F(ReadDeltaTest, ForeignAheadAndCompactedCursorsNeedAResync) {
  Put("notes", "n1", "{}");
  auto page = ReadDelta(*store_, {});
  ASSERT_TRUE(page.ok());
  const DeltaCursor mine = *DecodeCursor(page->cursor);

  DeltaRequest foreign;
  foreign.cursor = EncodeCursor({mine.epoch + 1, mine.seq});
  EXPECT_EQ(ReadDelta(*store_, foreign).status().code(), Code::kResyncRequired);

  DeltaRequest ahead;
  ahead.cursor = EncodeCursor({mine.epoch, mine.seq + 5});
  EXPECT_EQ(ReadDelta(*store_, ahead).status().code(), Code::kResyncRequired);

  DeltaRequest malformed;
  malformed.cursor = "bm90LWEtY3Vyc29y";
  EXPECT_EQ(ReadDelta(*store_, malformed).status().code(), Code::kResyncRequired);

  // n1 updated twice, then everything compacted: the first update goes, so
  // a cursor from before it is behind the horizon.
  DeltaRequest start;
  start.cursor = EncodeCursor({mine.epoch, 1});
  Put("notes", "n1", R"({"v":1})");
  Put("notes", "n1", R"({"v":2})");
  ASSERT_TRUE(store_->Compact(INT64_MAX).ok());
  EXPECT_EQ(ReadDelta(*store_, start).status().code(), Code::kResyncRequired);
  // Starting over without a cursor works and sees the item once.
  auto fresh = ReadDelta(*store_, {});
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(Summary(fresh->items), "create:n1@3");
}

TEST_F(ReadDeltaTest, BadParametersAreInvalid) {
  DeltaRequest req;
  req.limit = 0;
  EXPECT_EQ(ReadDelta(*store_, req).status().code(), Code::kInvalidArgument);
  req.limit = kMaxDeltaLimit + 1;
  EXPECT_EQ(ReadDelta(*store_, req).status().code(), Code::kInvalidArgument);
  req.limit = 10;
  req.collection = "Not Valid";
  EXPECT_EQ(ReadDelta(*store_, req).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace braid
