// The HTTP client on libcurl's easy API, plus the small helpers shared by
// client and server code: URL encoding and case-insensitive header lookup.

#include "http/client.h"

#include <curl/curl.h>

#include <algorithm>
#include <exception>
#include <mutex>

#include "http/errors.h"

namespace braid::http {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return (x >= 'A' && x <= 'Z' ? x + ('a' - 'A') : x) ==
           (y >= 'A' && y <= 'Z' ? y + ('a' - 'A') : y);
  });
}

std::string_view FindHeader(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

std::string_view Trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// curl_global_init is not thread-safe and must run once per process.
CURLcode GlobalInit() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Stream() keeps at most this much of a body it collects (an error's JSON).
constexpr size_t kMaxCollectedBody = size_t{1} << 20;

// What Stream()'s libcurl callbacks work on.
struct Transfer {
  CURL* curl = nullptr;
  BodySource* upload = nullptr;
  uint64_t upload_size = 0;
  uint64_t upload_left = 0;
  BodySink* download = nullptr;
  const Headers* headers = nullptr;  // the response's, complete before its body
  bool begun = false;                // download->Begin() was called
  std::string* body = nullptr;       // other bodies go here, cut at kMaxCollectedBody
  Status error;                      // the sink's or source's, which aborted the transfer
};

size_t OnUploadRead(char* buffer, size_t size, size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t want = static_cast<size_t>(std::min<uint64_t>(size * count, t.upload_left));
  if (want == 0) return 0;
  Result<size_t> got = CallCatching("upload source", [&] { return t.upload->Read(buffer, want); });
  if (got.ok() && (*got == 0 || *got > want)) {
    got = Status::Internal("upload source gave " + std::to_string(*got) + " bytes when " +
                           std::to_string(want) + " were asked for, " +
                           std::to_string(t.upload_size - t.upload_left) + " of " +
                           std::to_string(t.upload_size) + " into the body");
  }
  if (!got.ok()) {
    t.error = got.status();
    return CURL_READFUNC_ABORT;
  }
  t.upload_left -= *got;
  return *got;
}

size_t OnDownloadWrite(char* data, size_t size, size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (n == 0) return 0;
  long status = 0;
  curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &status);
  if (t.download != nullptr && status >= 200 && status <= 299) {
    Status s;
    if (!t.begun) {
      t.begun = true;
      s = CallCatching("download sink",
                       [&] { return t.download->Begin(static_cast<int>(status), *t.headers); });
    }
    if (s.ok()) {
      s = CallCatching("download sink", [&] { return t.download->Write({data, n}); });
    }
    if (!s.ok()) {
      t.error = std::move(s);
      return 0;  // anything but n: CURLE_WRITE_ERROR
    }
    return n;
  }
  // The rest is read and dropped, so the connection stays usable.
  t.body->append(data,
                 std::min(n, kMaxCollectedBody - std::min(kMaxCollectedBody, t.body->size())));
  return n;
}

// Called once per header line, status lines and the blank line included.
size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto& headers = *static_cast<Headers*>(user);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new response starts (after a 100 Continue, say): forget the last one.
    headers.clear();
  } else if ((line.starts_with(" ") || line.starts_with("\t")) && !headers.empty()) {
    // Obsolete line folding continues the previous value.
    headers.back().second += ' ';
    headers.back().second += Trim(line);
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    headers.emplace_back(std::string(Trim(line.substr(0, colon))),
                         std::string(Trim(line.substr(colon + 1))));
  }
  return size * count;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// Appends `line` to `list`; false when libcurl is out of memory.
bool Append(Slist& list, const std::string& line) {
  curl_slist* head = curl_slist_append(list.get(), line.c_str());
  if (head == nullptr) return false;
  // libcurl appends in place; the head is new only when the list was empty.
  if (list == nullptr) list.reset(head);
  return true;
}

class CurlClient final : public Client {
 public:
  CurlClient(const ClientOptions& options, CURL* curl) : options_(options), curl_(curl) {}
  ~CurlClient() override { curl_easy_cleanup(curl_); }

  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;

  Result<ClientResponse> Send(std::string_view method, const std::string& url,
                              std::string_view body, const Headers& headers) override;
  Result<ClientResponse> Stream(std::string_view method, const std::string& url,
                                const Headers& headers, BodySource* upload,
                                BodySink* download) override;

 private:
  // The header list of a request: `headers`, after the client's
  // Authorization unless they have their own. Errors: InvalidArgument.
  Result<Slist> HeaderList(const Headers& headers, bool* has_content_type);
  // Resets the handle, then sets the options every request has: `url`, the
  // timeouts but the whole-request one, TLS, and where headers go.
  void SetUp(const std::string& url, ClientResponse* response);
  // For a method without a body of its own: GET, HEAD, or an empty body.
  Status SetBodilessMethod(std::string_view method, const std::string& method_string,
                           bool has_content_type, Slist& header_list);
  Status MapError(CURLcode code, const std::string& url);

