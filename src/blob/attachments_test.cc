#include "blob/attachments.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace braid::blob {
namespace {

using testing::TempDir;

constexpr std::string_view kHelloSha =
    "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
constexpr std::string_view kHelloMd5 = "5eb63bbbe01eeed093cb22bb8f5acdc3";

Attachment Hello(std::string name) {
  Attachment a;
  a.name = std::move(name);
  a.content_type = "text/plain";
  a.sha256 = kHelloSha;
  a.md5 = kHelloMd5;
  a.size = 11;
  return a;
}

TEST(AttachmentsTest, NamesAndTypesAreChecked) {
  EXPECT_TRUE(ValidateAttachmentName("report 2024.pdf").ok());
  EXPECT_TRUE(ValidateAttachmentName("résumé.txt").ok());
  for (std::string_view bad :
       {"", "a/b", "..", "a..b", ".", "a\\b", "tab\there", "\x7f", "\xff\xfe"}) {
    EXPECT_EQ(ValidateAttachmentName(bad).code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ValidateAttachmentName(std::string(256, 'a')).code(), Code::kInvalidArgument);
  EXPECT_TRUE(ValidateContentType("application/pdf").ok());
  EXPECT_TRUE(ValidateContentType("text/plain; charset=utf-8").ok());
  for (std::string_view bad : {"", "pdf", "/x", "x/", "text/plain\r\nX: y"}) {
    EXPECT_EQ(ValidateContentType(bad).code(), Code::kInvalidArgument) << bad;
  }
}

TEST(AttachmentsTest, CanonicalFormRoundTrips) {
  const std::string body =
      BodyWithAttachments(R"({"title":"T","n":1})", {Hello("b.txt"), Hello("a.txt")});
  EXPECT_EQ(body,
            R"({"title":"T","n":1,"_attachments":{"a.txt":{"content_type":"text/plain","md5":")" +
                std::string(kHelloMd5) + R"(","sha256":")" + std::string(kHelloSha) +
                R"(","size":11},"b.txt":{"content_type":"text/plain","md5":")" +
                std::string(kHelloMd5) + R"(","sha256":")" + std::string(kHelloSha) +
                R"(","size":11}}})");
  auto list = ParseAttachments(body);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0], Hello("a.txt"));
  EXPECT_EQ(BodyWithAttachments(body, {}), R"({"title":"T","n":1})");
  auto found = FindAttachment(body, "b.txt");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ(**found, Hello("b.txt"));
  auto none = ParseAttachments(R"({"title":"T"})");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(AttachmentsTest, MalformedListsFromPeersAreRefused) {
  const std::string sha(kHelloSha), md5(kHelloMd5);
  for (const std::string& bad : std::vector<std::string>{
           R"({"_attachments":[]})",
           R"({"_attachments":{"a":1}})",
           R"({"_attachments":{"a/b":{"content_type":"a/b","md5":")" + md5 + R"(","sha256":")" +
               sha + R"(","size":1}}})",
           R"({"_attachments":{"a":{"content_type":"a/b","md5":")" + md5 +
               R"(","sha256":"../x","size":1}}})",
           R"({"_attachments":{"a":{"content_type":"a/b","md5":"x","sha256":")" + sha +
               R"(","size":1}}})",
           R"({"_attachments":{"a":{"content_type":"a/b","md5":")" + md5 + R"(","sha256":")" + sha +
               R"(","size":-1}}})",
           R"({"_attachments":{"a":{"content_type":"a/b","md5":")" + md5 + R"(","sha256":")" + sha +
               R"(","size":1,"extra":1}}})",
           R"({"_attachments":{"a":{"md5":")" + md5 + R"(","sha256":")" + sha + R"(","size":1}}})",
       }) {
    EXPECT_EQ(ParseAttachments(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

class AttachmentWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenTestStore(dir_.path() + "/store.db");
    auto blobs = BlobStore::Open(dir_.path() + "/blobs");
    ASSERT_TRUE(blobs.ok());
    blobs_ = std::move(*blobs);
    auto w = blobs_->Create(100);
    ASSERT_TRUE((*w)->Append("hello world").ok());
    ASSERT_TRUE((*w)->Commit({}).ok());
    auto txn = store_->BeginWrite();
    PutRequest req;
    req.collection = "books";
    req.id = "b1";
    req.body = R"({"title":"T"})";
    ASSERT_TRUE((*txn)->Put(req).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  std::string Body() {
    auto r = store_->Get("books", "b1");
    return r.ok() && r->has_value() ? (*r)->body : "";
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<BlobStore> blobs_;
};

TEST_F(AttachmentWriteTest, SetReplaceAndRemoveAreRecordWrites) {
  auto set = SetAttachment(*store_, *blobs_, "books", "b1", Hello("a.txt"), nullptr);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->op, WriteOp::kUpdated);
  EXPECT_EQ(set->record.version.counter, 2u);
  auto again = SetAttachment(*store_, *blobs_, "books", "b1", Hello("a.txt"), nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->op, WriteOp::kUnchanged);
  Attachment typed = Hello("a.txt");
  typed.content_type = "text/markdown";
  ASSERT_TRUE(SetAttachment(*store_, *blobs_, "books", "b1", typed, nullptr).ok());
  auto found = FindAttachment(Body(), "a.txt");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->content_type, "text/markdown");

  auto removed = RemoveAttachment(*store_, "books", "b1", "a.txt", nullptr);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(Body(), R"({"title":"T"})");
  EXPECT_EQ(RemoveAttachment(*store_, "books", "b1", "a.txt", nullptr).status().code(),
            Code::kNotFound);
}

TEST_F(AttachmentWriteTest, RefusalsWriteNothing) {
  const std::string before = Body();
  // No such record, a tombstone's absence, a missing blob, a bad name, and a
  // check that says no.
  EXPECT_EQ(SetAttachment(*store_, *blobs_, "books", "nope", Hello("a"), nullptr).status().code(),
            Code::kNotFound);
  Attachment missing = Hello("a");
  missing.sha256 = std::string(64, 'e');
  EXPECT_EQ(SetAttachment(*store_, *blobs_, "books", "b1", missing, nullptr).status().code(),
            Code::kUnavailable);
  EXPECT_EQ(SetAttachment(*store_, *blobs_, "books", "b1", Hello("../a"), nullptr).status().code(),
            Code::kInvalidArgument);
  auto no = [](const Record&) { return Status::Forbidden("not yours"); };
  EXPECT_EQ(SetAttachment(*store_, *blobs_, "books", "b1", Hello("a"), no).status().code(),
            Code::kForbidden);
  EXPECT_EQ(Body(), before);
  auto stats = store_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->counter, 1u);
}

}  // namespace
}  // namespace braid::blob
