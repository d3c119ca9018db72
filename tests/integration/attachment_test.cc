// Attachments against a real `braid serve`: uploads streamed into the blob
// store, downloads with Range and validators, the CLI, and each bad input
// (a bad name, a hash mismatch, a body over the limit, a reader, a writer
// outside its scope, a missing record, a bad media type) refused with its
// code while nothing is written: no record version, no blob, no temp file.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "blob/blob_store.h"
#include "http/client.h"
#include "mirror/fetch.h"
#include "tests/support/bytes.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::Braid;
using testing::BraidServer;
using testing::LastLine;
using testing::RandomBytes;
using testing::RunResult;
using testing::Sha256Hex;
using testing::TempDir;

class AttachmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.File("data");
    ASSERT_EQ(Braid(data_, {"init"}).exit_code, 0);
    // A small limit, so the oversize case needs no gigabytes.
    SetLimit(8 << 20);
    AddUser("wanda", {"--role", "writer", "--scope", "lab-a"});
    AddUser("rita", {"--role", "reader"});
    auto s = BraidServer::Start(data_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    admin_ = server_->AdminClient();
    ASSERT_EQ(Send(*admin_, "PUT", "/api/v1/collections/books/records/b1",
                   R"({"body":{"title":"T"},"partition":"lab-b"})")
                  .status,
              201);
    ASSERT_EQ(Send(*admin_, "PUT", "/api/v1/collections/books/records/a1",
                   R"({"body":{"title":"A"},"partition":"lab-a"})")
                  .status,
              201);
  }
  void TearDown() override {
    if (server_) {
      auto code = server_->Stop();
      EXPECT_TRUE(code.ok() && *code == 0) << server_->LogTail();
    }
  }

  void SetLimit(int64_t bytes) {
    ASSERT_TRUE(testing::SetConfig(data_, "max_attachment_bytes", std::to_string(bytes)).ok());
  }
  void AddUser(const std::string& name, std::vector<std::string> args) {
    args.insert(args.begin(), {"user", "add", name});
    const RunResult r = Braid(data_, args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    passwords_[name] = LastLine(r.out);
  }
  std::unique_ptr<http::Client> As(const std::string& name) {
    http::ClientOptions o;
    o.authorization = testing::BasicAuthorization(name, passwords_.at(name));
    return std::move(*http::Client::Create(o));
  }
  http::ClientResponse Send(http::Client& c, const std::string& method, const std::string& path,
                            const std::string& body = "", http::Headers headers = {}) {
    if (!body.empty() && headers.empty()) headers = {{"Content-Type", "application/json"}};
    auto r = c.Send(method, server_->url() + path, body, headers);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : http::ClientResponse{};
  }
  void ExpectError(const http::ClientResponse& r, int status, const std::string& code,
                   const std::string& words = "") {
    testing::ExpectApiError(r, status, code, words);
  }
  // Files in the blob store: blobs, partial downloads and temp files.
  size_t BlobFiles() {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(data_ + "/blobs")) {
      n += e.is_regular_file() ? 1 : 0;
    }
    return n;
  }
  std::string Version(const std::string& id) {
    const auto r = Send(*admin_, "GET", "/api/v1/collections/books/records/" + id);
    return json::parse(r.body, nullptr, false).value("version", "");
  }

  TempDir dir_;
  std::string data_;
  std::map<std::string, std::string> passwords_;
  std::unique_ptr<BraidServer> server_;
  std::unique_ptr<http::Client> admin_;
};

