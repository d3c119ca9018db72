#include "tests/powercut/crash_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

namespace braid::powercut {
namespace fs = std::filesystem;
namespace {

constexpr uint64_t kSector = 512;

std::string TopOf(const std::string& path) { return path.substr(0, path.find('/')); }

bool IsShm(const std::string& path) {
  return path.size() >= 4 && path.compare(path.size() - 4, 4, "-shm") == 0;
}

// A generator for one decision stream: the same seed and name always give
// the same choices, so a cut can be rebuilt from its description.
std::mt19937_64 Rng(uint64_t seed, const std::string& name) {
  return std::mt19937_64(seed ^ (std::hash<std::string>()(name) * 0x9e3779b97f4a7c15ULL));
}

Result<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

const char* FateName(Fate fate) {
  switch (fate) {
    case Fate::kAll:
      return "all";
    case Fate::kNone:
      return "none";
    case Fate::kPrefix:
      return "prefix";
    case Fate::kSubset:
      return "subset";
  }
  return "?";
}

Result<Fate> ParseFate(std::string_view name) {
  for (Fate f : {Fate::kAll, Fate::kNone, Fate::kPrefix, Fate::kSubset}) {
    if (name == FateName(f)) return f;
  }
  return Status::InvalidArgument("unknown fate \"" + std::string(name) +
                                 "\" (all, none, prefix, subset)");
}

Fate CutSpec::FateOf(const std::string& top) const {
  auto it = fates.find(top);
  return it == fates.end() ? fallback : it->second;
}

Result<CutSpec> CutSpec::Parse(std::string_view text, uint64_t seed) {
  CutSpec spec;
  spec.seed = seed;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      BRAID_ASSIGN_OR_RETURN(spec.fallback, ParseFate(item));
      continue;
    }
    BRAID_ASSIGN_OR_RETURN(const Fate f, ParseFate(item.substr(eq + 1)));
    spec.fates[std::string(item.substr(0, eq))] = f;
  }
  return spec;
}

std::string CutSpec::ToString() const {
  std::string out;
  for (const auto& [dir, fate] : fates) out += dir + "=" + FateName(fate) + ",";
  return out + FateName(fallback);
}

Trace::~Trace() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<Trace>> Trace::Open(const std::string& path) {
  std::unique_ptr<Trace> t(new Trace());
  t->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (t->fd_ < 0) return Status::IoError("cannot open trace " + path);
  struct stat st;
  if (::fstat(t->fd_, &st) != 0) return Status::IoError("cannot stat trace " + path);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t at = 0;
  std::string names;
  while (at < size) {
    Entry e;
    if (size - at < sizeof e.header ||
        ::pread(t->fd_, &e.header, sizeof e.header, static_cast<off_t>(at)) !=
            static_cast<ssize_t>(sizeof e.header) ||
        e.header.magic != kMagic) {
      return Status::Corruption("trace " + path + ": bad record at byte " + std::to_string(at));
    }
    at += sizeof e.header;
    const uint64_t name_bytes = uint64_t{e.header.path_len} + e.header.path2_len;
    if (size - at < name_bytes + e.header.data_len) {
      return Status::Corruption("trace " + path + ": truncated record at byte " +
                                std::to_string(at));
    }
    names.resize(name_bytes);
    if (name_bytes > 0 && ::pread(t->fd_, names.data(), name_bytes, static_cast<off_t>(at)) !=
                              static_cast<ssize_t>(name_bytes)) {
      return Status::IoError("cannot read trace " + path);
    }
    e.path = names.substr(0, e.header.path_len);
    e.path2 = names.substr(e.header.path_len);
    at += name_bytes;
    e.data_at = at;
    at += e.header.data_len;
    if (e.header.op == Op::kMarker) t->markers_.emplace_back(t->entries_.size(), e.path);
    t->entries_.push_back(std::move(e));
  }
  return t;
}

Status Trace::ReadData(size_t i, uint64_t from, uint64_t n, char* out) const {
  const Entry& e = entries_.at(i);
  if (from + n > e.header.data_len) return Status::Internal("read past a record's data");
  uint64_t done = 0;
  while (done < n) {
    const ssize_t r =
        ::pread(fd_, out + done, n - done, static_cast<off_t>(e.data_at + from + done));
    if (r <= 0) return Status::IoError("cannot read the trace");
    done += static_cast<uint64_t>(r);
  }
  return Status::OK();
}

Result<std::unique_ptr<Model>> Model::Load(const std::string& snapshot, const Trace* trace) {
  std::unique_ptr<Model> m(new Model());
  m->trace_ = trace;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(snapshot, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string rel = fs::relative(it->path(), snapshot).string();
    if (IsShm(rel)) continue;
    File f;
    BRAID_ASSIGN_OR_RETURN(f.durable, ReadWhole(it->path().string()));
    m->files_.push_back(std::move(f));
    m->durable_names_[rel] = static_cast<int>(m->files_.size() - 1);
  }
  if (ec) return Status::IoError("cannot list " + snapshot + ": " + ec.message());
  m->live_names_ = m->durable_names_;
  return m;
}

