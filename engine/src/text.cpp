// text.cpp - the number formats of dmc/text.h.
#include "dmc/text.h"

#include <cmath>
#include <cstdio>

namespace dmc {

std::string with_commas(int64_t value) {
    // Through unsigned so that the most negative value has a magnitude too.
    const uint64_t magnitude = value < 0 ? 0 - uint64_t(value) : uint64_t(value);
    const std::string digits = std::to_string(magnitude);
    std::string out = value < 0 ? "-" : "";
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string db_text(double db, bool unit) {
    if (std::isnan(db)) return "-";
    if (std::isinf(db)) return db > 0 ? "exact" : "-inf";
    char buf[32];
    std::snprintf(buf, sizeof buf, unit ? "%.1f dB" : "%.1f", db);
    return buf;
}

std::string percent_text(double fraction) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * fraction);
    return buf;
}


std::string in_quotes(const std::string &text, size_t max_chars) {
    std::string out = "'";
    const size_t n = text.size() < max_chars ? text.size() : max_chars;
    for (size_t i = 0; i < n; ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\\' || c == '\'') out += std::string("\\") + char(c);
        else if (c < 0x20 || c >= 0x7f) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        } else {
            out += char(c);
        }
    }
    out += "'";
    if (n < text.size()) out += "... (" + std::to_string(text.size()) + " characters)";
    return out;
}

} // namespace dmc
