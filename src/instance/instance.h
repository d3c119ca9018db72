// An instance's data directory (DESIGN section 1):
//   DIR/braid.toml   settings, read at every start (docs/cli.md lists them)
//   DIR/store.db     the SQLite store, unless braid.toml's store.url names
//                    another (a PostgreSQL database several processes share)
// Instance opens both; the CLI and braid serve go through it, so every
// process on one directory sees the same settings.

#ifndef BRAID_INSTANCE_INSTANCE_H_
#define BRAID_INSTANCE_INSTANCE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "braid/status.h"
#include "braid/store.h"

namespace braid {

struct Config {
  // [server]
  std::string listen = "127.0.0.1:8470";
  size_t max_request_bytes = 16 * 1024 * 1024;
  int threads = 0;  // 0: automatic
  size_t max_connections = 10000;
  size_t max_connections_per_address = 2000;
  int cert_days = 365;                        // the longest certificate signed on request
  std::string metrics = "admin-or-loopback";  // who may read /metrics (api::MetricsAccess)
  std::string tls_cert;                       // PEM files for HTTPS; relative paths are resolved
  std::string tls_key;                        // against the data directory by Instance
  bool search = true;  // braid serve keeps a search index (DIR/index) and answers searches
  // [store]
  Durability durability = Durability::kFull;
  size_t max_record_bytes = 4 * 1024 * 1024;
  int64_t max_attachment_bytes = int64_t{4} << 30;
  int64_t busy_timeout_ms = 30000;
  int cache_mib = 64;
  // The store, when not DIR/store.db: a Store::Open spec (postgresql://...).
  std::string store_url;
  // The attachments' blob store, when not DIR/blobs: an absolute path
  // (processes of one instance on PostgreSQL share one folder).
  std::string blob_dir;
};

// Parses braid.toml text. Unknown sections or keys and out-of-range values
// are errors (a typo must not silently fall back to a default).
// Errors: InvalidArgument naming the file position and key.
Result<Config> ParseConfig(std::string_view toml_text, const std::string& source_name);

// The braid.toml written by `braid init`: every setting with its default
// and a comment, but server.tls_cert and server.tls_key, which are the
// given file names (empty: no TLS).
// `store_url` (empty: DIR/store.db) becomes store.url.
std::string DefaultConfigText(const std::string& tls_cert = "", const std::string& tls_key = "",
                              const std::string& store_url = "");

// True for what store.url takes (a postgresql:// or postgres:// URI).
bool IsStoreUrl(std::string_view url);

// "HOST:PORT" or "[V6]:PORT". Errors: InvalidArgument.
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
Result<ListenAddress> ParseListen(std::string_view text);

class Instance {
 public:
  // Creates DIR (and parents), braid.toml and the store. `tls_cert` and
  // `tls_key` (relative to DIR, or absolute) go into braid.toml. With
  // `store_url`, the store is that database: created when it holds none,
  // joined when it holds one (joined() says so; another data directory
  // serves the same instance). Errors: AlreadyExists when DIR already holds
  // a store or names one; IoError; the store's errors.
  static Result<std::unique_ptr<Instance>> Init(const std::string& dir,
                                                const std::string& tls_cert = "",
                                                const std::string& tls_key = "",
                                                const std::string& store_url = "");
  // Opens an initialized directory. Errors: NotFound ("run `braid init`"),
  // InvalidArgument (braid.toml), store errors.
  static Result<std::unique_ptr<Instance>> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const Config& config() const { return config_; }
  // Where the blob store is: store.blobs, or DIR/blobs.
  std::string blob_dir() const {
    return config_.blob_dir.empty() ? dir_ + "/blobs" : config_.blob_dir;
  }
  // Init found the store made already (another data directory's).
  bool joined() const { return joined_; }
  Store& store() { return *store_; }

  // Takes the directory's exclusive lock (DIR/braid.lock, flock), held by
  // braid serve for its lifetime and by commands that must not run beside
  // it; released by the destructor or when the process dies. `holder_hint`
  // ends the error message. Errors: Busy when another process holds it.
  class DirLock {
   public:
    explicit DirLock(int fd) : fd_(fd) {}
    ~DirLock();
    DirLock(const DirLock&) = delete;
    DirLock& operator=(const DirLock&) = delete;

   private:
    int fd_;
  };
  Result<std::unique_ptr<DirLock>> LockDirectory(std::string_view holder_hint);
  // Takes the lock of the instance's syncs (DIR/sync.lock, flock): one
  // `braid sync` at a time, whatever its steps. The file holds the
  // holder's process id, which the Busy error names. With `wait`, waits
  // for the holder instead. Errors: Busy, IoError.
  Result<std::unique_ptr<DirLock>> LockSync(bool wait);
  // The same for another activity, one at a time: DIR/`file` ("container
  // pass" in its messages for "containers.lock").
  Result<std::unique_ptr<DirLock>> LockActivity(std::string_view file, std::string_view activity,
                                                bool wait);

 private:
  Instance() = default;
  std::string dir_;
  Config config_;
  std::unique_ptr<Store> store_;
  bool joined_ = false;
};

}  // namespace braid

#endif  // BRAID_INSTANCE_INSTANCE_H_