TEST_F(AttachmentTest, UploadThenDownloadWholeAndInRanges) {
  const std::string bytes = RandomBytes(5 << 20, 1);
  const std::string sha = Sha256Hex(bytes);
  const std::string path = "/api/v1/collections/books/records/b1/attachments/scan%201.pdf";
  auto put = Send(*admin_, "PUT", path, bytes,
                  {{"Content-Type", "application/pdf"}, {"Braid-SHA256", sha}});
  ASSERT_EQ(put.status, 201) << put.body;
  const json j = json::parse(put.body);
  EXPECT_EQ(j["attachment"]["sha256"], sha);
  EXPECT_EQ(j["attachment"]["size"], bytes.size());
  EXPECT_EQ(j["record"]["body"]["_attachments"]["scan 1.pdf"]["content_type"], "application/pdf");
  EXPECT_TRUE(fs::exists(data_ + "/blobs/" + sha.substr(0, 2) + "/" + sha.substr(2)));

  auto get = Send(*admin_, "GET", path);
  ASSERT_EQ(get.status, 200);
  EXPECT_TRUE(get.body == bytes);
  EXPECT_EQ(get.Header("ETag"), "\"" + sha + "\"");
  EXPECT_EQ(get.Header("Content-Type"), "application/pdf");
  EXPECT_EQ(get.Header("Braid-MD5").size(), 32u);
  EXPECT_EQ(get.Header("Accept-Ranges"), "bytes");

  auto head = Send(*admin_, "HEAD", path);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("Content-Length"), std::to_string(bytes.size()));
  EXPECT_TRUE(head.body.empty());

  auto part = Send(*admin_, "GET", path, "", {{"Range", "bytes=100-199"}});
  EXPECT_EQ(part.status, 206);
  EXPECT_TRUE(part.body == bytes.substr(100, 100));
  EXPECT_EQ(part.Header("Content-Range"), "bytes 100-199/" + std::to_string(bytes.size()));
  auto tail = Send(*admin_, "GET", path, "", {{"Range", "bytes=-10"}});
  EXPECT_EQ(tail.status, 206);
  EXPECT_TRUE(tail.body == bytes.substr(bytes.size() - 10));
  auto rest = Send(*admin_, "GET", path, "", {{"Range", "bytes=5000000-"}});
  EXPECT_EQ(rest.status, 206);
  EXPECT_TRUE(rest.body == bytes.substr(5000000));
  auto past = Send(*admin_, "GET", path, "", {{"Range", "bytes=9999999-"}});
  EXPECT_EQ(past.status, 416);
  EXPECT_EQ(past.Header("Content-Range"), "bytes */" + std::to_string(bytes.size()));
  // A stale If-Range gets the whole attachment.
  auto stale = Send(*admin_, "GET", path, "", {{"Range", "bytes=0-9"}, {"If-Range", "\"x\""}});
  EXPECT_EQ(stale.status, 200);
  auto same = Send(*admin_, "GET", path, "", {{"If-None-Match", "\"" + sha + "\""}});
  EXPECT_EQ(same.status, 304);

  auto list = Send(*As("rita"), "GET", "/api/v1/collections/books/records/b1/attachments");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(json::parse(list.body)["attachments"][0]["name"], "scan 1.pdf");

  // The same bytes under another name: one blob.
  ASSERT_EQ(Send(*admin_, "PUT", "/api/v1/collections/books/records/b1/attachments/copy.pdf", bytes)
                .status,
            201);
  EXPECT_EQ(BlobFiles(), 1u);

  // A record put keeps the attachments; changing them that way is refused.
  auto kept = Send(*admin_, "PUT", "/api/v1/collections/books/records/b1",
                   R"({"body":{"title":"U"},"partition":"lab-b"})");
  ASSERT_EQ(kept.status, 200) << kept.body;
  EXPECT_EQ(json::parse(kept.body)["body"]["_attachments"].size(), 2u);
  ExpectError(Send(*admin_, "PUT", "/api/v1/collections/books/records/b1",
                   R"({"body":{"title":"U","_attachments":{}},"partition":"lab-b"})"),
              409, "conflict", "_attachments");

  auto del = Send(*admin_, "DELETE", path);
  ASSERT_EQ(del.status, 200) << del.body;
  ExpectError(Send(*admin_, "GET", path), 404, "notFound", "no attachment");
  ExpectError(Send(*admin_, "DELETE", path), 404, "notFound");
}

