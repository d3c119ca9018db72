#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "index/follower.h"
#include "index/query.h"
#include "index/search_index.h"
#include "index/text.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace braid::index {
namespace {

TEST(IndexSpecTest, ParsesFieldsAndWeights) {
  auto spec = ParseIndexSpec(" title:3, abstract ,authors:1");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(FormatIndexSpec(*spec), "title:3,abstract:1,authors:1");
  for (const char* bad : {"", " ", "title:0", "title:10", "title:x", "title:", ",", "a,a",
                          "_attachments", "ti\ttle:2", "title:3:4"}) {
    EXPECT_FALSE(ParseIndexSpec(bad).ok()) << bad;
  }
}

TEST(IndexSpecTest, TakesEveryStringOrTheNamedFields) {
  const std::string body =
      R"({"title":"Deep \"sea\"","n":5,"tags":["blue","whale"],"meta":{"note":"line1\nline2"},)"
      R"("_attachments":{"a.txt":{"sha256":"x"}}})";
  RecordText text;
  ExtractText(body, nullptr, &text);
  EXPECT_EQ(text.by_weight[0], "Deep \"sea\" · blue · whale · line1 line2");
  for (int w = 1; w < kMaxWeight; ++w) EXPECT_TRUE(text.by_weight[w].empty());
  const IndexSpec spec = *ParseIndexSpec("title:3,meta");
  ExtractText(body, &spec, &text);
  EXPECT_EQ(text.by_weight[2], "Deep \"sea\"");
  EXPECT_EQ(text.by_weight[0], "line1 line2");
  ExtractText(R"({"n":1})", &spec, &text);
  EXPECT_TRUE(text.empty());
}

TEST(SearchQueryTest, QuotesEveryTerm) {
  auto fts = [](std::string_view q) {
    auto r = ToFtsExpression(q);
    return r.ok() ? *r : "error: " + r.status().message();
  };
  EXPECT_EQ(fts("whale song"), R"(("whale") AND ("song"))");
  EXPECT_EQ(fts(R"("blue whale" krill*)"), R"(("blue whale") AND ("krill" *))");
  EXPECT_EQ(fts("whale OR dolphin sea"), R"(("whale" OR "dolphin") AND ("sea"))");
  EXPECT_EQ(fts("whale -shark NOT eel"), R"((("whale")) NOT ("shark" OR "eel"))");
  EXPECT_EQ(fts(R"(w1:x "a""b" AND)"), R"(("w1:x") AND ("a") AND ("b") AND ("AND"))");
  EXPECT_EQ(fts("whale !!! -"), R"(("whale"))");
  EXPECT_EQ(fts(std::string("whale\0krill \"a\x01"
                            "b\"",
                            17)),
            R"(("whale") AND ("krill") AND ("a b"))");  // control characters separate
  for (const char* bad : {"", "   ", "!!!", "-whale", "OR whale", "whale OR", "a OR OR b",
                          "\"unclosed", "NOT", "\xff\xfe"}) {
    EXPECT_FALSE(ToFtsExpression(bad).ok()) << bad;
  }
  EXPECT_FALSE(ToFtsExpression(std::string(kMaxQueryBytes + 1, 'a')).ok());
  std::string many;
  for (size_t i = 0; i <= kMaxQueryTerms; ++i) many += "w" + std::to_string(i) + " ";
  EXPECT_FALSE(ToFtsExpression(many).ok());
}