  const ClientOptions options_;
  CURL* const curl_;
  char error_[CURL_ERROR_SIZE] = {};
};

Status ValidateMethod(std::string_view method, bool has_body) {
  if (method.empty() || method.find_first_of(" \t\r\n") != std::string_view::npos) {
    return Status::InvalidArgument("invalid HTTP method \"" + std::string(method) + "\"");
  }
  if (method == "GET" && has_body) {
    return Status::InvalidArgument("a GET request cannot carry a body");
  }
  return Status::OK();
}

Result<Slist> CurlClient::HeaderList(const Headers& headers, bool* has_content_type) {
  Slist header_list;
  *has_content_type = false;
  if (!options_.authorization.empty() && FindHeader(headers, "authorization").empty()) {
    if (options_.authorization.find_first_of("\r\n") != std::string::npos ||
        !Append(header_list, "Authorization: " + options_.authorization)) {
      return Status::InvalidArgument("invalid Authorization value");
    }
  }
  for (const auto& [name, value] : headers) {
    if (name.empty() || name.find_first_of(":\r\n") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return Status::InvalidArgument("invalid HTTP header \"" + name + "\"");
    }
    *has_content_type = *has_content_type || EqualsIgnoreCase(name, "content-type");
    // "Name;" is libcurl's spelling of a header with an empty value.
    std::string line = name;
    line += value.empty() ? ";" : ": ";
    line += value;
    if (!Append(header_list, line)) {
      return Status::Internal("libcurl is out of memory");
    }
  }
  return header_list;
}

void CurlClient::SetUp(const std::string& url, ClientResponse* response) {
  // Clears the previous request's options (a Stream's upload mode, callbacks
  // and low-speed limit too); the connection cache survives.
  curl_easy_reset(curl_);
  error_[0] = '\0';
  CURL* c = curl_;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  if (!options_.ca_cert.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_cert.c_str());
  curl_easy_setopt(c, CURLOPT_VERBOSE, options_.verbose ? 1L : 0L);
  // Replication chunks are hundreds of KiB: read them in few calls (the
  // default buffer is 16 KiB).
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &response->headers);
}

Status CurlClient::SetBodilessMethod(std::string_view method, const std::string& method_string,
                                     bool has_content_type, Slist& header_list) {
  CURL* c = curl_;
  if (method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (method == "HEAD") {
    // With CUSTOMREQUEST "HEAD" libcurl would wait for a body.
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    if (method == "PUT" || method == "POST" || method == "DELETE" || method == "PATCH") {
      // An empty body, sent as "Content-Length: 0". (A null pointer would
      // make libcurl read the body from a callback.)
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t{0});
      // Otherwise libcurl labels the body as a form.
      if (!has_content_type && !Append(header_list, "Content-Type:")) {
        return Status::Internal("libcurl is out of memory");
      }
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_string.c_str());
  }
  return Status::OK();
}

