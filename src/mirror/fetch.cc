#include "mirror/fetch.h"

#include <strings.h>

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

  Status Write(std::string_view piece) override {
    BRAID_RETURN_IF_ERROR(writer_.Append(piece));
    received_ += piece.size();
    if (progress_) progress_(piece.size());
    return Status::OK();
  }

  uint64_t received() const { return received_; }
  bool restart() const { return restart_; }

 private:
  blob::Writer& writer_;
  const uint64_t offset_;
  const std::function<void(uint64_t)>& progress_;
  uint64_t received_ = 0;
  bool restart_ = false;
};

Status AnswerError(const std::string& url, const http::ClientResponse& r) {
  std::string message;
  if (json::Validate(r.body, nullptr).ok()) {
    if (auto m = json::Value(r.body).Find("message")) message = m->AsString().value_or("");
  }
  if (message.empty()) message = r.body.substr(0, 200);
  std::string text = "GET " + url + " answered HTTP " + std::to_string(r.status) + ": " + message;
  if (r.status == 404) return Status::NotFound(std::move(text));
  if (r.status == 401) return Status::Unauthorized(std::move(text));
  if (r.status == 403) return Status::Forbidden(std::move(text));
  if (r.status == 429 || r.status >= 500) return Status::Unavailable(std::move(text));
  return Status::InvalidArgument(std::move(text));
}

}  // namespace

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
  const blob::Expected expected{want.sha256, want.md5, want.size};
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
      result.received += sink.received();
      if (sink.restart()) {
        writer.reset();
        BRAID_RETURN_IF_ERROR(blobs.DropPartial(want.sha256));
        continue;
      }
      Status failed = !answer.ok() ? answer.status()
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
