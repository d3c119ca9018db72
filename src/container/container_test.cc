#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "base/json.h"
#include "base/validate.h"
#include "container/pass.h"
#include "container/path_codec.h"
#include "container/state.h"
#include "container/walk.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace braid::container {
namespace {

namespace fs = std::filesystem;

TEST(PathCodecTest, EncodesWhatRecordsCannotHoldAndDecodesItBack) {
  EXPECT_EQ(EncodePath("scenes/2026/a b.tif"), "scenes/2026/a b.tif");
  EXPECT_EQ(EncodePath("100%.txt"), "100%25.txt");
  EXPECT_EQ(EncodePath(std::string("tab\there\x7f", 9)), "tab%09here%7F");
  EXPECT_EQ(EncodePath("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 kept
  EXPECT_EQ(EncodePath("caf\xe9"), "caf%E9");           // Latin-1 byte escaped
  EXPECT_EQ(EncodePath("c1\xc2\x85"), "c1%C2%85");      // a C1 control
  EXPECT_EQ(EncodePath("\xed\xa0\x80"), "%ED%A0%80");   // a surrogate
  for (const std::string& raw : {std::string("a/b c/d.tif"), std::string("caf\xe9/x\x01y%"),
                                 std::string("\xff\xfe/\xc2\x85")}) {
    auto back = DecodePath(EncodePath(raw));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, raw);
    EXPECT_TRUE(IsValidUtf8(EncodePath(raw)));
  }
  for (const char* bad : {"", "/etc/passwd", "a/../b", "..", "a//b", "./a", "a/", "%", "%4", "%zz",
                          "%0a", "a%00b", "%41", "a\x01b", "caf\xe9"}) {
    EXPECT_FALSE(DecodePath(bad).ok()) << bad;
  }
  const std::string long_path(300, 'x');
  const std::string id = RecordIdFor(long_path);
  EXPECT_EQ(id.size(), 66u);
  EXPECT_EQ(id.substr(0, 2), "%%");
  EXPECT_EQ(RecordIdFor("short"), "short");
}

TEST(MetadataTest, JsonOrKeyValueLines) {
  Extent e;
  auto j =
      ParseMetadata(R"( {"begin_time":"2026-01-01T00:00:00Z","footprint":[1,2,3,4],"n":5} )", &e);
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(*j, R"({"begin_time":"2026-01-01T00:00:00Z","footprint":[1,2,3,4],"n":5})");
  EXPECT_EQ(e.begin_time, "2026-01-01T00:00:00Z");
  EXPECT_FALSE(e.end_time);
  ASSERT_TRUE(e.footprint);
  EXPECT_EQ((*e.footprint)[3], 4);
  auto kv = ParseMetadata(
      "# scene\nend_time = 2026-02-01T00:00:00Z\n\nfootprint=-10, -5, 10, 5\n"
      "sensor = \"SAR\"\n",
      &e);
  ASSERT_TRUE(kv.ok()) << kv.status().ToString();
  EXPECT_EQ(
      *kv,
      R"({"end_time":"2026-02-01T00:00:00Z","footprint":"-10, -5, 10, 5","sensor":"\"SAR\""})");
  EXPECT_EQ(e.end_time, "2026-02-01T00:00:00Z");
  EXPECT_EQ((*e.footprint)[0], -10);
  for (const char* bad :
       {"{\"a\":1,\"a\":2}", "{nope", "novalue", "a=1\na=2", "= 3", "footprint = 1,2,3",
        "footprint = 1,5,3,4", "{\"footprint\":\"x\"}", "a=\xff"}) {
    EXPECT_FALSE(ParseMetadata(bad, &e).ok()) << bad;
  }
}

class Collect : public Visitor {
 public:
  Status File(WalkEntry e) override {
    paths.push_back(e.path + (e.sidecar ? "+meta" : ""));
    return Status::OK();
  }
  Status Failed(const std::string& path, bool, const std::string&) override {
    paths.push_back("!" + path);
    return Status::OK();
  }
  std::vector<std::string> paths;
};

void Write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::trunc) << text;
}

