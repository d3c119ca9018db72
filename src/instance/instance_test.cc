#include "instance/instance.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace braid {
namespace {

TEST(InstanceTest, InitCreatesTheDirectoryOnce) {
  testing::TempDir tmp;
  const std::string dir = tmp.File("a/b/data");
  auto inst = Instance::Init(dir);
  ASSERT_TRUE(inst.ok()) << inst.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(dir + "/braid.toml"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/store.db"));
  const InstanceId id = (*inst)->store().instance_id();
  inst->reset();
  EXPECT_EQ(Instance::Init(dir).status().code(), Code::kAlreadyExists);
  auto reopened = Instance::Open(dir);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->store().instance_id(), id);
}

TEST(InstanceTest, OpeningAnEmptyDirectorySaysToInit) {
  testing::TempDir tmp;
  auto r = Instance::Open(tmp.path());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("braid init"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(tmp.File("store.db")));
}

TEST(InstanceTest, TheDefaultConfigParsesToTheDefaults) {
  auto c = ParseConfig(DefaultConfigText(), "braid.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const Config d;
  EXPECT_EQ(c->listen, d.listen);
  EXPECT_EQ(c->max_request_bytes, d.max_request_bytes);
  EXPECT_EQ(c->max_record_bytes, d.max_record_bytes);
  EXPECT_EQ(c->durability, d.durability);
  EXPECT_EQ(c->busy_timeout_ms, d.busy_timeout_ms);
  EXPECT_EQ(c->store_url, "");
  EXPECT_EQ(c->blob_dir, "");
  auto pg = ParseConfig(DefaultConfigText("", "", "postgresql://braid@db/braid"), "braid.toml");
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  EXPECT_EQ(pg->store_url, "postgresql://braid@db/braid");
}

TEST(InstanceTest, ConfigMistakesAreErrorsThatSayWhere) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[server]\nlisten = 8470\n", "server.listen"},
      {"[server]\nlisten = \"nohost\"\n", "server.listen"},
      {"[server]\nlsiten = \"127.0.0.1:1\"\n", "unknown setting server.lsiten"},
      {"[servre]\n", "unknown section [servre]"},
      {"[store]\ndurability = \"fast\"\n", "store.durability"},
      {"[store]\nmax_record_bytes = 10\n", "store.max_record_bytes"},
      {"[server]\nthreads = -1\n", "server.threads"},
      {"[server\n", "braid.toml:1"},
      {"[store]\nurl = \"mysql://db/braid\"\n", "store.url"},
      {"[store]\nurl = 5\n", "store.url"},
      {"[store]\nblobs = \"blobs\"\n", "store.blobs"},
      {"[store]\nblobs = \"\"\n", "store.blobs"},
  };
  for (const auto& [text, expected] : cases) {
    auto c = ParseConfig(text, "braid.toml");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
    EXPECT_NE(c.status().message().find(expected), std::string::npos) << c.status().message();
  }
  auto ok = ParseConfig("[store]\ndurability = \"normal\"\n", "braid.toml");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->durability, Durability::kNormal);
}

TEST(InstanceTest, ABrokenConfigStopsOpen) {
  testing::TempDir tmp;
  ASSERT_TRUE(Instance::Init(tmp.path()).ok());
  std::ofstream(tmp.File("braid.toml")) << "[store]\ndurability = 3\n";
  EXPECT_EQ(Instance::Open(tmp.path()).status().code(), Code::kInvalidArgument);
}

TEST(InstanceTest, ListenAddresses) {
  auto a = ParseListen("127.0.0.1:8470");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8470);
  auto v6 = ParseListen("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  for (const char* bad :
       {"", "8470", ":8470", "host:", "host:99999", "host:12a", "::1:80", "[::1]80", "[::1]:"}) {
    EXPECT_FALSE(ParseListen(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace braid
