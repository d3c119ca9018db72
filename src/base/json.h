// JSON for braid: a strict validator, a read-only view over validated text,
// and an appending writer.
//
// braid stores record bodies as JSON text and never reparses them on the hot
// path. Input from outside (HTTP bodies, files, peers) goes through Validate()
// exactly once; after that, Value walks the text without checks or copies.
// Numbers and strings are kept byte for byte: a body that says 1.10 or
// 123456789012345678901234567890 is stored and served as written.
//
// Thread-safety: all functions are reentrant; a Writer or Value is used by one
// thread at a time.

#ifndef BRAID_BASE_JSON_H_
#define BRAID_BASE_JSON_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "braid/status.h"

namespace braid::json {

enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

inline constexpr size_t kDefaultMaxDepth = 128;

// Checks that `text` is exactly one JSON value as RFC 8259 defines it: UTF-8
// (no overlong forms, no surrogates encoded in UTF-8), escapes including
// surrogate pairs (a lone surrogate escape is rejected), no trailing commas,
// comments, leading zeros, NaN or Infinity; whitespace around tokens allowed.
// Arrays and objects nest at most `max_depth` deep.
//
// When `minified` is not null, the value is appended to it without
// insignificant whitespace; all tokens are copied unchanged.
//
// Errors: InvalidArgument with the byte offset and what was expected, e.g.
// "invalid JSON at byte 17: expected ',' or '}' in object".
Status Validate(std::string_view text, std::string* minified, size_t max_depth = kDefaultMaxDepth);

// Validate(), and when the value is an object, appends to *top_level_keys
// each member name as written between its quotes (escapes not decoded),
// viewing `text`. Record bodies use it to find duplicate fields in the same
// pass that validates them.
Status Validate(std::string_view text, std::string* minified, size_t max_depth,
                std::vector<std::string_view>* top_level_keys);

// A view of one JSON value inside text that Validate() accepted (minified or
// not). It does not own the text. Using a Value on text that was not validated
// is undefined behaviour.
class Value {
 public:
  Value() = default;
  // `raw` holds one validated value; surrounding whitespace is allowed.
  explicit Value(std::string_view raw);

  Type type() const;
  // The value's text, without surrounding whitespace.
  std::string_view raw() const { return raw_; }

  bool IsNull() const { return type() == Type::kNull; }
  bool IsObject() const { return type() == Type::kObject; }
  bool IsArray() const { return type() == Type::kArray; }
  bool IsString() const { return type() == Type::kString; }

  // The unescaped string, or nullopt when this is not a string.
  std::optional<std::string> AsString() const;
  // The integer, or nullopt when this is not a number or not an integer in
  // range (1.0 and 1e3 are not integers here).
  std::optional<int64_t> AsInt64() const;
  std::optional<bool> AsBool() const;

  // Calls fn(std::string_view key, Value value) for each member of an object,
  // in document order; `key` is unescaped and valid only during the call.
  // fn returns false to stop early. Does nothing when this is not an object.
  template <typename Fn>
  void ForEachMember(Fn&& fn) const;

  // Calls fn(Value element) for each element of an array, in order; fn
  // returns false to stop early. Does nothing when this is not an array.
  template <typename Fn>
  void ForEachElement(Fn&& fn) const;

  // The first member named `key`, or nullopt (also when not an object).
  std::optional<Value> Find(std::string_view key) const;

  // Number of members or elements; 0 for scalars.
  size_t Size() const;

 private:
  // Cursor-based iteration used by the templates above. `pos` starts at 0.
  // Returns false at the end. `key_scratch` receives unescaped keys that have
  // escapes; `key` points either into the text or into the scratch.
  bool NextMember(size_t* pos, std::string* key_scratch, std::string_view* key, Value* value) const;
  bool NextElement(size_t* pos, Value* value) const;

