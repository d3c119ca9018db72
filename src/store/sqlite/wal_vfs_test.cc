// The buffered-WAL VFS: what a commit writes is in the WAL file before the
// commit is published, for connections of this process and of others, with
// transactions that spill, roll back, restart the log and die half-written;
// and a large WAL outlives the last close emptied, never replayed.

#include "store/sqlite/wal_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "sqlite/db.h"
#include "tests/support/temp_dir.h"

namespace braid::sqlite {
namespace {

using namespace std::chrono_literals;

// A connection through SQLite's default VFS, which reads the WAL file with
// its own descriptor: it sees only what reached the file.
struct PlainDb {
  explicit PlainDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  }
  ~PlainDb() { sqlite3_close(db); }
  int64_t Int(const char* sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    EXPECT_EQ(sqlite3_step(s), SQLITE_ROW) << sqlite3_errmsg(db);
    const int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
  }
  std::string Text(const char* sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(s), SQLITE_ROW);
    std::string v(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
    sqlite3_finalize(s);
    return v;
  }
  sqlite3* db = nullptr;
};

Status Insert(Db& db, int from, int count, int body_bytes) {
  const std::string body(body_bytes, 'x');
  for (int i = from; i < from + count; ++i) {
    BRAID_ASSIGN_OR_RETURN(Stmt s, db.Prepare("INSERT INTO t(k, v) VALUES (?, ?)"));
    // Keys spread over the table (an odd multiplier is a bijection modulo
    // 2^31), so a transaction dirties pages all over it.
    s.Bind(1, static_cast<int64_t>((static_cast<uint64_t>(i) * 2654435761u) & 0x7fffffff))
        .Bind(2, std::string_view(body));
    BRAID_RETURN_IF_ERROR(s.Run());
  }
  return Status::OK();
}

// Each test's database, table t(k, v), opened through the buffered VFS.
class BufferedWalTest : public ::testing::Test {
 protected:
  // `cache_size`: the PRAGMA's value (pages, or KiB when negative).
  std::unique_ptr<Db> Open(const std::string& cache_size = "-2000") {
    auto db = Db::Open(path_, /*create=*/true, 5s, BufferedWalVfs());
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    const std::string setup =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=" + cache_size +
        "; CREATE TABLE IF NOT EXISTS t(k INTEGER PRIMARY KEY, v TEXT)";
    EXPECT_TRUE((*db)->Exec(setup.c_str()).ok());
    return std::move(*db);
  }

