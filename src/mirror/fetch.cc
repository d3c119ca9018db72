#include "mirror/fetch.h"

#include <strings.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "base/json.h"

namespace braid::mirror {
namespace {

// Feeds a download into the blob's partial file, after checking that the
// answer is the range it asked for.
class PartialSink final : public http::BodySink {
 public:
  PartialSink(blob::Writer& writer, uint64_t offset, const std::function<void(uint64_t)>& progress)
      : writer_(writer), offset_(offset), progress_(progress) {}

  Status Begin(int status, const http::Headers& headers) override {
    if (offset_ == 0) return Status::OK();
    std::string_view range;
    for (const auto& [name, value] : headers) {
      if (strcasecmp(name.c_str(), "Content-Range") == 0) range = value;
    }
    const std::string want = "bytes " + std::to_string(offset_) + "-";
    if (status != 206 || !range.starts_with(want)) {
      // The whole body, or another range: the partial bytes cannot be used.
      restart_ = true;
      return Status::Unavailable("the remote did not resume the download at byte " +
                                 std::to_string(offset_));
    }
    return Status::OK();
  }

  // Pieces are gathered into kWriteBytes before they are written: a
  // socket gives ~16 KiB at a time, and a write per piece cost a tenth of
  // an attachments step's time (bench/attachments_bench).
  Status Write(std::string_view piece) override {
    received_ += piece.size();
    if (progress_) progress_(piece.size());
    if (buffer_.empty() && piece.size() >= kWriteBytes) return writer_.Append(piece);
    buffer_.append(piece);
    return buffer_.size() >= kWriteBytes ? Flush() : Status::OK();
  }
  // Writes what is gathered: at the end, and before a failure is returned
  // (what arrived stays for the next try).
  Status Flush() {
    if (buffer_.empty()) return Status::OK();
    Status s = writer_.Append(buffer_);
    buffer_.clear();
    return s;
  }

  uint64_t received() const { return received_; }
  bool restart() const { return restart_; }

 private:
  blob::Writer& writer_;
  const uint64_t offset_;
  const std::function<void(uint64_t)>& progress_;
  static constexpr size_t kWriteBytes = 256 * 1024;
  uint64_t received_ = 0;
  bool restart_ = false;
  std::string buffer_;
};

Status AnswerError(const std::string& url, const http::ClientResponse& r) {
  std::string message;
  if (json::Validate(r.body, nullptr).ok()) {
    if (auto m = json::Value(r.body).Find("message")) message = m->AsString().value_or("");
  }
  if (message.empty()) message = r.body.substr(0, 200);
  std::string text = "GET " + url + " answered HTTP " + std::to_string(r.status) + ": " + message;
  if (r.status == 404) return Status::NotFound(std::move(text));
  if (r.status == 405) return Status::MethodNotAllowed(std::move(text));
  if (r.status == 401) return Status::Unauthorized(std::move(text));
  if (r.status == 403) return Status::Forbidden(std::move(text));
  if (r.status == 429 || r.status >= 500) return Status::Unavailable(std::move(text));
  return Status::InvalidArgument(std::move(text));
}

// A request body from memory.
class StringSource final : public http::BodySource {
 public:
  explicit StringSource(std::string_view text) : text_(text) {}
  uint64_t size() const override { return text_.size(); }
  Result<size_t> Read(char* buf, size_t n) override {
    const size_t k = std::min(n, text_.size());
    std::memcpy(buf, text_.data(), k);
    text_.remove_prefix(k);
    return k;
  }

 private:
  std::string_view text_;
};

// Splits the answer of POST /api/v1/blobs into its blobs: a header line
// "SHA256 SIZE" or "SHA256 -", then SIZE bytes, for each blob asked for.
class BatchSink final : public http::BodySink {
 public:
  BatchSink(blob::BlobStore& blobs, const std::vector<blob::Attachment>& want, blob::Sync sync,
            const std::function<void(size_t, const Status&)>& done,
            const std::function<void(uint64_t)>& progress)
      : blobs_(blobs), want_(want), sync_(sync), done_(done), progress_(progress) {}

  Status Write(std::string_view piece) override {
    while (!piece.empty()) {
      if (writer_ == nullptr && !discard_) {
        if (next_ >= want_.size()) {
          return Status::InvalidArgument("the remote sent more blobs than asked");
        }
        const size_t nl = piece.find('\n');
        line_.append(piece.substr(0, nl));
        if (line_.size() > 100)
          return Status::InvalidArgument("the remote sent a malformed blob header");
        if (nl == std::string_view::npos) return Status::OK();
        piece.remove_prefix(nl + 1);
        BRAID_RETURN_IF_ERROR(StartBlob());
        continue;
      }
      const size_t k = static_cast<size_t>(std::min<uint64_t>(left_, piece.size()));
      if (writer_ != nullptr) {
        if (Status s = writer_->Append(piece.substr(0, k)); !s.ok()) {
          BRAID_RETURN_IF_ERROR(EndBlob(s));  // the rest of its bytes are skipped
          discard_ = true;
        }
      }
      left_ -= k;
      piece.remove_prefix(k);
      if (progress_) progress_(k);  // blob bytes, not headers
      if (left_ == 0) BRAID_RETURN_IF_ERROR(FinishBlob());
    }
    return Status::OK();
  }

  // The blobs the answer did not bring get `why`.
  void Fail(const Status& why) {
    writer_.reset();
    for (; next_ < want_.size(); ++next_) done_(next_, why);
  }

