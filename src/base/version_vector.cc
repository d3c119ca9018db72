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
  std::vector<VersionVector::Entry> entries;
  Status status;
  v.ForEachMember([&](std::string_view key, json::Value counter) {
    if (entries.size() == kMaxVersionVectorEntries) {
      status = Status::InvalidArgument("version vector has more than " +
                                       std::to_string(kMaxVersionVectorEntries) + " entries");
      return false;
    }
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
    entries.emplace_back(*id, static_cast<uint64_t>(*c));
    return true;
  });
  if (!status.ok()) return status;
  std::sort(entries.begin(), entries.end());
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].first == entries[i - 1].first) {
      return Status::InvalidArgument("version vector has a duplicate instance " +
                                     entries[i].first.Hex());
    }
  }
  return VersionVector::FromSortedEntries(std::move(entries));
}

}  // namespace braid
