#include "auth/self_signed.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace braid::auth {
namespace {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509_free>>;
using Ext = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using File = std::unique_ptr<FILE, Deleter<std::fclose>>;

Status OpensslError(std::string_view what) {
  char buf[256] = "unknown error";
  if (const unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
  return Status::Internal(std::string(what) + ": " + buf);
}

bool IsIp(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Status CheckHost(const std::string& host) {
  if (IsIp(host)) return Status::OK();
  bool ok = !host.empty() && host.size() <= 253 && host.front() != '.' && host.front() != '-';
  for (const char c : host) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-' || c == '*');
  }
  if (!ok) {
    return Status::InvalidArgument("\"" + host + "\" is neither a host name nor an IP address");
  }
  return Status::OK();
}

Status AddExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  Ext ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) return OpensslError("certificate extension");
  return Status::OK();
}

// Opens a new file for writing, readable by its owner only when `secret`.
Result<File> CreateFile(const std::string& path, bool secret) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, secret ? 0600 : 0644);
  if (fd < 0) {
    const int e = errno;
    if (e == EEXIST) return Status::AlreadyExists(path + " exists; remove it first");
    return Status::IoError("cannot create " + path + ": " + std::strerror(e));
  }
  FILE* f = ::fdopen(fd, "w");
  if (f == nullptr) {
    ::close(fd);
    return Status::IoError("cannot open " + path);
  }
  return File(f);
}

Status Finish(File file, const std::string& path) {
  const bool ok = std::fflush(file.get()) == 0 && ::fsync(::fileno(file.get())) == 0;
  if (std::fclose(file.release()) != 0 || !ok) return Status::IoError("cannot write " + path);
  return Status::OK();
}

}  // namespace

Status CheckCertificateHosts(const std::vector<std::string>& hosts) {
  if (hosts.empty()) return Status::InvalidArgument("a certificate needs at least one host name");
  for (const auto& h : hosts) BRAID_RETURN_IF_ERROR(CheckHost(h));
  return Status::OK();
}

Status WriteSelfSignedCertificate(const std::vector<std::string>& hosts,
                                  const std::string& cert_path, const std::string& key_path,
                                  int days) {
  BRAID_RETURN_IF_ERROR(CheckCertificateHosts(hosts));
  std::string san;
  for (const auto& h : hosts) {
    san += (san.empty() ? "" : ",") + std::string(IsIp(h) ? "IP:" : "DNS:") + h;
  }
  ERR_clear_error();
  Key key(EVP_EC_gen("P-256"));
  if (!key) return OpensslError("generating a P-256 key");
  Cert cert(X509_new());
  if (!cert) return OpensslError("X509_new");
  X509_set_version(cert.get(), 2);  // v3
  Bignum serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpensslError("certificate serial");
  }
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400L);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(hosts[0].c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  // As `openssl req -x509` makes them: its own trust anchor, for this server.
  BRAID_RETURN_IF_ERROR(AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  BRAID_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_key_identifier, "hash"));
  BRAID_RETURN_IF_ERROR(
      AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign"));
  BRAID_RETURN_IF_ERROR(AddExtension(cert.get(), NID_ext_key_usage, "serverAuth"));
  BRAID_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_alt_name, san));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return OpensslError("signing");

  BRAID_ASSIGN_OR_RETURN(File key_file, CreateFile(key_path, /*secret=*/true));
  if (PEM_write_PrivateKey(key_file.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpensslError("writing " + key_path);
  }
  BRAID_RETURN_IF_ERROR(Finish(std::move(key_file), key_path));
  BRAID_ASSIGN_OR_RETURN(File cert_file, CreateFile(cert_path, /*secret=*/false));
  if (PEM_write_X509(cert_file.get(), cert.get()) != 1) {
    return OpensslError("writing " + cert_path);
  }
  return Finish(std::move(cert_file), cert_path);
}

}  // namespace braid::auth
