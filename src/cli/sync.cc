// Replication commands: token, sync (remotes: remote.cc).

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <algorithm>
#include <map>
#include <mutex>

#include "auth/keyring.h"
#include "auth/token.h"
#include "base/json.h"
#include "base/log.h"
#include "blob/blob_store.h"
#include "braid/catalog.h"
#include "cli/cli.h"
#include "mirror/attachments_step.h"
#include "repl/client.h"
#include "repl/protocol.h"

namespace braid::cli {
namespace {

struct TokenArgs {
  std::string name;
  std::string role = "writer";
  std::vector<std::string> scope;
};

Status RunTokenCreate(const Globals& g, const TokenArgs& a) {
  TokenInfo info;
  info.name = a.name;
  BRAID_ASSIGN_OR_RETURN(info.role, ParseRole(a.role));
  BRAID_ASSIGN_OR_RETURN(info.scope, ParseScope(a.scope));
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  const std::string token = auth::NewToken();
  BRAID_ASSIGN_OR_RETURN(auto txn, inst->store().BeginWrite());
  BRAID_RETURN_IF_ERROR(txn->CreateToken(info, auth::TokenHash(token)));
  BRAID_RETURN_IF_ERROR(txn->Commit());
  if (!g.json) {
    std::fprintf(stderr,
                 "token \"%s\" (%s) created; this is the only time it is shown. Give it to the "
                 "peer (braid remote add NAME URL --token-file FILE) or send it as "
                 "\"Authorization: Bearer TOKEN\":\n",
                 info.name.c_str(), std::string(RoleName(info.role)).c_str());
  }
  Print(token);  // the last line of stdout, for scripts
  return Status::OK();
}

Status RunTokenList(const Globals& g) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(const auto tokens, inst->store().ListTokens());
  if (g.json) {
    std::string out;
    json::Writer w(&out);
    w.BeginArray();
    for (const auto& t : tokens) w.Raw(AccountJson(t.name, t.role, t.scope, t.created_ms));
    w.EndArray();
    Print(out);
  } else {
    for (const auto& t : tokens) Print(AccountLine(t.name, t.role, t.scope));
  }
  return Status::OK();
}

Status RunTokenRevoke(const Globals& g, const std::string& name) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto txn, inst->store().BeginWrite());
  BRAID_RETURN_IF_ERROR(txn->RevokeToken(name));
  return txn->Commit();
}

