#include "base/json.h"

#include <array>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

namespace braid::json {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// kPlain[b] is true for bytes that stand for themselves inside a JSON string:
// ASCII other than control characters, '"' and '\\'. Both the validator and
// AppendQuoted copy runs of these without further checks.
constexpr std::array<bool, 256> MakePlainTable() {
  std::array<bool, 256> t{};
  for (int b = 0x20; b < 0x80; ++b) t[b] = b != '"' && b != '\\';
  return t;
}
constexpr std::array<bool, 256> kPlain = MakePlainTable();

bool IsPlain(char c) { return kPlain[static_cast<unsigned char>(c)]; }

// The index of the first byte at or after s[i] that is not plain, or n.
// String bodies are mostly plain, so eight bytes are tested per step: a word
// is all plain unless some byte has its top bit set, is below 0x20, or equals
// '"' or '\\' (the classic "has a zero byte" / "has a byte less than" tests,
// which are exact about whether such a byte exists).
size_t SkipPlain(const char* s, size_t i, size_t n) {
  constexpr uint64_t kOnes = 0x0101010101010101;
  constexpr uint64_t kHigh = 0x8080808080808080;
  while (n - i >= 8) {
    uint64_t w;
    std::memcpy(&w, s + i, 8);
    const uint64_t quote = w ^ (kOnes * '"');
    const uint64_t slash = w ^ (kOnes * '\\');
    const uint64_t special =
        w | ((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) | ((slash - kOnes) & ~slash);
    if ((special & kHigh) != 0) break;
    i += 8;
  }
  while (i < n && IsPlain(s[i])) ++i;
  return i;
}

// The two-character escapes other than \" \\ \/, by letter and by the byte
// they stand for (same order).
constexpr std::string_view kEscapeLetters = "bfnrt";
constexpr std::string_view kEscapedBytes = "\b\f\n\r\t";

// Length of the well-formed UTF-8 sequence that starts at s[0] (a byte >=
// 0x80), or 0 when it is ill-formed. In that case *bad_len receives the length
// of the maximal ill-formed subpart (at least 1), the unit that Unicode
// recommends replacing with one U+FFFD. The second-byte ranges exclude
// overlong forms (E0, F0), UTF-16 surrogates (ED) and code points above
// U+10FFFF (F4).
size_t Utf8Length(const char* s, size_t n, size_t* bad_len) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  size_t trail;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    trail = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    trail = 2;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    trail = 3;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    *bad_len = 1;
    return 0;
  }
  for (size_t k = 1; k <= trail; ++k) {
    if (k >= n) {
      *bad_len = k;
      return 0;
    }
    const auto b = static_cast<unsigned char>(s[k]);
    if (b < lo || b > hi) {
      *bad_len = k;
      return 0;
    }
    lo = 0x80;
    hi = 0xBF;
  }
  return trail + 1;
}

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
    return;
  }
  static constexpr unsigned char kLead[] = {0, 0xC0, 0xE0, 0xF0};
  const int trail = cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3;
  out->push_back(static_cast<char>(kLead[trail] | (cp >> (6 * trail))));
  for (int k = trail - 1; k >= 0; --k) {
    out->push_back(static_cast<char>(0x80 | ((cp >> (6 * k)) & 0x3F)));
  }
}

