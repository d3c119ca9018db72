// Record commands: put, get, delete, list, delta.

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/json.h"
#include "braid/delta.h"
#include "cli/cli.h"
#include "feed/format.h"

namespace braid::cli {
namespace {

// Reads at most `limit` bytes from `in`; more is PayloadTooLarge.
Result<std::string> ReadBounded(std::FILE* in, size_t limit, const std::string& what) {
  std::string data;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, in)) > 0) {
    data.append(buf, n);
    if (data.size() > limit) {
      return Status::PayloadTooLarge(what + " is larger than " + std::to_string(limit) + " bytes");
    }
  }
  if (std::ferror(in)) return Status::IoError("cannot read " + what);
  return data;
}

struct PutArgs {
  std::string collection, id, source, file, partition, parent;
  bool no_parent = false;
};

Result<std::string> ReadBody(const PutArgs& a, size_t limit) {
  if (!a.file.empty() && !a.source.empty()) {
    return Status::InvalidArgument("give the body either with --file or as -, not both");
  }
  if (!a.file.empty()) {
    std::FILE* f = std::fopen(a.file.c_str(), "rb");
    if (f == nullptr) return Status::IoError("cannot open " + a.file);
    auto body = ReadBounded(f, limit, a.file);
    std::fclose(f);
    return body;
  }
  if (a.source.empty() && ::isatty(STDIN_FILENO)) {
    return Status::InvalidArgument(
        "no body: give it with --file FILE, or - to read standard input");
  }
  if (!a.source.empty() && a.source != "-") {
    return Status::InvalidArgument("unexpected argument \"" + a.source +
                                   "\"; the body comes from --file FILE or - (standard input)");
  }
  return ReadBounded(stdin, limit, "standard input");
}

std::string WriteResultJson(const WriteResult& r) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject().Key("status").String(WriteOpName(r.op)).Key("seq").Uint(r.seq).Key("record");
  WriteRecord(w, r.record);
  w.EndObject();
  return out;
}

void PrintWrite(const Globals& g, const WriteResult& r) {
  if (g.json) return Print(WriteResultJson(r));
  std::string line = std::string(WriteOpName(r.op)) + " " + r.record.collection + "/" +
                     r.record.id + " version " + r.record.version.ToString();
  if (r.seq != 0) line += " seq " + std::to_string(r.seq);
  Print(line);
}

Status RunPut(const Globals& g, const PutArgs& a) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  // Whitespace may shrink a body, so allow some slack before the store's
  // exact check of the minified size.
  const size_t limit = inst->config().max_record_bytes * 4 + 4096;
  BRAID_ASSIGN_OR_RETURN(const std::string body, ReadBody(a, limit));
  PutRequest req;
  req.collection = a.collection;
  req.id = a.id;
  req.body = body;
  if (!a.partition.empty()) req.partition = a.partition;
  if (!a.parent.empty()) {
    req.parent_mode = PutRequest::ParentMode::kSet;
    req.parent = a.parent;
  } else if (a.no_parent) {
    req.parent_mode = PutRequest::ParentMode::kClear;
  }
  BRAID_ASSIGN_OR_RETURN(auto txn, inst->store().BeginWrite());
  BRAID_ASSIGN_OR_RETURN(const WriteResult r, txn->Put(req));
  BRAID_RETURN_IF_ERROR(txn->Commit());
  PrintWrite(g, r);
  return Status::OK();
}

Status RunGet(const Globals& g, const std::string& collection, const std::string& id) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(const auto rec, inst->store().Get(collection, id));
  if (!rec) return Status::NotFound("record " + collection + "/" + id + " does not exist");
  const std::string json = RecordJson(*rec);
  Print(g.json ? json : json::Pretty(json));
  return Status::OK();
}

Status RunDelete(const Globals& g, const std::string& collection, const std::string& id) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto txn, inst->store().BeginWrite());
  BRAID_ASSIGN_OR_RETURN(const WriteResult r, txn->Delete(collection, id));
  BRAID_RETURN_IF_ERROR(txn->Commit());
  PrintWrite(g, r);
  return Status::OK();
}