std::string Human(double v) {
  char buf[32];
  if (v >= 1e9)
    std::snprintf(buf, sizeof buf, "%.1f G", v / 1e9);
  else if (v >= 1e6)
    std::snprintf(buf, sizeof buf, "%.1f M", v / 1e6);
  else if (v >= 1e3)
    std::snprintf(buf, sizeof buf, "%.1f k", v / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f ", v);
  return buf;
}

// One updating line per direction on a terminal: records, bytes, rate, ETA.
// `pulling`: what the pull is, in SENAITE's words: "fetch" (a dry run),
// "import" (the first sync with the remote), "update" (the next ones).
void ShowProgress(const std::string& remote, const repl::SyncProgress& p,
                  std::string_view pulling) {
  const double rate = p.seconds > 0 ? p.records / p.seconds : 0;
  std::string line = std::string(p.phase == Direction::kPull ? pulling : "push") + " " + remote +
                     ": " + std::to_string(p.records);
  if (p.pending > 0) line += "/" + std::to_string(p.pending);
  line += " records, " + Human(static_cast<double>(p.bytes)) + "B, " + Human(rate) + "rec/s";
  if (!p.done && rate > 0 && p.pending > p.records) {
    line += ", ETA " + std::to_string(static_cast<int>((p.pending - p.records) / rate) + 1) + " s";
  }
  std::fprintf(stderr, "\r%-78s%s", line.c_str(), p.done ? "\n" : "");
  std::fflush(stderr);
}

struct SyncArgs {
  std::vector<std::string> words;  // remotes, then maybe a step
  bool all = false;
  bool full = false;
  bool wait = false;
  bool dry_run = false;
  size_t parallel = 4;
};

// A dry run's lines: what the pull would do to each collection.
void PrintPreview(const repl::SyncSummary& s) {
  Print(s.remote + ": a pull would bring " + std::to_string(s.received) +
        " records (dry run: nothing was applied)");
  for (const auto& [name, p] : s.preview) {
    Print("  " + name + ": " + std::to_string(p.created) + " new, " + std::to_string(p.updated) +
          " updated, " + std::to_string(p.unchanged) + " already here, " + std::to_string(p.held) +
          " held, " + std::to_string(p.left_out) + " left out by the rules");
  }
}

// `sync --dry-run`: SENAITE's fetch, the cache step's pull without
// applying; no run is recorded.
Result<std::string> PreviewCache(const Globals& g, Store& store, const Remote& remote,
                                 auth::Keyring* keys, bool live) {
  BRAID_ASSIGN_OR_RETURN(const repl::SyncSummary summary,
                         repl::Sync(
                             store, remote,
                             [&](const repl::SyncProgress& p) {
                               if (live) ShowProgress(remote.name, p, "fetch");
                             },
                             keys, repl::SyncOptions{.dry_run = true}));
  if (!g.json) PrintPreview(summary);
  return repl::SummaryJson(summary);
}

// Kerko's order: the records, their search index, their files.
constexpr std::string_view kSteps[] = {"cache", "index", "attachments"};

// One updating line on a terminal: files, bytes, rate, ETA.
void ShowAttachmentsProgress(const std::string& remote, const mirror::AttachmentsProgress& p) {
  const double rate = p.seconds > 0 ? static_cast<double>(p.bytes_done) / p.seconds : 0;
  std::string line = "attachments " + remote + ": " + std::to_string(p.files_done) + "/" +
                     std::to_string(p.files_total) + " files, " +
                     Human(static_cast<double>(p.bytes_done)) + "B/" +
                     Human(static_cast<double>(p.bytes_total)) + "B, " + Human(rate) + "B/s";
  if (!p.done && rate > 0 && p.bytes_total > p.bytes_done) {
    line += ", ETA " + std::to_string(static_cast<int>((p.bytes_total - p.bytes_done) / rate) + 1) +
            " s";
  }
  std::fprintf(stderr, "\r%-78s%s", line.c_str(), p.done ? "\n" : "");
  std::fflush(stderr);
}

// The error object of a step's result: {"remote","step","error"}.
std::string ErrorJson(const std::string& remote, std::string_view step, const Status& s) {
  std::string out;
  json::Writer(&out)
      .BeginObject()
      .Key("remote")
      .String(remote)
      .Key("step")
      .String(step)
      .Key("error")
      .String(s.message())
      .EndObject();
  return out;
}

// Step "cache": replication with the remote (pull, then push).
Result<std::string> SyncCache(const Globals& g, Store& store, const Remote& remote,
                              auth::Keyring* keys, bool live) {
  spdlog::debug(
      "cache: replicating with {} at {} ({}): records changed on either side since "
      "the last sync",
      remote.name, remote.url, DirectionName(remote.direction));
  const int64_t started = Clock::Real().NowMillis();
  const std::string_view pulling = remote.last_sync_ms == 0 ? "import" : "update";
  const Result<repl::SyncSummary> summary = repl::Sync(
      store, remote,
      [&](const repl::SyncProgress& p) {
        if (live) ShowProgress(remote.name, p, pulling);
      },
      keys);
  std::string result = summary.ok() ? repl::SummaryJson(*summary)
                                    : ErrorJson(remote.name, "cache", summary.status());
  StepRun run{"cache", started, Clock::Real().NowMillis(), summary.ok(), result, 0, 0};
  if (auto txn = store.BeginWrite(); txn.ok()) {
    if ((*txn)->RecordSync(remote.name, run.finished_ms, result).ok() &&
        (*txn)->RecordStep(run).ok()) {
      (void)(*txn)->Commit();
    }
  }
  if (!summary.ok()) return summary.status();
  if (!g.json) {
    Print(remote.name + ": " + std::string(pulling) + ": received " +
          std::to_string(summary->received) + ", sent " + std::to_string(summary->sent) +
          " records (" + std::to_string(summary->applied) + " applied, " +
          std::to_string(summary->merged) + " merged, " +
          std::to_string(summary->ignored + summary->kept) + " already here), " +
          std::to_string(summary->conflicts) + " conflicts, " + Human(summary->seconds * 1000) +
          "ms");
  }
  return result;
}

// Step "attachments": blobs from the remote (mirror/attachments_step.h).
Result<std::string> SyncAttachments(const Globals& g, Instance& inst, const Remote& remote,
                                    auth::Keyring* keys, const SyncArgs& a, bool live) {
  Store& store = inst.store();
  mirror::BlobSource source;
  source.name = remote.name;
  source.url = remote.url;
  source.ca_cert = remote.ca_cert;
  if (remote.direction == Direction::kPush) {
    return Status::InvalidArgument("remote \"" + remote.name +
                                   "\" is push-only: its attachments are not fetched from it");
  }
  BRAID_ASSIGN_OR_RETURN(const std::string authorization,
                         repl::ReadAuthorization(store, remote, keys));
  source.headers.emplace_back("Authorization", authorization);
  BRAID_ASSIGN_OR_RETURN(auto blobs, blob::BlobStore::Open(inst.blob_dir()));
  mirror::AttachmentsOptions options;
  options.full = a.full;
  options.parallel = a.parallel;
  options.progress = [&](const mirror::AttachmentsProgress& p) {
    if (live) ShowAttachmentsProgress(remote.name, p);
  };
  BRAID_ASSIGN_OR_RETURN(const auto sum,
                         mirror::RunAttachmentsStep(store, *blobs, &source, options));
  if (!g.json) {
    Print(remote.name + ": attachments: " + std::to_string(sum.checked) + " compared (" +
          (sum.full ? "full" : "changes only") + "), " + std::to_string(sum.fetched) +
          " fetched (" + Human(static_cast<double>(sum.bytes)) + "B" +
          (sum.resumed > 0 ? ", " + std::to_string(sum.resumed) + " resumed" : "") + "), " +
          std::to_string(sum.removed) + " orphans removed, " + Human(sum.seconds * 1000) + "ms");
  }
  if (sum.failed > 0) {
    std::string what = std::to_string(sum.failed) + " attachment(s) could not be fetched from \"" +
                       remote.name + "\" (the next sync tries them again)";
    for (const auto& e : sum.errors) what += "\n  " + e;
    return Status::Unavailable(what);
  }
  return mirror::SummaryJson(sum);
}

}  // namespace

