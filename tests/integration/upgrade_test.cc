// Stores written by earlier braid releases open with today's code and keep
// everything: tests/fixtures/vN/store.db was written by the braid of schema N
// (tests/fixtures/make-fixture), with expected.json, its contents as that
// braid read them (tests/support/store_dump.h).

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "braid/store.h"
#include "tests/support/store_dump.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The first line where two texts differ, for a readable failure.
std::string FirstDifference(const std::string& want, const std::string& got) {
  std::istringstream a(want), b(got);
  std::string la, lb;
  for (int line = 1;; ++line) {
    const bool ha = static_cast<bool>(std::getline(a, la));
    const bool hb = static_cast<bool>(std::getline(b, lb));
    if (!ha && !hb) return "no difference";
    if (!ha || !hb || la != lb) {
      return "line " + std::to_string(line) + ": expected \"" + (ha ? la : "<end>") + "\", got \"" +
             (hb ? lb : "<end>") + "\"";
    }
  }
}

// Copies fixture `version` into `dir` as an in-place upgrade would find it:
// the store's recorded file identity is the copy's, so it keeps its
// instance id (a copy from elsewhere gets a new one; store_test covers that).
std::string InstallFixture(const std::string& version, const testing::TempDir& dir) {
  const std::string from = std::string(BRAID_FIXTURES) + "/" + version + "/store.db";
  const std::string to = dir.File("store.db");
  fs::copy_file(from, to);
  struct stat st;
  EXPECT_EQ(::stat(to.c_str(), &st), 0);
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(to.c_str(), &db), SQLITE_OK);
  const std::string sql = "UPDATE meta SET value = '" + std::to_string(st.st_ino) +
                          "' WHERE key = 'file_id'; UPDATE meta SET value = '" + to +
                          "' WHERE key = 'path';";
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  return to;
}

std::unique_ptr<Store> Open(const std::string& path) {
  StoreOptions o;
  o.path = path;
  auto store = Store::OpenSqlite(o);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

TEST(UpgradeTest, TheSchema1FixtureOpensWithEverythingInIt) {
  testing::TempDir dir;
  const std::string path = InstallFixture("v1", dir);
  auto store = Open(path);
  ASSERT_NE(store, nullptr);
  auto dump = testing::DumpStore(*store, {"lab_a"});
  ASSERT_TRUE(dump.ok()) << dump.status().ToString();
  const std::string want = ReadFile(std::string(BRAID_FIXTURES) + "/v1/expected.json");
  EXPECT_TRUE(*dump == want) << FirstDifference(want, *dump);
}

}  // namespace
}  // namespace braid
