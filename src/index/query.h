// Search queries as users type them, turned into SQLite FTS5 expressions,
// and the cursors of result pages.
//
// The syntax (docs/protocol.md, "Search"): words, all of which must match;
// "a quoted phrase"; word* for a prefix; OR between two terms for either;
// -word or NOT word to exclude. Every term is quoted before it reaches
// FTS5, so no input is an FTS5 syntax error or names a column; punctuation
// separates words, as the tokenizer does.

#ifndef BRAID_INDEX_QUERY_H_
#define BRAID_INDEX_QUERY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "braid/status.h"

namespace braid::index {

inline constexpr size_t kMaxQueryBytes = 1000;
inline constexpr size_t kMaxQueryTerms = 32;

// Errors: InvalidArgument for an empty query, one over kMaxQueryBytes or
// kMaxQueryTerms, one with only exclusions, an OR without a term on either
// side, an unclosed quote, text that is not UTF-8.
Result<std::string> ToFtsExpression(std::string_view query);

// Where a page of results ended: the last result's rank (bm25, lower is
// better) and document number. Results after it rank worse, or as well
// with a higher document number.
struct PageCursor {
  double rank = 0;
  int64_t doc = 0;
};
std::string EncodeCursor(const PageCursor& c);
// Errors: InvalidArgument ("not a search cursor").
Result<PageCursor> DecodeCursor(std::string_view text);

}  // namespace braid::index

#endif  // BRAID_INDEX_QUERY_H_