Result<ClientResponse> CurlClient::Send(std::string_view method, const std::string& url,
                                        std::string_view body, const Headers& headers) {
  BRAID_RETURN_IF_ERROR(ValidateMethod(method, !body.empty()));
  bool has_content_type = false;
  BRAID_ASSIGN_OR_RETURN(Slist header_list, HeaderList(headers, &has_content_type));
  // libcurl would wait for a "100 Continue" before sending a large body.
  if (!Append(header_list, "Expect:")) return Status::Internal("libcurl is out of memory");

  ClientResponse response;
  SetUp(url, &response);
  const std::string method_string(method);
  CURL* c = curl_;
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  if (body.empty() || method == "HEAD") {
    BRAID_RETURN_IF_ERROR(SetBodilessMethod(method, method_string, has_content_type, header_list));
  } else {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    // Otherwise libcurl labels the body as a form.
    if (!has_content_type && !Append(header_list, "Content-Type:")) {
      return Status::Internal("libcurl is out of memory");
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_string.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, header_list.get());

  const CURLcode code = curl_easy_perform(c);
  // The options point at locals of this call; drop them before returning.
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  if (code != CURLE_OK) return MapError(code, url);

  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

Result<ClientResponse> CurlClient::Stream(std::string_view method, const std::string& url,
                                          const Headers& headers, BodySource* upload,
                                          BodySink* download) {
  BRAID_RETURN_IF_ERROR(ValidateMethod(method, upload != nullptr));
  if (method == "HEAD" && upload != nullptr) {
    return Status::InvalidArgument("a HEAD request cannot carry a body");
  }
  bool has_content_type = false;
  BRAID_ASSIGN_OR_RETURN(Slist header_list, HeaderList(headers, &has_content_type));
  // An upload waits for the server's "100 Continue", so that a refusal (no
  // credentials, too large) costs no transfer; libcurl waits 1 s at most.
  if (upload != nullptr && FindHeader(headers, "expect").empty() &&
      !Append(header_list, "Expect: 100-continue")) {
    return Status::Internal("libcurl is out of memory");
  }

  ClientResponse response;
  SetUp(url, &response);
  const std::string method_string(method);
  CURL* c = curl_;
  Transfer transfer;
  transfer.curl = c;
  transfer.download = download;
  transfer.headers = &response.headers;
  transfer.body = &response.body;
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnDownloadWrite);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  // A body of GiBs may take hours: give up only when nothing moves. The
  // low-speed check counts whole seconds.
  if (options_.timeout.count() > 0) {
    const long seconds = static_cast<long>((options_.timeout.count() + 999) / 1000);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, seconds);
  }
  if (upload != nullptr) {
    const uint64_t size = upload->size();
    transfer.upload = upload;
    transfer.upload_size = size;
    transfer.upload_left = size;
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);  // a PUT, unless CUSTOMREQUEST says otherwise
    curl_easy_setopt(c, CURLOPT_READFUNCTION, &OnUploadRead);
    curl_easy_setopt(c, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
    if (method != "PUT") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_string.c_str());
  } else {
    BRAID_RETURN_IF_ERROR(SetBodilessMethod(method, method_string, has_content_type, header_list));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, header_list.get());

  const CURLcode code = curl_easy_perform(c);
  Status error = std::move(transfer.error);
  if (error.ok() && code != CURLE_OK) {
    curl_off_t pretransfer_us = 0;
    curl_easy_getinfo(c, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
    // Connected (TLS included), then timed out: the low-speed limit, not the
    // connect timeout.
    if (code == CURLE_OPERATION_TIMEDOUT && pretransfer_us > 0) {
      error = Status::Unavailable("transfer with " + url + " stalled: no byte moved for " +
                                  std::to_string(options_.timeout.count()) + " ms");
    } else {
      error = MapError(code, url);
    }
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  // The options point at this call's locals, and a later Send must not
  // inherit the upload mode or the low-speed limit.
  curl_easy_reset(c);
  if (!error.ok()) return error;
  response.status = static_cast<int>(status);
  return response;
}

Status CurlClient::MapError(CURLcode code, const std::string& url) {
  const std::string detail = error_[0] != '\0' ? error_ : curl_easy_strerror(code);
  switch (code) {
    case CURLE_COULDNT_CONNECT:
      return Status::Unavailable("cannot connect to " + url + ": " + detail);
    case CURLE_OPERATION_TIMEDOUT: {
      // Which limit was hit: the connect timeout until a connection exists.
      curl_off_t connect_us = 0;
      curl_easy_getinfo(curl_, CURLINFO_CONNECT_TIME_T, &connect_us);
      const auto limit = connect_us == 0 ? options_.connect_timeout : options_.timeout;
      return Status::Unavailable("request to " + url + " timed out after " +
                                 std::to_string(limit.count()) + " ms");
    }
    case CURLE_PEER_FAILED_VERIFICATION:
      return Status::IoError("the TLS certificate of " + url + " is not trusted (" + detail +
                             "): give the certificate of the CA that signed it as a CA file "
                             "(braid remote add --ca-cert FILE)");
    case CURLE_SSL_CACERT_BADFILE:
      return Status::IoError("cannot use the CA file " + options_.ca_cert + " for " + url + ": " +
                             detail);
    default:
      return Status::IoError("request to " + url + " failed: " + detail);
  }
}

}  // namespace

std::string_view Request::Header(std::string_view name) const { return FindHeader(headers, name); }

std::string_view ClientResponse::Header(std::string_view name) const {
  return FindHeader(headers, name);
}

Result<std::unique_ptr<Client>> Client::Create(const ClientOptions& options) {
  if (const CURLcode code = GlobalInit(); code != CURLE_OK) {
    return Status::Internal(std::string("cannot initialise libcurl: ") + curl_easy_strerror(code));
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status::Internal("cannot initialise libcurl: curl_easy_init failed");
  return std::unique_ptr<Client>(std::make_unique<CurlClient>(options, curl));
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

Result<std::string> UrlDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      const int high = i + 1 < s.size() ? HexValue(s[i + 1]) : -1;
      const int low = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (high < 0 || low < 0) {
        return Status::InvalidArgument("invalid percent-encoding at offset " + std::to_string(i) +
                                       " of \"" + std::string(s) +
                                       "\": use %XX with two hex digits");
      }
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace braid::http