Status AutoSyncRemote(Instance& inst, const Remote& remote, auth::Keyring* keys) {
  BRAID_ASSIGN_OR_RETURN(auto lock, inst.LockSync(/*wait=*/false));
  Globals quiet;
  quiet.json = true;  // nothing printed: braid serve logs the outcome
  BRAID_RETURN_IF_ERROR(SyncCache(quiet, inst.store(), remote, keys, /*live=*/false).status());
  if (remote.direction == Direction::kPush) return Status::OK();
  SyncArgs defaults;
  return SyncAttachments(quiet, inst, remote, keys, defaults, /*live=*/false).status();
}

Result<repl::SyncSummary> LiveSession(Instance& inst, const Remote& remote, auth::Keyring* keys) {
  // The live links' threads take turns here, so waiting for the sync lock
  // is only ever waiting for another process.
  static std::mutex turns;
  static std::map<std::string, int64_t> kept;      // remote -> when its run was last recorded
  static std::map<std::string, int64_t> imported;  // remote -> when its imports last ran
  std::lock_guard turn(turns);
  BRAID_ASSIGN_OR_RETURN(auto lock, inst.LockSync(/*wait=*/true));
  const int64_t started = Clock::Real().NowMillis();
  // Settings and users change rarely: taken once a minute, not per write.
  repl::SyncOptions options;
  int64_t& last_import = imported[remote.name];
  options.imports = remote.direction != Direction::kPush && started - last_import >= 60'000;
  if (options.imports) last_import = started;
  auto summary = repl::Sync(inst.store(), remote, {}, keys, options);
  // Recorded as braid sync records the cache step, but at most every 5 s
  // (a run per write would cost a commit per write), and every failure.
  const int64_t now = Clock::Real().NowMillis();
  int64_t& last = kept[remote.name];
  if (!summary.ok() || now - last >= 5000) {
    last = now;
    const std::string result = summary.ok() ? repl::SummaryJson(*summary)
                                            : ErrorJson(remote.name, "cache", summary.status());
    StepRun run{"cache", started, now, summary.ok(), result, 0, 0};
    if (auto txn = inst.store().BeginWrite(); txn.ok()) {
      if ((*txn)->RecordSync(remote.name, now, result).ok() && (*txn)->RecordStep(run).ok()) {
        (void)(*txn)->Commit();
      }
    }
  }
  return summary;
}

