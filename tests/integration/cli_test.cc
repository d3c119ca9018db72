// The `braid` command line: every command, its output and its exit codes,
// and CLI writes into a directory a server is serving.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "http/client.h"
#include "tests/support/server.h"
#include "tests/support/temp_dir.h"

namespace braid {
namespace {

using nlohmann::json;
using testing::Braid;
using testing::RunResult;
using testing::TempDir;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.File("data");
    const RunResult init = Braid(data_, {"init"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    EXPECT_NE(init.out.find("initialized"), std::string::npos);
  }
  RunResult Ok(const std::vector<std::string>& args, const std::string& input = "") {
    RunResult r = Braid(data_, args, input);
    EXPECT_EQ(r.exit_code, 0) << "braid " << args[0] << ": " << r.err;
    return r;
  }
  // Runs a command that must fail with `code`, print a message and write nothing.
  void Fails(const std::vector<std::string>& args, int code, const std::string& input = "") {
    const std::string before = Braid(data_, {"--json", "status"}).out;
    RunResult r = Braid(data_, args, input);
    EXPECT_EQ(r.exit_code, code) << "braid " << args[0] << " " << (args.size() > 1 ? args[1] : "")
                                 << ": " << r.err;
    EXPECT_NE(r.err.find("braid"), std::string::npos) << r.err;
    EXPECT_EQ(Braid(data_, {"--json", "status"}).out, before) << "something was written";
  }

  TempDir dir_;
  std::string data_;
};

TEST_F(CliTest, PutGetListDeleteStatus) {
  auto put = Ok({"--json", "put", "notes", "n1", "-"}, R"({"title": "first"})");
  json j = json::parse(put.out);
  EXPECT_EQ(j["status"], "created");
  EXPECT_EQ(j["seq"], 1);
  EXPECT_EQ(j["record"]["body"]["title"], "first");

  std::ofstream(dir_.File("body.json")) << R"({"title": "second"})";
  auto put2 = Ok({"put", "notes", "n2", "--file", dir_.File("body.json"), "--parent", "inbox"});
  EXPECT_NE(put2.out.find("created notes/n2"), std::string::npos) << put2.out;

  auto get = Ok({"--json", "get", "notes", "n2"});
  j = json::parse(get.out);
  EXPECT_EQ(j["parent"], "inbox");
  EXPECT_EQ(j["body"]["title"], "second");
  EXPECT_NE(Ok({"get", "notes", "n2"}).out.find("\n  \"id\": \"n2\""), std::string::npos);

  auto list = Ok({"--json", "list", "notes"});
  j = json::parse(list.out);
  ASSERT_EQ(j["records"].size(), 2u);
  EXPECT_TRUE(j["next"].is_null());
  auto page = Ok({"list", "notes", "--limit", "1"});
  EXPECT_NE(page.out.find("--after n1"), std::string::npos) << page.out;

  Ok({"delete", "notes", "n1"});
  j = json::parse(Ok({"--json", "status"}).out);
  EXPECT_EQ(j["records"], 1);
  EXPECT_EQ(j["tombstones"], 1);
  EXPECT_EQ(j["last_seq"], 3);
  EXPECT_EQ(j["instance_id"].get<std::string>().size(), 32u);
  EXPECT_NE(Ok({"status"}).out.find("1 live, 1 tombstones"), std::string::npos);
}

TEST_F(CliTest, DeltaPagesWithCursors) {
  for (int i = 0; i < 3; ++i) Ok({"put", "notes", "n" + std::to_string(i), "-"}, "{}");
  json p = json::parse(Ok({"--json", "delta", "--limit", "2"}).out);
  EXPECT_EQ(p["items"].size(), 2u);
  EXPECT_TRUE(p["has_more"]);
  p = json::parse(Ok({"--json", "delta", "--cursor", p["cursor"]}).out);
  ASSERT_EQ(p["items"].size(), 1u);
  EXPECT_EQ(p["items"][0]["id"], "n2");
  EXPECT_FALSE(p["has_more"]);
  auto human = Ok({"delta"});
  EXPECT_NE(human.out.find("1\tcreate\tnotes/n0"), std::string::npos) << human.out;
}

TEST_F(CliTest, CompactRemovesOldHistory) {
  Ok({"put", "notes", "n1", "-"}, R"({"v":1})");
  Ok({"put", "notes", "n1", "-"}, R"({"v":2})");
  Ok({"put", "notes", "n1", "-"}, R"({"v":3})");
  EXPECT_EQ(json::parse(Ok({"--json", "compact", "--older-than", "180d"}).out)["events_removed"],
            0);
  json r = json::parse(Ok({"--json", "compact", "--older-than", "0"}).out);
  EXPECT_EQ(r["events_removed"], 1);
  EXPECT_EQ(r["horizon"], 2);
}

TEST_F(CliTest, ErrorsHaveMessagesAndExitCodes) {
  Ok({"put", "notes", "exists", "-"}, R"({"a":1})");
  Fails({"get", "notes", "missing"}, 3);
  Fails({"delete", "notes", "missing"}, 3);
  Fails({"put", "Notes", "x", "-"}, 2, "{}");
  Fails({"put", "notes", "x", "-"}, 2, "not json");
  Fails({"put", "notes", "x", "-"}, 2, "[]");
  Fails({"put", "notes", "x", "--file", dir_.File("absent.json")}, 7);
  Fails({"put", "notes", "x", "extra"}, 2, "{}");
  Fails({"put", "notes", "exists", "--partition", "other", "-"}, 4, R"({"a":2})");
  Fails({"put", "notes", "big", "-"}, 2, "{\"x\":\"" + std::string(5 << 20, 'x') + "\"}");
  Fails({"list", "notes", "--limit", "0"}, 2);
  Fails({"delta", "--cursor", "bogus"}, 5);
  Fails({"delta", "--limit", "5000"}, 2);
  Fails({"compact", "--older-than", "soon"}, 2);
  Fails({"compact"}, 2);
  Fails({"frobnicate"}, 2);
  Fails({"init"}, 4);
  Fails({"serve", "--listen", "0.0.0.0:0"}, 2);
  Fails({"serve", "--listen", "nonsense"}, 2);

  TempDir empty;
  RunResult r = Braid(empty.File("nothing"), {"status"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("braid init"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(empty.File("nothing")));
}

TEST_F(CliTest, HelpAndVersion) {
  RunResult help = Braid(data_, {"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* cmd : {"init", "serve", "put", "get", "delete", "list", "delta", "compact",
                          "status", "Exit codes"}) {
    EXPECT_NE(help.out.find(cmd), std::string::npos) << cmd;
  }
  EXPECT_EQ(Braid(data_, {"--version"}).exit_code, 0);
  EXPECT_EQ(Braid(data_, {"put", "--help"}).exit_code, 0);
}

TEST_F(CliTest, CliWritesReachARunningServer) {
  auto server = testing::BraidServer::Start(data_);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto client = (*server)->AdminClient();
  // Interleave CLI and HTTP writes on the same directory; nobody sees "locked".
  for (int i = 0; i < 20; ++i) {
    Ok({"put", "mixed", "cli" + std::to_string(i), "-"}, "{}");
    auto r =
        client->Put((*server)->url() + "/api/v1/collections/mixed/records/http" + std::to_string(i),
                    R"({"body":{}})");
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 201) << r->body;
  }
  auto r = client->Get((*server)->url() + "/api/v1/delta?collection=mixed&limit=1000");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(json::parse(r->body)["items"].size(), 40u);
  // The CLI reads what the server wrote.
  EXPECT_EQ(json::parse(Ok({"--json", "status"}).out)["records"], 40);
  auto code = (*server)->Stop();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace braid
