// A self-signed TLS certificate for `braid init --tls-self-signed`, so an
// instance can serve HTTPS before it has a certificate from a real CA. Peers
// trust it by its own file (braid remote add --ca-cert).

#ifndef BRAID_AUTH_SELF_SIGNED_H_
#define BRAID_AUTH_SELF_SIGNED_H_

#include <string>
#include <vector>

#include "braid/status.h"

namespace braid::auth {

// Checks that each host is a DNS name or an IP address, and that there is
// one. Errors: InvalidArgument naming the bad one.
Status CheckCertificateHosts(const std::vector<std::string>& hosts);

// Writes a new ECDSA P-256 key (`key_path`, 0600) and a self-signed
// certificate for `hosts` (`cert_path`): each host a DNS name or an IP
// address, all in subjectAltName, the first also the common name; valid
// from 5 minutes ago for `days`. Neither file may exist yet.
// Errors: InvalidArgument (no host, a malformed one), AlreadyExists, IoError,
// Internal (OpenSSL).
Status WriteSelfSignedCertificate(const std::vector<std::string>& hosts,
                                  const std::string& cert_path, const std::string& key_path,
                                  int days);

}  // namespace braid::auth

#endif  // BRAID_AUTH_SELF_SIGNED_H_
