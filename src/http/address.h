// Client addresses as the server reports them (Request::remote_address).

#ifndef BRAID_HTTP_ADDRESS_H_
#define BRAID_HTTP_ADDRESS_H_

#include <string_view>

namespace braid::http {

// The host part of "127.0.0.1:53122" or "[::1]:53122": "127.0.0.1", "::1".
std::string_view HostOf(std::string_view remote_address);

// True for 127.0.0.0/8, ::1, IPv4-mapped ::ffff:127.x.y.z and "localhost".
bool IsLoopback(std::string_view host);

}  // namespace braid::http

#endif  // BRAID_HTTP_ADDRESS_H_