void Model::ApplyName(const NameChange& c, Names* names) {
  switch (c.op) {
    case Op::kOpen:
      (*names)[c.path] = c.file;
      break;
    case Op::kUnlink:
      names->erase(c.path);
      break;
    case Op::kRename: {
      auto it = names->find(c.path);
      if (it == names->end()) break;  // its creation did not survive
      const int file = it->second;
      names->erase(it);
      (*names)[c.path2] = file;
      break;
    }
    default:
      break;
  }
}

Status Model::Advance(size_t until) {
  if (until > trace_->size()) return Status::InvalidArgument("cut past the end of the trace");
  for (; applied_ < until; ++applied_) {
    const Trace::Entry& e = trace_->at(applied_);
    const RecordHeader& h = e.header;
    auto file_of = [&](uint64_t ino) -> Result<int> {
      auto it = by_ino_.find(ino);
      if (it == by_ino_.end()) {
        return Status::Corruption("record " + std::to_string(applied_) + " (" + OpName(h.op) + " " +
                                  e.path + ") changes a file the trace never opened");
      }
      return it->second;
    };
    switch (h.op) {
      case Op::kOpen: {
        auto it = live_names_.find(e.path);
        int file;
        if (it != live_names_.end()) {
          file = it->second;
        } else {
          files_.emplace_back();
          file = static_cast<int>(files_.size() - 1);
          NameChange c{Op::kOpen, e.path, "", file};
          ApplyName(c, &live_names_);
          pending_names_.push_back(std::move(c));
        }
        by_ino_[h.ino] = file;
        break;
      }
      case Op::kWrite:
      case Op::kTruncate: {
        BRAID_ASSIGN_OR_RETURN(const int file, file_of(h.ino));
        Change c;
        c.op = h.op;
        c.offset = h.offset;
        c.len = h.data_len;
        c.record = applied_;
        files_[file].pending.push_back(c);
        break;
      }
      case Op::kSync: {
        BRAID_ASSIGN_OR_RETURN(const int file, file_of(h.ino));
        File& f = files_[file];
        for (const Change& c : f.pending)
          BRAID_RETURN_IF_ERROR(ApplyChange(c, &f.durable, nullptr));
        f.pending.clear();
        break;
      }
      case Op::kDirSync:
        for (const NameChange& c : pending_names_) ApplyName(c, &durable_names_);
        pending_names_.clear();
        break;
      case Op::kSyncAll:
        for (File& f : files_) {
          for (const Change& c : f.pending) {
            BRAID_RETURN_IF_ERROR(ApplyChange(c, &f.durable, nullptr));
          }
          f.pending.clear();
        }
        durable_names_ = live_names_;
        pending_names_.clear();
        break;
      case Op::kUnlink:
      case Op::kRename: {
        NameChange c{h.op, e.path, e.path2, -1};
        ApplyName(c, &live_names_);
        pending_names_.push_back(std::move(c));
        break;
      }
      case Op::kMkdir:
      case Op::kMarker:
        break;
    }
  }
  return Status::OK();
}

// Applies `c` to `content`; with `sectors`, only the 512-byte sectors of a
// write marked true (a torn write).
Status Model::ApplyChange(const Change& c, std::string* content,
                          const std::vector<bool>* sectors) const {
  if (c.op == Op::kTruncate) {
    content->resize(static_cast<size_t>(c.offset), '\0');
    return Status::OK();
  }
  const uint64_t begin = static_cast<uint64_t>(c.offset);
  const uint64_t end = begin + c.len;
  if (sectors == nullptr) {
    if (content->size() < end) content->resize(end, '\0');
    return trace_->ReadData(c.record, 0, c.len, content->data() + begin);
  }
  // Sector k covers [max(begin, s_k), min(end, s_k + 512)), s_k the k-th
  // 512-byte boundary at or after begin's sector.
  uint64_t at = begin;
  for (size_t k = 0; at < end; ++k) {
    const uint64_t next = std::min(end, (at / kSector + 1) * kSector);
    if (k < sectors->size() && (*sectors)[k]) {
      if (content->size() < next) content->resize(next, '\0');
      BRAID_RETURN_IF_ERROR(
          trace_->ReadData(c.record, at - begin, next - at, content->data() + at));
    }
    at = next;
  }
  return Status::OK();
}

