// Sender and receiver of one session direction, on two real stores in one
// process (the integration tests run them across real processes).

#include "repl/stream.h"

#include <gtest/gtest.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "base/mutex.h"
#include "braid/hlc.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace braid::repl {
namespace {

InstanceId Id(char c) { return *InstanceId::FromHex(std::string(32, c)); }

// Applies a chunk built by a sender as a peer would receive it.
Result<StreamReceiver::Applied> ApplyChunk(StreamReceiver& receiver, const Chunk& chunk) {
  return receiver.ApplyText(ChunkJson(chunk), Codec::kIdentity, SIZE_MAX);
}

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = testing::OpenTestStore(dir_.File("a.db"));
    b_ = testing::OpenTestStore(dir_.File("b.db"));
  }
  void Put(Store& s, const std::string& id, const std::string& partition = "") {
    auto txn = std::move(*s.BeginWrite());
    PutRequest r;
    r.collection = "notes";
    r.id = id;
    const std::string body = R"({"id":")" + id + R"("})";
    r.body = body;
    if (!partition.empty()) r.partition = partition;
    ASSERT_TRUE(txn->Put(r).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  // Runs a session from a_ to b_ with `filter`; stops after `max_chunks`
  // chunks (a crash). Returns the chunks applied.
  int Transfer(const std::vector<std::string>& filter, size_t chunk_size,
               int max_chunks = 1 << 30) {
    auto sender = StreamSender::Create(*a_, filter, *b_->Fsic(filter), *a_->Fsic(filter));
    auto receiver = StreamReceiver::Create(*b_, filter, *a_->Fsic(filter), false, "a");
    EXPECT_TRUE(sender.ok() && receiver.ok());
    std::optional<Position> after;
    int chunks = 0;
    while (chunks < max_chunks) {
      auto chunk = sender->Next(after, chunk_size);
      EXPECT_TRUE(chunk.ok()) << chunk.status().ToString();
      if (!chunk.ok()) break;
      if (chunk->records.empty() && !chunk->next) break;
      auto applied = ApplyChunk(*receiver, *chunk);
      EXPECT_TRUE(applied.ok()) << applied.status().ToString();
      ++chunks;
      if (!chunk->next) break;
      after = chunk->next;
    }
    return chunks;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> a_, b_;
};

TEST_F(StreamTest, AFullTransferCopiesEverythingAndCompletesTheFsic) {
  for (int i = 0; i < 250; ++i) Put(*a_, "n" + std::to_string(i));
  EXPECT_EQ(Transfer({}, 100), 3);
  EXPECT_EQ(b_->Stats()->live, 250u);
  const Record ra = **a_->Get("notes", "n7"), rb = **b_->Get("notes", "n7");
  EXPECT_EQ(rb.version, ra.version);
  EXPECT_EQ(rb.vv, ra.vv);
  EXPECT_EQ(rb.body, ra.body);
  EXPECT_EQ(b_->Fsic({})->Get(a_->instance_id()), 250u);
  // Nothing is pending the second time, and nothing is sent.
  auto sender = StreamSender::Create(*a_, {}, *b_->Fsic({}), *a_->Fsic({}));
  EXPECT_EQ(*sender->Pending(), 0u);
  EXPECT_EQ(Transfer({}, 100), 0);
}

// Large records end a chunk before its record count does: a chunk of 5,000
// 1 MiB records would need gigabytes on both sides.
TEST_F(StreamTest, ChunksStopAtTheirByteBudget) {
  const std::string big(1024 * 1024, 'x');
  for (int i = 0; i < 20; ++i) {
    auto txn = std::move(*a_->BeginWrite());
    PutRequest r;
    r.collection = "notes";
    const std::string id = "big" + std::to_string(i);  // PutRequest views it
    r.id = id;
    const std::string body = R"({"x":")" + big + R"("})";
    r.body = body;
    ASSERT_TRUE(txn->Put(r).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto sender = StreamSender::Create(*a_, {}, *b_->Fsic({}), *a_->Fsic({}));
  ASSERT_TRUE(sender.ok());
  auto first = sender->Next(std::nullopt, kMaxChunkSize);
  ASSERT_TRUE(first.ok());
  // 8 MiB of records: the eighth crosses it (each is a little over 1 MiB).
  EXPECT_EQ(first->records.size(), 8u);
  ASSERT_TRUE(first->next.has_value());
  // The completeness claim stops where the chunk does.
  ASSERT_EQ(first->complete_to.size(), 1u);
  EXPECT_EQ(first->complete_to[0].second, 8u);
  EXPECT_EQ(Transfer({}, kMaxChunkSize), 3);  // 8 + 8 + 4
  EXPECT_EQ(b_->Stats()->live, 20u);
  EXPECT_EQ(b_->Fsic({})->Get(a_->instance_id()), 20u);
}

TEST_F(StreamTest, AnInterruptedTransferResumesAfterItsLastAppliedChunk) {
  for (int i = 0; i < 1000; ++i) Put(*a_, "n" + std::to_string(i));
  EXPECT_EQ(Transfer({}, 100, 3), 3);  // then "killed"
  EXPECT_EQ(b_->Fsic({})->Get(a_->instance_id()), 300u);
  EXPECT_EQ(Transfer({}, 100), 7);  // the remaining 700: no chunk sent twice
  EXPECT_EQ(b_->Stats()->live, 1000u);
}

TEST_F(StreamTest, AFilterSendsOnlyItsPartitions) {
  Put(*a_, "in1", "lab_a");
  Put(*a_, "in2", "lab_a:room1");
  Put(*a_, "out1", "lab_ab");
  Put(*a_, "out2", "other");
  Transfer({"lab_a"}, 10);
  EXPECT_TRUE(b_->Get("notes", "in1")->has_value());
  EXPECT_TRUE(b_->Get("notes", "in2")->has_value());
  EXPECT_FALSE(b_->Get("notes", "out1")->has_value());
  EXPECT_FALSE(b_->Get("notes", "out2")->has_value());
  EXPECT_EQ(b_->Fsic({"lab_a"})->Get(a_->instance_id()), 4u);
  EXPECT_EQ(b_->Fsic({})->Get(a_->instance_id()), 0u);  // not complete for everything
}

TEST_F(StreamTest, RecordsOfSeveralWritersAreSentOnce) {
  // A record X wrote and a_ merged: its vv has both; it must reach b_ once.
  Record r;
  r.collection = "notes";
  r.id = "shared";
  r.partition = "notes";
  r.version = {Id('1'), 1};
  r.vv.Set(Id('1'), 1);
  r.hlc = hlc::Make(1'700'000'000'000, 0);
  r.body = R"({"x":1})";
  {
    auto txn = std::move(*a_->BeginWrite());
    ASSERT_TRUE(txn->Apply(r, ConflictPolicy::kMerge).ok());
    // As a pull would: a_ now holds every write of 1 up to 1. (Without it
    // the record is sent twice: the skip is only sound below the FSIC.)
    ASSERT_TRUE(txn->AdvanceFsic({""}, {{Id('1'), 1}}).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  {
    auto txn = std::move(*a_->BeginWrite());
    PutRequest put;
    put.collection = "notes";
    put.id = "shared";
    put.body = R"({"x":2})";
    ASSERT_TRUE(txn->Put(put).ok());  // vv {0:1, a:1}
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto sender = StreamSender::Create(*a_, {}, VersionVector(), *a_->Fsic({}));
  ASSERT_TRUE(sender.ok());
  size_t sent = 0;
  std::optional<Position> after;
  for (;;) {
    auto chunk = sender->Next(after, 10);
    ASSERT_TRUE(chunk.ok());
    sent += chunk->records.size();
    if (!chunk->next) break;
    after = chunk->next;
  }
  EXPECT_EQ(sent, 1u);
}

TEST_F(StreamTest, TheReceiverRefusesWhatTheSessionDoesNotAllow) {
  Put(*a_, "n1", "other");
  auto chunk =
      StreamSender::Create(*a_, {}, VersionVector(), *a_->Fsic({}))->Next(std::nullopt, 10);
  ASSERT_TRUE(chunk.ok());
  ASSERT_EQ(chunk->records.size(), 1u);
  // A record outside the filter.
  auto filtered = StreamReceiver::Create(*b_, {"lab_a"}, *a_->Fsic({}), false, "a");
  auto r = ApplyChunk(*filtered, *chunk);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("outside this session's filter"), std::string::npos);
  // Completeness beyond what the sender announced.
  auto receiver = StreamReceiver::Create(*b_, {}, VersionVector(), false, "a");
  r = ApplyChunk(*receiver, *chunk);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(b_->Stats()->live, 0u);
  // A one-way policy on a two-way session.
  auto txn = std::move(*b_->BeginWrite());
  ASSERT_TRUE(txn->SetPolicy("notes", ConflictPolicy::kRemoteWins).ok());
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_EQ(StreamReceiver::Create(*b_, {}, VersionVector(), true, "a").status().code(),
            Code::kConflict);
  EXPECT_TRUE(StreamReceiver::Create(*b_, {}, VersionVector(), false, "a").ok());
}

// A chunk's records come in (collection, id) byte order, whatever order
// they were written in: collections that prefix each other, collection
// names longer than the sort's inline key, ids that share long prefixes.
TEST_F(StreamTest, AChunkIsInNameOrder) {
  const std::vector<std::string> collections = {
      "b", "ab", "a", "abcdefghijklmnopqr", "abcdefghijklmnopq", "abcdefghijklmno"};
  const std::vector<std::string> ids = {"x", "shared-prefix-0002",  "shared-prefix-0001",
                                        "w", "shared-prefix-00010", "X"};
  {
    auto txn = std::move(*a_->BeginWrite());
    for (const auto& c : collections) {
      for (const auto& id : ids) {
        PutRequest r;
        r.collection = c;
        r.id = id;
        r.body = "{}";
        ASSERT_TRUE(txn->Put(r).ok());
      }
    }
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto chunk =
      StreamSender::Create(*a_, {}, VersionVector(), *a_->Fsic({}))->Next(std::nullopt, 1000);
  ASSERT_TRUE(chunk.ok());
  ASSERT_EQ(chunk->records.size(), collections.size() * ids.size());
  std::vector<std::pair<std::string, std::string>> names;
  for (const Record& r : chunk->records) names.emplace_back(r.collection, r.id);
  auto sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(names, sorted);
}

// ApplyText reads records on a second thread while it applies earlier
// ones; a fault anywhere in the chunk, even batches after the first, still
// leaves the store as it was. The chunk also comes in name order.
TEST_F(StreamTest, ApplyTextIsAllOrNothingAcrossReadBatches) {
  for (int i = 0; i < 1000; ++i) Put(*a_, "n" + std::to_string(i), i == 900 ? "other" : "");
  auto chunk =
      StreamSender::Create(*a_, {}, VersionVector(), *a_->Fsic({}))->Next(std::nullopt, 1000);
  ASSERT_TRUE(chunk.ok());
  ASSERT_EQ(chunk->records.size(), 1000u);
  // Written n0, n1, ..., n999; sent n0, n1, n10, n100, n101, ...
  std::vector<std::string> ids;
  for (const Record& r : chunk->records) ids.push_back(r.id);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  const size_t n700 = static_cast<size_t>(std::find(ids.begin(), ids.end(), "n700") - ids.begin());
  ASSERT_GT(n700, 256u);  // past the first read batch
  const std::string text = ChunkJson(*chunk);
  struct Case {
    std::string name, text, words;
    std::vector<std::string> filter;
    size_t limit = kMaxChunkSize;
  };
  std::string broken = text;
  // Record n700's body, truncated: a malformed record well past the first batch.
  const size_t at = broken.find(R"({"id":"n700"})");
  ASSERT_NE(at, std::string::npos);
  broken.replace(at, 13, R"({"id":"n700")");
  const std::vector<Case> cases = {
      {"malformed record", broken, "malformed chunk: records[" + std::to_string(n700) + "]", {}},
      {"record outside the filter", text, "outside this session's filter", {"notes"}},
      {"more records than the chunk size", text, "the session's chunk size is 999", {}, 999},
      {"trailing bytes", text + "x", "malformed chunk", {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto receiver = StreamReceiver::Create(*b_, c.filter, *a_->Fsic(c.filter), false, "a");
    ASSERT_TRUE(receiver.ok());
    receiver->LimitRecords(c.limit);
    auto r = receiver->ApplyText(c.text, Codec::kIdentity, 1 << 30);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.words), std::string::npos) << r.status().message();
    EXPECT_EQ(b_->Stats()->live, 0u);
    EXPECT_EQ(b_->Fsic({})->Get(a_->instance_id()), 0u);
  }
  auto receiver = StreamReceiver::Create(*b_, {}, *a_->Fsic({}), false, "a");
  // Decompression is bounded.
  EXPECT_EQ(receiver->ApplyText("not zstd", Codec::kZstd, 1 << 30).status().code(),
            Code::kInvalidArgument);
  std::string zstd;
  ASSERT_TRUE(Compress(Codec::kZstd, text, &zstd).ok());
  EXPECT_EQ(receiver->ApplyText(zstd, Codec::kZstd, text.size() - 1).status().code(),
            Code::kPayloadTooLarge);
  EXPECT_EQ(b_->Stats()->live, 0u);
  auto r = receiver->ApplyText(zstd, Codec::kZstd, text.size());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->counts.applied, 1000u);
  EXPECT_FALSE(r->next.has_value());
  EXPECT_EQ(b_->Stats()->live, 1000u);
  EXPECT_EQ(b_->Fsic({})->Get(a_->instance_id()), 1000u);
  EXPECT_EQ((*b_->Get("notes", "n700"))->body, R"({"id":"n700"})");
}

// The applier never waits for the reading thread: when no batch is ready
// it reads the next one itself, from where the last one ended. Held off a
// core for the whole chunk, the reading thread delays nothing (it used to
// hold the read position for a batch at a time, and the applier waited
// for it), and every record is applied once.
TEST_F(StreamTest, TheApplierNeverWaitsForTheReadingThread) {
  for (int i = 0; i < 1000; ++i) Put(*a_, "n" + std::to_string(i));
  auto chunk =
      StreamSender::Create(*a_, {}, VersionVector(), *a_->Fsic({}))->Next(std::nullopt, 1000);
  ASSERT_TRUE(chunk.ok());
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  {
    auto receiver = StreamReceiver::Create(*b_, {}, *a_->Fsic({}), false, "a");
    ASSERT_TRUE(receiver.ok());
    StreamReceiver::ReadHooks hooks;
    hooks.before_record = [released](size_t) { released.wait(); };
    receiver->SetReadHooksForTesting(hooks);
    auto r = ApplyChunk(*receiver, *chunk);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->counts.received, 1000u);
    EXPECT_EQ(r->counts.applied, 1000u);
    EXPECT_EQ(b_->Stats()->live, 1000u);
    release.set_value();  // the receiver joins its reading thread as it goes
  }
  EXPECT_EQ(b_->Fsic({})->Get(a_->instance_id()), 1000u);
}

// The reading thread, stopped in the middle of a batch until the applier
// has taken the read position over, comes back to find its batch taken:
// it throws the records it read away and goes on from where the applier
// got to. Each record is applied once.
TEST_F(StreamTest, ABatchTakenOverFromTheReadingThreadIsReadOnce) {
  constexpr int kRecords = 3000, kChunk = 1000;
  for (int i = 0; i < kRecords; ++i) Put(*a_, "n" + std::to_string(i));
  auto receiver = StreamReceiver::Create(*b_, {}, *a_->Fsic({}), false, "a");
  ASSERT_TRUE(receiver.ok());
  Mutex mu;
  CondVar cv;
  enum class Stage { kBefore, kStalled, kTakenOver } stage = Stage::kBefore;
  StreamReceiver::ReadHooks hooks;
  // Once: the reading thread stops 100 records into a batch...
  hooks.before_record = [&](size_t index) {
    std::unique_lock<Mutex> l(mu);
    if (index != 100 || stage != Stage::kBefore) return;
    stage = Stage::kStalled;
    cv.notify_all();
    cv.wait_for(l, std::chrono::seconds(10), [&] { return stage == Stage::kTakenOver; });
  };
  // ... which the applier, however busy the machine, waits for before it
  // first takes the position over, then takes that batch.
  hooks.before_takeover = [&] {
    std::unique_lock<Mutex> l(mu);
    cv.wait_for(l, std::chrono::seconds(10), [&] { return stage != Stage::kBefore; });
  };
  hooks.taken_over = [&] {
    MutexLock l(mu);
    if (stage == Stage::kStalled) stage = Stage::kTakenOver;
    cv.notify_all();
  };
  receiver->SetReadHooksForTesting(hooks);
  auto sender = StreamSender::Create(*a_, {}, *b_->Fsic({}), *a_->Fsic({}));
  ASSERT_TRUE(sender.ok());
  std::optional<Position> after;
  ApplyCounts total;
  for (;;) {
    auto chunk = sender->Next(after, kChunk);
    ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
    auto r = ApplyChunk(*receiver, *chunk);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    total.Add(r->counts);
    if (!r->next) break;
    after = r->next;
  }
  EXPECT_EQ(total.received, static_cast<uint64_t>(kRecords));
  EXPECT_EQ(total.applied, static_cast<uint64_t>(kRecords));
  EXPECT_EQ(total.ignored, 0u);
  EXPECT_EQ(b_->Stats()->live, static_cast<uint64_t>(kRecords));
  MutexLock l(mu);
  EXPECT_EQ(stage, Stage::kTakenOver);
}

}  // namespace
}  // namespace braid::repl
