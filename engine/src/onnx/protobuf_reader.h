// protobuf_reader.h - a reader of the protobuf wire format for untrusted
// bytes (internal; the ONNX importer's base). It knows nothing of ONNX:
// it walks the fields of one message, checking every tag, wire type and
// length against the bytes that remain, and throws dmc::Error naming
// where it stopped. Nothing it returns is larger than its input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dmc::pb {

enum class WireType { Varint = 0, Fixed64 = 1, Len = 2, StartGroup = 3, EndGroup = 4, Fixed32 = 5 };

const char *wire_type_name(WireType type);

// Messages nested deeper than this are refused: ONNX's deepest path that
// the importer reads (model, graph, node, attribute, tensor) needs 5.
constexpr int kMaxDepth = 16;

// One field of a message: its number, wire type and payload.
struct Field {
    uint32_t number = 0;
    WireType type = WireType::Varint;
    uint64_t scalar = 0;             // Varint, Fixed32, Fixed64
    const char *data = nullptr;      // Len: the payload...
    size_t size = 0;                 // ...and its length, within the input
};

// Reads the fields of one message from [data, data + size), in order.
// `where` names the message in errors ("graph.node[3]"); depth counts the
// messages it sits in.
class MessageReader {
  public:
    MessageReader(const char *data, size_t size, std::string where, int depth = 0);
    MessageReader(const std::string &bytes, std::string where);

    // The next field, or false at the end of the message. Throws on a
    // truncated or malformed field.
    bool next(Field *field);

    // A Len field's payload as a nested message, one level deeper.
    MessageReader nested(const Field &field, const std::string &where) const;

    // Typed views of the current field; each checks the wire type and throws
    // naming the field (`name`) when it does not match.
    int64_t int64(const Field &f, const char *name) const;
    // An int64 that must lie in [lo, hi] (enums, counts, int32 fields).
    int64_t int_in(const Field &f, const char *name, int64_t lo, int64_t hi) const;
    float float32(const Field &f, const char *name) const;
    std::string bytes(const Field &f, const char *name) const;
    // A repeated int64 field, packed (Len) or one value per field (Varint):
    // appends to `out`, at most `max_count` values in all.
    void append_int64s(const Field &f, const char *name, std::vector<int64_t> *out, size_t max_count) const;
    // The same for float (packed Len or Fixed32).
    void append_floats(const Field &f, const char *name, std::vector<float> *out, size_t max_count) const;

    const std::string &where() const { return where_; }
    int depth() const { return depth_; }
    [[noreturn]] void fail(const std::string &message) const;

  private:
    uint64_t varint(const char *what);
    void expect(const Field &f, WireType type, const char *name) const;

    const char *at_, *end_;
    std::string where_;
    int depth_;
};

// Decodes a varint from [*at, end), advancing *at; false when it is
// truncated or longer than 10 bytes (`*overlong` says which).
bool read_varint(const char **at, const char *end, uint64_t *value, bool *overlong);

} // namespace dmc::pb
