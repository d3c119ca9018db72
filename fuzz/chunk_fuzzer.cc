// Replication chunks (src/repl/protocol.h): what a receiver reads from a
// peer on every pull and push, records and all.
//
// Checks that reading a chunk in batches of one record (as StreamReceiver
// does while it applies) gives what reading it whole gives, and that an
// accepted chunk written back with ChunkJson() reads back the same.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/check.h"
#include "repl/protocol.h"
#include "store/wire.h"

namespace {

using braid::Record;
using braid::Result;
using braid::repl::Chunk;

// ChunkReader with batches of one record.
Result<Chunk> ReadInBatches(std::string_view text) {
  braid::repl::ChunkReader reader(text);
  std::vector<Record> records;
  for (;;) {
    auto more = reader.Next(1, &records);
    if (!more.ok()) return more.status();
    if (!*more) break;
  }
  auto chunk = reader.Finish();
  if (chunk.ok()) chunk->records = std::move(records);
  return chunk;
}

bool SameChunk(const Chunk& a, const Chunk& b) {
  if (a.records.size() != b.records.size() || a.complete_to != b.complete_to || a.next != b.next ||
      a.pending != b.pending) {
    return false;
  }
  for (size_t i = 0; i < a.records.size(); ++i) {
    if (braid::WireRecordJson(a.records[i]) != braid::WireRecordJson(b.records[i])) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = braid::fuzz::AsText(data, size);
  const auto whole = braid::repl::ParseChunk(text);
  const auto batched = ReadInBatches(text);
  FUZZ_CHECK(whole.ok() == batched.ok());
  if (!whole.ok()) {
    FUZZ_CHECK(whole.status().message() == batched.status().message());
    return 0;
  }
  FUZZ_CHECK(SameChunk(*whole, *batched));

  const std::string written = braid::repl::ChunkJson(*whole);
  const auto again = braid::repl::ParseChunk(written);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(SameChunk(*whole, *again));
  FUZZ_CHECK(braid::repl::ChunkJson(*again) == written);
  return 0;
}
