// What the search index takes from a record: the fields of each collection
// to index with their weights (`braid collection set C --index
// title:3,abstract`), and the text of a record's body for each weight.
//
// A collection without settings has every string of its body indexed at
// weight 1 (strings inside arrays and objects too; members whose name
// starts with '_', such as "_attachments", are braid's, not text). A
// collection with settings has only the named top-level fields indexed,
// each at its weight (1 to kMaxWeight; 1 when not given), every string
// inside them included.

#ifndef BRAID_INDEX_TEXT_H_
#define BRAID_INDEX_TEXT_H_

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "braid/status.h"

namespace braid::index {

inline constexpr int kMaxWeight = 9;
inline constexpr size_t kMaxIndexFields = 64;

struct FieldWeight {
  std::string field;
  int weight = 1;

  bool operator==(const FieldWeight&) const = default;
};

// A collection's index settings; empty `fields`: every string field.
struct IndexSpec {
  std::vector<FieldWeight> fields;

  bool operator==(const IndexSpec&) const = default;
};

// Parses "title:3,abstract" (field names as in a record body, weights 1 to
// kMaxWeight). Errors: InvalidArgument naming the part that is wrong (an
// empty list, an empty or repeated field, a weight out of range, more than
// kMaxIndexFields fields).
Result<IndexSpec> ParseIndexSpec(std::string_view text);
// The canonical text ParseIndexSpec accepts: "title:3,abstract:1".
std::string FormatIndexSpec(const IndexSpec& spec);

// The text of one record for each weight: by_weight[w - 1] holds the
// strings indexed at weight w, separated by kFieldSeparator. Control
// characters become spaces (the search snippets mark matches with them).
struct RecordText {
  std::array<std::string, kMaxWeight> by_weight;
  bool empty() const;
};
inline constexpr std::string_view kFieldSeparator = " \xC2\xB7 ";  // " · "

// `body` is a stored record's body (validated JSON). `spec` null: every
// string field at weight 1.
void ExtractText(std::string_view body, const IndexSpec* spec, RecordText* out);

}  // namespace braid::index

#endif  // BRAID_INDEX_TEXT_H_
