// io_util.h - whole-file reads and writes with clear errors (internal).
#pragma once

#include <cstdint>
#include <string>

namespace dmc {

// Reads the whole file, or a pipe, FIFO or /dev/stdin to its end. Refuses
// (dmc::Error) a missing or unreadable path, a directory, or more than
// max_bytes, naming `what` ("model file", ...) and the path.
std::string read_file(const std::string &path, int64_t max_bytes, const std::string &what);

// Writes the whole file, or throws dmc::Error naming the path.
void write_file(const std::string &path, const std::string &contents, const std::string &what);

// Base64 (RFC 4648, with padding) of raw bytes, and back. decode throws
// dmc::Error (prefixed with `what`) on a bad character or length.
std::string base64_encode(const void *data, size_t size);
std::string base64_decode(const std::string &text, const std::string &what);

} // namespace dmc