namespace {

Status RunSync(const Globals& g, const SyncArgs& a) {
  std::vector<std::string> names = a.words;
  std::string step;  // empty: every step, in order
  if (!names.empty() &&
      std::find(std::begin(kSteps), std::end(kSteps), names.back()) != std::end(kSteps)) {
    step = names.back();
    names.pop_back();
  }
  if (a.parallel < 1 || a.parallel > 64) {
    return Status::InvalidArgument("--parallel must be from 1 to 64");
  }
  if (a.dry_run && !step.empty() && step != "cache") {
    return Status::InvalidArgument(
        "--dry-run previews the cache step (the records a pull "
        "would bring), not " +
        step);
  }
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  Store& store = inst->store();
  const bool live = !g.json && ::isatty(STDERR_FILENO);
  if (step == "index" && names.empty() && !a.all) {  // the index needs no remote
    BRAID_ASSIGN_OR_RETURN(auto lock, inst->LockSync(a.wait));
    BRAID_ASSIGN_OR_RETURN(const std::string result, RunIndexStep(g, *inst, a.full, live));
    if (g.json) Print(result);
    return Status::OK();
  }
  std::vector<Remote> remotes;
  if (a.all) {
    if (!names.empty()) return Status::InvalidArgument("name remotes or give --all, not both");
    BRAID_ASSIGN_OR_RETURN(remotes, store.ListRemotes());
    if (remotes.empty()) return Status::NotFound("no remotes; add one with `braid remote add`");
  } else {
    if (names.empty()) {
      return Status::InvalidArgument(
          "name the remotes to sync, or --all; see `braid remote list` (the last word may be a "
          "step: cache, index or attachments)");
    }
    for (const auto& n : names) {
      BRAID_ASSIGN_OR_RETURN(auto r, store.GetRemote(n));
      if (!r) return Status::NotFound("no remote named \"" + n + "\"; see `braid remote list`");
      remotes.push_back(std::move(*r));
    }
  }
  BRAID_ASSIGN_OR_RETURN(auto lock, inst->LockSync(a.wait));
  // One JSON summary (or error) per remote: the step's, or with every
  // step the cache step's with the others' as "index" and "attachments".
  // The index step is the instance's, not a remote's: it runs after the
  // first remote's records, then catches up after each other's.
  std::vector<std::string> results;
  Status first_error;
  std::unique_ptr<auth::Keyring> keys;
  for (const auto& remote : remotes) {
    if (keys == nullptr) {  // certificates, and revocations passed on
      BRAID_ASSIGN_OR_RETURN(keys, auth::Keyring::Open(store, inst->dir() + "/keys"));
    }
    std::string summary;
    for (const std::string_view s : kSteps) {
      if (!step.empty() && step != s) continue;
      if (a.dry_run && s != "cache") continue;
      // A push-only remote's files are not fetched; asked for, that is an error.
      if (step.empty() && s == "attachments" && remote.direction == Direction::kPush) continue;
      Result<std::string> result = [&]() -> Result<std::string> {
        if (s == "index")
          return RunIndexStep(g, *inst, a.full && &remote == &remotes.front(), live);
        if (remote.token.empty() && remote.cert.empty()) {
          return Status::Unauthorized(
              "remote \"" + remote.name +
              "\" has no credentials: get a certificate (braid cert request " + remote.name +
              " --user ADMIN ...) or add it again with --token-file or --user");
        }
        if (s == "cache" && a.dry_run) return PreviewCache(g, store, remote, keys.get(), live);
        if (s == "cache") return SyncCache(g, store, remote, keys.get(), live);
        return SyncAttachments(g, *inst, remote, keys.get(), a, live);
      }();
      if (!result.ok() && s == "index" && step.empty() && result.status().code() == Code::kBusy) {
        // Another process (braid serve's follower, another sync) is
        // rebuilding the index: its rebuild and the catch-up after it take
        // these records in, and the attachments step does not need it.
        if (!g.json) {
          Print("index: not updated by this sync: " + result.status().message() +
                "; that rebuild takes these records in");
        }
        std::string deferred;
        json::Writer(&deferred)
            .BeginObject()
            .Key("deferred")
            .String(result.status().message())
            .EndObject();
        result = std::move(deferred);
      }
      if (!result.ok()) {
        if (first_error.ok()) first_error = result.status();
        if (!g.json || remotes.size() > 1 || step.empty()) {
          std::fprintf(stderr, "braid: sync with %s failed (%s): %s\n", remote.name.c_str(),
                       std::string(s).c_str(), result.status().message().c_str());
        }
        summary = ErrorJson(remote.name, s, result.status());
        break;  // the next steps would work on what this one failed to bring
      }
      if (summary.empty()) {
        summary = std::move(*result);
      } else {
        summary.pop_back();  // '}'
        summary += ",\"" + std::string(s) + "\":" + *result + "}";
      }
    }
    results.push_back(std::move(summary));
  }
  // One remote named: its summary object; otherwise an array of them.
  if (g.json) PrintJsonResults(results, /*one=*/results.size() == 1 && !a.all);
  return first_error;
}

}  // namespace

