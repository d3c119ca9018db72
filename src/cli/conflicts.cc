// Conflict commands (conflicts list/show/resolve) and collection settings.

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "base/json.h"
#include "cli/cli.h"
#include "feed/format.h"
#include "index/text.h"
#include "store/content.h"

namespace braid::cli {
namespace {

std::string ConflictJson(Store& store, const Record& rec, Status* status) {
  std::string out;
  auto held = store.HeldVersions(rec.collection, rec.id);
  if (!held.ok()) {
    *status = held.status();
    return out;
  }
  json::Writer w(&out);
  WriteConflictRecord(w, rec, *held);
  return out;
}

Status RunList(const Globals& g) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  Store& store = inst->store();
  std::string after_c, after_id;
  std::string out;
  json::Writer w(&out);
  w.BeginArray();
  for (;;) {
    BRAID_ASSIGN_OR_RETURN(const auto page, store.ListConflicts(after_c, after_id, 500));
    for (const auto& rec : page) {
      BRAID_ASSIGN_OR_RETURN(const auto held, store.HeldVersions(rec.collection, rec.id));
      if (g.json) {
        WriteConflictRecord(w, rec, held);
      } else {
        size_t entries = 0;
        if (!rec.conflicts.empty()) entries = json::Value(rec.conflicts).Size();
        Print(rec.collection + "/" + rec.id + "\t" + std::to_string(entries) + " conflicts" +
              (held.empty() ? "" : ", " + std::to_string(held.size()) + " held versions"));
      }
    }
    if (page.size() < 500) break;
    after_c = page.back().collection;
    after_id = page.back().id;
  }
  w.EndArray();
  if (g.json) Print(out);
  return Status::OK();
}

Status RunShow(const Globals& g, const std::string& collection, const std::string& id) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(const auto rec, inst->store().Get(collection, id));
  if (!rec) return Status::NotFound("record " + collection + "/" + id + " does not exist");
  Status status;
  const std::string out = ConflictJson(inst->store(), *rec, &status);
  BRAID_RETURN_IF_ERROR(status);
  Print(g.json ? out : json::Pretty(out));
  return Status::OK();
}

// The body `--keep remote` stands for: the newest held or losing version;
// for field conflicts, the current body with each field's losing value.
// nullopt with *deleted: the remote side deleted the record.
Result<std::optional<std::string>> RemoteSide(Store& store, const Record& rec, bool* deleted) {
  *deleted = false;
  BRAID_ASSIGN_OR_RETURN(const auto held, store.HeldVersions(rec.collection, rec.id));
  const Record* newest = nullptr;
  for (const auto& h : held) {
    if (newest == nullptr || newest->hlc < h.hlc) newest = &h;
  }
  if (newest != nullptr) {
    *deleted = newest->deleted;
    return newest->deleted ? std::optional<std::string>() : newest->body;
  }
  // Conflicts recorded by merges.
  uint64_t best_version_hlc = 0;
  std::optional<std::string> version_body;
  std::map<std::string, std::pair<uint64_t, std::optional<std::string>>> fields;
  json::Value(rec.conflicts).ForEachElement([&](json::Value e) {
    if (auto field = e.Find("field")) {
      const std::string name = field->AsString().value_or("");
      uint64_t hlc = 0;
      if (auto write = e.Find("write")) {
        write->ForEachElement([&](json::Value v) {
          hlc = static_cast<uint64_t>(v.AsInt64().value_or(0));
          return false;
        });
      }
      auto value = e.Find("value");
      auto& slot = fields[name];
      if (slot.first <= hlc) {
        slot = {hlc, value ? std::optional<std::string>(std::string(value->raw())) : std::nullopt};
      }
    } else if (auto hlc = e.Find("hlc")) {
      const auto h = static_cast<uint64_t>(hlc->AsInt64().value_or(0));
      if (h >= best_version_hlc) {
        best_version_hlc = h;
        const bool del = e.Find("deleted")->AsBool().value_or(false);
        *deleted = del;
        version_body =
            del ? std::nullopt : std::optional<std::string>(std::string(e.Find("body")->raw()));
      }
    }
    return true;
  });
  if (best_version_hlc > 0) return version_body;
  // Field losers onto the current body.
  std::string body;
  json::Writer w(&body);
  w.BeginObject();
  json::Value(rec.body).ForEachMember([&](std::string_view key, json::Value v) {
    auto it = fields.find(std::string(key));
    if (it == fields.end()) {
      w.Key(key).Raw(v.raw());
    } else if (it->second.second) {
      w.Key(key).Raw(*it->second.second);
    }
    return true;
  });
  for (const auto& [name, value] : fields) {
    if (value.second && !json::Value(rec.body).Find(name)) w.Key(name).Raw(*value.second);
  }
  w.EndObject();
  return std::optional<std::string>(body);
}

