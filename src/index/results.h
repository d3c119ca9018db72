// Search results as the API and the CLI give them (docs/protocol.md,
// "Search").

#ifndef BRAID_INDEX_RESULTS_H_
#define BRAID_INDEX_RESULTS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "index/search_index.h"

namespace braid::index {

// A snippet as HTML: its text escaped (& < > " '), each match inside
// <mark>...</mark>.
std::string SnippetHtml(std::string_view snippet);

// A snippet for a terminal: matches in bold when `bold`, else between '*'.
std::string SnippetText(std::string_view snippet, bool bold);

// {"results":[{"collection","id","partition","score","snippet"}...],
//  "next": cursor or null, "indexed_to": seq, "pending": n}
// `pending`: change-log events the index had not dealt with yet.
std::string SearchPageJson(const SearchPage& page, uint64_t pending);

}  // namespace braid::index

#endif  // BRAID_INDEX_RESULTS_H_
