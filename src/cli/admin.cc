// Instance commands: init, serve, status, compact, identity renew.

#include <sys/resource.h>

#include <charconv>
#include <cstdio>

#include <filesystem>

#include "api/api.h"
#include "auth/keyring.h"
#include "auth/self_signed.h"
#include "autosync/scheduler.h"
#include "base/json.h"
#include "base/log.h"
#include "blob/blob_store.h"
#include "cli/cli.h"
#include "feed/format.h"
#include "http/address.h"
#include "http/server.h"
#include "index/follower.h"
#include "index/search_index.h"

namespace braid::cli {
namespace {

struct InitArgs {
  bool no_admin = false;
  std::string store;  // store.url; empty: DIR/store.db
  std::vector<std::string> tls_hosts;
};

// DIR/tls/cert.pem and key.pem, self-signed for `hosts`, made before the
// store so that braid.toml names them from the start.
Status MakeSelfSignedTls(const std::string& dir, const std::vector<std::string>& hosts) {
  namespace fs = std::filesystem;
  if (fs::exists(dir + "/store.db")) {
    return Status::AlreadyExists(dir + " already holds a braid store");
  }
  BRAID_RETURN_IF_ERROR(auth::CheckCertificateHosts(hosts).WithContext("--tls-self-signed"));
  std::error_code ec;
  fs::create_directories(dir + "/tls", ec);
  if (ec) return Status::IoError("cannot create " + dir + "/tls: " + ec.message());
  fs::permissions(dir + "/tls", fs::perms::owner_all, ec);
  return auth::WriteSelfSignedCertificate(hosts, dir + "/tls/cert.pem", dir + "/tls/key.pem", 3650);
}

Status RunInit(const Globals& g, const InitArgs& a) {
  const bool no_admin = a.no_admin;
  const bool tls = !a.tls_hosts.empty();
  if (tls) BRAID_RETURN_IF_ERROR(MakeSelfSignedTls(g.data, a.tls_hosts));
  BRAID_ASSIGN_OR_RETURN(auto inst, Instance::Init(g.data, tls ? "tls/cert.pem" : "",
                                                   tls ? "tls/key.pem" : "", a.store));
  const std::string id = inst->store().instance_id().Hex();
  if (inst->joined()) {
    // Users, settings and records are the database's: nothing to make.
    if (g.json) {
      std::string out;
      json::Writer w(&out);
      w.BeginObject().Key("data").String(g.data).Key("instance_id").String(id);
      w.Key("joined").Bool(true).EndObject();
      Print(out);
    } else {
      Print("initialized " + g.data + ": it serves instance " + id +
            ", which the database holds already (its users, settings and records)");
    }
    return Status::OK();
  }
  // The instance's key and the root of its own dataset.
  BRAID_ASSIGN_OR_RETURN(const auto keys, auth::Keyring::Open(inst->store(), g.data + "/keys"));
  const std::string password_file = g.data + "/admin-password";
  if (Status s = no_admin ? Status::OK() : CreateFirstAdmin(*inst, password_file); !s.ok()) {
    return s.WithContext(
        "the store is made, but not its first admin (add one with `braid user "
        "add admin --role admin`)");
  }
  if (g.json) {
    std::string out;
    json::Writer w(&out);
    w.BeginObject()
        .Key("data")
        .String(g.data)
        .Key("instance_id")
        .String(id)
        .Key("root_certificate")
        .String(keys->own_root().serial)
        .Key("admin_password_file");
    if (no_admin) {
      w.Null();
    } else {
      w.String(password_file);
    }
    w.EndObject();
    Print(out);
  } else {
    Print("initialized " + g.data + " (instance " + id + ")");
    if (tls) {
      Print("braid serve will use HTTPS with a self-signed certificate (ten years) for " +
            [&] {
              std::string h;
              for (const auto& x : a.tls_hosts) h += (h.empty() ? "" : ", ") + x;
              return h;
            }() +
            ": " + g.data +
            "/tls/cert.pem. Peers trust it with a copy of that file: braid "
            "remote add NAME https://HOST:PORT --ca-cert cert.pem");
    }
    if (no_admin) return Status::OK();
    Print("created user \"admin\" (role admin); its password is in " + password_file +
          " (readable only by you). For example:\n  curl -u admin:$(cat " + password_file + ") " +
          (tls ? "--cacert " + g.data + "/tls/cert.pem https://" : "http://") +
          "127.0.0.1:8470/api/v1/info\nAdd more users with `braid user add`; remove that file "
          "once you have kept the password elsewhere.");
  }
  return Status::OK();
}

struct ServeArgs {
  std::string listen;
  bool insecure = false;
  std::string tls_cert, tls_key;
};

// Each connection is a descriptor: let the process have as many as the
// hard limit allows, and say so when that is fewer than the settings ask.
void RaiseOpenFileLimit(size_t connections) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return;
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &r);
  }
  if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < connections + 64) {
    spdlog::warn(
        "open files are limited to {} (ulimit -n): fewer connections than "
        "server.max_connections ({}) can be served",
        static_cast<uint64_t>(r.rlim_cur), connections);
  }
}

