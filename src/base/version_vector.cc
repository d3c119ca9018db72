#include "braid/version_vector.h"

#include "base/json.h"

namespace braid {

std::string VersionVectorToJson(const VersionVector& vv) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject();
  for (const auto& [id, counter] : vv.entries()) w.Key(id.Hex()).Uint(counter);
  w.EndObject();
  return out;
}

Result<VersionVector> VersionVectorFromJson(std::string_view text) {
  BRAID_RETURN_IF_ERROR(json::Validate(text, nullptr).WithContext("version vector"));
  const json::Value v(text);
  if (!v.IsObject()) return Status::InvalidArgument("version vector must be a JSON object");
  VersionVector vv;
  Status status;
  size_t entries = 0;
  v.ForEachMember([&](std::string_view key, json::Value counter) {
    auto id = InstanceId::FromHex(key);
    if (!id.ok()) {
      status = id.status().WithContext("version vector key");
      return false;
    }
    const auto c = counter.AsInt64();
    if (!c || *c <= 0) {
      status = Status::InvalidArgument("version vector counters must be positive integers");
      return false;
    }
    vv.Set(*id, static_cast<uint64_t>(*c));
    ++entries;
    return true;
  });
  if (!status.ok()) return status;
  if (vv.entries().size() != entries) {
    return Status::InvalidArgument("version vector has a duplicate instance");
  }
  return vv;
}

}  // namespace braid