  testing::TempDir dir_;
  const std::string path_ = dir_.path() + "/t.db";
};

TEST_F(BufferedWalTest, CommitsAreInTheFileBeforeOthersSeeThem) {
  // A page cache that holds every transaction (braid's is 64 MiB): frames
  // are written once, at commit.
  auto db = Open("-65536");
  PlainDb other(path_);
  const BufferedWalStats before = GetBufferedWalStats();
  int rows = 0;
  for (int txn = 0; txn < 40; ++txn) {
    const int count = 1 + txn * 37;  // from one page to a few hundred
    ASSERT_TRUE(db->Exec("BEGIN").ok());
    ASSERT_TRUE(Insert(*db, rows, count, 300).ok());
    ASSERT_TRUE(db->Exec("COMMIT").ok());
    rows += count;
    ASSERT_EQ(other.Int("SELECT count(*) FROM t"), rows) << "after transaction " << txn;
  }
  const BufferedWalStats after = GetBufferedWalStats();
  // Two writes per frame from SQLite, a few large ones to the file.
  EXPECT_GT(after.appends - before.appends, 10 * (after.writes - before.writes));
  EXPECT_EQ(after.late_flushes, before.late_flushes) << "a commit frame went unrecognized";
  EXPECT_EQ(other.Text("PRAGMA integrity_check"), "ok");
}

TEST_F(BufferedWalTest, SyncNextCommitSyncsTheCommitsThatAskForIt) {
  auto db = Open();
  auto commit = [&](bool sync, int from) {
    EXPECT_TRUE(db->Exec("BEGIN IMMEDIATE").ok());
    EXPECT_TRUE(Insert(*db, from, 50, 100).ok());
    if (sync) {
      EXPECT_TRUE(SyncNextCommit(db->handle()).ok());
    }
    EXPECT_TRUE(db->Exec("COMMIT").ok());
    EXPECT_TRUE(SyncNextCommit(db->handle(), false).ok());
  };
  const auto before = GetBufferedWalStats();
  commit(false, 0);
  EXPECT_EQ(GetBufferedWalStats().commit_syncs, before.commit_syncs);
  commit(true, 100);
  EXPECT_EQ(GetBufferedWalStats().commit_syncs, before.commit_syncs + 1);
  commit(false, 200);
  EXPECT_EQ(GetBufferedWalStats().commit_syncs, before.commit_syncs + 1);
}

TEST_F(BufferedWalTest, ASyncedCommitThatRewritesItsFramesIsSyncedAgainBeforeItIsSeen) {
  // A tiny page cache: the transaction spills pages, writes some of them
  // again in place, and SQLite rewrites those frames' checksums after the
  // commit frame, which the sync after the commit frame did not cover.
  auto db = Open("10");
  ASSERT_TRUE(db->Exec("BEGIN IMMEDIATE").ok());
  ASSERT_TRUE(Insert(*db, 0, 2000, 300).ok());
  ASSERT_TRUE(db->Exec("UPDATE t SET v = 'y' || v").ok());
  ASSERT_TRUE(SyncNextCommit(db->handle()).ok());
  const auto before = GetBufferedWalStats();
  ASSERT_TRUE(db->Exec("COMMIT").ok());
  EXPECT_EQ(GetBufferedWalStats().commit_syncs, before.commit_syncs + 2);
  PlainDb plain(path_);
  EXPECT_EQ(plain.Int("SELECT count(*) FROM t WHERE v LIKE 'y%'"), 2000);
}

TEST_F(BufferedWalTest, SpilledAndRolledBackTransactions) {
  // A tiny page cache: transactions spill frames to the WAL before commit.
  auto db = Open("8");
  PlainDb other(path_);
  const BufferedWalStats before = GetBufferedWalStats();
  int rows = 0;
  for (int txn = 0; txn < 12; ++txn) {
    ASSERT_TRUE(db->Exec("BEGIN").ok());
    const Status inserted = Insert(*db, 100'000 * (txn + 1), 2000, 200);
    ASSERT_TRUE(inserted.ok()) << inserted.ToString();
    if (txn % 3 == 1) {
      // Its spilled frames stay past the end of the log, to be overwritten.
      ASSERT_TRUE(db->Exec("ROLLBACK").ok());
    } else {
      ASSERT_TRUE(db->Exec("COMMIT").ok());
      rows += 2000;
    }
    ASSERT_EQ(other.Int("SELECT count(*) FROM t"), rows) << "after transaction " << txn;
    ASSERT_EQ(other.Text("PRAGMA quick_check"), "ok") << "after transaction " << txn;
  }
  EXPECT_EQ(GetBufferedWalStats().late_flushes, before.late_flushes);
}

TEST_F(BufferedWalTest, TheLogStartsOverAfterACheckpoint) {
  auto db = Open();
  PlainDb other(path_);
  int rows = 0;
  for (int round = 0; round < 6; ++round) {
    ASSERT_TRUE(db->Exec("BEGIN").ok());
    ASSERT_TRUE(Insert(*db, rows, 500, 400).ok());
    ASSERT_TRUE(db->Exec("COMMIT").ok());
    rows += 500;
    // Copied into the database: the next commit writes from the log's start.
    ASSERT_TRUE(db->Exec("PRAGMA wal_checkpoint(RESTART)").ok());
    ASSERT_EQ(other.Int("SELECT count(*) FROM t"), rows);
  }
  EXPECT_EQ(other.Text("PRAGMA integrity_check"), "ok");
}

TEST_F(BufferedWalTest, AProcessThatDiesLosesOnlyWhatItHadNotCommitted) {
  Open().reset();  // creates the table
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto db = Db::Open(path_, false, 5s, BufferedWalVfs());
    if (!db.ok() || !(*db)->Exec("PRAGMA synchronous=NORMAL").ok()) _exit(1);
    for (int txn = 0; txn < 5; ++txn) {
      if (!(*db)->Exec("BEGIN").ok() || !Insert(**db, txn * 1000, 1000, 300).ok() ||
          !(*db)->Exec("COMMIT").ok()) {
        _exit(1);
      }
    }
    // Half of a sixth transaction is buffered or spilled when it dies.
    (void)(*db)->Exec("PRAGMA cache_size=8");
    if (!(*db)->Exec("BEGIN").ok() || !Insert(**db, 50'000, 3000, 300).ok()) _exit(1);
    _exit(0);  // no close, no rollback
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  PlainDb after(path_);
  EXPECT_EQ(after.Int("SELECT count(*) FROM t"), 5000);
  EXPECT_EQ(after.Text("PRAGMA integrity_check"), "ok");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes `rows` rows of 4 KiB in one transaction: a WAL of about 4 KiB each.
void Fill(Db& db, int from, int rows) {
  ASSERT_TRUE(db.Exec("BEGIN").ok());
  ASSERT_TRUE(Insert(db, from, rows, 4000).ok());
  ASSERT_TRUE(db.Exec("COMMIT").ok());
}

TEST_F(BufferedWalTest, ALargeWalOutlivesTheLastCloseEmptied) {
  const std::string wal = path_ + "-wal";
  const uint64_t kept = GetBufferedWalStats().kept_wals;
  auto db = Open();
  Fill(*db, 0, 600);
  db.reset();
  ASSERT_TRUE(std::filesystem::exists(wal));
  EXPECT_GE(static_cast<int64_t>(std::filesystem::file_size(wal)), kKeepWalFromBytes);
  EXPECT_EQ(ReadFile(wal).substr(0, 32), std::string(32, '\0')) << "the header was not zeroed";
  EXPECT_EQ(GetBufferedWalStats().kept_wals, kept + 1);
  {
    // SQLite's own VFS finds no frames in it, and everything in the database.
    PlainDb plain(path_);
    EXPECT_EQ(plain.Int("SELECT count(*) FROM t"), 600);
    EXPECT_EQ(plain.Text("PRAGMA integrity_check"), "ok");
  }
  // The plain connection deleted it; a kept WAL is written again from its start.
  db = Open();
  Fill(*db, 1000, 600);
  db.reset();
  db = Open();
  Fill(*db, 2000, 300);
  PlainDb other(path_);
  EXPECT_EQ(other.Int("SELECT count(*) FROM t"), 1500);
  EXPECT_EQ(other.Text("PRAGMA integrity_check"), "ok");
}

TEST_F(BufferedWalTest, ASmallWalIsDeletedAtTheLastClose) {
  auto db = Open();
  Fill(*db, 0, 10);
  db.reset();
  EXPECT_FALSE(std::filesystem::exists(path_ + "-wal"));
}

TEST_F(BufferedWalTest, AKeptWalIsCutToTheSizeTheStoreKeeps) {
  const std::string wal = path_ + "-wal";
  auto db = Open();
  Fill(*db, 0, 600);
  // As if a long run of commits had grown it (the tail holds no frames).
  std::filesystem::resize_file(wal, kKeptWalBytes + (1 << 20));
  db.reset();
  ASSERT_TRUE(std::filesystem::exists(wal));
  EXPECT_EQ(static_cast<int64_t>(std::filesystem::file_size(wal)), kKeptWalBytes);
}

// A database file put back from a copy, beside a WAL kept from later
// writes: the WAL's frames are not replayed over it. (A WAL kept with its
// header, as SQLite's SQLITE_FCNTL_PERSIST_WAL does, would replay them.)
TEST_F(BufferedWalTest, ADatabaseRestoredFromACopyIgnoresAKeptWal) {
  auto db = Open();
  Fill(*db, 0, 600);
  db.reset();
  const std::string copy = ReadFile(path_);
  db = Open();
  Fill(*db, 1000, 600);
  db.reset();
  ASSERT_TRUE(std::filesystem::exists(path_ + "-wal"));
  {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << copy;
  }
  PlainDb restored(path_);
  EXPECT_EQ(restored.Text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(restored.Int("SELECT count(*) FROM t"), 600);
}

}  // namespace
}  // namespace braid::sqlite