Status RunServe(const Globals& g, const ServeArgs& a) {
  InitLogging(g.debug ? spdlog::level::debug : spdlog::level::info);
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(const auto lock,
                         inst->LockDirectory("braid serve is already running on " + g.data));
  BRAID_ASSIGN_OR_RETURN(const ListenAddress addr,
                         ParseListen(a.listen.empty() ? inst->config().listen : a.listen));
  std::string tls_cert = a.tls_cert.empty() ? inst->config().tls_cert : a.tls_cert;
  std::string tls_key = a.tls_key.empty() ? inst->config().tls_key : a.tls_key;
  if (tls_cert.empty() != tls_key.empty()) {
    return Status::InvalidArgument(
        "TLS needs both a certificate and its key: give --tls-cert and --tls-key (or "
        "server.tls_cert and server.tls_key in braid.toml)");
  }
  if (tls_cert.empty() && !http::IsLoopback(addr.host) && !a.insecure) {
    return Status::InvalidArgument(
        "refusing to serve plain HTTP on " + addr.host +
        ": anyone on the network could read the data and the credentials. Give a certificate "
        "(--tls-cert, --tls-key), listen on 127.0.0.1, or pass --insecure if the network is "
        "trusted");
  }
  api::ApiOptions api_options;
  BRAID_ASSIGN_OR_RETURN(api_options.metrics, api::ParseMetricsAccess(inst->config().metrics));
  BRAID_ASSIGN_OR_RETURN(const auto users, inst->store().ListUsers());
  BRAID_ASSIGN_OR_RETURN(const auto tokens, inst->store().ListTokens());
  if (users.empty() && tokens.empty()) {
    spdlog::warn(
        "no users and no tokens: every request but /healthz will be refused; add a "
        "user with `braid user add NAME --role admin`");
  }
  // Made on the first start after an upgrade from a store without keys.
  BRAID_ASSIGN_OR_RETURN(const auto keys,
                         auth::Keyring::Open(inst->store(), inst->dir() + "/keys"));
  api_options.keyring = keys.get();
  api_options.cert_max_days = inst->config().cert_days;
  BRAID_ASSIGN_OR_RETURN(const auto blobs, blob::BlobStore::Open(inst->blob_dir()));
  api_options.blobs = blobs.get();
  api_options.max_attachment_bytes = static_cast<uint64_t>(inst->config().max_attachment_bytes);
  // The search index, kept in line with every commit by its own thread (a
  // missing or outdated one is rebuilt there while the old one answers).
  std::unique_ptr<index::SearchIndex> search;
  std::unique_ptr<index::Follower> follower;
  if (inst->config().search) {
    BRAID_ASSIGN_OR_RETURN(search, index::SearchIndex::Open(inst->dir() + "/index"));
    follower = std::make_unique<index::Follower>(inst->store(), *search);
    api_options.search = search.get();
    api_options.follower = follower.get();
  }
  auto api = std::make_unique<api::Api>(inst->store(), api_options);
  http::ServerOptions options;
  options.host = addr.host;
  options.port = addr.port;
  options.max_body_bytes = inst->config().max_request_bytes;
  options.threads = inst->config().threads;
  options.tls_cert_file = tls_cert;
  options.max_connections = inst->config().max_connections;
  options.max_connections_per_address = inst->config().max_connections_per_address;
  RaiseOpenFileLimit(options.max_connections);
  options.tls_key_file = tls_key;
  options.on_shutdown = [a = api.get()] {
    spdlog::info("shutting down: finishing requests in flight");
    a->Shutdown();
  };
  BRAID_ASSIGN_OR_RETURN(auto server, http::Server::Create(options, *api));
  api->Attach(*server);
  // Remotes with --auto-sync, each on its period (docs/remotes.md).
  autosync::Scheduler auto_sync(
      inst->store(), Clock::Real(),
      [&inst, &keys](const Remote& r) { return AutoSyncRemote(*inst, r, keys.get()); }, {},
      [&inst, &keys](const Remote& r) { return LiveSession(*inst, r, keys.get()); });
  auto_sync.Start();
  // Tests and scripts read this line to learn the port (with --listen :0).
  std::printf("braid serving %s (data %s, instance %s)\n", server->url().c_str(), g.data.c_str(),
              inst->store().instance_id().Hex().c_str());
  std::fflush(stdout);
  spdlog::info("listening on {} (data {}, instance {}, durability {})", server->url(), g.data,
               inst->store().instance_id().Hex(),
               inst->config().durability == Durability::kFull ? "full" : "normal");
  server->Run();
  auto_sync.Stop();  // lets a sync in flight finish
  api.reset();       // before the server: its long-polls hold the server's timers
  server.reset();
  spdlog::info("stopped");
  return Status::OK();
}