TEST_F(AttachmentTest, BadUploadsAreRefusedAndKeepNothing) {
  const std::string bytes = RandomBytes(1 << 20, 2);
  const std::string before = Version("b1");
  const std::string base = "/api/v1/collections/books/records/";
  // A name that is a path (decoded from the URL), or has "..".
  ExpectError(Send(*admin_, "PUT", base + "b1/attachments/a%2Fb", bytes), 400, "invalidArgument",
              "slash");
  // (".." itself would be resolved away by the client: sent escaped.)
  ExpectError(Send(*admin_, "PUT", base + "b1/attachments/%2E%2E", bytes), 400, "invalidArgument",
              "..");
  ExpectError(Send(*admin_, "PUT", base + "b1/attachments/a..b", bytes), 400, "invalidArgument",
              "..");
  ExpectError(Send(*admin_, "PUT", base + "b1/attachments/a%01b", bytes), 400, "invalidArgument",
              "control");
  // Bytes that do not match the hash they were announced with.
  ExpectError(Send(*admin_, "PUT", base + "b1/attachments/x.bin", bytes,
                   {{"Braid-SHA256", Sha256Hex("x")}}),
              400, "invalidArgument", "do not match");
  ExpectError(Send(*admin_, "PUT", base + "b1/attachments/x.bin", bytes, {{"Braid-MD5", "zz"}}),
              400, "invalidArgument", "Braid-MD5");
  // A body over the limit (8 MiB here), refused from its Content-Length.
  ExpectError(Send(*admin_, "PUT", base + "b1/attachments/big.bin", RandomBytes(9 << 20, 3)), 413,
              "payloadTooLarge");
  // A media type that is not one.
  ExpectError(
      Send(*admin_, "PUT", base + "b1/attachments/x.bin", bytes, {{"Content-Type", "not a type"}}),
      400, "invalidArgument", "media type");
  // Who may not: no credentials, a reader, a writer outside its scope.
  auto anonymous = std::move(*http::Client::Create({}));
  ExpectError(Send(*anonymous, "PUT", base + "b1/attachments/x.bin", bytes), 401, "unauthorized");
  ExpectError(Send(*As("rita"), "PUT", base + "b1/attachments/x.bin", bytes), 403, "forbidden");
  ExpectError(Send(*As("wanda"), "PUT", base + "b1/attachments/x.bin", bytes), 403, "forbidden");
  // No such record.
  ExpectError(Send(*admin_, "PUT", base + "nope/attachments/x.bin", bytes), 404, "notFound");

  EXPECT_EQ(Version("b1"), before);
  EXPECT_EQ(BlobFiles(), 0u);

  // Within its scope, the writer may.
  EXPECT_EQ(Send(*As("wanda"), "PUT", base + "a1/attachments/x.bin", bytes).status, 201);
  ExpectError(Send(*As("wanda"), "DELETE", base + "b1/attachments/x.bin"), 403, "forbidden");
  EXPECT_EQ(BlobFiles(), 1u);
}