Status RunResolve(const Globals& g, const std::string& collection, const std::string& id,
                  const std::string& keep) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  Store& store = inst->store();
  BRAID_ASSIGN_OR_RETURN(const auto rec, store.Get(collection, id));
  if (!rec) return Status::NotFound("record " + collection + "/" + id + " does not exist");
  std::optional<std::string> body;
  bool delete_after = false;
  if (keep == "local") {
    // The current version stays; its conflicts are dropped.
  } else if (keep == "remote") {
    BRAID_ASSIGN_OR_RETURN(body, RemoteSide(store, *rec, &delete_after));
  } else {
    std::ifstream in(keep, std::ios::binary);
    if (!in) {
      return Status::InvalidArgument(
          "--keep takes local, remote or a file with the body; cannot "
          "read \"" +
          keep + "\"");
    }
    std::stringstream s;
    s << in.rdbuf();
    body = s.str();
  }
  BRAID_ASSIGN_OR_RETURN(auto txn, store.BeginWrite());
  BRAID_ASSIGN_OR_RETURN(
      WriteResult r,
      txn->Resolve(collection, id, body ? std::optional<std::string_view>(*body) : std::nullopt));
  if (delete_after) {
    BRAID_ASSIGN_OR_RETURN(r, txn->Delete(collection, id));
  }
  BRAID_RETURN_IF_ERROR(txn->Commit());
  if (g.json) {
    Print(RecordJson(r.record));
  } else {
    Print("resolved " + collection + "/" + id + ": version " + r.record.version.ToString() +
          (r.record.deleted ? " (deleted)" : ""));
  }
  return Status::OK();
}

struct CollectionSetArgs {
  std::string name, conflicts, index;
  bool index_all = false;
  std::vector<std::string> refs;
  bool no_refs = false;
};

Status RunCollectionSet(const Globals& g, const CollectionSetArgs& a) {
  if (a.conflicts.empty() && a.index.empty() && !a.index_all && a.refs.empty() && !a.no_refs) {
    return Status::InvalidArgument("give --conflicts, --index, --index-all, --ref or --no-refs");
  }
  if (!a.index.empty() && a.index_all) {
    return Status::InvalidArgument("give --index or --index-all, not both");
  }
  if (!a.refs.empty() && a.no_refs) {
    return Status::InvalidArgument("give --ref or --no-refs, not both");
  }
  std::vector<Reference> refs;
  for (const auto& spec : a.refs) {
    BRAID_ASSIGN_OR_RETURN(Reference ref, ParseReference(spec));
    for (const Reference& r : refs) {
      if (r.field == ref.field) {
        return Status::InvalidArgument("--ref: field \"" + ref.field + "\" is given twice");
      }
    }
    refs.push_back(std::move(ref));
  }
  std::optional<ConflictPolicy> policy;
  if (!a.conflicts.empty()) {
    BRAID_ASSIGN_OR_RETURN(policy, ParsePolicy(a.conflicts));
  }
  std::optional<std::string> spec;
  if (!a.index.empty()) {
    BRAID_ASSIGN_OR_RETURN(const index::IndexSpec parsed, index::ParseIndexSpec(a.index));
    spec = index::FormatIndexSpec(parsed);
  }
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto txn, inst->store().BeginWrite());
  if (policy) BRAID_RETURN_IF_ERROR(txn->SetPolicy(a.name, *policy));
  if (spec || a.index_all) {
    BRAID_RETURN_IF_ERROR(
        txn->SetSearchFields(a.name, spec ? std::optional<std::string_view>(*spec) : std::nullopt));
  }
  if (!refs.empty() || a.no_refs) BRAID_RETURN_IF_ERROR(txn->SetReferences(a.name, refs));
  BRAID_RETURN_IF_ERROR(txn->Commit());
  if (!g.json) {
    if (policy) Print("collection " + a.name + ": conflicts " + std::string(PolicyName(*policy)));
    if (spec || a.index_all) {
      Print("collection " + a.name + ": search index takes " +
            (spec ? *spec : std::string("every string field")) +
            " (the index is rebuilt by the next `braid sync index`, or at once by a running "
            "`braid serve`)");
    }
    if (!refs.empty() || a.no_refs) {
      std::string line = "collection " + a.name + ": references";
      for (const auto& r : refs) line += " " + ReferenceSpec(r);
      Print(refs.empty() ? line + " none" : line);
    }
  }
  return Status::OK();
}