Status RunStatus(const Globals& g) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(const StoreStats s, inst->store().Stats());
  BRAID_ASSIGN_OR_RETURN(const std::vector<StepRun> steps, inst->store().StepRuns());
  if (g.json) {
    std::string out;
    json::Writer w(&out);
    w.BeginObject().Key("data").String(inst->dir());
    WriteStatsMembers(w, s);
    w.Key("steps").BeginObject();
    for (const StepRun& r : steps) {
      w.Key(r.step)
          .BeginObject()
          .Key("started_ms")
          .Int(r.started_ms)
          .Key("finished_ms")
          .Int(r.finished_ms)
          .Key("ok")
          .Bool(r.ok)
          .Key("last_ok_ms")
          .Int(r.last_ok_ms)
          .Key("result")
          .Raw(r.result)
          .EndObject();
    }
    w.EndObject().EndObject();
    Print(out);
    return Status::OK();
  }
  Print("data directory  " + inst->dir());
  Print("instance        " + s.instance_id.Hex());
  Print("schema          " + std::to_string(s.schema_version));
  Print("records         " + std::to_string(s.live) + " live, " + std::to_string(s.deleted) +
        " tombstones");
  for (const auto& c : s.collections) {
    Print("  " + c.name + "  " + std::to_string(c.live) + " live, " + std::to_string(c.deleted) +
          " tombstones");
  }
  Print("change log      " + std::to_string(s.changes) + " events, last seq " +
        std::to_string(s.last_seq) +
        (s.horizon != 0 ? ", compacted up to seq " + std::to_string(s.horizon) : ""));
  // The last run of each sync step (braid sync REMOTE [STEP]).
  for (const StepRun& r : steps) {
    std::string line = "last " + r.step +
                       std::string(r.step.size() < 11 ? 11 - r.step.size() : 1, ' ') +
                       Iso8601(r.finished_ms) + (r.ok ? " ok" : " failed");
    if (!r.ok && r.last_ok_ms != 0) line += " (last ok " + Iso8601(r.last_ok_ms) + ")";
    Print(line);
    if (!r.ok) Print("  " + r.result);
  }
  return Status::OK();
}

// "180" or "180d": whole days, 0 to 36500.
Result<int64_t> ParseDays(std::string_view text) {
  std::string_view digits = text;
  if (!digits.empty() && digits.back() == 'd') digits.remove_suffix(1);
  int64_t days = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), days);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || days < 0 ||
      days > 36500) {
    return Status::InvalidArgument("--older-than takes whole days, like 180 or 180d (got \"" +
                                   std::string(text) + "\")");
  }
  return days;
}

