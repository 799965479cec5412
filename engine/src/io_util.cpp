#include "io_util.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "dmc/error.h"

namespace dmc {

// Reads to end of file in chunks rather than trusting stat's size: a pipe,
// a FIFO or /dev/stdin (`--config <(...)`) reports size 0. The limit is
// checked as the bytes arrive, so an endless stream is refused without ever
// holding more than max_bytes.
std::string read_file(const std::string &path, int64_t max_bytes, const std::string &what) {
    const std::string named = what + " '" + path + "'";
    struct stat info {};
    if (stat(path.c_str(), &info) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) throw Error(named + ": no such file");
        throw Error(named + ": " + std::strerror(errno));
    }
    if (S_ISDIR(info.st_mode)) throw Error(named + " is a directory, not a file");
    const std::string limit = "the limit of " + std::to_string(max_bytes) + " bytes";
    const bool regular = S_ISREG(info.st_mode);
    if (regular && int64_t(info.st_size) > max_bytes)
        throw Error(named + " is " + std::to_string(info.st_size) + " bytes, more than " + limit);
    std::unique_ptr<FILE, int (*)(FILE *)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file) throw Error(named + ": cannot open for reading (" + std::strerror(errno) + ")");
    std::string data;
    // A regular file may still grow between stat and read: the size is a hint.
    if (regular) data.reserve(size_t(info.st_size));
    char chunk[1 << 16];
    for (;;) {
        const size_t got = std::fread(chunk, 1, sizeof chunk, file.get());
        if (int64_t(data.size() + got) > max_bytes) throw Error(named + " is more than " + limit);
        if (got > 0 && data.size() + got > data.capacity())
            data.reserve(size_t(std::min<int64_t>(max_bytes, int64_t(2 * data.capacity() + got))));
        data.append(chunk, got);
        if (got < sizeof chunk) break;
    }
    if (std::ferror(file.get())) throw Error(named + ": read error (" + std::strerror(errno) + ")");
    return data;
}

void write_file(const std::string &path, const std::string &contents, const std::string &what) {
    std::unique_ptr<FILE, int (*)(FILE *)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!file) throw Error(what + " '" + path + "': cannot open for writing");
    if (std::fwrite(contents.data(), 1, contents.size(), file.get()) != contents.size())
        throw Error(what + " '" + path + "': write error");
    if (std::fclose(file.release()) != 0) throw Error(what + " '" + path + "': write error");
}

static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(const void *data, size_t size) {
    const auto *bytes = static_cast<const unsigned char *>(data);
    std::string out;
    out.reserve((size + 2) / 3 * 4);
    for (size_t i = 0; i < size; i += 3) {
        uint32_t chunk = uint32_t(bytes[i]) << 16;
        if (i + 1 < size) chunk |= uint32_t(bytes[i + 1]) << 8;
        if (i + 2 < size) chunk |= uint32_t(bytes[i + 2]);
        out += kAlphabet[(chunk >> 18) & 63];
        out += kAlphabet[(chunk >> 12) & 63];
        out += i + 1 < size ? kAlphabet[(chunk >> 6) & 63] : '=';
        out += i + 2 < size ? kAlphabet[chunk & 63] : '=';
    }
    return out;
}

static int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

std::string base64_decode(const std::string &text, const std::string &what) {
    if (text.size() % 4 != 0)
        throw Error(what + ": base64 length " + std::to_string(text.size()) +
                    " is not a multiple of 4");
    size_t padding = 0;
    if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (size_t i = 0; i < text.size(); i += 4) {
        uint32_t chunk = 0;
        for (size_t k = 0; k < 4; ++k) {
            const char c = text[i + k];
            const bool is_padding = c == '=' && i + 4 == text.size() && k >= 4 - padding;
            const int v = is_padding ? 0 : base64_value(c);
            if (v < 0)
                throw Error(what + ": invalid base64 character at offset " + std::to_string(i + k));
            chunk = (chunk << 6) | uint32_t(v);
        }
        out += char((chunk >> 16) & 255);
        out += char((chunk >> 8) & 255);
        out += char(chunk & 255);
    }
    out.resize(out.size() - padding);
    return out;
}

} // namespace dmc
