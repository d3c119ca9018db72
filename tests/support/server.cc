#include "tests/support/server.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/encoding.h"
#include "tests/support/pg_server.h"

namespace braid::testing {

std::string BasicAuthorization(const std::string& name, const std::string& password) {
  return "Basic " + Base64Encode(name + ":" + password);
}

std::string AdminPassword(const std::string& data_dir) {
  std::ifstream in(data_dir + "/admin-password");
  std::string password;
  std::getline(in, password);
  if (password.empty()) {
    std::fprintf(stderr, "no admin password in %s/admin-password\n", data_dir.c_str());
    std::abort();
  }
  return password;
}

std::string BraidServer::admin_authorization() const {
  return BasicAuthorization("admin", AdminPassword(data_dir_));
}

http::ClientOptions BraidServer::admin_client_options() const {
  http::ClientOptions o;
  o.authorization = admin_authorization();
  return o;
}

std::unique_ptr<http::Client> BraidServer::AdminClient() const {
  auto c = http::Client::Create(admin_client_options());
  if (!c.ok()) {
    std::fprintf(stderr, "cannot create an HTTP client: %s\n", c.status().ToString().c_str());
    std::abort();
  }
  return std::move(*c);
}

Status SetConfig(const std::string& data_dir, const std::string& key, const std::string& value) {
  const std::string path = data_dir + "/braid.toml";
  std::ifstream in(path);
  if (!in) return Status::IoError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = "\n" + ss.str();
  const size_t at = text.find("\n" + key + " = ");
  if (at == std::string::npos) return Status::NotFound("no setting " + key + " in " + path);
  const size_t end = text.find('\n', at + 1);
  text.replace(at + 1, (end == std::string::npos ? text.size() : end) - at - 1,
               key + " = " + value);
  std::ofstream out(path, std::ios::trunc);
  out << text.substr(1);
  out.close();
  if (!out) return Status::IoError("cannot write " + path);
  return Status::OK();
}

const std::string& TestStoreKind() {
  static const std::string kind = [] {
    const char* env = std::getenv("BRAID_TEST_STORE");
    const std::string k = env != nullptr && *env != '\0' ? env : "sqlite";
    if (k != "sqlite" && k != "postgresql") {
      std::fprintf(stderr, "BRAID_TEST_STORE=%s: expected sqlite or postgresql\n", k.c_str());
      std::abort();
    }
    return k;
  }();
  return kind;
}

std::string StoreSpecOf(const std::string& data_dir) {
  std::ifstream in(data_dir + "/braid.toml");
  std::string line;
  bool in_store = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '[') in_store = line == "[store]";
    if (in_store && line.rfind("url = \"", 0) == 0 && line.size() > 8 && line.back() == '"') {
      return line.substr(7, line.size() - 8);
    }
  }
  return "sqlite:" + data_dir + "/store.db";
}

bool IsInitialized(const std::string& data_dir) {
  return std::filesystem::exists(data_dir + "/store.db") ||
         StoreSpecOf(data_dir).rfind("postgresql://", 0) == 0;
}

RunResult Braid(const std::string& data_dir, const std::vector<std::string>& args,
                const std::string& input) {
  std::vector<std::string> argv = {BraidBin(), "--data", data_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  if (!args.empty() && args[0] == "init" && TestStoreKind() == "postgresql" &&
      std::find(args.begin(), args.end(), "--store") == args.end()) {
    argv.push_back("--store");
    argv.push_back(PgServer::Shared().NewDatabaseUntilExit(
        std::filesystem::path(data_dir).filename().string()));
  }
  return Run(argv, input);
}

Result<std::unique_ptr<BraidServer>> BraidServer::Start(const std::string& data_dir,
                                                        std::vector<std::string> serve_args) {
  if (!IsInitialized(data_dir)) {
    const RunResult init = Braid(data_dir, {"init"});
    if (init.exit_code != 0) return Status::Internal("braid init failed: " + init.err);
  }
  std::unique_ptr<BraidServer> s(new BraidServer());
  s->data_dir_ = data_dir;
  s->serve_args_ = std::move(serve_args);
  BRAID_RETURN_IF_ERROR(s->Launch());
  return s;
}

Status BraidServer::Launch(const std::string& env) {
  // A restart keeps the port, so remotes pointing here stay valid.
  const std::string listen = "127.0.0.1:" + (url_.empty() ? "0" : url_.substr(url_.rfind(':') + 1));
  std::vector<std::string> argv = {BraidBin(), "--data", data_dir_, "serve", "--listen", listen};
  argv.insert(argv.end(), serve_args_.begin(), serve_args_.end());
  if (!env.empty()) argv.insert(argv.begin(), {"/usr/bin/env", env});
  BRAID_ASSIGN_OR_RETURN(process_, Process::Start(argv, data_dir_ + "/serve.log"));
  auto line = process_->ReadLine(std::chrono::seconds(20));
  if (!line.ok()) return Status::Internal("braid serve did not start: " + LogTail());
  // "braid serving http[s]://127.0.0.1:PORT (data ..., instance ...)"
  const size_t start = line->find("http");
  const size_t end = line->find(' ', start);
  if (start == std::string::npos) return Status::Internal("unexpected first line: " + *line);
  url_ = line->substr(start, end - start);
  return Status::OK();
}

Result<int> BraidServer::Stop() {
  process_->Signal(SIGTERM);
  return process_->Wait(std::chrono::seconds(30));
}

void BraidServer::Kill() {
  process_->Signal(SIGKILL);
  (void)process_->Wait(std::chrono::seconds(30));
}

Status BraidServer::Restart(const std::string& env) {
  if (process_) (void)Stop();
  return Launch(env);
}

std::string BraidServer::LogTail(size_t max_bytes) const {
  std::ifstream in(data_dir_ + "/serve.log");
  std::stringstream s;
  s << in.rdbuf();
  const std::string all = s.str();
  return all.size() > max_bytes ? all.substr(all.size() - max_bytes) : all;
}

std::string LastLine(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s.substr(s.rfind('\n') + 1);
}

void ExpectApiError(const http::ClientResponse& r, int status, const std::string& code,
                    const std::string& words) {
  EXPECT_EQ(r.status, status) << r.body;
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j.value("code", ""), code) << r.body;
  EXPECT_NE(j.value("message", "").find(words), std::string::npos) << r.body;
}

}  // namespace braid::testing