TEST(SearchQueryTest, CursorsRoundTripAndStrangersAreRefused) {
  const PageCursor c{-3.25, 42};
  auto back = DecodeCursor(EncodeCursor(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->rank, c.rank);
  EXPECT_EQ(back->doc, 42);
  for (const char* bad :
       {"", "1.", "2.c00a000000000000.1", "1.c00a000000000000.", "1.zz.1", "1.c00a000000000000.-1",
        "1.c00a000000000000.1x", "1.7ff8000000000000.1"}) {
    EXPECT_FALSE(DecodeCursor(bad).ok()) << bad;
  }
}

class SearchIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenTestStore(dir_.path() + "/store.db");
    auto index = SearchIndex::Open(dir_.path() + "/index");
    ASSERT_TRUE(index.ok());
    index_ = std::move(*index);
  }

  void Put(std::string_view collection, std::string_view id, std::string_view body,
           std::optional<std::string_view> partition = std::nullopt) {
    auto txn = store_->BeginWrite(Durability::kNormal);
    ASSERT_TRUE(txn.ok());
    PutRequest req;
    req.collection = collection;
    req.id = id;
    req.body = body;
    req.partition = partition;
    ASSERT_TRUE((*txn)->Put(req).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  void Delete(std::string_view collection, std::string_view id) {
    auto txn = store_->BeginWrite(Durability::kNormal);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->Delete(collection, id).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  void SetFields(std::string_view collection, std::optional<std::string_view> spec) {
    auto txn = store_->BeginWrite(Durability::kNormal);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->SetSearchFields(collection, spec).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  UpdateSummary Update(bool full = false) {
    UpdateOptions o;
    o.full = full;
    auto r = index_->Update(*store_, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : UpdateSummary{};
  }
  // "collection/id" of each hit, best first.
  std::vector<std::string> Find(std::string query, std::optional<std::string> collection = {}) {
    SearchRequest req;
    req.query = std::move(query);
    req.collection = std::move(collection);
    auto page = index_->Search(req);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> out;
    if (page.ok()) {
      for (const SearchHit& h : page->hits) out.push_back(h.collection + "/" + h.id);
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<SearchIndex> index_;
};

TEST_F(SearchIndexTest, FollowsWritesFromTheChangeLog) {
  SearchRequest req;
  req.query = "whale";
  EXPECT_EQ(index_->Search(req).status().code(), Code::kUnavailable);
  Put("books", "b1", R"({"title":"The whale","abstract":"A sea story"})");
  Put("books", "b2", R"({"title":"Krill","abstract":"What the whale eats"})");
  Put("notes", "n1", R"({"text":"Saw a whale today","n":3})");
  Put("notes", "n2", R"({"text":"nothing here"})");
  UpdateSummary first = Update();
  EXPECT_TRUE(first.full);
  EXPECT_EQ(first.why, "no index yet");
  EXPECT_EQ(first.docs, 4u);
  EXPECT_EQ(Find("whale").size(), 3u);
  EXPECT_EQ(Find("whale", "books").size(), 2u);
  std::vector<std::string> without_krill = Find("whale -krill");
  std::sort(without_krill.begin(), without_krill.end());
  EXPECT_EQ(without_krill, (std::vector<std::string>{"books/b1", "notes/n1"}));
  EXPECT_EQ(Find("\"sea story\""), std::vector<std::string>{"books/b1"});
  EXPECT_EQ(Find("kri*"), std::vector<std::string>{"books/b2"});

  // Updates and deletes reach it incrementally; the cost is the changes.
  Put("notes", "n2", R"({"text":"a whale, at last"})");
  Delete("notes", "n1");
  Put("books", "b1", R"({"title":"The dolphin"})");
  UpdateSummary next = Update();
  EXPECT_FALSE(next.full);
  EXPECT_EQ(next.events, 3u);
  EXPECT_EQ(next.indexed, 2u);
  EXPECT_EQ(next.removed, 1u);
  EXPECT_EQ(next.docs, 3u);
  std::vector<std::string> hits = Find("whale");
  std::sort(hits.begin(), hits.end());
  EXPECT_EQ(hits, (std::vector<std::string>{"books/b2", "notes/n2"}));
  EXPECT_EQ(Update().events, 0u);

  auto state = index_->State();
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->exists);
  EXPECT_EQ(state->docs, 3u);
  EXPECT_EQ(state->generation, first.generation);
}

// Updates that leave merges out (the follower's) leave segments that
// MergeSome merges later, a slice at a time, with the same results.
TEST_F(SearchIndexTest, MergesLeftOutAreDoneLater) {
  auto none = SearchIndex::Open(dir_.path() + "/none");
  ASSERT_TRUE(none.ok());
  auto nothing = (*none)->MergeSome(100);
  ASSERT_TRUE(nothing.ok());
  EXPECT_FALSE(*nothing);  // no index yet

  UpdateOptions no_merge;
  no_merge.merge = false;
  for (int i = 0; i < 8; ++i) {
    Put("notes", "n" + std::to_string(i), "{\"text\":\"common word" + std::to_string(i) + "\"}");
    auto r = index_->Update(*store_, no_merge);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->merge_seconds, 0);
  }
  std::vector<std::string> before = Find("common");
  ASSERT_EQ(before.size(), 8u);
  auto more = index_->MergeSome(1);
  ASSERT_TRUE(more.ok()) << more.status().ToString();
  EXPECT_TRUE(*more);
  int slices = 1;
  while (*more && slices < 1000) {
    more = index_->MergeSome(1);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    ++slices;
  }
  EXPECT_FALSE(*more);
  EXPECT_GT(slices, 1);
  EXPECT_EQ(Find("common"), before);
  EXPECT_EQ(Find("word5"), std::vector<std::string>{"notes/n5"});
}

TEST_F(SearchIndexTest, TheFollowerMergesWhileNoWriteWaits) {
  Put("notes", "first", R"({"text":"common"})");
  Update();
  Follower follower(*store_, *index_);
  for (int i = 0; i < 8; ++i) {
    Put("notes", "n" + std::to_string(i), R"({"text":"common"})");
    auto head = LogHead(*store_);
    ASSERT_TRUE(head.ok());
    EXPECT_GE(follower.WaitFor(head->last_seq, std::chrono::seconds(10)).cursor, head->last_seq);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (follower.state().merging && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const Follower::State st = follower.state();
  EXPECT_FALSE(st.merging);
  EXPECT_GT(st.merge_seconds, 0);
  EXPECT_TRUE(st.error.empty()) << st.error;
  auto left = index_->MergeSome(1);  // the follower merged what its updates left
  ASSERT_TRUE(left.ok());
  EXPECT_FALSE(*left);
  EXPECT_EQ(Find("common").size(), 9u);
}

TEST_F(SearchIndexTest, WeightsRankAndSettingsChangesRebuild) {
  Put("books", "in-title", R"({"title":"whale","abstract":"an animal of the sea, large"})");
  Put("books", "in-abstract", R"({"title":"large animal","abstract":"whale of the sea"})");
  Update();
  SetFields("books", "title:9,abstract:1");
  UpdateSummary s = Update();
  EXPECT_TRUE(s.full);
  EXPECT_EQ(s.why, "the index settings changed");
  EXPECT_EQ(Find("whale"), (std::vector<std::string>{"books/in-title", "books/in-abstract"}));
  SetFields("books", "title:1,abstract:9");
  EXPECT_TRUE(Update().full);
  EXPECT_EQ(Find("whale"), (std::vector<std::string>{"books/in-abstract", "books/in-title"}));
  // Fields left out are not searched.
  SetFields("books", "title");
  Update();
  EXPECT_EQ(Find("sea"), std::vector<std::string>{});
  // Old generations' files are gone.
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/index")) {
    if (e.path().extension() == ".db") ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST_F(SearchIndexTest, PagesFollowTheRankingAndSnippetsMarkMatches) {
  for (int i = 0; i < 45; ++i) {
    std::string body = R"({"text":"whale)";
    for (int k = 0; k < i; ++k) body += " filler";
    body += R"("})";
    Put("notes", "n" + std::to_string(100 + i), body,
        i % 3 == 0 ? std::optional<std::string_view>("secret") : std::nullopt);
  }
  Update();
  SearchRequest req;
  req.query = "whale";
  req.limit = 10;
  req.visible = [](std::string_view partition) { return partition != "secret"; };
  std::vector<std::string> seen;
  double last = 1e300;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = index_->Search(req);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const SearchHit& h : page->hits) {
      EXPECT_NE(h.partition, "secret");
      EXPECT_LE(h.score, last);
      last = h.score;
      seen.push_back(h.id);
      EXPECT_EQ(h.snippet.substr(0, 7), std::string("\x01whale\x02"));
    }
    if (!page->next) break;
    req.after = page->next;
  }
  EXPECT_EQ(seen.size(), 30u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 30u);
  EXPECT_EQ(seen.front(), "n101");  // the shortest text ranks first
  req.limit = 0;
  EXPECT_EQ(index_->Search(req).status().code(), Code::kInvalidArgument);
}

TEST_F(SearchIndexTest, SearchesDuringARebuildSeeTheWholeOldIndex) {
  for (int i = 0; i < 3000; ++i) {
    Put("notes", "n" + std::to_string(i), R"({"text":"common words and a whale"})");
  }
  Update();
  std::atomic<bool> stop{false};
  std::atomic<int> searches{0}, wrong{0};
  std::thread reader([&] {
    SearchRequest req;
    req.query = "whale";
    req.limit = kMaxSearchLimit;
    while (!stop) {
      size_t total = 0;
      auto page = index_->Search(req);
      if (page.ok()) total = page->hits.size() + (page->next ? 1 : 0);
      // Every search sees all 3,000 records (more than a page: the count
      // is a full page plus a next cursor).
      if (!page.ok() || total != kMaxSearchLimit + 1) ++wrong;
      ++searches;
    }
  });
  for (int i = 0; i < 3; ++i) {
    UpdateSummary s = Update(/*full=*/true);
    EXPECT_TRUE(s.full);
    EXPECT_EQ(s.docs, 3000u);
  }
  stop = true;
  reader.join();
  EXPECT_GT(searches.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(SearchIndexTest, CleanRemovesItAndTheNextUpdateRebuilds) {
  Put("notes", "n1", R"({"text":"whale"})");
  Update();
  ASSERT_TRUE(index_->Clean().ok());
  SearchRequest req;
  req.query = "whale";
  EXPECT_EQ(index_->Search(req).status().code(), Code::kUnavailable);
  auto state = index_->State();
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(state->exists);
  UpdateSummary s = Update();
  EXPECT_TRUE(s.full);
  EXPECT_EQ(Find("whale"), std::vector<std::string>{"notes/n1"});
  // A second SearchIndex (another process's) sees the same files.
  auto other = SearchIndex::Open(dir_.path() + "/index");
  ASSERT_TRUE(other.ok());
  auto page = (*other)->Search(req);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->hits.size(), 1u);
}

}  // namespace
}  // namespace braid::index