void AddSyncCommands(CLI::App& app, Globals& g, Action& action) {
  CLI::App* token = app.add_subcommand(
      "token",
      "Manage the bearer tokens this instance's server accepts (API clients, replicating peers)");
  token->require_subcommand(1);
  {
    auto name = std::make_shared<std::string>();
    auto args = std::make_shared<TokenArgs>();
    CLI::App* create =
        token->add_subcommand("create", "Create a token; prints it (last line of stdout), once");
    create->add_option("name", args->name, "A name to revoke it by")->required();
    create
        ->add_option("--role", args->role,
                     "reader (read, pull), writer (also write, push) or admin")
        ->capture_default_str();
    create->add_option("--scope", args->scope,
                       "A partition prefix the token is limited to (repeatable; default: all)");
    create->callback(
        [&g, &action, args] { action = [&g, args] { return RunTokenCreate(g, *args); }; });
    token->add_subcommand("list", "List tokens with their role and scope")->callback([&g, &action] {
      action = [&g] { return RunTokenList(g); };
    });
    CLI::App* revoke = token->add_subcommand("revoke", "Revoke a token");
    revoke->add_option("name", *name, "Token name")->required();
    revoke->callback(
        [&g, &action, name] { action = [&g, name] { return RunTokenRevoke(g, *name); }; });
  }

  auto a = std::make_shared<SyncArgs>();
  CLI::App* sync = app.add_subcommand(
      "sync",
      "Sync with remotes, in steps: cache (pull then push the records, one session each, "
      "resumable), index (bring the search index in line with the records' changes) and "
      "attachments (fetch the files live records name, resuming partial downloads; remove "
      "those no record names); progress on a terminal, --debug says why");
  sync->add_option("remote", a->words,
                   "Remote names, then optionally one step: cache (replication of the "
                   "records), index (the search index; `braid sync index` alone needs no "
                   "remote) or attachments (their files). No step: every step, in order");
  sync->add_flag("--all", a->all, "Every remote");
  sync->add_flag("--full", a->full,
                 "index: rebuild it from every record (in a new file, swapped in at the end); "
                 "attachments: compare every attachment live records name (not only those of "
                 "records changed since the last run) and remove every orphan");
  sync->add_option("--parallel", a->parallel, "attachments: downloads at once (1 to 64)")
      ->capture_default_str();
  sync->add_flag("--dry-run", a->dry_run,
                 "Show what a pull would bring, per collection (new, updated, already here, "
                 "held, left out by the remote's rules) without applying anything: SENAITE's "
                 "fetch. Only the cache step; nothing is pushed or recorded");
  sync->add_flag("--wait", a->wait,
                 "When another sync of this instance runs, wait for it (default: exit 6, busy)");
  sync->callback([&g, &action, a] { action = [&g, a] { return RunSync(g, *a); }; });
}

}  // namespace braid::cli
