// braid.toml parsing and listen addresses.

#include <toml++/toml.h>
#include <charconv>

#include "instance/instance.h"

namespace braid {
namespace {

struct IntRule {
  const char* key;
  int64_t min, max;
};

std::string Where(const toml::node& node, const std::string& source) {
  const auto& src = node.source();
  return source + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
}

Status ReadInt(const toml::table& t, const IntRule& rule, const std::string& section,
               const std::string& source, int64_t* out) {
  const toml::node* node = t.get(rule.key);
  if (node == nullptr) return Status::OK();
  const auto* v = node->as_integer();
  if (v == nullptr || v->get() < rule.min || v->get() > rule.max) {
    return Status::InvalidArgument(Where(*node, source) + ": " + section + "." + rule.key +
                                   " must be an integer from " + std::to_string(rule.min) + " to " +
                                   std::to_string(rule.max));
  }
  *out = v->get();
  return Status::OK();
}

Status CheckKeys(const toml::table& t, std::initializer_list<std::string_view> known,
                 const std::string& section, const std::string& source) {
  for (const auto& [key, node] : t) {
    bool ok = false;
    for (auto k : known) ok = ok || key.str() == k;
    if (!ok) {
      return Status::InvalidArgument(Where(node, source) + ": unknown setting " + section + "." +
                                     std::string(key.str()));
    }
  }
  return Status::OK();
}

}  // namespace

Result<Config> ParseConfig(std::string_view text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status::InvalidArgument(source + ":" + std::to_string(where.line) + ":" +
                                   std::to_string(where.column) + ": " +
                                   std::string(e.description()));
  }
  Config c;
  for (const auto& [key, node] : root) {
    if (key.str() != "server" && key.str() != "store") {
      return Status::InvalidArgument(Where(node, source) + ": unknown section [" +
                                     std::string(key.str()) + "]");
    }
    if (!node.is_table()) {
      return Status::InvalidArgument(Where(node, source) + ": " + std::string(key.str()) +
                                     " must be a [section]");
    }
  }
  if (const toml::table* server = root["server"].as_table()) {
    BRAID_RETURN_IF_ERROR(
        CheckKeys(*server,
                  {"listen", "max_request_bytes", "threads", "metrics", "tls_cert", "tls_key",
                   "max_connections", "max_connections_per_address", "cert_days", "search"},
                  "server", source));
    if (const toml::node* listen = server->get("listen")) {
      const auto* s = listen->as_string();
      if (s == nullptr || !ParseListen(s->get()).ok()) {
        return Status::InvalidArgument(Where(*listen, source) +
                                       ": server.listen must be \"HOST:PORT\"");
      }
      c.listen = s->get();
    }
    int64_t v = static_cast<int64_t>(c.max_request_bytes);
    BRAID_RETURN_IF_ERROR(
        ReadInt(*server, {"max_request_bytes", 1024, int64_t{1} << 30}, "server", source, &v));
    c.max_request_bytes = static_cast<size_t>(v);
    v = c.threads;
    BRAID_RETURN_IF_ERROR(ReadInt(*server, {"threads", 0, 256}, "server", source, &v));
    c.threads = static_cast<int>(v);
    v = static_cast<int64_t>(c.max_connections);
    BRAID_RETURN_IF_ERROR(
        ReadInt(*server, {"max_connections", 1, 1'000'000}, "server", source, &v));
    c.max_connections = static_cast<size_t>(v);
    v = static_cast<int64_t>(c.max_connections_per_address);
    BRAID_RETURN_IF_ERROR(
        ReadInt(*server, {"max_connections_per_address", 1, 1'000'000}, "server", source, &v));
    c.max_connections_per_address = static_cast<size_t>(v);
    v = c.cert_days;
    BRAID_RETURN_IF_ERROR(ReadInt(*server, {"cert_days", 1, 3650}, "server", source, &v));
    c.cert_days = static_cast<int>(v);
    if (const toml::node* search = server->get("search")) {
      const auto* b = search->as_boolean();
      if (b == nullptr) {
        return Status::InvalidArgument(Where(*search, source) +
                                       ": server.search must be true or false");
      }
      c.search = b->get();
    }
    if (const toml::node* metrics = server->get("metrics")) {
      const auto* m = metrics->as_string();
      if (m == nullptr ||
          (m->get() != "admin-or-loopback" && m->get() != "admin" && m->get() != "public")) {
        return Status::InvalidArgument(
            Where(*metrics, source) +
            ": server.metrics must be \"admin-or-loopback\", \"admin\" or \"public\"");
      }
      c.metrics = m->get();
    }
    for (auto [key, dst] : {std::pair{"tls_cert", &c.tls_cert}, std::pair{"tls_key", &c.tls_key}}) {
      if (const toml::node* n = server->get(key)) {
        const auto* v = n->as_string();
        if (v == nullptr) {
          return Status::InvalidArgument(Where(*n, source) + ": server." + key +
                                         " must be a file path (a string)");
        }
        *dst = v->get();
      }
    }
  }
  if (const toml::table* store = root["store"].as_table()) {
    BRAID_RETURN_IF_ERROR(CheckKeys(*store,
                                    {"durability", "max_record_bytes", "max_attachment_bytes",
                                     "busy_timeout_ms", "cache_mib", "url", "blobs"},
                                    "store", source));
    if (const toml::node* d = store->get("durability")) {
      const auto* s = d->as_string();
      if (s != nullptr && s->get() == "full") {
        c.durability = Durability::kFull;
      } else if (s != nullptr && s->get() == "normal") {
        c.durability = Durability::kNormal;
      } else {
        return Status::InvalidArgument(Where(*d, source) +
                                       ": store.durability must be \"full\" or \"normal\"");
      }
    }
    int64_t v = static_cast<int64_t>(c.max_record_bytes);
    BRAID_RETURN_IF_ERROR(
        ReadInt(*store, {"max_record_bytes", 1024, int64_t{256} << 20}, "store", source, &v));
    c.max_record_bytes = static_cast<size_t>(v);
    BRAID_RETURN_IF_ERROR(ReadInt(*store, {"max_attachment_bytes", 1, int64_t{1} << 50}, "store",
                                  source, &c.max_attachment_bytes));
    BRAID_RETURN_IF_ERROR(
        ReadInt(*store, {"busy_timeout_ms", 0, 600'000}, "store", source, &c.busy_timeout_ms));
    v = c.cache_mib;
    BRAID_RETURN_IF_ERROR(ReadInt(*store, {"cache_mib", 1, 65536}, "store", source, &v));
    c.cache_mib = static_cast<int>(v);
    if (const toml::node* u = store->get("url")) {
      const auto* url = u->as_string();
      if (url == nullptr || !IsStoreUrl(url->get())) {
        return Status::InvalidArgument(
            Where(*u, source) +
            ": store.url must be a PostgreSQL URI, postgresql://[USER@]HOST[:PORT]/DATABASE");
      }
      c.store_url = url->get();
    }
    if (const toml::node* b = store->get("blobs")) {
      const auto* path = b->as_string();
      if (path == nullptr || path->get().empty() || path->get().front() != '/') {
        return Status::InvalidArgument(Where(*b, source) +
                                       ": store.blobs must be an absolute folder path");
      }
      c.blob_dir = path->get();
    }
  }
  return c;
}

bool IsStoreUrl(std::string_view url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

std::string DefaultConfigText(const std::string& tls_cert, const std::string& tls_key,
                              const std::string& store_url) {
  // Paths in TOML basic strings: '"' and '\\' would need escapes.
  auto quoted = [](const std::string& s) {
    std::string out = "\"";
    for (const char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  };
  std::string text = R"toml(# braid instance settings. Every setting is shown with its default;
# docs/cli.md describes them. braid reads this file at every start.

[server]
# Address `braid serve` listens on. Plain HTTP is refused on addresses other
# than loopback unless `braid serve --insecure` is given.
listen = "127.0.0.1:8470"
# Requests with a larger body get HTTP 413.
max_request_bytes = 16777216
# I/O threads; 0 picks max(4, 2 x cores).
threads = 0
# Open connections at most, in all and from one address (a reverse proxy
# counts as one address); more are closed as soon as they are accepted.
max_connections = 10000
max_connections_per_address = 2000
# The longest a certificate signed on request (braid cert request) lasts,
# in days; a request may ask for less.
cert_days = 365
# Keep a full-text search index of the records (DIR/index) up to date after
# every write, and answer GET /api/v1/search. false: no index work at all
# (`braid search` and `braid sync index` still build one on demand).
search = true
# Who may read /metrics: "admin-or-loopback" (an admin, or any client on
# this machine), "admin", or "public" (no credentials).
metrics = "admin-or-loopback"
# HTTPS: a PEM certificate (chain) and its private key, relative to this
# directory or absolute; SIGHUP makes braid serve read them again. Empty:
# plain HTTP, which is refused off loopback unless --insecure.
tls_cert = @TLS_CERT@
tls_key = @TLS_KEY@

[store]
# "full": a write is on stable storage before it is acknowledged.
# "normal": survives a crash of braid, may lose the last writes on power loss.
durability = "full"
# Largest record body, in bytes, after whitespace is removed.
max_record_bytes = 4194304
# Largest attachment, in bytes (4 GiB); larger uploads get HTTP 413.
max_attachment_bytes = 4294967296
# How long a write waits for another write (of this process or another)
# before it fails with "busy".
busy_timeout_ms = 30000
# SQLite page cache per connection, in MiB.
cache_mib = 64
# The store: DIR/store.db when unset; or a PostgreSQL database, which
# several braid processes (each with a data directory of its own) may
# share to serve one instance (docs/storage.md, "PostgreSQL store").
@STORE_URL@
# Attachments' bytes: DIR/blobs when unset; or an absolute folder, which
# the processes of one instance on PostgreSQL share (on several machines:
# a network file system mounted at the same path on each).
# blobs = "/srv/braid-blobs"
)toml";
  text.replace(text.find("@TLS_CERT@"), 10, quoted(tls_cert));
  text.replace(text.find("@TLS_KEY@"), 9, quoted(tls_key));
  text.replace(text.find("@STORE_URL@"), 11,
               store_url.empty() ? "# url = \"postgresql://braid@db.example/braid\""
                                 : "url = " + quoted(store_url));
  return text;
}

Result<ListenAddress> ParseListen(std::string_view text) {
  ListenAddress a;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::InvalidArgument("listen address \"" + std::string(text) +
                                     "\" must be HOST:PORT or [IPV6]:PORT");
    }
    a.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0 ||
        text.substr(0, colon).find(':') != std::string_view::npos) {
      return Status::InvalidArgument("listen address \"" + std::string(text) +
                                     "\" must be HOST:PORT or [IPV6]:PORT");
    }
    a.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return Status::InvalidArgument("listen address \"" + std::string(text) +
                                   "\": the port must be a number from 0 to 65535");
  }
  a.port = static_cast<uint16_t>(value);
  return a;
}

}  // namespace braid
