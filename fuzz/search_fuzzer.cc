// Search input (src/index/): users' queries (ToFtsExpression), page
// cursors (DecodeCursor), a collection's index settings (ParseIndexSpec)
// and the text taken from record bodies peers send (ExtractText).
//
// The first byte picks the parser. Checks that every expression a query
// becomes is one SQLite FTS5 accepts (no input reaches FTS5 as a syntax
// error or names a column), that cursors and settings survive their
// canonical form, and that the text taken from a body holds no control
// character (the snippets' match markers).

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/json.h"
#include "fuzz/check.h"
#include "index/query.h"
#include "index/text.h"

namespace {

sqlite3* Fts() {
  static sqlite3* db = [] {
    sqlite3* d = nullptr;
    sqlite3_open(":memory:", &d);
    sqlite3_exec(d,
                 "CREATE VIRTUAL TABLE fts USING fts5(w1, w2, w3, w4, w5, w6, w7, w8, w9, "
                 "tokenize = 'unicode61 remove_diacritics 2');"
                 "INSERT INTO fts(w1, w3) VALUES ('a whale of a time', 'krill');",
                 nullptr, nullptr, nullptr);
    return d;
  }();
  return db;
}

void CheckQuery(std::string_view text) {
  const auto expr = braid::index::ToFtsExpression(text);
  if (!expr.ok()) {
    FUZZ_CHECK(expr.status().code() == braid::Code::kInvalidArgument);
    return;
  }
  sqlite3_stmt* s = nullptr;
  FUZZ_CHECK(sqlite3_prepare_v2(Fts(), "SELECT rowid FROM fts WHERE fts MATCH ?", -1, &s,
                                nullptr) == SQLITE_OK);
  sqlite3_bind_text(s, 1, expr->data(), static_cast<int>(expr->size()), SQLITE_STATIC);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
  }
  FUZZ_CHECK(rc == SQLITE_DONE);
  sqlite3_finalize(s);
}

void CheckCursor(std::string_view text) {
  const auto c = braid::index::DecodeCursor(text);
  if (!c.ok()) return;
  const auto again = braid::index::DecodeCursor(braid::index::EncodeCursor(*c));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->doc == c->doc && again->rank == c->rank);
}

void CheckSpec(std::string_view text) {
  const auto spec = braid::index::ParseIndexSpec(text);
  if (!spec.ok()) return;
  const auto again = braid::index::ParseIndexSpec(braid::index::FormatIndexSpec(*spec));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *spec);
}

void CheckBody(std::string_view text) {
  std::string minified;
  if (!braid::json::Validate(text, &minified).ok()) return;
  braid::index::RecordText out;
  const braid::index::IndexSpec spec = *braid::index::ParseIndexSpec("a:3,b,c:9");
  for (const braid::index::IndexSpec* s :
       {static_cast<const braid::index::IndexSpec*>(nullptr), &spec}) {
    braid::index::ExtractText(minified, s, &out);
    for (const std::string& w : out.by_weight) {
      for (const char c : w) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text = braid::fuzz::AsText(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      CheckQuery(text);
      break;
    case 1:
      CheckCursor(text);
      break;
    case 2:
      CheckSpec(text);
      break;
    default:
      CheckBody(text);
      break;
  }
  return 0;
}