Status Model::Content(int file, Fate fate, uint64_t seed, std::string* out) const {
  const File& f = files_[file];
  *out = f.durable;
  if (fate == Fate::kNone || f.pending.empty()) return Status::OK();
  if (fate == Fate::kAll) {
    for (const Change& c : f.pending) BRAID_RETURN_IF_ERROR(ApplyChange(c, out, nullptr));
    return Status::OK();
  }
  std::mt19937_64 rng = Rng(seed, "file " + std::to_string(file));
  auto sectors_of = [](const Change& c) {
    const uint64_t begin = static_cast<uint64_t>(c.offset);
    return static_cast<size_t>((begin + c.len + kSector - 1) / kSector - begin / kSector);
  };
  if (fate == Fate::kPrefix) {
    const size_t keep = rng() % (f.pending.size() + 1);
    for (size_t i = 0; i < keep; ++i)
      BRAID_RETURN_IF_ERROR(ApplyChange(f.pending[i], out, nullptr));
    if (keep < f.pending.size() && f.pending[keep].op == Op::kWrite) {
      const size_t n = sectors_of(f.pending[keep]);
      std::vector<bool> torn(n, false);
      const size_t kept = rng() % n;  // fewer than all: the write did not finish
      for (size_t k = 0; k < kept; ++k) torn[k] = true;
      BRAID_RETURN_IF_ERROR(ApplyChange(f.pending[keep], out, &torn));
    }
    return Status::OK();
  }
  for (const Change& c : f.pending) {
    if (rng() % 2 == 0) continue;
    if (c.op == Op::kWrite) {
      std::vector<bool> torn(sectors_of(c));
      for (size_t k = 0; k < torn.size(); ++k) torn[k] = rng() % 4 != 0;
      BRAID_RETURN_IF_ERROR(ApplyChange(c, out, &torn));
    } else {
      BRAID_RETURN_IF_ERROR(ApplyChange(c, out, nullptr));
    }
  }
  return Status::OK();
}

Status Model::Materialize(const CutSpec& spec, const std::string& out, bool onto) const {
  // Names: per top-level directory, the changes its fate keeps, in order.
  std::map<std::string, std::vector<const NameChange*>> by_top;
  for (const NameChange& c : pending_names_) by_top[TopOf(c.path)].push_back(&c);
  Names names = durable_names_;
  for (const auto& [top, changes] : by_top) {
    const Fate fate = spec.FateOf(top);
    size_t keep = 0;
    if (fate == Fate::kAll) {
      keep = changes.size();
    } else if (fate != Fate::kNone) {
      std::mt19937_64 rng = Rng(spec.seed, "names " + top);
      keep = rng() % (changes.size() + 1);
    }
    for (size_t i = 0; i < keep; ++i) ApplyName(*changes[i], &names);
  }
  std::error_code ec;
  if (!onto && fs::exists(out, ec)) return Status::AlreadyExists(out + " exists");
  if (onto) {
    std::vector<fs::path> doomed;
    for (auto it = fs::recursive_directory_iterator(out, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (it->is_regular_file() && !names.count(fs::relative(it->path(), out).string())) {
        doomed.push_back(it->path());
      }
    }
    for (const auto& p : doomed) fs::remove(p, ec);
  }
  fs::create_directories(out, ec);
  if (ec) return Status::IoError("cannot create " + out + ": " + ec.message());
  std::string content;
  for (const auto& [path, file] : names) {
    BRAID_RETURN_IF_ERROR(Content(file, spec.FateOf(TopOf(path)), spec.seed, &content));
    const fs::path target = fs::path(out) / path;
    fs::create_directories(target.parent_path(), ec);
    // Rewritten in place, not replaced: the file keeps its inode.
    const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    bool ok = fd >= 0;
    for (size_t done = 0; ok && done < content.size();) {
      const ssize_t n =
          ::pwrite(fd, content.data() + done, content.size() - done, static_cast<off_t>(done));
      ok = n > 0;
      done += ok ? static_cast<size_t>(n) : 0;
    }
    ok = ok && ::ftruncate(fd, static_cast<off_t>(content.size())) == 0;
    if (fd >= 0) ::close(fd);
    if (!ok) return Status::IoError("cannot write " + target.string());
  }
  return Status::OK();
}

Status Model::CheckAgainst(const std::string& dir, bool (*ignore)(const std::string&)) const {
  std::map<std::string, bool> seen;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string rel = fs::relative(it->path(), dir).string();
    if (IsShm(rel) || ignore(rel)) continue;
    seen[rel] = true;
    auto f = live_names_.find(rel);
    if (f == live_names_.end()) {
      return Status::Corruption(rel + " exists but the trace never created it");
    }
    std::string want;
    BRAID_RETURN_IF_ERROR(Content(f->second, Fate::kAll, 0, &want));
    BRAID_ASSIGN_OR_RETURN(const std::string got, ReadWhole(it->path().string()));
    if (got != want) {
      size_t at = 0;
      while (at < got.size() && at < want.size() && got[at] == want[at]) ++at;
      return Status::Corruption(rel + " differs from the trace from byte " + std::to_string(at) +
                                " (file " + std::to_string(got.size()) + " bytes, trace " +
                                std::to_string(want.size()) + ")");
    }
  }
  for (const auto& [path, file] : live_names_) {
    if (!seen.count(path) && !ignore(path)) {
      return Status::Corruption(path + " is in the trace but not on disk");
    }
  }
  return Status::OK();
}

}  // namespace braid::powercut
