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

} // namespace dmc