Status RunList(const Globals& g, const ListQuery& q) {
  if (q.limit < 1 || q.limit > 1000) {
    return Status::InvalidArgument("--limit must be between 1 and 1000");
  }
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(const auto records, inst->store().List(q));
  const bool more = records.size() == q.limit;
  if (g.json) {
    std::string out;
    json::Writer w(&out);
    w.BeginObject().Key("records").BeginArray();
    for (const auto& r : records) WriteRecord(w, r);
    w.EndArray().Key("next");
    more ? (void)w.String(records.back().id) : (void)w.Null();
    w.EndObject();
    Print(out);
    return Status::OK();
  }
  for (const auto& r : records) {
    Print(r.id + "\t" + r.version.ToString() + "\t" + r.partition + (r.deleted ? "\tdeleted" : ""));
  }
  if (more) Print("# more: --after " + records.back().id);
  return Status::OK();
}

Status RunDelta(const Globals& g, const DeltaRequest& req) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(const DeltaPage page, ReadDelta(inst->store(), req));
  if (g.json) {
    Print(DeltaPageJson(page));
    return Status::OK();
  }
  for (const auto& item : page.items) {
    Print(std::to_string(item.seq) + "\t" + std::string(ChangeOpName(item.type)) + "\t" +
          item.collection + "/" + item.id);
  }
  Print("cursor " + page.cursor + (page.has_more ? " (more: run again with --cursor)" : ""));
  return Status::OK();
}

}  // namespace

void AddRecordCommands(CLI::App& app, Globals& g, Action& action) {
  {
    auto a = std::make_shared<PutArgs>();
    CLI::App* put = app.add_subcommand(
        "put", "Create or replace a record's body (a JSON object) from a file or stdin");
    put->add_option("collection", a->collection, "Collection, [a-z][a-z0-9_.-]{0,63}")->required();
    put->add_option("id", a->id, "Record id (UTF-8, 1 to 255 bytes)")->required();
    put->add_option("source", a->source, "- to read the body from standard input");
    put->add_option("--file,-f", a->file, "Read the body from FILE");
    put->add_option("--partition", a->partition,
                    "Partition of a new record (default: the collection); never changes");
    put->add_option("--parent", a->parent, "Set the record's parent (for parent delta feeds)");
    put->add_flag("--no-parent", a->no_parent, "Clear the record's parent");
    put->callback([&g, &action, a] { action = [&g, a] { return RunPut(g, *a); }; });
  }
  {
    auto c = std::make_shared<std::pair<std::string, std::string>>();
    CLI::App* get = app.add_subcommand("get", "Print a record (tombstones included)");
    get->add_option("collection", c->first, "Collection")->required();
    get->add_option("id", c->second, "Record id")->required();
    get->callback(
        [&g, &action, c] { action = [&g, c] { return RunGet(g, c->first, c->second); }; });
  }
  {
    auto c = std::make_shared<std::pair<std::string, std::string>>();
    CLI::App* del = app.add_subcommand(
        "delete", "Delete a record (it stays as a tombstone so the delete replicates)");
    del->add_option("collection", c->first, "Collection")->required();
    del->add_option("id", c->second, "Record id")->required();
    del->callback(
        [&g, &action, c] { action = [&g, c] { return RunDelete(g, c->first, c->second); }; });
  }
  {
    auto q = std::make_shared<ListQuery>();
    CLI::App* list = app.add_subcommand("list", "List a collection's records by id");
    list->add_option("collection", q->collection, "Collection")->required();
    list->add_option("--limit", q->limit, "At most this many records (1 to 1000)")
        ->capture_default_str();
    list->add_option("--after", q->after_id, "Start after this id (paging)");
    list->add_flag("--deleted", q->include_deleted, "Include tombstones");
    list->callback([&g, &action, q] { action = [&g, q] { return RunList(g, *q); }; });
  }
  {
    auto r = std::make_shared<DeltaRequest>();
    auto collection = std::make_shared<std::string>();
    auto parent = std::make_shared<std::string>();
    CLI::App* delta = app.add_subcommand(
        "delta", "Print a page of the change feed (create/update/delete events)");
    delta->add_option("--cursor", r->cursor, "Cursor from the previous page (none: from start)");
    delta->add_option("--limit", r->limit, "At most this many items (1 to 1000)")
        ->capture_default_str();
    delta->add_option("--collection", *collection, "Only this collection");
    delta->add_option("--parent", *parent, "Only items with this parent");
    delta->callback([&g, &action, r, collection, parent] {
      if (!collection->empty()) r->collection = *collection;
      if (!parent->empty()) r->parent = *parent;
      action = [&g, r] { return RunDelta(g, *r); };
    });
  }
}

}  // namespace braid::cli