Status RunCollectionList(const Globals& g) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(const auto policies, inst->store().Policies());
  BRAID_ASSIGN_OR_RETURN(const auto fields, inst->store().SearchFields());
  BRAID_ASSIGN_OR_RETURN(const auto references, inst->store().References());
  // Every collection with a setting: its policy, search fields, references.
  struct Row {
    ConflictPolicy policy = ConflictPolicy::kMerge;
    std::optional<std::string> index;
    std::vector<Reference> refs;
  };
  std::map<std::string, Row> rows;
  for (const auto& [name, p] : policies) rows[name].policy = p;
  for (const auto& [name, spec] : fields) rows[name].index = spec;
  for (const auto& [name, refs] : references) rows[name].refs = refs;
  std::string out;
  json::Writer w(&out);
  w.BeginArray();
  for (const auto& [name, row] : rows) {
    if (g.json) {
      w.BeginObject()
          .Key("collection")
          .String(name)
          .Key("conflicts")
          .String(PolicyName(row.policy))
          .Key("index")
          .OptionalString(row.index)
          .Key("refs")
          .BeginArray();
      for (const auto& r : row.refs) w.String(ReferenceSpec(r));
      w.EndArray().EndObject();
    } else {
      std::string line = name + "\t" + std::string(PolicyName(row.policy)) + "\t" +
                         row.index.value_or("every string field");
      for (const auto& r : row.refs)
        line += (&r == &row.refs.front() ? "\t" : " ") + ReferenceSpec(r);
      Print(line);
    }
  }
  w.EndArray();
  if (g.json) Print(out);
  return Status::OK();
}

}  // namespace

void AddConflictCommands(CLI::App& app, Globals& g, Action& action) {
  CLI::App* conflicts = app.add_subcommand(
      "conflicts", "List, show and resolve conflicts that merges kept (nothing is lost silently)");
  conflicts->add_subcommand("list", "Records with conflicts or held versions (the default)")
      ->callback([&g, &action] { action = [&g] { return RunList(g); }; });
  conflicts->callback([&g, &action, conflicts] {
    if (conflicts->get_subcommands().empty()) action = [&g] { return RunList(g); };
  });
  {
    auto c = std::make_shared<std::pair<std::string, std::string>>();
    CLI::App* show =
        conflicts->add_subcommand("show", "A record with its conflicts and held versions");
    show->add_option("collection", c->first, "Collection")->required();
    show->add_option("id", c->second, "Record id")->required();
    show->callback(
        [&g, &action, c] { action = [&g, c] { return RunShow(g, c->first, c->second); }; });
  }
  {
    auto c = std::make_shared<std::array<std::string, 3>>();
    CLI::App* resolve = conflicts->add_subcommand(
        "resolve",
        "Resolve: a new version that includes every conflicting one, so it wins everywhere");
    resolve->add_option("collection", (*c)[0], "Collection")->required();
    resolve->add_option("id", (*c)[1], "Record id")->required();
    resolve
        ->add_option("--keep", (*c)[2],
                     "local (the current body), remote (the losing or held version), or a "
                     "file with the body to keep")
        ->required();
    resolve->callback([&g, &action, c] {
      action = [&g, c] { return RunResolve(g, (*c)[0], (*c)[1], (*c)[2]); };
    });
  }

  CLI::App* collection = app.add_subcommand("collection", "Collection settings");
  collection->require_subcommand(1);
  {
    auto c = std::make_shared<CollectionSetArgs>();
    CLI::App* set = collection->add_subcommand(
        "set",
        "Set a collection's conflict policy, the fields its search index takes, or its "
        "references");
    set->add_option("name", c->name, "Collection")->required();
    set->add_option("--conflicts", c->conflicts,
                    "merge (default: field by field), lww (whole record), skip (hold for a "
                    "person), remote-wins or local-wins (one-way remotes only)");
    set->add_option("--index", c->index,
                    "The top-level fields the search index takes, with weights from 1 to " +
                        std::to_string(index::kMaxWeight) +
                        " (default 1), e.g. title:3,abstract; a change rebuilds the index");
    set->add_flag("--index-all", c->index_all,
                  "The search index takes every string field at weight 1 (the default)");
    set->add_option("--ref", c->refs,
                    "A body field that holds ids of another collection's records: "
                    "FIELD=COLLECTION, or FIELD[]=COLLECTION for an array of ids (e.g. "
                    "client=clients, analyses[]=analyses); repeat for each, replacing the "
                    "references set before. Remotes import what records reference and rename "
                    "references with their prefixes (docs/remotes.md)");
    set->add_flag("--no-refs", c->no_refs, "Forget the collection's references");
    set->callback([&g, &action, c] { action = [&g, c] { return RunCollectionSet(g, *c); }; });
    collection
        ->add_subcommand("list",
                         "Collections with a conflict policy, search fields or references set")
        ->callback([&g, &action] { action = [&g] { return RunCollectionList(g); }; });
  }
}

}  // namespace braid::cli
