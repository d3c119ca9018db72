#include "tests/powercut/trace.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

namespace braid::powercut {

const char* OpName(Op op) {
  switch (op) {
    case Op::kOpen:
      return "open";
    case Op::kWrite:
      return "write";
    case Op::kTruncate:
      return "truncate";
    case Op::kSync:
      return "sync";
    case Op::kDirSync:
      return "dirsync";
    case Op::kUnlink:
      return "unlink";
    case Op::kRename:
      return "rename";
    case Op::kMkdir:
      return "mkdir";
    case Op::kSyncAll:
      return "syncall";
    case Op::kMarker:
      return "marker";
  }
  return "?";
}

void EncodeRecord(std::string* out, Op op, uint64_t ino, int64_t offset, std::string_view path,
                  std::string_view path2, std::string_view data) {
  RecordHeader h{};
  h.magic = kMagic;
  h.op = op;
  h.pid = static_cast<uint32_t>(::getpid());
  h.path_len = static_cast<uint32_t>(path.size());
  h.path2_len = static_cast<uint32_t>(path2.size());
  h.ino = ino;
  h.offset = offset;
  h.data_len = data.size();
  out->resize(sizeof h + path.size() + path2.size() + data.size());
  char* p = out->data();
  std::memcpy(p, &h, sizeof h);
  p += sizeof h;
  std::memcpy(p, path.data(), path.size());
  p += path.size();
  std::memcpy(p, path2.data(), path2.size());
  p += path2.size();
  if (!data.empty()) std::memcpy(p, data.data(), data.size());
}

bool AppendMarker(const std::string& trace_path, std::string_view text) {
  const int fd = ::open(trace_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  std::string rec;
  EncodeRecord(&rec, Op::kMarker, 0, 0, text, "", "");
  const bool ok = ::write(fd, rec.data(), rec.size()) == static_cast<ssize_t>(rec.size());
  ::close(fd);
  return ok;
}

}  // namespace braid::powercut
