#include "instance/instance.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "base/log.h"

namespace braid {
namespace {

namespace fs = std::filesystem;

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return Status::IoError("cannot read " + path);
  return s.str();
}

// The instance's store: store.url, or DIR/store.db with the page cache
// braid.toml asks for.
std::string StoreSpecFor(const std::string& dir, const Config& c) {
  if (!c.store_url.empty()) return c.store_url;
  return "sqlite:" + dir + "/store.db?cache_mib=" + std::to_string(c.cache_mib);
}

StoreOptions StoreOptionsFor(const Config& c, bool create) {
  StoreOptions o;
  o.create_if_missing = create;
  o.durability = c.durability;
  o.max_body_bytes = c.max_record_bytes;
  o.busy_timeout = std::chrono::milliseconds(c.busy_timeout_ms);
  return o;
}

// The directory holds secrets (remote tokens and passwords in store.db, the
// first admin's password, keys): only its owner may enter it.
void RestrictToOwner(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || (st.st_mode & 077) == 0) return;
  if (::chmod(dir.c_str(), st.st_mode & 0700) != 0) {
    spdlog::warn(
        "{} can be read by other users, and braid cannot change that ({}); it holds "
        "secrets: chmod 700 it",
        dir, std::strerror(errno));
    return;
  }
  spdlog::info("{}: made readable by its owner only (it holds secrets)", dir);
}

}  // namespace

Result<std::unique_ptr<Instance>> Instance::Init(const std::string& dir,
                                                 const std::string& tls_cert,
                                                 const std::string& tls_key,
                                                 const std::string& store_url) {
  if (!store_url.empty() && !IsStoreUrl(store_url)) {
    return Status::InvalidArgument("--store \"" + store_url +
                                   "\" is not a PostgreSQL URI: "
                                   "postgresql://[USER@]HOST[:PORT]/DATABASE[?PARAMS]");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
  if (fs::exists(dir + "/store.db")) {
    return Status::AlreadyExists(dir + " already holds a braid store");
  }
  RestrictToOwner(dir);
  const std::string config_path = dir + "/braid.toml";
  if (fs::exists(config_path)) {
    BRAID_ASSIGN_OR_RETURN(const std::string text, ReadFile(config_path));
    BRAID_ASSIGN_OR_RETURN(const Config existing, ParseConfig(text, config_path));
    if (!existing.store_url.empty()) {
      return Status::AlreadyExists(dir + " already names a braid store (store.url in " +
                                   config_path + ")");
    }
    if (!store_url.empty()) {
      return Status::AlreadyExists(config_path + " exists: add url = \"" + store_url +
                                   "\" to its [store] section instead");
    }
  } else {
    std::ofstream out(config_path, std::ios::binary);
    out << DefaultConfigText(tls_cert, tls_key, store_url);
    out.close();
    if (!out) return Status::IoError("cannot write " + config_path);
  }
  std::unique_ptr<Instance> inst(new Instance());
  inst->dir_ = dir;
  BRAID_ASSIGN_OR_RETURN(const std::string text, ReadFile(config_path));
  BRAID_ASSIGN_OR_RETURN(inst->config_, ParseConfig(text, config_path));
  const std::string spec = StoreSpecFor(dir, inst->config_);
  if (!inst->config_.store_url.empty()) {
    // A database that holds an instance already: this directory joins it.
    auto joined = Store::Open(spec, StoreOptionsFor(inst->config_, false));
    if (joined.ok()) {
      inst->store_ = std::move(*joined);
      inst->joined_ = true;
      return inst;
    }
    if (joined.status().code() != Code::kNotFound) {
      (void)fs::remove(config_path, ec);  // nothing was made: init may be run again
      return joined.status();
    }
  }
  auto made = Store::Open(spec, StoreOptionsFor(inst->config_, true));
  if (!made.ok()) {
    if (!inst->config_.store_url.empty()) (void)fs::remove(config_path, ec);
    return made.status();
  }
  inst->store_ = std::move(*made);
  return inst;
}

Result<std::unique_ptr<Instance>> Instance::Open(const std::string& dir) {
  const std::string config_path = dir + "/braid.toml";
  const bool has_db = fs::exists(dir + "/store.db");
  if (!has_db && !fs::exists(config_path)) {
    return Status::NotFound("no braid data directory at " + dir +
                            "; run `braid init` (or pass --data DIR / set BRAID_DATA)");
  }
  RestrictToOwner(dir);
  std::unique_ptr<Instance> inst(new Instance());
  inst->dir_ = dir;
  if (fs::exists(config_path)) {
    BRAID_ASSIGN_OR_RETURN(const std::string text, ReadFile(config_path));
    BRAID_ASSIGN_OR_RETURN(inst->config_, ParseConfig(text, config_path));
    for (std::string* file : {&inst->config_.tls_cert, &inst->config_.tls_key}) {
      if (!file->empty() && file->front() != '/') *file = dir + "/" + *file;
    }
  }
  if (!has_db && inst->config_.store_url.empty()) {
    return Status::NotFound("no braid data directory at " + dir +
                            " (braid.toml names no store.url and there is no store.db); run "
                            "`braid init` (or pass --data DIR / set BRAID_DATA)");
  }
  BRAID_ASSIGN_OR_RETURN(inst->store_, Store::Open(StoreSpecFor(dir, inst->config_),
                                                   StoreOptionsFor(inst->config_, false)));
  return inst;
}

Instance::DirLock::~DirLock() { ::close(fd_); }

Result<std::unique_ptr<Instance::DirLock>> Instance::LockDirectory(std::string_view holder_hint) {
  const std::string path = dir_ + "/braid.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::Busy("another process holds " + path + ": " + std::string(holder_hint));
    }
    return Status::IoError("cannot lock " + path + ": " + std::strerror(err));
  }
  return std::make_unique<DirLock>(fd);
}

Result<std::unique_ptr<Instance::DirLock>> Instance::LockSync(bool wait) {
  return LockActivity("sync.lock", "sync", wait);
}

Result<std::unique_ptr<Instance::DirLock>> Instance::LockActivity(std::string_view file,
                                                                  std::string_view activity,
                                                                  bool wait) {
  const std::string path = dir_ + "/" + std::string(file);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
  auto lock = std::make_unique<DirLock>(fd);  // closes it on every return
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK)
      return Status::IoError("cannot lock " + path + ": " + std::strerror(err));
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    if (!wait) {
      return Status::Busy("another " + std::string(activity) + " of this instance is running" +
                          (holder.empty() ? std::string() : " (process " + holder + ")") +
                          "; wait for it to end, or run this one with --wait");
    }
    spdlog::info("waiting for the {} of process {} to end", activity,
                 holder.empty() ? "?" : holder);
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR)
        return Status::IoError("cannot lock " + path + ": " + std::strerror(errno));
    }
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    return Status::IoError("cannot write " + path + ": " + std::strerror(errno));
  }
  return lock;
}

}  // namespace braid
