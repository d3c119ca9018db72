// braid container: directory containers (EOxServer's, docs/cli.md), the
// files of a folder kept as records by passes (src/container/).

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include <cstdio>
#include <filesystem>

#include "base/json.h"
#include "base/log.h"
#include "blob/blob_store.h"
#include "braid/clock.h"
#include "cli/cli.h"
#include "container/checkout.h"
#include "container/pass.h"
#include "container/state.h"
#include "container/watch.h"

namespace braid::cli {
namespace {

namespace fs = std::filesystem;
using container::ContainerSpec;
using container::ContainerState;

struct AddArgs {
  std::string name, dir, metadata, collection, content = "none";
  std::vector<std::string> globs, excludes;
};

struct SyncArgs {
  std::vector<std::string> names;
  bool all = false;
  bool wait = false;
};

std::string SpecJson(const ContainerSpec& c) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject().Key("name").String(c.name).Key("dir").String(c.dir);
  w.Key("collection").String(c.collection).Key("globs").BeginArray();
  for (const auto& p : c.walk.globs) w.String(p);
  w.EndArray().Key("excludes").BeginArray();
  for (const auto& p : c.walk.excludes) w.String(p);
  w.EndArray().Key("metadata").String(c.walk.sidecar_suffix);
  w.Key("content").String(c.content_blobs ? "blobs" : "none");
  w.Key("created_ms").Int(c.created_ms).Key("last_pass");
  if (c.last_pass.empty()) {
    w.Null();
  } else {
    w.Raw(c.last_pass);
  }
  w.EndObject();
  return out;
}

Status RunAdd(const Globals& g, const AddArgs& a) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(fs::absolute(a.dir, ec), ec);
  if (ec || !fs::is_directory(dir, ec)) {
    return Status::InvalidArgument("--dir " + a.dir + " is not a folder");
  }
  ContainerSpec spec;
  spec.name = a.name;
  spec.dir = dir.string();
  spec.collection = a.collection.empty() ? a.name : a.collection;
  spec.walk.globs = a.globs;
  spec.walk.excludes = a.excludes;
  spec.walk.sidecar_suffix = a.metadata;
  if (!a.metadata.empty() && a.metadata.front() != '.') spec.walk.sidecar_suffix = "." + a.metadata;
  spec.content_blobs = a.content == "blobs";
  spec.created_ms = Clock::Real().NowMillis();
  BRAID_ASSIGN_OR_RETURN(auto state, ContainerState::Open(inst->dir()));
  BRAID_RETURN_IF_ERROR(state->Add(spec));
  if (g.json) {
    Print(SpecJson(spec));
  } else {
    Print("container " + spec.name + ": " + spec.dir + " -> collection " + spec.collection +
          "; `braid container sync " + spec.name + "` reads it");
  }
  return Status::OK();
}

void ShowPassProgress(const std::string& name, const container::PassProgress& p) {
  const double mib = static_cast<double>(p.bytes_read) / (1 << 20);
  char line[160];
  std::snprintf(line, sizeof line, "%s: %llu files seen, %llu read (%.1f MiB, %.1f MiB/s), %d s",
                name.c_str(), static_cast<unsigned long long>(p.files_seen),
                static_cast<unsigned long long>(p.files_read), mib,
                p.seconds > 0 ? mib / p.seconds : 0.0, static_cast<int>(p.seconds));
  std::fprintf(stderr, "\r%-78s", line);
  std::fflush(stderr);
}

// Prints a pass's outcome (a line, and its errors on stderr) and keeps it
// as the container's last pass; returns its JSON summary (or error).
std::string Report(const Globals& g, ContainerState& state, const ContainerSpec& spec,
                   const Result<container::PassSummary>& r) {
  if (!r.ok()) {
    std::fprintf(stderr, "braid: container %s: %s\n", spec.name.c_str(),
                 r.status().message().c_str());
    std::string err;
    json::Writer(&err)
        .BeginObject()
        .Key("container")
        .String(spec.name)
        .Key("error")
        .String(r.status().message())
        .EndObject();
    return err;
  }
  std::string summary = container::SummaryJson(*r);
  if (Status s = state.SetLastPass(spec.name, summary); !s.ok()) {
    std::fprintf(stderr, "braid: container %s: keeping the last pass: %s\n", spec.name.c_str(),
                 s.message().c_str());
  }
  if (!g.json) {
    char line[200];
    std::snprintf(
        line, sizeof line,
        "%s: %llu added, %llu updated, %llu removed, %llu unchanged, %llu failed "
        "(%.1f MiB read in %.2f s)",
        spec.name.c_str(), static_cast<unsigned long long>(r->added),
        static_cast<unsigned long long>(r->updated), static_cast<unsigned long long>(r->removed),
        static_cast<unsigned long long>(r->unchanged), static_cast<unsigned long long>(r->failed),
        static_cast<double>(r->bytes_read) / (1 << 20), r->seconds);
    Print(line);
  }
  for (const auto& [path, why] : r->errors) {
    std::fprintf(stderr, "braid: container %s: %s: %s\n", spec.name.c_str(), path.c_str(),
                 why.c_str());
  }
  return summary;
}

