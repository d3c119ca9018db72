#include "index/query.h"

#include <bit>
#include <charconv>
#include <cstdio>
#include <vector>

#include "base/validate.h"

namespace braid::index {
namespace {

// Control characters separate words too (a NUL would end the expression
// FTS5 parses).
bool IsSpace(char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }

// True when `s` holds something the tokenizer keeps: an ASCII letter or
// digit, or any non-ASCII character (letters of other scripts).
bool HasWordCharacter(std::string_view s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      return true;
    }
  }
  return false;
}

// `s` as an FTS5 string: quoted, quotes doubled.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    out += IsSpace(c) ? ' ' : c;
    if (c == '"') out += '"';
  }
  out += '"';
  return out;
}

struct Term {
  std::string fts;  // the term as FTS5 text; empty: nothing to match (dropped)
  bool negated = false;
  bool is_or = false;  // the bare word OR
};

}  // namespace

Result<std::string> ToFtsExpression(std::string_view query) {
  if (query.size() > kMaxQueryBytes) {
    return Status::InvalidArgument("search query longer than " + std::to_string(kMaxQueryBytes) +
                                   " bytes");
  }
  if (!IsValidUtf8(query)) return Status::InvalidArgument("search query is not UTF-8");
  std::vector<Term> terms;
  bool negate_next = false;
  size_t i = 0;
  while (i < query.size()) {
    if (IsSpace(query[i])) {
      ++i;
      continue;
    }
    Term t;
    t.negated = negate_next;
    negate_next = false;
    if (query[i] == '-' && i + 1 < query.size() && !IsSpace(query[i + 1])) {
      t.negated = true;
      ++i;
    }
    if (query[i] == '"') {
      const size_t close = query.find('"', i + 1);
      if (close == std::string_view::npos) {
        return Status::InvalidArgument("search query has a quote that is not closed");
      }
      const std::string_view phrase = query.substr(i + 1, close - i - 1);
      if (HasWordCharacter(phrase)) t.fts = Quote(phrase);
      i = close + 1;
    } else {
      size_t end = i;
      while (end < query.size() && !IsSpace(query[end]) && query[end] != '"') ++end;
      std::string_view word = query.substr(i, end - i);
      i = end;
      if (!t.negated && word == "OR") {
        t.is_or = true;
      } else if (!t.negated && word == "NOT") {
        negate_next = true;
        continue;
      } else {
        const bool prefix = word.size() > 1 && word.back() == '*';
        if (prefix) word.remove_suffix(1);
        if (HasWordCharacter(word)) t.fts = Quote(word) + (prefix ? " *" : "");
      }
    }
    if (t.fts.empty() && !t.is_or) continue;
    terms.push_back(std::move(t));
    if (terms.size() > kMaxQueryTerms) {
      return Status::InvalidArgument("search query has more than " +
                                     std::to_string(kMaxQueryTerms) + " terms");
    }
  }
  // Groups of terms joined by OR, all groups required; exclusions apart.
  std::vector<std::vector<std::string>> groups;
  std::vector<std::string> excluded;
  bool pending_or = false;
  for (Term& t : terms) {
    if (t.is_or) {
      if (groups.empty() || pending_or) {
        return Status::InvalidArgument("OR needs a term before it and after it");
      }
      pending_or = true;
    } else if (t.negated) {
      if (pending_or) return Status::InvalidArgument("OR needs a term before it and after it");
      excluded.push_back(std::move(t.fts));
    } else if (pending_or) {
      groups.back().push_back(std::move(t.fts));
      pending_or = false;
    } else {
      groups.push_back({std::move(t.fts)});
    }
  }
  if (pending_or) return Status::InvalidArgument("OR needs a term before it and after it");
  if (groups.empty()) {
    return Status::InvalidArgument(excluded.empty()
                                       ? "search query has no word to look for"
                                       : "search query only excludes words: give one to look for");
  }
  std::string expr;
  for (const auto& group : groups) {
    if (!expr.empty()) expr += " AND ";
    expr += '(';
    for (size_t k = 0; k < group.size(); ++k) {
      if (k > 0) expr += " OR ";
      expr += group[k];
    }
    expr += ')';
  }
  if (!excluded.empty()) {
    expr = "(" + expr + ") NOT (";
    for (size_t k = 0; k < excluded.size(); ++k) {
      if (k > 0) expr += " OR ";
      expr += excluded[k];
    }
    expr += ')';
  }
  return expr;
}

std::string EncodeCursor(const PageCursor& c) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "1.%016llx.%lld",
                static_cast<unsigned long long>(std::bit_cast<uint64_t>(c.rank)),
                static_cast<long long>(c.doc));
  return buf;
}

Result<PageCursor> DecodeCursor(std::string_view text) {
  const Status bad = Status::InvalidArgument("cursor is not a search cursor of this server");
  if (!text.starts_with("1.") || text.size() < 20 || text[18] != '.') return bad;
  uint64_t bits = 0;
  const char* b = text.data() + 2;
  auto [p, ec] = std::from_chars(b, b + 16, bits, 16);
  if (ec != std::errc() || p != b + 16) return bad;
  PageCursor c;
  c.rank = std::bit_cast<double>(bits);
  if (c.rank != c.rank) return bad;  // NaN
  const char* d = text.data() + 19;
  auto [q, ec2] = std::from_chars(d, text.data() + text.size(), c.doc);
  if (ec2 != std::errc() || q != text.data() + text.size() || c.doc < 0 || *d == '+') return bad;
  return c;
}

}  // namespace braid::index