TEST(WalkTest, DepthFirstIsByteOrderAndPatternsSelect) {
  testing::TempDir dir;
  const std::string root = dir.File("root");
  for (const char* f : {"a", "a.txt", "ab/x", "a-b", "b/c/d", "b/c.txt", "b.tif", "b.tif.json",
                        "skip/inner", "z.tmp"}) {
    Write(root + "/" + f, f);
  }
  fs::create_symlink("/etc", root + "/link");
  fs::create_symlink(root + "/a", root + "/alink");
  Collect all;
  ASSERT_TRUE(Walk(root, {}, all).ok());
  std::vector<std::string> sorted = all.paths;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(all.paths, sorted);      // the state's order
  EXPECT_EQ(all.paths.size(), 10u);  // no symlink
  WalkOptions opts;
  opts.excludes = {"skip", "*.tmp"};
  opts.sidecar_suffix = ".json";
  Collect some;
  ASSERT_TRUE(Walk(root, opts, some).ok());
  EXPECT_EQ(some.paths, (std::vector<std::string>{"a", "a-b", "a.txt", "ab/x", "b.tif+meta",
                                                  "b/c.txt", "b/c/d"}));
  opts.globs = {"*.tif", "b/c/*"};
  Collect globbed;
  ASSERT_TRUE(Walk(root, opts, globbed).ok());
  EXPECT_EQ(globbed.paths, (std::vector<std::string>{"b.tif+meta", "b/c/d"}));
  Collect none;
  EXPECT_EQ(Walk(dir.File("missing"), {}, none).code(), Code::kNotFound);
}

class PassTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenTestStore(dir_.File("store.db"));
    auto state = ContainerState::Open(dir_.path());
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    state_ = std::move(*state);
    spec_.name = "scenes";
    spec_.collection = "scenes";
    spec_.dir = dir_.File("folder");
    spec_.walk.sidecar_suffix = ".meta";
    fs::create_directories(spec_.dir);
    ASSERT_TRUE(state_->Add(spec_).ok());
  }
  PassSummary Pass(size_t batch = 1000) {
    PassOptions o;
    o.batch_files = batch;
    auto r = RunPass(*store_, *state_, spec_, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : PassSummary{};
  }
  std::string Body(const std::string& id) {
    auto r = store_->Get("scenes", id);
    return r.ok() && *r && !(*r)->deleted ? (*r)->body : "";
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ContainerState> state_;
  ContainerSpec spec_;
};

TEST_F(PassTest, AddsChangesAndRemovesAndReadsOnlyWhatChanged) {
  Write(spec_.dir + "/a.tif", "aaaa");
  Write(spec_.dir + "/sub/b.tif", "bb");
  Write(spec_.dir + "/sub/b.tif.meta", "begin_time = 2026-01-01\nend_time = 2026-01-31\n");
  PassSummary s = Pass(/*batch=*/1);
  EXPECT_EQ(s.added, 2u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.bytes_read, 6u);
  EXPECT_NE(Body("a.tif").find(
                "\"sha256\":\"61be55a8e2f6b4e172338bddf184d6dbee29c98853e0a0485ecee7f27b9af0b4\""),
            std::string::npos)
      << Body("a.tif");
  EXPECT_NE(Body("sub/b.tif").find("\"metadata\":{\"begin_time\":\"2026-01-01\""),
            std::string::npos);
  EXPECT_NE(Body(kSummaryId).find("\"files\":2,\"bytes\":6,\"begin_time\":\"2026-01-01\""),
            std::string::npos)
      << Body(kSummaryId);

  s = Pass();  // nothing changed: nothing read
  EXPECT_EQ(s.unchanged, 2u);
  EXPECT_EQ(s.bytes_read, 0u);
  EXPECT_FALSE(s.summary_written);

  // A sidecar alone changes; a file is removed; one is added.
  Write(spec_.dir + "/sub/b.tif.meta", "begin_time = 2025-12-01\nend_time = 2026-01-31\n");
  fs::remove(spec_.dir + "/a.tif");
  Write(spec_.dir + "/c.tif", "c");
  s = Pass();
  EXPECT_EQ(s.added, 1u);
  EXPECT_EQ(s.updated, 1u);
  EXPECT_EQ(s.removed, 1u);
  EXPECT_EQ(Body("a.tif"), "");
  EXPECT_NE(Body("sub/b.tif").find("2025-12-01"), std::string::npos);
  EXPECT_NE(Body(kSummaryId).find("\"files\":2,\"bytes\":3,\"begin_time\":\"2025-12-01\""),
            std::string::npos)
      << Body(kSummaryId);

  // Touched but the same bytes and metadata: read, and no new version.
  const std::string before = Body("c.tif");
  ::utimensat(AT_FDCWD, (spec_.dir + "/c.tif").c_str(), nullptr, 0);
  s = Pass();
  EXPECT_EQ(s.bytes_read, 1u);
  EXPECT_EQ(s.updated, 1u);  // the mtime is part of the record
  EXPECT_NE(Body("c.tif"), before);
}

TEST_F(PassTest, AStateThatFellBehindWritesNoNewVersion) {
  Write(spec_.dir + "/a.tif", "aaaa");
  Pass();
  // The state is lost (or a crash came between a batch's records and its
  // rows): the next pass reads every file again, and changes no record.
  ASSERT_TRUE(state_->Remove("scenes").ok());
  ASSERT_TRUE(state_->Add(spec_).ok());
  PassSummary s = Pass();
  EXPECT_EQ(s.added + s.updated + s.removed, 0u);
  EXPECT_EQ(s.unchanged, 1u);
  EXPECT_EQ(s.bytes_read, 4u);
}

TEST_F(PassTest, AMissingFolderChangesNothing) {
  Write(spec_.dir + "/a.tif", "aaaa");
  Pass();
  fs::rename(spec_.dir, dir_.File("elsewhere"));
  auto r = RunPass(*store_, *state_, spec_, {});
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(Body("a.tif"), "");
}

TEST(ContainerStateTest, RefusesBadSpecsAndDuplicates) {
  testing::TempDir dir;
  auto state = ContainerState::Open(dir.path());
  ASSERT_TRUE(state.ok());
  ContainerSpec s{"scenes", "/data/scenes", "scenes", {}, false, 0, ""};
  ASSERT_TRUE((*state)->Add(s).ok());
  EXPECT_EQ((*state)->Add(s).code(), Code::kAlreadyExists);
  for (auto bad : {ContainerSpec{"Bad", "/d", "bad", {}, false, 0, ""},
                   ContainerSpec{"ok", "relative", "ok", {}, false, 0, ""},
                   ContainerSpec{"ok", "/d", "ok", {{"/abs"}, {}, ""}, false, 0, ""},
                   ContainerSpec{"ok", "/d", "ok", {{}, {}, "a/b"}, false, 0, ""}}) {
    EXPECT_EQ((*state)->Add(bad).code(), Code::kInvalidArgument) << bad.name << " " << bad.dir;
  }
  auto list = (*state)->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u);
  EXPECT_EQ((*state)->Remove("nope").code(), Code::kNotFound);
  // Another file in its place is refused, not overwritten.
  state->reset();
  testing::TempDir other;
  std::ofstream(other.File("containers.db")) << "not sqlite at all, a text file of some size....";
  EXPECT_FALSE(ContainerState::Open(other.path()).ok());
}