// The blob store, when a container keeps its files' bytes there.
Result<std::unique_ptr<blob::BlobStore>> BlobsFor(Instance& inst,
                                                  const std::vector<ContainerSpec>& specs,
                                                  container::PassOptions* options) {
  std::unique_ptr<blob::BlobStore> blobs;
  for (const ContainerSpec& s : specs) {
    if (!s.content_blobs) continue;
    BRAID_ASSIGN_OR_RETURN(blobs, blob::BlobStore::Open(inst.blob_dir()));
    options->blobs = blobs.get();
    options->max_blob_bytes = static_cast<uint64_t>(inst.config().max_attachment_bytes);
    break;
  }
  return blobs;
}

// The containers named, or every one with --all.
Result<std::vector<ContainerSpec>> Chosen(ContainerState& state, const SyncArgs& a) {
  if (a.all == !a.names.empty()) {
    return Status::InvalidArgument("name containers, or give --all (not both)");
  }
  if (a.all) return state.List();
  std::vector<ContainerSpec> specs;
  for (const std::string& n : a.names) {
    BRAID_ASSIGN_OR_RETURN(auto spec, state.Get(n));
    if (!spec) return Status::NotFound("no container named " + n + "; see `braid container list`");
    specs.push_back(std::move(*spec));
  }
  return specs;
}

Status RunSync(const Globals& g, const SyncArgs& a) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto state, ContainerState::Open(inst->dir()));
  BRAID_ASSIGN_OR_RETURN(const std::vector<ContainerSpec> specs, Chosen(*state, a));
  BRAID_ASSIGN_OR_RETURN(auto lock,
                         inst->LockActivity("containers.lock", "container pass", a.wait));
  container::PassOptions base;
  BRAID_ASSIGN_OR_RETURN(const auto blobs, BlobsFor(*inst, specs, &base));
  const bool live = !g.json && ::isatty(STDERR_FILENO);
  std::vector<std::string> results;
  Status first_error;
  uint64_t failed = 0;
  for (const ContainerSpec& spec : specs) {
    container::PassOptions options = base;
    if (live) {
      options.progress = [&spec](const container::PassProgress& p) {
        ShowPassProgress(spec.name, p);
      };
    }
    Result<container::PassSummary> r = container::RunPass(inst->store(), *state, spec, options);
    if (live) std::fprintf(stderr, "\r%-78s\r", "");
    results.push_back(Report(g, *state, spec, r));
    if (!r.ok()) {
      if (first_error.ok()) first_error = r.status();
    } else {
      failed += r->failed;
    }
  }
  if (g.json) PrintJsonResults(results, /*one=*/results.size() == 1 && !a.all);
  if (!first_error.ok()) return first_error;
  if (failed > 0) {
    return Status::Partial(std::to_string(failed) +
                           " files or folders could not be read (named above); their records "
                           "are as they were, and the next pass tries them again");
  }
  return Status::OK();
}

std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) { g_stop = true; }

Status RunWatch(const Globals& g, const SyncArgs& a) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto state, ContainerState::Open(inst->dir()));
  BRAID_ASSIGN_OR_RETURN(const std::vector<ContainerSpec> specs, Chosen(*state, a));
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;  // no SA_RESTART: poll() returns at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::unique_ptr<Instance::DirLock> lock;
  container::WatchOptions options;
  BRAID_ASSIGN_OR_RETURN(const auto blobs, BlobsFor(*inst, specs, &options.pass));
  options.stop = [] { return g_stop.load(); };
  // A pass at a time with `braid container sync` (cron's), which waits for
  // the lock only between this watch's passes.
  options.before_pass = [&]() -> Status {
    BRAID_ASSIGN_OR_RETURN(lock, inst->LockActivity("containers.lock", "container pass", true));
    return Status::OK();
  };
  options.after_pass = [&] { lock.reset(); };
  options.on_pass = [&](const ContainerSpec& spec, const Result<container::PassSummary>& r) {
    const std::string summary = Report(g, *state, spec, r);
    if (g.json) Print(summary);  // one JSON object per line and pass
    std::fflush(stdout);
    return true;
  };
  spdlog::info("watching {} container{}; Ctrl-C ends", specs.size(), specs.size() == 1 ? "" : "s");
  return container::Watch(inst->store(), *state, specs, options);
}