  std::string_view raw_;
};

template <typename Fn>
void Value::ForEachMember(Fn&& fn) const {
  size_t pos = 0;
  std::string scratch;
  std::string_view key;
  Value value;
  while (NextMember(&pos, &scratch, &key, &value)) {
    if (!fn(key, value)) return;
  }
}

template <typename Fn>
void Value::ForEachElement(Fn&& fn) const {
  size_t pos = 0;
  Value value;
  while (NextElement(&pos, &value)) {
    if (!fn(value)) return;
  }
}

// Reads untrusted JSON text front to back, validating what it consumes: the
// caller walks the message's shape (objects, arrays, member names) and
// ReadValue() validates each value as it passes. Validate() then Value would
// scan a value once to validate it and again for each level Value walks
// through; a Reader scans every byte once, and a value can be minified in
// the same pass (replication chunks: each record body is validated,
// minified and its field names collected as it is read).
//
// Errors are InvalidArgument with the byte offset from the start of the
// text. After an error the Reader must not be used further.
class Reader {
 public:
  explicit Reader(std::string_view text) : s_(text) {}

  // Consumes '{' (or '['), which opens a container the Next calls walk.
  Status EnterObject();
  Status EnterArray();

  // Inside an object: consumes the next member's name and the ':' after
  // it, sets *key to the name unescaped (valid until the next call) and
  // returns true; the member's value must be read next. Returns false when
  // '}' ends the object (consumed).
  Result<bool> NextMember(std::string_view* key);

  // Inside an array: true when an element follows (to be read next), false
  // when ']' ends the array (consumed).
  Result<bool> NextElement();

  // Consumes and validates one value (any type), as Validate() does; a
  // view of it stays valid as long as the text. `minified` and
  // `top_level_keys` are as for Validate().
  Result<Value> ReadValue(std::string* minified = nullptr,
                          std::vector<std::string_view>* top_level_keys = nullptr,
                          size_t max_depth = kDefaultMaxDepth);

  // Checks that only whitespace is left after the outermost value.
  Status Finish();

  size_t offset() const { return pos_; }

 private:
  Status Expect(char c, std::string_view what);
  // Before an item of the innermost container: consumes the ',' that
  // separates it from the previous one, or finds the closing bracket.
  Result<bool> NextItem(char close);
  void SkipSpace();

  std::string_view s_;
  size_t pos_ = 0;
  // Per open container: whether an item has been read (a ',' comes next).
  std::vector<bool> has_item_;
  std::string key_scratch_;
};

// Appends `s` as a JSON string literal (with quotes). Control characters,
// '"' and '\\' are escaped; other bytes are copied. Bytes that are not valid
// UTF-8 are replaced by U+FFFD so the output is always valid JSON.
void AppendQuoted(std::string* out, std::string_view s);

// Builds JSON text by appending to a string the caller owns. Commas are
// inserted automatically; the caller is responsible for balanced Begin/End
// calls and for calling Key() before each value inside an object.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  Writer& BeginObject();
  Writer& EndObject();
  Writer& BeginArray();
  Writer& EndArray();
  Writer& Key(std::string_view key);
  Writer& String(std::string_view s);
  Writer& Int(int64_t v);
  Writer& Uint(uint64_t v);
  Writer& Double(double v);  // shortest form that round-trips; NaN/inf -> null
  Writer& Bool(bool v);
  Writer& Null();
  // Inserts `json`, which must already be one valid JSON value.
  Writer& Raw(std::string_view json);
  // String(s) when s has a value, else Null().
  Writer& OptionalString(const std::optional<std::string>& s);

 private:
  void Separate();  // writes ',' when a value precedes at this level

  std::string* out_;
  uint64_t first_bits_ = 1;  // bit d set: nothing written yet at depth d
  int depth_ = 0;
  bool after_key_ = false;
};

// Re-indents validated JSON text with two spaces per level, for people.
std::string Pretty(std::string_view validated);

}  // namespace braid::json

#endif  // BRAID_BASE_JSON_H_
