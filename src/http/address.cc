#include "http/address.h"

#include <arpa/inet.h>

#include <string>

namespace braid::http {

std::string_view HostOf(std::string_view remote_address) {
  if (!remote_address.empty() && remote_address.front() == '[') {
    const size_t end = remote_address.find(']');
    if (end != std::string_view::npos) return remote_address.substr(1, end - 1);
  }
  const size_t colon = remote_address.rfind(':');
  if (colon == std::string_view::npos || remote_address.find(':') != colon) {
    return remote_address;  // no port, or a bare IPv6 address
  }
  return remote_address.substr(0, colon);
}

bool IsLoopback(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  std::string h(host);
  constexpr std::string_view kMapped = "::ffff:";
  if (host.size() > kMapped.size() && host.substr(0, kMapped.size()) == kMapped) {
    h = std::string(host.substr(kMapped.size()));
  }
  in_addr v4;
  return inet_pton(AF_INET, h.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

}  // namespace braid::http
