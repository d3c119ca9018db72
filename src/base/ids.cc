#include "base/ids.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "braid/instance_id.h"

namespace braid {
namespace {

constexpr char kHex[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void RandomBytes(void* out, size_t n) {
  if (RAND_bytes(static_cast<unsigned char*>(out), static_cast<int>(n)) != 1) {
    std::fputs("braid: the system random number generator failed\n", stderr);
    std::abort();
  }
}

uint64_t RandomU64() {
  uint64_t v;
  RandomBytes(&v, sizeof v);
  return v;
}

std::string HexEncode(std::string_view bytes) {
  std::string s;
  s.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 15]);
  }
  return s;
}

std::string NewUuidV7(const Clock& clock) {
  unsigned char b[16];
  RandomBytes(b, sizeof b);
  const auto ms = static_cast<uint64_t>(clock.NowMillis());
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>(0x70 | (b[6] & 0x0f));  // version 7
  b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3f));  // RFC 4122 variant
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[b[i] >> 4]);
    s.push_back(kHex[b[i] & 15]);
  }
  return s;
}

InstanceId InstanceId::Random() {
  InstanceId id;
  do {
    RandomBytes(id.bytes.data(), id.bytes.size());
  } while (id.IsZero());
  return id;
}

Result<InstanceId> InstanceId::FromHex(std::string_view hex) {
  InstanceId id;
  if (hex.size() != 32) {
    return Status::InvalidArgument("instance id must be 32 hex digits, got " +
                                   std::to_string(hex.size()) + " characters");
  }
  for (size_t i = 0; i < 16; ++i) {
    const int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument("instance id must be 32 hex digits");
    id.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (id.IsZero()) return Status::InvalidArgument("the all-zero instance id is not a valid id");
  return id;
}

Result<InstanceId> InstanceId::FromBytes(std::string_view raw) {
  if (raw.size() != 16) return Status::Corruption("instance id must be 16 bytes");
  InstanceId id;
  std::memcpy(id.bytes.data(), raw.data(), 16);
  return id;
}

std::string InstanceId::Hex() const { return HexEncode(AsBytes()); }

bool InstanceId::IsZero() const {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = HexValue(hex[i]);
    const int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

}  // namespace braid
