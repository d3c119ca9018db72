#include "index/results.h"

#include "base/json.h"

namespace braid::index {

std::string SnippetHtml(std::string_view snippet) {
  std::string out;
  out.reserve(snippet.size() + 32);
  for (const char c : snippet) {
    switch (c) {
      case kMatchStart:
        out += "<mark>";
        break;
      case kMatchEnd:
        out += "</mark>";
        break;
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string SnippetText(std::string_view snippet, bool bold) {
  std::string out;
  for (const char c : snippet) {
    if (c == kMatchStart) {
      out += bold ? "\x1b[1m" : "*";
    } else if (c == kMatchEnd) {
      out += bold ? "\x1b[0m" : "*";
    } else {
      out += c;
    }
  }
  return out;
}

std::string SearchPageJson(const SearchPage& page, uint64_t pending) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject().Key("results").BeginArray();
  for (const SearchHit& h : page.hits) {
    w.BeginObject()
        .Key("collection")
        .String(h.collection)
        .Key("id")
        .String(h.id)
        .Key("partition")
        .String(h.partition)
        .Key("score")
        .Double(h.score)
        .Key("snippet")
        .String(SnippetHtml(h.snippet))
        .EndObject();
  }
  w.EndArray().Key("next");
  if (page.next) {
    w.String(EncodeCursor(*page.next));
  } else {
    w.Null();
  }
  w.Key("indexed_to").Uint(page.indexed_to).Key("pending").Uint(pending).EndObject();
  return out;
}

}  // namespace braid::index
