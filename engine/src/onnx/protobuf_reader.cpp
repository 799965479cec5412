// protobuf_reader.cpp - see protobuf_reader.h. Every read checks the bytes
// that remain first; a length is compared with what is left before it is
// used, so a hostile length can neither read past the input nor size an
// allocation.
#include "onnx/protobuf_reader.h"

#include <cstring>

#include "dmc/error.h"

namespace dmc::pb {

const char *wire_type_name(WireType type) {
    switch (type) {
    case WireType::Varint: return "varint";
    case WireType::Fixed64: return "64-bit";
    case WireType::Len: return "length-delimited";
    case WireType::StartGroup: return "start-group";
    case WireType::EndGroup: return "end-group";
    case WireType::Fixed32: return "32-bit";
    }
    return "?";
}

bool read_varint(const char **at, const char *end, uint64_t *value, bool *overlong) {
    uint64_t v = 0;
    *overlong = false;
    for (int i = 0; i < 10; ++i) {
        if (*at >= end) return false;
        const auto byte = static_cast<unsigned char>(**at);
        ++*at;
        // The tenth byte holds bit 63 only; more would not fit in 64 bits.
        if (i == 9 && byte > 1) {
            *overlong = true;
            return false;
        }
        v |= uint64_t(byte & 0x7f) << (7 * i);
        if ((byte & 0x80) == 0) {
            *value = v;
            return true;
        }
    }
    *overlong = true;
    return false;
}

MessageReader::MessageReader(const char *data, size_t size, std::string where, int depth)
    : at_(data), end_(data + size), where_(std::move(where)), depth_(depth) {
    if (depth_ > kMaxDepth)
        fail("messages nested more than " + std::to_string(kMaxDepth) + " deep");
}

MessageReader::MessageReader(const std::string &bytes, std::string where)
    : MessageReader(bytes.data(), bytes.size(), std::move(where), 0) {}

void MessageReader::fail(const std::string &message) const {
    throw Error("ONNX " + where_ + ": " + message);
}

uint64_t MessageReader::varint(const char *what) {
    uint64_t v = 0;
    bool overlong = false;
    if (!read_varint(&at_, end_, &v, &overlong))
        fail(std::string(overlong ? "a varint longer than 10 bytes" : "truncated varint") + " in " + what +
             " (the file is cut short or not ONNX)");
    return v;
}

bool MessageReader::next(Field *f) {
    if (at_ >= end_) return false;
    const uint64_t tag = varint("a field tag");
    const uint64_t number = tag >> 3;
    const unsigned type = unsigned(tag & 7);
    if (number == 0 || number > (uint64_t(1) << 29) - 1)
        fail("field number " + std::to_string(number) + " is not valid (the file is not ONNX)");
    if (type > 5) fail("wire type " + std::to_string(type) + " is not valid (the file is not ONNX)");
    f->number = uint32_t(number);
    f->type = WireType(type);
    f->scalar = 0;
    f->data = nullptr;
    f->size = 0;
    const size_t left = size_t(end_ - at_);
    const std::string field_name = "field " + std::to_string(number);
    switch (f->type) {
    case WireType::Varint: f->scalar = varint("a varint field"); break;
    case WireType::Fixed64:
        if (left < 8) fail(field_name + ": 8 bytes needed, " + std::to_string(left) + " left");
        for (int i = 7; i >= 0; --i) f->scalar = f->scalar << 8 | static_cast<unsigned char>(at_[i]);
        at_ += 8;
        break;
    case WireType::Fixed32:
        if (left < 4) fail(field_name + ": 4 bytes needed, " + std::to_string(left) + " left");
        for (int i = 3; i >= 0; --i) f->scalar = f->scalar << 8 | static_cast<unsigned char>(at_[i]);
        at_ += 4;
        break;
    case WireType::Len: {
        const uint64_t n = varint("a length");
        const size_t rest = size_t(end_ - at_);
        if (n > rest)
            fail(field_name + ": length " + std::to_string(n) + " runs past the end (" + std::to_string(rest) +
                 " bytes left)");
        f->data = at_;
        f->size = size_t(n);
        at_ += n;
        break;
    }
    case WireType::StartGroup:
    case WireType::EndGroup:
        // Groups are deprecated and ONNX has none; skipping one would mean
        // matching nested group tags, so refuse them.
        fail(field_name + " is a group (wire type " + std::to_string(type) + "), which ONNX does not use");
    }
    return true;
}

MessageReader MessageReader::nested(const Field &f, const std::string &where) const {
    expect(f, WireType::Len, where.c_str());
    return MessageReader(f.data, f.size, where, depth_ + 1);
}

void MessageReader::expect(const Field &f, WireType type, const char *name) const {
    if (f.type != type)
        fail(std::string(name) + " (field " + std::to_string(f.number) + ") has wire type " +
             wire_type_name(f.type) + ", expected " + wire_type_name(type));
}

int64_t MessageReader::int64(const Field &f, const char *name) const {
    expect(f, WireType::Varint, name);
    return int64_t(f.scalar); // two's complement, as protobuf writes negative int64
}

int64_t MessageReader::int_in(const Field &f, const char *name, int64_t lo, int64_t hi) const {
    const int64_t v = int64(f, name);
    if (v < lo || v > hi)
        fail(std::string(name) + " is " + std::to_string(v) + ", outside [" + std::to_string(lo) + ", " +
             std::to_string(hi) + "]");
    return v;
}

float MessageReader::float32(const Field &f, const char *name) const {
    expect(f, WireType::Fixed32, name);
    const uint32_t bits = uint32_t(f.scalar);
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
}

std::string MessageReader::bytes(const Field &f, const char *name) const {
    expect(f, WireType::Len, name);
    return std::string(f.data, f.size);
}

void MessageReader::append_int64s(const Field &f, const char *name, std::vector<int64_t> *out,
                                  size_t max_count) const {
    const std::string too_many = std::string(name) + ": more than " + std::to_string(max_count) + " values";
    if (f.type == WireType::Varint) {
        if (out->size() >= max_count) fail(too_many);
        out->push_back(int64_t(f.scalar));
        return;
    }
    if (f.type != WireType::Len)
        fail(std::string(name) + " (field " + std::to_string(f.number) + ") has wire type " + wire_type_name(f.type) +
             ", expected varint or length-delimited (packed)");
    const char *at = f.data, *end = f.data + f.size;
    while (at < end) {
        uint64_t v = 0;
        bool overlong = false;
        if (!read_varint(&at, end, &v, &overlong))
            fail(std::string(name) + ": packed values end in a " + (overlong ? "varint longer than 10 bytes" : "truncated varint"));
        if (out->size() >= max_count) fail(too_many);
        out->push_back(int64_t(v));
    }
}

void MessageReader::append_floats(const Field &f, const char *name, std::vector<float> *out,
                                  size_t max_count) const {
    const std::string too_many = std::string(name) + ": more than " + std::to_string(max_count) + " values";
    if (f.type == WireType::Fixed32) {
        if (out->size() >= max_count) fail(too_many);
        out->push_back(float32(f, name));
        return;
    }
    if (f.type != WireType::Len)
        fail(std::string(name) + " (field " + std::to_string(f.number) + ") has wire type " + wire_type_name(f.type) +
             ", expected 32-bit or length-delimited (packed)");
    if (f.size % 4 != 0)
        fail(std::string(name) + ": " + std::to_string(f.size) + " bytes of packed floats is not a multiple of 4");
    if (out->size() + f.size / 4 > max_count) fail(too_many);
    for (size_t i = 0; i < f.size; i += 4) {
        uint32_t bits = 0;
        for (int k = 3; k >= 0; --k) bits = bits << 8 | static_cast<unsigned char>(f.data[i + size_t(k)]);
        float v;
        std::memcpy(&v, &bits, 4);
        out->push_back(v);
    }
}

} // namespace dmc::pb
