// Attachment commands: attach, detach, attachments.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/json.h"
#include "blob/attachments.h"
#include "cli/cli.h"

namespace braid::cli {
namespace {

struct AttachArgs {
  std::string collection, id, name, file, content_type;
};

Result<std::unique_ptr<blob::BlobStore>> OpenBlobs(const Instance& inst) {
  return blob::BlobStore::Open(inst.blob_dir());
}

Status RunAttach(const Globals& g, const AttachArgs& a) {
  BRAID_RETURN_IF_ERROR(blob::ValidateAttachmentName(a.name));
  const std::string type = a.content_type.empty() ? blob::GuessContentType(a.name) : a.content_type;
  BRAID_RETURN_IF_ERROR(blob::ValidateContentType(type));
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(auto blobs, OpenBlobs(*inst));
  // Refuse early what the write would refuse, before copying gigabytes.
  BRAID_ASSIGN_OR_RETURN(const auto rec, inst->store().Get(a.collection, a.id));
  if (!rec || rec->deleted) {
    return Status::NotFound("record " + a.collection + "/" + a.id +
                            " does not exist; create it first (braid put)");
  }
  const int fd = ::open(a.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + a.file + ": " + std::strerror(errno));
  const auto max = static_cast<uint64_t>(inst->config().max_attachment_bytes);
  auto writer = blobs->Create(max);
  if (!writer.ok()) {
    ::close(fd);
    return writer.status();
  }
  std::vector<char> buf(1 << 20);
  Status s;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s = Status::IoError("cannot read " + a.file + ": " + std::strerror(errno));
      break;
    }
    if (n == 0) break;
    s = (*writer)->Append(std::string_view(buf.data(), static_cast<size_t>(n)));
    if (!s.ok()) break;
  }
  ::close(fd);
  BRAID_RETURN_IF_ERROR(s.WithContext(a.file));
  BRAID_ASSIGN_OR_RETURN(const blob::BlobInfo info, (*writer)->Commit({}));
  blob::Attachment att;
  att.name = a.name;
  att.content_type = type;
  att.sha256 = info.sha256;
  att.md5 = info.md5;
  att.size = info.size;
  BRAID_ASSIGN_OR_RETURN(const WriteResult r,
                         blob::SetAttachment(inst->store(), *blobs, a.collection, a.id, att, {}));
  if (g.json) {
    Print(blob::AttachmentJson(att));
  } else {
    Print(std::string(r.op == WriteOp::kUnchanged ? "unchanged " : "attached ") + a.name + " (" +
          std::to_string(info.size) + " bytes, sha256 " + info.sha256 + ") to " + a.collection +
          "/" + a.id + " version " + r.record.version.ToString());
  }
  return Status::OK();
}

Status RunDetach(const Globals& g, const AttachArgs& a) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(const WriteResult r,
                         blob::RemoveAttachment(inst->store(), a.collection, a.id, a.name, {}));
  Print("detached " + a.name + " from " + a.collection + "/" + a.id + " version " +
        r.record.version.ToString());
  return Status::OK();
}

Status RunAttachments(const Globals& g, const AttachArgs& a) {
  BRAID_ASSIGN_OR_RETURN(auto inst, OpenInstance(g));
  BRAID_ASSIGN_OR_RETURN(const auto rec, inst->store().Get(a.collection, a.id));
  if (!rec || rec->deleted) {
    return Status::NotFound("record " + a.collection + "/" + a.id + " does not exist");
  }
  BRAID_ASSIGN_OR_RETURN(const auto list, blob::ParseAttachments(rec->body));
  BRAID_ASSIGN_OR_RETURN(auto blobs, OpenBlobs(*inst));
  if (!a.name.empty()) {
    // One attachment's bytes, to --output or standard output.
    const auto it = std::find_if(list.begin(), list.end(),
                                 [&](const blob::Attachment& x) { return x.name == a.name; });
    if (it == list.end()) {
      return Status::NotFound("record " + a.collection + "/" + a.id + " has no attachment \"" +
                              a.name + "\"");
    }
    BRAID_ASSIGN_OR_RETURN(auto reader, blobs->Read(it->sha256, 0, it->size));
    const int out =
        a.file.empty() ? STDOUT_FILENO : ::open(a.file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) return Status::IoError("cannot create " + a.file + ": " + std::strerror(errno));
    std::vector<char> buf(1 << 20);
    Status s;
    while (s.ok()) {
      auto n = reader->Read(buf.data(), buf.size());
      if (!n.ok()) s = n.status();
      if (!n.ok() || *n == 0) break;
      for (size_t done = 0; done < *n && s.ok();) {
        const ssize_t w = ::write(out, buf.data() + done, *n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) s = Status::IoError(std::string("cannot write: ") + std::strerror(errno));
        if (w > 0) done += static_cast<size_t>(w);
      }
    }
    if (out != STDOUT_FILENO && ::close(out) != 0 && s.ok()) {
      s = Status::IoError("cannot write " + a.file + ": " + std::strerror(errno));
    }
    return s;
  }
  if (g.json) {
    std::string out = "[";
    for (const auto& x : list) out += (out.size() > 1 ? "," : "") + blob::AttachmentJson(x);
    Print(out + "]");
    return Status::OK();
  }
  for (const auto& x : list) {
    BRAID_ASSIGN_OR_RETURN(const auto here, blobs->SizeOf(x.sha256));
    Print(x.name + "\t" + std::to_string(x.size) + "\t" + x.content_type + "\t" + x.sha256 +
          (here ? "" : "\tnot here yet (braid sync attachments)"));
  }
  return Status::OK();
}

}  // namespace

void AddAttachmentCommands(CLI::App& app, Globals& g, Action& action) {
  {
    auto a = std::make_shared<AttachArgs>();
    CLI::App* attach = app.add_subcommand(
        "attach",
        "Attach a file to a record (a record write that replicates; the bytes go to the blob "
        "store, once per content)");
    attach->add_option("collection", a->collection, "Collection")->required();
    attach->add_option("id", a->id, "Record id (the record must exist)")->required();
    attach->add_option("name", a->name, "Attachment name: a file name, no '/' or '..'")->required();
    attach->add_option("--file,-f", a->file, "The file to attach")->required();
    attach->add_option("--content-type", a->content_type,
                       "Media type (default: from the name's extension, else "
                       "application/octet-stream)");
    attach->callback([&g, &action, a] { action = [&g, a] { return RunAttach(g, *a); }; });
  }
  {
    auto a = std::make_shared<AttachArgs>();
    CLI::App* detach = app.add_subcommand(
        "detach", "Remove an attachment from a record (its bytes go at the next attachments step)");
    detach->add_option("collection", a->collection, "Collection")->required();
    detach->add_option("id", a->id, "Record id")->required();
    detach->add_option("name", a->name, "Attachment name")->required();
    detach->callback([&g, &action, a] { action = [&g, a] { return RunDetach(g, *a); }; });
  }
  {
    auto a = std::make_shared<AttachArgs>();
    CLI::App* list = app.add_subcommand(
        "attachments", "List a record's attachments, or write one's bytes (NAME [--output F])");
    list->add_option("collection", a->collection, "Collection")->required();
    list->add_option("id", a->id, "Record id")->required();
    list->add_option("name", a->name, "Write this attachment's bytes instead of listing");
    list->add_option("--output,-o", a->file, "Write the bytes to this file (default: stdout)");
    list->callback([&g, &action, a] { action = [&g, a] { return RunAttachments(g, *a); }; });
  }
}

}  // namespace braid::cli