struct CheckoutArgs {
  std::string name, dir, collection;
  bool follow = false;
};

Status RunCheckout(const Globals& g, const CheckoutArgs& a) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto state, ContainerState::Open(inst->dir()));
  BRAID_ASSIGN_OR_RETURN(auto spec, state->GetCheckout(a.name));
  std::error_code ec;
  if (!a.dir.empty()) {
    fs::create_directories(a.dir, ec);
    const fs::path dir = fs::weakly_canonical(fs::absolute(a.dir, ec), ec);
    if (ec || !fs::is_directory(dir, ec)) {
      return Status::InvalidArgument("--dir " + a.dir + " is not a folder, and cannot be made");
    }
    if (spec && spec->dir != dir.string()) {
      return Status::InvalidArgument("container " + a.name + " is checked out in " + spec->dir +
                                     "; one checkout per container");
    }
    if (!spec) {
      const container::CheckoutSpec added{a.name, dir.string(),
                                          a.collection.empty() ? a.name : a.collection, 0, ""};
      BRAID_RETURN_IF_ERROR(state->AddCheckout(added));
      spec = added;
    }
  }
  if (!spec) {
    return Status::NotFound("container " + a.name +
                            " is not checked out here: give --dir for the first checkout");
  }
  BRAID_ASSIGN_OR_RETURN(const auto blobs, blob::BlobStore::Open(inst->blob_dir()));
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  if (a.follow) {
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
  }
  std::mutex mu;
  std::condition_variable cv;
  bool changed = false;
  const uint64_t listener = inst->store().AddChangeListener([&] {
    std::lock_guard l(mu);
    changed = true;
    cv.notify_all();
  });
  Status result;
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(spec, state->GetCheckout(a.name));
    Result<container::CheckoutSummary> r =
        container::RunCheckout(inst->store(), *state, *blobs, *spec);
    if (!r.ok()) {
      result = r.status();
    } else {
      if (g.json) {
        Print(container::CheckoutSummaryJson(*r));
      } else {
        char line[200];
        std::snprintf(line, sizeof line,
                      "%s: %llu written, %llu removed, %llu unchanged, %llu waiting for their "
                      "bytes, %llu conflicts",
                      a.name.c_str(), static_cast<unsigned long long>(r->written),
                      static_cast<unsigned long long>(r->removed),
                      static_cast<unsigned long long>(r->unchanged),
                      static_cast<unsigned long long>(r->pending),
                      static_cast<unsigned long long>(r->conflict_count));
        Print(line);
      }
      std::fflush(stdout);
      for (const auto* list : {&r->conflicts, &r->errors}) {
        for (const auto& [path, why] : *list) {
          std::fprintf(stderr, "braid: checkout %s: %s: %s\n", a.name.c_str(), path.c_str(),
                       why.c_str());
        }
      }
      result = r->conflict_count + r->error_count == 0
                   ? Status::OK()
                   : Status::Partial(std::to_string(r->conflict_count) + " conflicts and " +
                                     std::to_string(r->error_count) +
                                     " errors (named above); those files were left as they are");
    }
    if (!a.follow || g_stop) break;
    std::unique_lock l(mu);
    cv.wait_for(l, std::chrono::seconds(2), [&] { return changed || g_stop.load(); });
    changed = false;
    if (g_stop) break;
  }
  inst->store().RemoveChangeListener(listener);
  return a.follow && g_stop ? Status::OK() : result;
}

Status RunList(const Globals& g) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto state, ContainerState::Open(inst->dir()));
  BRAID_ASSIGN_OR_RETURN(const auto specs, state->List());
  if (g.json) {
    std::string out;
    json::Writer w(&out);
    w.BeginArray();
    for (const auto& s : specs) w.Raw(SpecJson(s));
    w.EndArray();
    Print(out);
    return Status::OK();
  }
  for (const auto& s : specs) {
    BRAID_ASSIGN_OR_RETURN(const container::Totals t, state->Total(s.name));
    Print(s.name + "\t" + s.dir + "\t" + std::to_string(t.files) + " files\t" +
          std::to_string(t.bytes) + " bytes\t" + (s.last_pass.empty() ? "never synced" : "synced"));
  }
  return Status::OK();
}

Status RunShow(const Globals& g, const std::string& name) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto state, ContainerState::Open(inst->dir()));
  BRAID_ASSIGN_OR_RETURN(auto spec, state->Get(name));
  if (!spec) return Status::NotFound("no container named " + name);
  Print(SpecJson(*spec));
  return Status::OK();
}

Status RunRemove(const Globals& g, const std::string& name) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto state, ContainerState::Open(inst->dir()));
  BRAID_ASSIGN_OR_RETURN(auto lock, inst->LockActivity("containers.lock", "container pass", false));
  BRAID_RETURN_IF_ERROR(state->Remove(name));
  if (!g.json) {
    Print("container " + name + " removed; its records stay (delete them like any records)");
  }
  return Status::OK();
}

}  // namespace

