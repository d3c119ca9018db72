// `braid clean` with real processes: a mirror that made writes of its own
// refuses to drop them before a remote has them; after `clean cache` the
// next sync brings every record back (its own writes too) without fetching
// a blob that is still here; `clean attachments` makes the next step fetch
// them all; --force drops what no remote has.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "tests/support/bytes.h"
#include "tests/support/cluster.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::RunResult;

size_t BlobFiles(const std::string& dir) {
  size_t n = 0;
  if (!fs::exists(dir + "/blobs")) return 0;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/blobs")) {
    const std::string rel = fs::relative(e.path(), dir + "/blobs").string();
    if (e.is_regular_file() && rel.size() == 65 && rel[2] == '/') ++n;
  }
  return n;
}

TEST(CleanTest, TheCacheGoesOnlyWhenARemoteHasTheWritesMadeHere) {
  testing::Cluster c;
  testing::TempDir files;
  c.Add("up");
  c.Add("mirror", /*serve=*/false);
  ASSERT_EQ(c.Link("mirror", "up").exit_code, 0);  // both ways
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(c.Cli("up", {"put", "books", "b" + std::to_string(i), "-"},
                    R"({"title":"whale )" + std::to_string(i) + "\"}")
                  .exit_code,
              0);
  }
  const std::string file = files.File("scan.bin");
  std::ofstream(file, std::ios::binary) << testing::RandomBytes(200'000, 3);
  ASSERT_EQ(c.Cli("up", {"attach", "books", "b0", "scan.bin", "--file", file}).exit_code, 0);
  RunResult r = c.Sync("mirror", {"up"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(BlobFiles(c["mirror"].dir), 1u);

  // A write made on the mirror, not pushed yet: clean refuses (exit 4).
  ASSERT_EQ(c.Cli("mirror", {"put", "notes", "mine", "-"}, R"({"text":"only here"})").exit_code, 0);
  for (const char* what : {"cache", "attachments", "all"}) {
    r = c.Cli("mirror", {"clean", what});
    EXPECT_EQ(r.exit_code, 4) << what << ": " << r.err;
    EXPECT_NE(r.err.find("notes/mine"), std::string::npos) << r.err;
  }
  EXPECT_EQ(c.Read("mirror").size(), 21u);  // nothing was removed
  EXPECT_EQ(BlobFiles(c["mirror"].dir), 1u);

  // Pushed, it may go; the next sync brings everything back, its own
  // write too, and fetches no blob that is still here.
  r = c.Sync("mirror", {"up", "cache"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = c.Cli("mirror", {"--json", "clean", "cache"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["cache"]["records"], 21);
  EXPECT_TRUE(c.Read("mirror").empty());
  EXPECT_EQ(BlobFiles(c["mirror"].dir), 1u);
  r = c.Sync("mirror", {"up"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json summary = json::parse(r.out);
  EXPECT_EQ(summary["received"], 21) << r.out;
  EXPECT_EQ(summary["attachments"]["fetched"], 0) << r.out;
  EXPECT_EQ(c.Read("mirror"), c.Read("up"));
  const RunResult found = c.Cli("mirror", {"--json", "search", "only"});
  ASSERT_EQ(found.exit_code, 0) << found.err;
  EXPECT_EQ(json::parse(found.out)["results"].size(), 1u);  // the index followed the new epoch

  // Attachments: every blob goes, the next step fetches what records name.
  r = c.Cli("mirror", {"clean", "attachments"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(BlobFiles(c["mirror"].dir), 0u);
  r = c.Sync("mirror", {"up", "attachments"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["fetched"], 1) << r.out;

  // A remote that cannot be asked: refused, unless --force, which also
  // drops a write no remote has.
  ASSERT_EQ(c.Cli("mirror", {"put", "notes", "lost", "-"}, R"({"text":"x"})").exit_code, 0);
  ASSERT_TRUE(c["up"].server->Stop().ok());
  r = c.Cli("mirror", {"clean", "cache"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  r = c.Cli("mirror", {"clean", "all", "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(c.Read("mirror").empty());
  EXPECT_EQ(BlobFiles(c["mirror"].dir), 0u);
  EXPECT_EQ(c.Cli("mirror", {"clean", "everything"}).exit_code, 2);
}

}  // namespace
}  // namespace braid
