#include "blob/blob_store.h"

#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace braid::blob {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Known digests of "hello world".
constexpr std::string_view kHelloSha =
    "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
constexpr std::string_view kHelloMd5 = "5eb63bbbe01eeed093cb22bb8f5acdc3";

std::unique_ptr<BlobStore> OpenStore(const std::string& dir) {
  auto s = BlobStore::Open(dir);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

std::string ReadAll(const BlobStore& store, std::string_view sha, uint64_t offset,
                    uint64_t length) {
  auto r = store.Read(sha, offset, length);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return "";
  std::string out;
  char buf[3];  // small pieces: Read must continue where it stopped
  for (;;) {
    auto n = (*r)->Read(buf, sizeof buf);
    EXPECT_TRUE(n.ok());
    if (!n.ok() || *n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

size_t CountFiles(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

TEST(BlobStoreTest, StoresVerifiesAndReadsRanges) {
  TempDir dir;
  auto store = OpenStore(dir.path() + "/blobs");
  auto w = store->Create(1 << 20);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append("hello ").ok());
  ASSERT_TRUE((*w)->Append("world").ok());
  EXPECT_EQ((*w)->size(), 11u);
  auto info = (*w)->Commit({std::string(kHelloSha), std::string(kHelloMd5), 11});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->sha256, kHelloSha);
  EXPECT_EQ(info->md5, kHelloMd5);
  EXPECT_EQ(info->size, 11u);
  EXPECT_TRUE(fs::exists(dir.path() + "/blobs/b9/" + std::string(kHelloSha.substr(2))));
  EXPECT_EQ(CountFiles(dir.path() + "/blobs/tmp"), 0u);

  auto size = store->SizeOf(kHelloSha);
  ASSERT_TRUE(size.ok() && size->has_value());
  EXPECT_EQ(**size, 11u);
  EXPECT_EQ(ReadAll(*store, kHelloSha, 0, 11), "hello world");
  EXPECT_EQ(ReadAll(*store, kHelloSha, 6, 5), "world");
  EXPECT_EQ(ReadAll(*store, kHelloSha, 11, 0), "");
  EXPECT_EQ(store->Read(kHelloSha, 6, 6).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store->Read(std::string(64, 'a'), 0, 0).status().code(), Code::kNotFound);
  EXPECT_EQ(store->Read("../../etc/passwd", 0, 0).status().code(), Code::kNotFound);

  auto hashed = store->Hash(kHelloSha);
  ASSERT_TRUE(hashed.ok());
  EXPECT_EQ(hashed->md5, kHelloMd5);

  // The same bytes again: one blob.
  auto again = store->Create(100);
  ASSERT_TRUE((*again)->Append("hello world").ok());
  ASSERT_TRUE((*again)->Commit({}).ok());
  size_t blobs = 0;
  ASSERT_TRUE(store
                  ->ForEach([&](std::string_view sha, uint64_t n) {
                    EXPECT_EQ(sha, kHelloSha);
                    EXPECT_EQ(n, 11u);
                    ++blobs;
                    return Status::OK();
                  })
                  .ok());
  EXPECT_EQ(blobs, 1u);

  ASSERT_TRUE(store->Remove(kHelloSha).ok());
  ASSERT_TRUE(store->Remove(kHelloSha).ok());  // absent is fine
  size = store->SizeOf(kHelloSha);
  ASSERT_TRUE(size.ok());
  EXPECT_FALSE(size->has_value());
}

TEST(BlobStoreTest, AMismatchOrAnOversizeKeepsNothing) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  for (const Expected& wrong :
       {Expected{std::string(64, '0'), "", std::nullopt},
        Expected{"", std::string(32, '0'), std::nullopt}, Expected{"", "", 12}}) {
    auto w = store->Create(100);
    ASSERT_TRUE((*w)->Append("hello world").ok());
    auto r = (*w)->Commit(wrong);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("do not match"), std::string::npos);
  }
  {
    auto w = store->Create(10);
    auto r = (*w)->Append("hello world");
    EXPECT_EQ(r.code(), Code::kPayloadTooLarge);
    // Spent: nothing more goes in.
    EXPECT_FALSE((*w)->Commit({}).ok());
  }
  {
    auto w = store->Create(100);
    ASSERT_TRUE((*w)->Append("abandoned").ok());
    // Destroyed without a commit.
  }
  EXPECT_EQ(CountFiles(dir.path() + "/tmp"), 0u);
  size_t blobs = 0;
  ASSERT_TRUE(store
                  ->ForEach([&](std::string_view, uint64_t) {
                    ++blobs;
                    return Status::OK();
                  })
                  .ok());
  EXPECT_EQ(blobs, 0u);
}

TEST(BlobStoreTest, OpenRemovesTempFilesOfDeadWritersOnly) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  const std::string dead = dir.path() + "/tmp/999-1.tmp";
  const std::string live = dir.path() + "/tmp/999-2.tmp";
  const std::string young = dir.path() + "/tmp/999-3.tmp";
  for (const auto& p : {dead, live, young}) std::ofstream(p) << "x";
  const auto old = fs::file_time_type::clock::now() - std::chrono::hours(1);
  fs::last_write_time(dead, old);
  fs::last_write_time(live, old);
  const int fd = ::open(live.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);  // as a live writer in another process would
  // flock() locks belong to the open file: another open of the same file in
  // this process conflicts with it as another process's would.
  auto reopened = OpenStore(dir.path());
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(young));  // just created: its writer is about to lock it
  ::close(fd);
}