void AddContainerCommands(CLI::App& app, Globals& g, Action& action) {
  CLI::App* c = app.add_subcommand(
      "container",
      "Directory containers: the files of a folder as records (path, size, mtime, SHA-256, MD5, "
      "metadata), kept in line with the disk by passes");
  c->require_subcommand(1);
  {
    auto a = std::make_shared<AddArgs>();
    CLI::App* add = c->add_subcommand("add", "Bind a folder to a new container");
    add->add_option("name", a->name, "The container's name ([a-z][a-z0-9_.-]*)")->required();
    add->add_option("--dir", a->dir, "The folder (its files, recursively)")->required();
    add->add_option("--glob", a->globs,
                    "Only files matching one of these patterns (fnmatch; against the name, or "
                    "the relative path when the pattern has a '/'); repeatable");
    add->add_option("--exclude", a->excludes,
                    "Pass over files and folders matching one of these; repeatable");
    add->add_option("--metadata", a->metadata,
                    "The suffix of metadata sidecars: FILE.SUFFIX (a JSON object, or key = value "
                    "lines) goes into FILE's record; a changed sidecar alone updates it");
    add->add_option("--collection", a->collection, "Where its records go (default: the name)");
    add->add_option("--content", a->content,
                    "none: records describe the files; blobs: the files' bytes go to the blob "
                    "store too, as each record's attachment \"content\", so they replicate "
                    "(braid sync's attachments step) and `braid container checkout` writes them")
        ->check(CLI::IsMember({"none", "blobs"}))
        ->capture_default_str();
    add->callback([&g, &action, a] { action = [&g, a] { return RunAdd(g, *a); }; });
  }
  {
    auto a = std::make_shared<SyncArgs>();
    CLI::App* sync = c->add_subcommand(
        "sync",
        "One pass over each named container (or --all): new files become records, changed ones "
        "(size, mtime, inode or ctime, or the sidecar's) are read and updated, removed ones get "
        "tombstones; unreadable files and folders are named and their records kept (exit 9)");
    sync->add_option("names", a->names, "Containers");
    sync->add_flag("--all", a->all, "Every container");
    sync->add_flag("--wait", a->wait,
                   "When another pass of this instance runs, wait for it (default: exit 6)");
    sync->callback([&g, &action, a] { action = [&g, a] { return RunSync(g, *a); }; });
  }
  {
    auto a = std::make_shared<SyncArgs>();
    CLI::App* watch = c->add_subcommand(
        "watch",
        "A pass now, then a pass whenever the disk changes (inotify; within about a second of "
        "the last change), until Ctrl-C or SIGTERM; --json prints each pass's summary as a line");
    watch->add_option("names", a->names, "Containers");
    watch->add_flag("--all", a->all, "Every container (those that exist when it starts)");
    watch->callback([&g, &action, a] { action = [&g, a] { return RunWatch(g, *a); }; });
  }
  {
    auto a = std::make_shared<CheckoutArgs>();
    CLI::App* co = c->add_subcommand(
        "checkout",
        "Write a container's files into a folder from its records (on an instance that syncs "
        "them; the container needs --content blobs where it is kept), and bring the folder in "
        "line with later syncs on every run; a file changed here is never overwritten (it is "
        "listed as a conflict, exit 9)");
    co->add_option("name", a->name, "The container")->required();
    co->add_option("--dir", a->dir, "The folder (first run; made when missing)");
    co->add_option("--collection", a->collection,
                   "Where its records are (first run; default: the name)");
    co->add_flag("--follow", a->follow,
                 "Keep running: a run after every change of the store, until Ctrl-C or SIGTERM");
    co->callback([&g, &action, a] { action = [&g, a] { return RunCheckout(g, *a); }; });
  }
  CLI::App* list = c->add_subcommand("list", "The containers: folder, files, bytes, last pass");
  list->callback([&g, &action] { action = [&g] { return RunList(g); }; });
  {
    auto name = std::make_shared<std::string>();
    CLI::App* show = c->add_subcommand("show", "A container's settings and last pass (JSON)");
    show->add_option("name", *name, "The container")->required();
    show->callback([&g, &action, name] { action = [&g, name] { return RunShow(g, *name); }; });
    auto rm = std::make_shared<std::string>();
    CLI::App* remove =
        c->add_subcommand("remove", "Forget a container (its records stay, as records)");
    remove->add_option("name", *rm, "The container")->required();
    remove->callback([&g, &action, rm] { action = [&g, rm] { return RunRemove(g, *rm); }; });
  }
}

}  // namespace braid::cli