// Reads the four hex digits at s[i..i+4), or returns -1.
int32_t Hex4(std::string_view s, size_t i) {
  if (i > s.size() || s.size() - i < 4) return -1;
  int32_t v = 0;
  for (size_t k = 0; k < 4; ++k) {
    const int h = HexValue(s[i + k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

// Single-pass validator. Containers are tracked with one bit per open level
// (1 = object) instead of recursion, so depth costs no stack frames.
class Validator {
 public:
  // Validates from text[start]. With `prefix`, one value and the
  // whitespace after it are consumed and anything may follow; otherwise
  // the value must reach the end of the text.
  Validator(std::string_view text, size_t start, bool prefix, std::string* out, uint64_t* kinds,
            size_t max_depth, std::vector<std::string_view>* top_keys)
      : s_(text),
        out_(out),
        kinds_(kinds),
        max_depth_(max_depth),
        top_keys_(top_keys),
        prefix_(prefix),
        pos_(start),
        run_(start) {}

  // True when the text is one valid value; otherwise error() says why.
  bool Run();
  Status& error() { return error_; }
  size_t pos() const { return pos_; }

 private:
  bool Fail(size_t pos, std::string_view what) {
    std::string m = "invalid JSON at byte ";
    m += std::to_string(pos);
    m += ": ";
    m += what;
    error_ = Status::InvalidArgument(std::move(m));
    return false;
  }

  // Whitespace is the only thing minifying drops, so the output is built
  // from the runs between whitespace gaps: [run_, pos_) is pending.
  void SkipSpace() {
    if (pos_ < s_.size() && IsSpace(s_[pos_])) SkipSpaceRun();
  }
  void SkipSpaceRun();
  bool Peek(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
  // Consumes a run of digits; false when there is none.
  bool Digits() {
    const size_t start = pos_;
    while (pos_ < s_.size() && IsDigit(s_[pos_])) ++pos_;
    return pos_ != start;
  }

  bool InObject() const {
    const size_t d = depth_ - 1;
    return (kinds_[d / 64] >> (d % 64)) & 1;
  }
  bool Open(bool object);
  bool ParseString();
  bool ParseEscape();
  bool ParseNumber();
  bool ParseLiteral(std::string_view word);
  bool ParseKey();

  std::string_view s_;
  std::string* out_;
  uint64_t* kinds_;
  size_t max_depth_;
  std::vector<std::string_view>* top_keys_;
  bool prefix_;
  size_t pos_;
  size_t run_;
  size_t depth_ = 0;
  Status error_;
};

void Validator::SkipSpaceRun() {
  if (out_ != nullptr) out_->append(s_.data() + run_, pos_ - run_);
  while (pos_ < s_.size() && IsSpace(s_[pos_])) ++pos_;
  run_ = pos_;
}

bool Validator::Open(bool object) {
  if (depth_ == max_depth_) {
    return Fail(pos_,
                "arrays and objects nested deeper than max_depth " + std::to_string(max_depth_));
  }
  const uint64_t bit = uint64_t{1} << (depth_ % 64);
  if (object) {
    kinds_[depth_ / 64] |= bit;
  } else {
    kinds_[depth_ / 64] &= ~bit;
  }
  ++depth_;
  ++pos_;
  return true;
}

bool Validator::ParseString() {
  ++pos_;  // opening quote
  const size_t n = s_.size();
  for (;;) {
    pos_ = SkipPlain(s_.data(), pos_, n);
    if (pos_ >= n) return Fail(pos_, "expected '\"' to end the string");
    const char c = s_[pos_];
    if (c == '"') {
      ++pos_;
      return true;
    }
    if (c == '\\') {
      if (!ParseEscape()) return false;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      return Fail(pos_, "control character in string; escape it as \\u00XX");
    } else {
      size_t bad_len;
      const size_t len = Utf8Length(s_.data() + pos_, n - pos_, &bad_len);
      if (len == 0) return Fail(pos_, "invalid UTF-8 in string");
      pos_ += len;
    }
  }
}

bool Validator::ParseEscape() {
  const size_t at = pos_;
  ++pos_;  // backslash
  if (pos_ >= s_.size()) return Fail(pos_, "expected an escape character after '\\'");
  const char e = s_[pos_];
  if (e != 'u') {
    if (e != '"' && e != '\\' && e != '/' && kEscapeLetters.find(e) == std::string_view::npos) {
      return Fail(pos_, "expected one of \"\\/bfnrtu after '\\'");
    }
    ++pos_;
    return true;
  }
  const int32_t cp = Hex4(s_, pos_ + 1);
  if (cp < 0) return Fail(pos_ + 1, "expected four hex digits after \\u");
  pos_ += 5;
  if (cp >= 0xDC00 && cp <= 0xDFFF) return Fail(at, "low surrogate escape without a high one");
  if (cp < 0xD800 || cp > 0xDBFF) return true;
  if (s_.substr(pos_, 2) != "\\u") {
    return Fail(pos_, "expected a low surrogate escape after a high surrogate");
  }
  const int32_t low = Hex4(s_, pos_ + 2);
  if (low < 0xDC00 || low > 0xDFFF) {
    return Fail(pos_, "expected a low surrogate escape after a high surrogate");
  }
  pos_ += 6;
  return true;
}

bool Validator::ParseNumber() {
  if (s_[pos_] == '-') ++pos_;
  if (Peek('0')) {
    ++pos_;
    if (pos_ < s_.size() && IsDigit(s_[pos_])) return Fail(pos_, "leading zeros are not allowed");
  } else if (!Digits()) {
    return Fail(pos_, "expected a digit after '-'");
  }
  if (Peek('.')) {
    ++pos_;
    if (!Digits()) return Fail(pos_, "expected a digit after '.'");
  }
  if (Peek('e') || Peek('E')) {
    ++pos_;
    if (Peek('+') || Peek('-')) ++pos_;
    if (!Digits()) return Fail(pos_, "expected a digit in exponent");
  }
  return true;
}

bool Validator::ParseLiteral(std::string_view word) {
  if (s_.substr(pos_, word.size()) != word) {
    return Fail(pos_, "expected '" + std::string(word) + "'");
  }
  pos_ += word.size();
  return true;
}

// An object member name and the ':' after it.
bool Validator::ParseKey() {
  if (!Peek('"')) return Fail(pos_, "expected '\"' to begin an object key");
  const size_t start = pos_;
  if (!ParseString()) return false;
  if (depth_ == 1 && top_keys_ != nullptr) {
    top_keys_->push_back(s_.substr(start + 1, pos_ - start - 2));
  }
  SkipSpace();
  if (!Peek(':')) return Fail(pos_, "expected ':' after object key");
  ++pos_;
  return true;
}

bool Validator::Run() {
  const size_t n = s_.size();
  for (;;) {
    // A value starts here.
    SkipSpace();
    if (pos_ >= n) return Fail(pos_, "expected a value");
    const char c = s_[pos_];
    bool ok;
    if (c == '{' || c == '[') {
      const bool object = c == '{';
      if (!Open(object)) return false;
      SkipSpace();
      if (!Peek(object ? '}' : ']')) {
        if (object && !ParseKey()) return false;
        continue;
      }
      ++pos_;
      --depth_;
      ok = true;
    } else if (c == '"') {
      ok = ParseString();
    } else if (c == 't' || c == 'f' || c == 'n') {
      ok = ParseLiteral(c == 't' ? "true" : c == 'f' ? "false" : "null");
    } else if (c == '-' || IsDigit(c)) {
      ok = ParseNumber();
    } else {
      ok = Fail(pos_, "expected a value");
    }
    if (!ok) return false;

    // A value ended: close containers until one continues with ','.
    for (;;) {
      SkipSpace();
      if (depth_ == 0) {
        if (!prefix_ && pos_ != n) return Fail(pos_, "expected end of input after the value");
        if (out_ != nullptr) out_->append(s_.data() + run_, pos_ - run_);
        return true;
      }
      const bool object = InObject();
      if (Peek(',')) {
        ++pos_;
        if (object) {
          SkipSpace();
          if (!ParseKey()) return false;
        }
        break;
      }
      if (!Peek(object ? '}' : ']')) {
        return Fail(pos_,
                    object ? "expected ',' or '}' in object" : "expected ',' or ']' in array");
      }
      ++pos_;
      --depth_;
    }
  }
}

// The index just past the string literal that starts at s[i] (a '"').
size_t SkipString(std::string_view s, size_t i) {
  ++i;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"') return i + 1;
    i += c == '\\' ? 2 : 1;
  }
  return s.size();
}

size_t SkipSpaceAt(std::string_view s, size_t i) {
  while (i < s.size() && IsSpace(s[i])) ++i;
  return i;
}

// The index just past the value that starts at s[i]. Relies on validated
// text: brackets inside strings are skipped, all others balance.
size_t SkipValue(std::string_view s, size_t i) {
  if (i >= s.size()) return i;
  const char c = s[i];
  if (c == '"') return SkipString(s, i);
  if (c == '{' || c == '[') {
    size_t depth = 0;
    while (i < s.size()) {
      const char d = s[i];
      if (d == '"') {
        i = SkipString(s, i);
        continue;
      }
      if (d == '{' || d == '[') {
        ++depth;
      } else if (d == '}' || d == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return i;
  }
  while (i < s.size() && s[i] != ',' && s[i] != ']' && s[i] != '}' && !IsSpace(s[i])) ++i;
  return i;
}

// Appends the unescaped contents of a string literal body (without quotes).
void Unescape(std::string_view body, std::string* out) {
  size_t i = 0;
  while (i < body.size()) {
    const size_t slash = body.find('\\', i);
    if (slash == std::string_view::npos || slash + 1 >= body.size()) {
      out->append(body.data() + i, body.size() - i);
      return;
    }
    out->append(body.data() + i, slash - i);
    i = slash + 2;
    const char e = body[slash + 1];
    if (e != 'u') {
      const size_t k = kEscapeLetters.find(e);
      out->push_back(k == std::string_view::npos ? e : kEscapedBytes[k]);  // e is " \\ /
      continue;
    }
    int32_t cp = Hex4(body, i);
    if (cp < 0) continue;
    i += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      const int32_t low = body.substr(i, 2) == "\\u" ? Hex4(body, i + 2) : -1;
      if (low >= 0xDC00 && low <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        i += 6;
      }
    }
    // Unpaired surrogates cannot occur in validated text; U+FFFD keeps the
    // output valid UTF-8 should one appear anyway.
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
    AppendUtf8(out, static_cast<uint32_t>(cp));
  }
}

// Advances *pos to the next item of the container `raw` (an object when
// `object`), skipping the key of object members. On success *key_begin and
// *value_begin index the member's key literal (objects only) and value.
bool NextItem(std::string_view raw, size_t* pos, size_t* key_begin, size_t* value_begin,
              size_t* value_end, bool object) {
  size_t i = *pos == 0 ? 1 : *pos;
  i = SkipSpaceAt(raw, i);
  if (i < raw.size() && raw[i] == ',') i = SkipSpaceAt(raw, i + 1);
  if (i >= raw.size() || raw[i] == '}' || raw[i] == ']') {
    *pos = i;
    return false;
  }
  if (object) {
    *key_begin = i;
    i = SkipSpaceAt(raw, SkipString(raw, i));
    i = SkipSpaceAt(raw, i + 1);  // ':'
  }
  *value_begin = i;
  *value_end = SkipValue(raw, i);
  *pos = *value_end;
  return true;
}

// 32 bytes hold any int64, uint64 or shortest-form double.
template <typename T>
void AppendNumber(std::string* out, T v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

}  // namespace

Status Validate(std::string_view text, std::string* minified, size_t max_depth) {
  return Validate(text, minified, max_depth, nullptr);
}

namespace {

// Validates one value from text[start]; see Validator. On success *end is
// where the validator stopped.
Status ValidateAt(std::string_view text, size_t start, bool prefix, std::string* minified,
                  size_t max_depth, std::vector<std::string_view>* top_level_keys, size_t* end) {
  // One bit per nesting level; the inline words cover any depth up to 512,
  // so only callers who allow deeper nesting pay for an allocation.
  constexpr size_t kInlineDepth = 512;
  std::array<uint64_t, kInlineDepth / 64> inline_kinds;
  std::vector<uint64_t> heap_kinds;
  uint64_t* kinds = inline_kinds.data();
  if (max_depth > kInlineDepth) {
    heap_kinds.resize(max_depth / 64 + 1);
    kinds = heap_kinds.data();
  }
  const size_t old_size = minified != nullptr ? minified->size() : 0;
  // A prefix value's length is not known before it is read.
  if (minified != nullptr && !prefix) minified->reserve(old_size + text.size() - start);
  Validator validator(text, start, prefix, minified, kinds, max_depth, top_level_keys);
  if (validator.Run()) {
    *end = validator.pos();
    return Status::OK();
  }
  if (minified != nullptr) minified->resize(old_size);
  return std::move(validator.error());
}

}  // namespace

Status Validate(std::string_view text, std::string* minified, size_t max_depth,
                std::vector<std::string_view>* top_level_keys) {
  size_t end;
  return ValidateAt(text, 0, false, minified, max_depth, top_level_keys, &end);
}

Value::Value(std::string_view raw) {
  size_t b = 0;
  size_t e = raw.size();
  while (b < e && IsSpace(raw[b])) ++b;
  while (e > b && IsSpace(raw[e - 1])) --e;
  raw_ = raw.substr(b, e - b);
}

Type Value::type() const {
  const char c = raw_.empty() ? 'n' : raw_[0];  // a default Value is null
  if (c == 'n') return Type::kNull;
  if (c == 't' || c == 'f') return Type::kBool;
  if (c == '"') return Type::kString;
  if (c == '[') return Type::kArray;
  return c == '{' ? Type::kObject : Type::kNumber;
}

std::optional<std::string> Value::AsString() const {
  if (!IsString() || raw_.size() < 2) return std::nullopt;
  std::string out;
  const std::string_view body = raw_.substr(1, raw_.size() - 2);
  out.reserve(body.size());
  Unescape(body, &out);
  return out;
}

std::optional<int64_t> Value::AsInt64() const {
  if (type() != Type::kNumber) return std::nullopt;
  int64_t v = 0;
  const char* end = raw_.data() + raw_.size();
  const auto [ptr, ec] = std::from_chars(raw_.data(), end, v);
  // from_chars stops at '.', 'e' or 'E', so ptr != end rejects non-integers.
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

std::optional<bool> Value::AsBool() const {
  if (type() != Type::kBool) return std::nullopt;
  return raw_[0] == 't';
}

bool Value::NextMember(size_t* pos, std::string* key_scratch, std::string_view* key,
                       Value* value) const {
  if (!IsObject()) return false;
  size_t key_begin = 0;
  size_t value_begin = 0;
  size_t value_end = 0;
  if (!NextItem(raw_, pos, &key_begin, &value_begin, &value_end, true)) return false;
  const size_t key_end = SkipString(raw_, key_begin);
  const std::string_view body = raw_.substr(key_begin + 1, key_end - key_begin - 2);
  if (body.find('\\') == std::string_view::npos) {
    *key = body;
  } else {
    key_scratch->clear();
    Unescape(body, key_scratch);
    *key = *key_scratch;
  }
  *value = Value(raw_.substr(value_begin, value_end - value_begin));
  return true;
}

bool Value::NextElement(size_t* pos, Value* value) const {
  if (!IsArray()) return false;
  size_t value_begin = 0;
  size_t value_end = 0;
  if (!NextItem(raw_, pos, nullptr, &value_begin, &value_end, false)) return false;
  *value = Value(raw_.substr(value_begin, value_end - value_begin));
  return true;
}

std::optional<Value> Value::Find(std::string_view key) const {
  std::optional<Value> found;
  ForEachMember([&](std::string_view k, const Value& v) {
    if (k != key) return true;
    found = v;
    return false;
  });
  return found;
}

size_t Value::Size() const {
  const bool object = IsObject();
  if (!object && !IsArray()) return 0;
  size_t count = 0;
  size_t pos = 0;
  size_t key_begin = 0;
  size_t value_begin = 0;
  size_t value_end = 0;
  while (NextItem(raw_, &pos, &key_begin, &value_begin, &value_end, object)) ++count;
  return count;
}

void AppendQuoted(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  size_t run = 0;  // start of the bytes not yet copied
  size_t i = 0;
  while (i < s.size()) {
    i = SkipPlain(s.data(), i, s.size());
    if (i == s.size()) break;
    const char c = s[i];
    const auto b = static_cast<unsigned char>(c);
    size_t bad_len = 0;
    if (b >= 0x80) {
      const size_t len = Utf8Length(s.data() + i, s.size() - i, &bad_len);
      if (len != 0) {
        i += len;
        continue;
      }
    }
    out->append(s.data() + run, i - run);
    if (b >= 0x80) {
      out->append("\xEF\xBF\xBD");
      i += bad_len;
      run = i;
      continue;
    }
    out->push_back('\\');
    const size_t k = kEscapedBytes.find(c);
    if (c == '"' || c == '\\') {
      out->push_back(c);
    } else if (k != std::string_view::npos) {
      out->push_back(kEscapeLetters[k]);
    } else {
      out->append("u00");
      out->push_back(kHex[b >> 4]);
      out->push_back(kHex[b & 0xF]);
    }
    ++i;
    run = i;
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

// first_bits_ holds one bit for each of the 64 outermost levels. Deeper
// levels need no bit: they were opened by this writer, so nothing has been
// written there exactly when the last byte out is still the '{' or '['.
void Writer::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  bool first;
  if (depth_ < 64) {
    const uint64_t bit = uint64_t{1} << depth_;
    first = (first_bits_ & bit) != 0;
    first_bits_ &= ~bit;
  } else {
    first = out_->back() == '{' || out_->back() == '[';
  }
  if (!first) out_->push_back(',');
}

Writer& Writer::BeginObject() {
  Separate();
  out_->push_back('{');
  ++depth_;
  if (depth_ < 64) first_bits_ |= uint64_t{1} << depth_;
  return *this;
}

Writer& Writer::EndObject() {
  assert(depth_ > 0 && "EndObject() without a matching Begin");
  --depth_;
  out_->push_back('}');
  return *this;
}

Writer& Writer::BeginArray() {
  Separate();
  out_->push_back('[');
  ++depth_;
  if (depth_ < 64) first_bits_ |= uint64_t{1} << depth_;
  return *this;
}

Writer& Writer::EndArray() {
  assert(depth_ > 0 && "EndArray() without a matching Begin");
  --depth_;
  out_->push_back(']');
  return *this;
}

Writer& Writer::Key(std::string_view key) {
  Separate();
  AppendQuoted(out_, key);
  out_->push_back(':');
  after_key_ = true;
  return *this;
}

Writer& Writer::String(std::string_view s) {
  Separate();
  AppendQuoted(out_, s);
  return *this;
}

Writer& Writer::Int(int64_t v) {
  Separate();
  AppendNumber(out_, v);
  return *this;
}

Writer& Writer::Uint(uint64_t v) {
  Separate();
  AppendNumber(out_, v);
  return *this;
}

Writer& Writer::Double(double v) {
  if (!std::isfinite(v)) return Null();
  Separate();
  AppendNumber(out_, v);  // to_chars without a format: shortest round-trip form
  return *this;
}

Writer& Writer::Bool(bool v) {
  Separate();
  out_->append(v ? "true" : "false");
  return *this;
}

Writer& Writer::Null() {
  Separate();
  out_->append("null");
  return *this;
}

Writer& Writer::Raw(std::string_view json) {
  Separate();
  out_->append(json);
  return *this;
}

Writer& Writer::OptionalString(const std::optional<std::string>& s) {
  return s.has_value() ? String(*s) : Null();
}

Status Reader::Expect(char c, std::string_view what) {
  SkipSpace();
  if (pos_ >= s_.size() || s_[pos_] != c) {
    return Status::InvalidArgument("invalid JSON at byte " + std::to_string(pos_) + ": expected " +
                                   std::string(what));
  }
  ++pos_;
  return Status::OK();
}

void Reader::SkipSpace() {
  while (pos_ < s_.size() && IsSpace(s_[pos_])) ++pos_;
}

Status Reader::EnterObject() {
  BRAID_RETURN_IF_ERROR(Expect('{', "an object"));
  has_item_.push_back(false);
  return Status::OK();
}

Status Reader::EnterArray() {
  BRAID_RETURN_IF_ERROR(Expect('[', "an array"));
  has_item_.push_back(false);
  return Status::OK();
}

Result<bool> Reader::NextItem(char close) {
  if (has_item_.empty()) return Status::Internal("json::Reader: no container is open");
  SkipSpace();
  if (pos_ < s_.size() && s_[pos_] == close) {
    ++pos_;
    has_item_.pop_back();
    return false;
  }
  if (has_item_.back()) {
    BRAID_RETURN_IF_ERROR(
        Expect(',', close == '}' ? "',' or '}' in object" : "',' or ']' in array"));
  }
  has_item_.back() = true;
  return true;
}

Result<bool> Reader::NextMember(std::string_view* key) {
  BRAID_ASSIGN_OR_RETURN(const bool more, NextItem('}'));
  if (!more) return false;
  SkipSpace();
  if (pos_ >= s_.size() || s_[pos_] != '"') {
    return Status::InvalidArgument("invalid JSON at byte " + std::to_string(pos_) +
                                   ": expected '\"' to begin an object key");
  }
  const size_t start = pos_;
  BRAID_RETURN_IF_ERROR(ValidateAt(s_, start, true, nullptr, 1, nullptr, &pos_));
  // [start, pos_) is the literal and the spaces the validator skipped after it.
  std::string_view body = s_.substr(start + 1, pos_ - start - 1);
  body = body.substr(0, body.rfind('"'));
  if (body.find('\\') == std::string_view::npos) {
    *key = body;
  } else {
    key_scratch_.clear();
    Unescape(body, &key_scratch_);
    *key = key_scratch_;
  }
  BRAID_RETURN_IF_ERROR(Expect(':', "':' after object key"));
  return true;
}

Result<bool> Reader::NextElement() { return NextItem(']'); }

Result<Value> Reader::ReadValue(std::string* minified,
                                std::vector<std::string_view>* top_level_keys, size_t max_depth) {
  const size_t start = pos_;
  BRAID_RETURN_IF_ERROR(ValidateAt(s_, start, true, minified, max_depth, top_level_keys, &pos_));
  return Value(s_.substr(start, pos_ - start));
}

Status Reader::Finish() {
  SkipSpace();
  if (!has_item_.empty() || pos_ != s_.size()) {
    return Status::InvalidArgument("invalid JSON at byte " + std::to_string(pos_) +
                                   ": expected end of input");
  }
  return Status::OK();
}

std::string Pretty(std::string_view validated) {
  std::string out;
  out.reserve(validated.size() * 2);
  size_t indent = 0;
  auto newline = [&] {
    out.push_back('\n');
    out.append(indent * 2, ' ');
  };
  size_t i = 0;
  while (i < validated.size()) {
    const char c = validated[i];
    switch (c) {
      case '"': {
        const size_t end = SkipString(validated, i);
        out.append(validated.data() + i, end - i);
        i = end;
        continue;
      }
      case '{':
      case '[': {
        const size_t next = SkipSpaceAt(validated, i + 1);
        out.push_back(c);
        if (next < validated.size() && validated[next] == (c == '{' ? '}' : ']')) {
          out.push_back(validated[next]);
          i = next + 1;
          continue;
        }
        ++indent;
        newline();
        break;
      }
      case '}':
      case ']':
        --indent;
        newline();
        out.push_back(c);
        break;
      case ',':
        out.push_back(',');
        newline();
        break;
      case ':':
        out.append(": ");
        break;
      default:
        if (!IsSpace(c)) out.push_back(c);
    }
    ++i;
  }
  return out;
}

}  // namespace braid::json