// DIR/containers.db of format 1 (before checkouts), as the first release
// of containers wrote it: format 2 opens it, keeps its containers and
// files, and adds the checkout tables.
TEST(ContainerStateTest, UpgradesFormatOne) {
  testing::TempDir dir;
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir.File("containers.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, R"sql(
CREATE TABLE containers(name TEXT PRIMARY KEY, dir TEXT NOT NULL, collection TEXT NOT NULL,
  patterns TEXT NOT NULL, created_ms INTEGER NOT NULL, last_pass TEXT) WITHOUT ROWID;
CREATE TABLE files(container TEXT NOT NULL, path BLOB NOT NULL, size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL, ino INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, side_size INTEGER,
  side_mtime_ns INTEGER, side_ino INTEGER, side_ctime_ns INTEGER, sha256 TEXT NOT NULL,
  begin_time TEXT, end_time TEXT, west REAL, south REAL, east REAL, north REAL,
  PRIMARY KEY (container, path)) WITHOUT ROWID;
INSERT INTO containers VALUES ('old', '/data/old', 'old',
  '{"globs":["*.tif"],"excludes":[],"sidecar":".json"}', 1, NULL);
INSERT INTO files(container, path, size, mtime_ns, ino, ctime_ns, sha256)
  VALUES ('old', x'612e746966', 1, 2, 3, 4, 'ab');
PRAGMA application_id = 1651663683; PRAGMA user_version = 1;
)sql",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto state = ContainerState::Open(dir.path());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  auto old = (*state)->Get("old");
  ASSERT_TRUE(old.ok() && *old);
  EXPECT_EQ((*old)->walk.globs, std::vector<std::string>{"*.tif"});
  EXPECT_FALSE((*old)->content_blobs);
  auto totals = (*state)->Total("old");
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals->files, 1u);
  EXPECT_TRUE((*state)->AddCheckout({"old", "/elsewhere", "old", 0, ""}).ok());
  state->reset();
  EXPECT_TRUE(ContainerState::Open(dir.path()).ok());  // and again, at format 2
}

}  // namespace
}  // namespace braid::container