Status RunCompact(const Globals& g, const std::string& older_than) {
  BRAID_ASSIGN_OR_RETURN(const int64_t days, ParseDays(older_than));
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  const int64_t before = Clock::Real().NowMillis() - days * 86'400'000LL;
  BRAID_ASSIGN_OR_RETURN(const CompactResult r, inst->store().Compact(before));
  if (g.json) {
    std::string out;
    json::Writer(&out)
        .BeginObject()
        .Key("events_removed")
        .Uint(r.events_removed)
        .Key("horizon")
        .Uint(r.horizon)
        .EndObject();
    Print(out);
  } else {
    Print("removed " + std::to_string(r.events_removed) + " change-log events" +
          (r.horizon != 0
               ? "; cursors before seq " + std::to_string(r.horizon) + " now get resyncRequired"
               : ""));
  }
  return Status::OK();
}

Status RunIdentityRenew(const Globals& g) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(const auto lock, inst->LockDirectory("braid serve is running on " +
                                                              g.data + "; stop it first"));
  const InstanceId old_id = inst->store().instance_id();
  BRAID_ASSIGN_OR_RETURN(const InstanceId id, inst->store().RenewIdentity());
  if (g.json) {
    std::string out;
    json::Writer(&out)
        .BeginObject()
        .Key("old_instance_id")
        .String(old_id.Hex())
        .Key("instance_id")
        .String(id.Hex())
        .EndObject();
    Print(out);
  } else {
    Print("instance " + old_id.Hex() + " is now " + id.Hex() +
          "; sync with the peers to get back writes the old copy lost. Delta cursors issued "
          "before get resyncRequired");
  }
  return Status::OK();
}

}  // namespace

void AddAdminCommands(CLI::App& app, Globals& g, Action& action) {
  auto init_args = std::make_shared<InitArgs>();
  CLI::App* init = app.add_subcommand(
      "init",
      "Create a data directory with an empty store and a first user, admin, whose password is "
      "written to DIR/admin-password");
  init->add_flag("--no-admin", init_args->no_admin,
                 "Make no user (add them with `braid user add`, or use tokens)");
  init->add_option(
      "--store", init_args->store,
      "Keep the store in this PostgreSQL database (postgresql://[USER@]HOST[:PORT]/DB) "
      "instead of DIR/store.db; a database that holds an instance already is joined: "
      "this directory then serves that instance beside the others");
  init->add_option("--tls-self-signed", init_args->tls_hosts,
                   "Make a self-signed certificate for these host names or IP addresses "
                   "(DIR/tls/), so that braid serve uses HTTPS");
  init->callback(
      [&g, &action, init_args] { action = [&g, init_args] { return RunInit(g, *init_args); }; });

  auto serve_args = std::make_shared<ServeArgs>();
  CLI::App* serve = app.add_subcommand(
      "serve", "Serve the instance over HTTP until SIGINT/SIGTERM (then finish requests, exit 0)");
  serve->add_option("--listen", serve_args->listen,
                    "HOST:PORT to listen on (default: server.listen in braid.toml, "
                    "127.0.0.1:8470); port 0 picks a free port");
  serve->add_flag("--insecure", serve_args->insecure, "Allow plain HTTP on a non-loopback address");
  serve->add_option("--tls-cert", serve_args->tls_cert,
                    "Serve HTTPS with this PEM certificate (chain); SIGHUP reloads it");
  serve->add_option("--tls-key", serve_args->tls_key, "The PEM private key of --tls-cert");
  serve->callback([&g, &action, serve_args] {
    action = [&g, serve_args] { return RunServe(g, *serve_args); };
  });

  CLI::App* status = app.add_subcommand("status", "Show the instance id, record counts, last seq");
  status->callback([&g, &action] { action = [&g] { return RunStatus(g); }; });

  auto older = std::make_shared<std::string>();
  CLI::App* compact = app.add_subcommand(
      "compact",
      "Compact change-log events older than DAYS: keep the newest update per item, drop the "
      "history of items deleted since; older cursors then get resyncRequired");
  compact->add_option("--older-than", *older, "Age in days, e.g. 180 or 180d")->required();
  compact->callback(
      [&g, &action, older] { action = [&g, older] { return RunCompact(g, *older); }; });

  CLI::App* identity = app.add_subcommand("identity", "Manage this instance's identity");
  identity->require_subcommand(1);
  CLI::App* renew = identity->add_subcommand(
      "renew",
      "Give the store a new instance id, after it was restored in place from an older copy "
      "(a sync refuses with a message saying so). Stop braid serve first");
  renew->callback([&g, &action] { action = [&g] { return RunIdentityRenew(g); }; });
}

}  // namespace braid::cli