TEST(BlobStoreTest, APartialDownloadResumesAndIsVerified) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  {
    auto w = store->Resume(kHelloSha, 100);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ((*w)->size(), 0u);
    ASSERT_TRUE((*w)->Append("hello").ok());
    // Another process cannot write the same download meanwhile.
    auto other = OpenStore(dir.path());
    EXPECT_EQ(other->Resume(kHelloSha, 100).status().code(), Code::kBusy);
    // The transfer fails here: the writer goes, its bytes stay.
  }
  {
    auto w = store->Resume(kHelloSha, 100);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ((*w)->size(), 5u);  // resume from byte 5
    ASSERT_TRUE((*w)->Append(" world").ok());
    auto info = (*w)->Commit({});  // checked against the name it was resumed as
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->md5, "");  // a download is checked by its name, SHA-256
    EXPECT_EQ(store->Hash(kHelloSha)->md5, kHelloMd5);
  }
  EXPECT_EQ(CountFiles(dir.path() + "/partial"), 0u);
  EXPECT_EQ(ReadAll(*store, kHelloSha, 0, 11), "hello world");

  // A partial whose bytes turn out wrong is dropped, so the next try starts
  // from the beginning.
  const std::string other_sha(64, 'c');
  {
    auto w = store->Resume(other_sha, 100);
    ASSERT_TRUE((*w)->Append("not it").ok());
    EXPECT_EQ((*w)->Commit({}).status().code(), Code::kInvalidArgument);
  }
  EXPECT_EQ(CountFiles(dir.path() + "/partial"), 0u);
  EXPECT_EQ(store->Resume("../x", 100).status().code(), Code::kInvalidArgument);
}

TEST(BlobStoreTest, ABatchCutShortIsVerifiedOnTheNextOpen) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store->BeginBatch().ok());
  auto w = store->Create(100);
  ASSERT_TRUE((*w)->Append("hello world").ok());
  ASSERT_TRUE((*w)->Commit({}, Sync::kDeferred).ok());
  // A power cut now could leave the renamed file without its bytes; model
  // that by damaging it, and by never reaching EndBatch().
  const std::string path = store->PathOf(kHelloSha);
  std::ofstream(path, std::ios::trunc) << "hello w";
  store.reset();

  auto reopened = OpenStore(dir.path());
  EXPECT_TRUE(reopened->NeedsVerify());
  auto removed = reopened->VerifyUnsynced();
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(reopened->NeedsVerify());

  // A batch that ends is durable and leaves no marker.
  ASSERT_TRUE(reopened->BeginBatch().ok());
  auto w2 = reopened->Create(100);
  ASSERT_TRUE((*w2)->Append("hello world").ok());
  ASSERT_TRUE((*w2)->Commit({}, Sync::kDeferred).ok());
  ASSERT_TRUE(reopened->EndBatch().ok());
  EXPECT_FALSE(reopened->NeedsVerify());
  EXPECT_TRUE(fs::exists(path));
}

TEST(BlobStoreTest, ClearRemovesBlobsAndPartials) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto w = store->Create(100);
  ASSERT_TRUE((*w)->Append("hello world").ok());
  ASSERT_TRUE((*w)->Commit({}).ok());
  auto p = store->Resume(std::string(64, 'd'), 100);
  ASSERT_TRUE((*p)->Append("part").ok());
  p->reset();
  ASSERT_TRUE(store->Clear().ok());
  EXPECT_FALSE(fs::exists(store->PathOf(kHelloSha)));
  EXPECT_EQ(CountFiles(dir.path() + "/partial"), 0u);
}

TEST(BlobStoreTest, ChecksHexNames) {
  EXPECT_TRUE(IsSha256Hex(kHelloSha));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'A')));
  EXPECT_FALSE(IsSha256Hex(kHelloSha.substr(1)));
  EXPECT_TRUE(IsMd5Hex(kHelloMd5));
  EXPECT_FALSE(IsMd5Hex("../"));
}

}  // namespace
}  // namespace braid::blob
