// What only the SQLite backend does: copy detection by inode, background
// checkpoints, refusing files that are not stores. (The store test suite,
// store_test.cc, runs on every backend.)

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "braid/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace braid {
namespace {

using testing::TempDir;

PutRequest Req(std::string_view collection, std::string_view id, std::string_view body) {
  PutRequest r;
  r.collection = collection;
  r.id = id;
  r.body = body;
  return r;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = Open(dir_.File("store.db")); }
  std::unique_ptr<Store> Open(const std::string& path = "") {
    auto s = Store::Open("sqlite:" + (path.empty() ? dir_.File("store.db") : path),
                         testing::TestStoreOptions(&clock_));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  Status Put(std::string_view collection, std::string_view id, std::string_view body) {
    BRAID_ASSIGN_OR_RETURN(auto txn, store_->BeginWrite());
    BRAID_RETURN_IF_ERROR(txn->Put(Req(collection, id, body)).status());
    return txn->Commit();
  }

  TempDir dir_;
  FakeClock clock_{1'700'000'000'000};
  std::unique_ptr<Store> store_;
};

TEST_F(SqliteStoreTest, ACopiedStoreGetsANewIdentity) {
  ASSERT_TRUE(Put("notes", "n1", "{}").ok());
  const InstanceId id = store_->instance_id();
  const uint64_t epoch = store_->Stats()->epoch;
  store_.reset();
  TempDir copy;
  std::filesystem::copy_file(dir_.File("store.db"), copy.File("store.db"));
  auto copied = Open(copy.File("store.db"));
  ASSERT_NE(copied, nullptr);
  EXPECT_NE(copied->instance_id(), id);
  EXPECT_NE(copied->Stats()->epoch, epoch);
  // The copy keeps the data and the versions it holds.
  auto rec = copied->Get("notes", "n1");
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_EQ((*rec)->version.origin, id);
  // Reopening the copy keeps its new identity; the original keeps its own.
  const InstanceId copy_id = copied->instance_id();
  copied.reset();
  EXPECT_EQ(Open(copy.File("store.db"))->instance_id(), copy_id);
  store_ = Open();
  EXPECT_EQ(store_->instance_id(), id);
}

// A commit that leaves megabytes in the WAL has them copied into the
// database by the checkpointer thread, while the store stays open (without
// it, they would wait for 64 MiB of WAL or for the store to close).
TEST_F(SqliteStoreTest, ALargeCommitIsCheckpointedInTheBackground) {
  const std::string db = dir_.File("store.db");
  const auto before = std::filesystem::file_size(db);
  {
    auto txn = std::move(*store_->BeginWrite());
    const std::string body = R"({"text":")" + std::string(900, 'x') + R"("})";
    for (int i = 0; i < 8000; ++i) {
      ASSERT_TRUE(txn->Put(Req("notes", "n" + std::to_string(i), body)).ok());
    }
    ASSERT_TRUE(txn->Commit().ok());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::filesystem::file_size(db) < before + 6'000'000 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(std::filesystem::file_size(db), before + 6'000'000);
  EXPECT_EQ(store_->Stats()->live, 8000u);
  ASSERT_TRUE(Put("notes", "after", "{}").ok());  // commits go on while it runs
  store_.reset();
  store_ = Open();
  EXPECT_EQ(store_->Stats()->live, 8001u);
}

TEST_F(SqliteStoreTest, AFileThatIsNotAStoreIsRefused) {
  {
    FILE* f = std::fopen(dir_.File("junk.db").c_str(), "w");
    std::fputs("this is not sqlite at all, just some text that is long enough", f);
    std::fclose(f);
  }
  auto s = Store::Open("sqlite:" + dir_.File("junk.db"), StoreOptions());
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.status().code() == Code::kCorruption) << s.status().ToString();
}

}  // namespace
}  // namespace braid