 private:
  Status StartBlob() {
    const blob::Attachment& w = want_[next_];
    const std::string line = std::move(line_);
    line_.clear();
    const size_t sp = line.find(' ');
    if (sp == std::string::npos || line.substr(0, sp) != w.sha256) {
      return Status::InvalidArgument("the remote's answer does not follow the blobs asked for");
    }
    const std::string_view size_text = std::string_view(line).substr(sp + 1);
    if (size_text == "-") {
      done_(next_++, Status::NotFound("the remote has no blob " + w.sha256 +
                                      " for us (not here yet, or no record we may read names it)"));
      return Status::OK();
    }
    uint64_t size = 0;
    const auto [end, ec] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), size);
    if (ec != std::errc() || end != size_text.data() + size_text.size()) {
      return Status::InvalidArgument("the remote sent a malformed blob header");
    }
    left_ = size;
    discard_ = false;
    auto writer = blobs_.Create(std::max(size, w.size), /*with_md5=*/false);
    if (!writer.ok()) return writer.status();  // the disk: the whole answer fails
    writer_ = std::move(*writer);
    if (left_ == 0) return FinishBlob();
    return Status::OK();
  }
  Status FinishBlob() {
    Status s;
    if (writer_ != nullptr) {
      const blob::Attachment& w = want_[next_];
      s = writer_->Commit({w.sha256, "", w.size}, sync_).status();
    }
    return EndBlob(s);
  }
  // Reports blob next_; only errors of the disk end the answer.
  Status EndBlob(const Status& s) {
    writer_.reset();
    const bool disk = s.code() == Code::kIoError;
    if (!discard_) done_(next_++, s);
    if (left_ == 0) discard_ = false;
    return disk ? s : Status::OK();
  }

  blob::BlobStore& blobs_;
  const std::vector<blob::Attachment>& want_;
  const blob::Sync sync_;
  const std::function<void(size_t, const Status&)>& done_;
  const std::function<void(uint64_t)>& progress_;
  size_t next_ = 0;
  std::string line_;
  std::unique_ptr<blob::Writer> writer_;
  uint64_t left_ = 0;
  bool discard_ = false;  // skipping the rest of a blob that failed
};

}  // namespace

Status FetchBatch(http::Client& client, const std::string& url, const http::Headers& headers,
                  blob::BlobStore& blobs, const std::vector<blob::Attachment>& want,
                  blob::Sync sync, const std::function<void(size_t, const Status&)>& done,
                  const std::function<void(uint64_t)>& progress) {
  std::string body;
  json::Writer w(&body);
  w.BeginObject().Key("sha256").BeginArray();
  for (const auto& a : want) w.String(a.sha256);
  w.EndArray().EndObject();
  http::Headers request = headers;
  request.emplace_back("Content-Type", "application/json");
  BatchSink sink(blobs, want, sync, done, progress);
  StringSource source(body);
  auto answer = client.Stream("POST", url, request, &source, &sink);
  Status failed = !answer.ok()            ? answer.status()
                  : answer->status != 200 ? AnswerError(url, *answer)
                                          : Status::OK();
  if (failed.ok()) {
    sink.Fail(Status::Unavailable("the remote's answer ended before this blob"));
    return Status::OK();
  }
  return failed;
}

Result<FetchResult> FetchBlob(http::Client& client, const std::string& url,
                              const http::Headers& headers, blob::BlobStore& blobs,
                              const blob::Attachment& want, blob::Sync sync,
                              const std::function<void(uint64_t)>& progress) {
  FetchResult result;
  BRAID_ASSIGN_OR_RETURN(const auto here, blobs.SizeOf(want.sha256));
  if (here && *here == want.size) {
    result.present = true;
    return result;
  }
  // Checked by name and size: a download computes no MD5 (BlobStore::Resume).
  const blob::Expected expected{want.sha256, "", want.size};
  // At most two rounds: the resumed one, and from byte 0 if the remote
  // would not resume.
  for (int round = 0; round < 2; ++round) {
    BRAID_ASSIGN_OR_RETURN(auto writer, blobs.Resume(want.sha256, want.size));
    const uint64_t offset = writer->size();
    result.resumed_at = offset;
    if (offset < want.size) {
      http::Headers request = headers;
      if (offset > 0) {
        request.emplace_back("Range", "bytes=" + std::to_string(offset) + "-");
        request.emplace_back("If-Range", "\"" + want.sha256 + "\"");
      }
      PartialSink sink(*writer, offset, progress);
      auto answer = client.Stream("GET", url, request, nullptr, &sink);
      const Status flushed = sink.Flush();
      if (answer.ok() && !flushed.ok()) answer = flushed;
      result.received += sink.received();
      if (sink.restart()) {
        writer.reset();
        BRAID_RETURN_IF_ERROR(blobs.DropPartial(want.sha256));
        continue;
      }
      Status failed = !answer.ok()                                   ? answer.status()
                      : answer->status < 200 || answer->status > 299 ? AnswerError(url, *answer)
                                                                     : Status::OK();
      if (!failed.ok()) {
        // What arrived stays for the next try; an empty partial is litter.
        if (offset == 0 && sink.received() == 0) {
          writer.reset();
          (void)blobs.DropPartial(want.sha256);
        }
        return failed;
      }
    }
    BRAID_RETURN_IF_ERROR(writer->Commit(expected, sync).status());
    return result;
  }
  return Status::Unavailable("GET " + url + ": the remote would not resume the download");
}

}  // namespace braid::mirror