TEST_F(AttachmentTest, TheCommandLineAttachesListsAndWritesOut) {
  const std::string bytes = RandomBytes(300000, 4);
  const std::string file = dir_.File("paper.pdf");
  std::ofstream(file, std::ios::binary) << bytes;
  RunResult r = Braid(data_, {"attach", "books", "a1", "paper.pdf", "--file", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("attached paper.pdf"), std::string::npos) << r.out;
  r = Braid(data_, {"attachments", "books", "a1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("paper.pdf\t300000\tapplication/pdf\t" + Sha256Hex(bytes)),
            std::string::npos)
      << r.out;
  // The server serves what the command stored.
  auto get = Send(*admin_, "GET", "/api/v1/collections/books/records/a1/attachments/paper.pdf");
  EXPECT_TRUE(get.status == 200 && get.body == bytes);
  const std::string out = dir_.File("out.pdf");
  r = Braid(data_, {"attachments", "books", "a1", "paper.pdf", "--output", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(out, std::ios::binary);
  EXPECT_TRUE(std::string(std::istreambuf_iterator<char>(in), {}) == bytes);

  r = Braid(data_, {"attach", "books", "a1", "../x", "--file", file});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("slash"), std::string::npos) << r.err;
  r = Braid(data_, {"attach", "books", "nope", "x", "--file", file});
  EXPECT_EQ(r.exit_code, 3);
  r = Braid(data_, {"attach", "books", "a1", "x", "--file", dir_.File("missing")});
  EXPECT_EQ(r.exit_code, 7);
  r = Braid(data_, {"detach", "books", "a1", "paper.pdf"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Braid(data_, {"detach", "books", "a1", "paper.pdf"});
  EXPECT_EQ(r.exit_code, 3);
}

// A disk that cannot take the file. A test cannot fill a file system
// without root, but a file-size limit (ulimit -f) makes write() fail the
// same way (EFBIG instead of ENOSPC): a clear error, exit 7, nothing kept.
TEST(AttachmentDiskTest, AFileTheDiskCannotHoldIsRefusedAndLeavesNothing) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  ASSERT_EQ(Braid(data, {"init", "--no-admin"}).exit_code, 0);
  ASSERT_EQ(Braid(data, {"put", "books", "b1", "-"}, R"({"title":"x"})").exit_code, 0);
  const std::string file = dir.File("big.bin");
  std::ofstream(file, std::ios::binary) << RandomBytes(16 << 20, 7);
  // 8192 blocks: 4 MiB (dash counts 512-byte blocks) or 8 MiB (bash, KiB).
  const RunResult r =
      testing::Run({"/bin/sh", "-c", "ulimit -f 8192 && exec \"$0\" \"$@\"", testing::BraidBin(),
                    "--data", data, "attach", "books", "b1", "big.bin", "--file", file});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_NE(r.err.find("ulimit -f"), std::string::npos) << r.err;
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(data + "/blobs")) {
    if (e.is_regular_file()) ++files;
  }
  EXPECT_EQ(files, 0u);
  const RunResult list = Braid(data, {"attachments", "books", "b1"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out.find("big.bin"), std::string::npos) << list.out;
}

TEST_F(AttachmentTest, AServerKilledMidUploadKeepsNothing) {
  // The server dies (SIGKILL, from a failpoint) at the 10th piece it writes
  // of an upload: the client sees the connection fail, the record is as it
  // was, and the temp file the dead writer left goes at the next start.
  ASSERT_TRUE(server_->Stop().ok());
  ASSERT_TRUE(server_->Restart("BRAID_FAILPOINTS=blob-append=10").ok());
  admin_ = server_->AdminClient();
  const std::string before = Version("b1");
  const std::string bytes = RandomBytes(6 << 20, 5);  // under the 8 MiB limit
  auto r = admin_->Send(
      "PUT", server_->url() + "/api/v1/collections/books/records/b1/attachments/x", bytes, {});
  EXPECT_TRUE(!r.ok() || r->status >= 500);
  server_->Kill();
  size_t temps = 0;
  for (const auto& e : fs::directory_iterator(data_ + "/blobs/tmp")) {
    ++temps;
    // Older than the grace a live writer's file gets.
    fs::last_write_time(e.path(), fs::file_time_type::clock::now() - std::chrono::minutes(5));
  }
  EXPECT_EQ(temps, 1u);
  ASSERT_TRUE(server_->Restart().ok());
  admin_ = server_->AdminClient();
  EXPECT_EQ(BlobFiles(), 0u);
  EXPECT_EQ(Version("b1"), before);
  // And the upload goes through when sent again.
  EXPECT_EQ(
      Send(*admin_, "PUT", "/api/v1/collections/books/records/b1/attachments/x", bytes).status,
      201);
  EXPECT_EQ(BlobFiles(), 1u);
}

// The routes a mirror fetches blobs by (GET /api/v1/blobs/SHA256, POST
// /api/v1/blobs): a blob is given to whoever may read a live record that
// names it; to the others it does not exist. Each bad request is refused.
TEST_F(AttachmentTest, BlobsByHashGoOnlyToWhoMayReadARecordNamingThem) {
  // a1 is in lab-a (wanda's scope), b1 in lab-b.
  const std::string in_a = "bytes of a", in_b = "bytes of b";
  ASSERT_EQ(Send(*admin_, "PUT", "/api/v1/collections/books/records/a1/attachments/x.txt", in_a,
                 {{"Content-Type", "text/plain"}})
                .status,
            201);
  ASSERT_EQ(Send(*admin_, "PUT", "/api/v1/collections/books/records/b1/attachments/y.txt", in_b,
                 {{"Content-Type", "text/plain"}})
                .status,
            201);
  const std::string a = Sha256Hex(in_a), b = Sha256Hex(in_b), none(64, '0');
  auto wanda = As("wanda");
  auto r = Send(*wanda, "GET", "/api/v1/blobs/" + a);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, in_a);
  ExpectError(Send(*wanda, "GET", "/api/v1/blobs/" + b), 404, "notFound");
  ExpectError(Send(*wanda, "GET", "/api/v1/blobs/" + none), 404, "notFound");
  ExpectError(Send(*wanda, "GET", "/api/v1/blobs/ABC"), 400, "invalidArgument", "SHA-256");
  ExpectError(Send(*wanda, "DELETE", "/api/v1/blobs/" + a), 405, "methodNotAllowed");
  // Ranges, as for attachments.
  r = Send(*wanda, "GET", "/api/v1/blobs/" + a, "", {{"Range", "bytes=6-"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "of a");

  // Several at once: each one's bytes, or "-" when the caller may not.
  r = Send(*wanda, "POST", "/api/v1/blobs",
           R"({"sha256":[")" + a + R"(",")" + b + R"(",")" + none + R"("]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, a + " 10\n" + in_a + b + " -\n" + none + " -\n");
  r = Send(*admin_, "POST", "/api/v1/blobs", R"({"sha256":[")" + b + R"(",")" + a + R"("]})");
  EXPECT_EQ(r.body, b + " 10\n" + in_b + a + " 10\n" + in_a);
  std::string many = R"({"sha256":[)";
  for (int i = 0; i < 1001; ++i) many += (i ? ",\"" : "\"") + a + "\"";
  many += "]}";
  for (const std::string& bad :
       {std::string("{}"), std::string(R"({"sha256":[]})"), std::string(R"({"sha256":["x"]})"),
        std::string(R"([1])"), std::string(R"({"sha256":[")") + a + R"("],"more":1})", many,
        std::string("not json")}) {
    ExpectError(Send(*wanda, "POST", "/api/v1/blobs", bad), 400, "invalidArgument");
  }
  ExpectError(Send(*wanda, "GET", "/api/v1/blobs"), 405, "methodNotAllowed");
  auto nobody = http::Client::Create({});
  ExpectError(Send(**nobody, "POST", "/api/v1/blobs", R"({"sha256":[")" + a + R"("]})"), 401,
              "unauthorized");
}

TEST(AttachmentReplicationTest, TheListReplicatesAndMergesLikeAField) {
  // a attaches a file; b pulls the record: the list arrives, the bytes
  // wait for b's attachments step. Concurrent changes of the list on both
  // sides merge like any field: one list wins everywhere, the other is kept
  // among the record's conflicts.
  testing::Cluster c;
  c.Add("a", /*serve=*/false);
  c.Add("b");
  TempDir dir;
  const std::string file = dir.File("f.txt");
  std::ofstream(file) << "hello world";
  ASSERT_EQ(c.Cli("a", {"put", "books", "r1", "-"}, R"({"title":"T"})").exit_code, 0);
  RunResult r = c.Cli("a", {"attach", "books", "r1", "f.txt", "--file", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(c.Link("a", "b").exit_code, 0);
  r = c.Sync("a", {"b"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = c.Cli("b", {"attachments", "books", "r1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("f.txt\t11\ttext/plain"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not here yet"), std::string::npos) << r.out;
  auto get = c["b"].TokenClient()->Get(c["b"].server->url() +
                                       "/api/v1/collections/books/records/r1/attachments/f.txt");
  ASSERT_TRUE(get.ok());
  testing::ExpectApiError(*get, 404, "notFound", "not here yet");

  // Concurrent: a detaches, b attaches another (b's server writes it).
  ASSERT_EQ(c.Cli("a", {"detach", "books", "r1", "f.txt"}).exit_code, 0);
  auto put = c["b"].TokenClient()->Send(
      "PUT", c["b"].server->url() + "/api/v1/collections/books/records/r1/attachments/g.txt",
      "other bytes", {{"Content-Type", "text/plain"}});
  ASSERT_TRUE(put.ok());
  ASSERT_EQ(put->status, 201) << put->body;
  r = c.Sync("a", {"b"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto a_list = c.Cli("a", {"--json", "attachments", "books", "r1"});
  const auto b_list = c.Cli("b", {"--json", "attachments", "books", "r1"});
  EXPECT_EQ(a_list.out, b_list.out);  // one winner on both sides
  const auto conflicts = c.Cli("a", {"conflicts", "show", "books", "r1"});
  EXPECT_NE(conflicts.out.find("_attachments"), std::string::npos) << conflicts.out;
}

TEST_F(AttachmentTest, FetchResumesAPartialDownloadWithRange) {
  const std::string bytes = RandomBytes(6 << 20, 6);
  const std::string path = "/api/v1/collections/books/records/b1/attachments/f.bin";
  auto put = Send(*admin_, "PUT", path, bytes);
  ASSERT_EQ(put.status, 201) << put.body;
  blob::Attachment want;
  want.name = "f.bin";
  want.sha256 = Sha256Hex(bytes);
  want.md5 = json::parse(put.body)["attachment"]["md5"];
  want.size = bytes.size();
  const http::Headers auth = {{"Authorization", server_->admin_authorization()}};
  auto client = std::move(*http::Client::Create({}));
  auto mirror = std::move(*blob::BlobStore::Open(dir_.File("mirror-blobs")));

  // A download cut short after 1 MiB: the partial keeps it.
  {
    auto partial = mirror->Resume(want.sha256, want.size);
    ASSERT_TRUE(partial.ok());
    ASSERT_TRUE((*partial)->Append(std::string_view(bytes).substr(0, 1 << 20)).ok());
  }
  uint64_t progressed = 0;
  auto fetched = mirror::FetchBlob(*client, server_->url() + path, auth, *mirror, want,
                                   blob::Sync::kDurable, [&](uint64_t n) { progressed += n; });
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(fetched->resumed_at, 1u << 20);
  EXPECT_EQ(fetched->received, bytes.size() - (1 << 20));  // only the rest went over the wire
  EXPECT_EQ(progressed, fetched->received);
  auto hashed = mirror->Hash(want.sha256);
  ASSERT_TRUE(hashed.ok());
  EXPECT_EQ(hashed->md5, want.md5);

  // Here already: nothing fetched.
  fetched =
      mirror::FetchBlob(*client, server_->url() + path, auth, *mirror, want, blob::Sync::kDurable);
  ASSERT_TRUE(fetched.ok());
  EXPECT_TRUE(fetched->present);
  EXPECT_EQ(fetched->received, 0u);

  // A partial with wrong bytes: the result does not verify and is dropped,
  // and the next fetch starts from byte 0.
  ASSERT_TRUE(mirror->Remove(want.sha256).ok());
  {
    auto partial = mirror->Resume(want.sha256, want.size);
    ASSERT_TRUE((*partial)->Append(std::string(1 << 20, 'x')).ok());
  }
  fetched =
      mirror::FetchBlob(*client, server_->url() + path, auth, *mirror, want, blob::Sync::kDurable);
  EXPECT_EQ(fetched.status().code(), Code::kInvalidArgument);
  fetched =
      mirror::FetchBlob(*client, server_->url() + path, auth, *mirror, want, blob::Sync::kDurable);
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(fetched->resumed_at, 0u);
  EXPECT_EQ(fetched->received, bytes.size());

  // What the remote refuses comes back as its status.
  blob::Attachment missing = want;
  missing.sha256 = std::string(64, 'a');
  fetched = mirror::FetchBlob(*client, server_->url() + path + "x", auth, *mirror, missing,
                              blob::Sync::kDurable);
  EXPECT_EQ(fetched.status().code(), Code::kNotFound);
  fetched =
      mirror::FetchBlob(*client, server_->url() + path, {}, *mirror, missing, blob::Sync::kDurable);
  EXPECT_EQ(fetched.status().code(), Code::kUnauthorized);
}

}  // namespace
}  // namespace braid
