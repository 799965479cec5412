// json_reader.h - typed access to JSON object fields with error messages
// that name the field and where it is (internal).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

#include "dmc/error.h"
#include "dmc/text.h"

namespace dmc {

// The parser's own message, cut short: it quotes the token it stopped at,
// which in a truncated file can be a megabyte-long string.
inline std::string parser_message(const char *what) {
    constexpr size_t kMaxQuoted = 200;
    std::string m(what);
    if (m.size() > kMaxQuoted) m = m.substr(0, kMaxQuoted) + "... (" + std::to_string(m.size()) + " characters)";
    return m;
}

// Parses JSON text; a syntax error, or a number past what a double holds
// (1e999: nlohmann reports it as out_of_range), becomes a dmc::Error naming
// `origin`.
// Nesting is limited: parsing is iterative, but writing a value out again
// (a model's metadata is kept as text) recurses once per level.
constexpr int kMaxJsonDepth = 64;

inline nlohmann::json parse_json(const std::string &text, const std::string &origin) {
    auto limit_depth = [&origin](int depth, nlohmann::json::parse_event_t, nlohmann::json &) {
        if (depth > kMaxJsonDepth)
            throw Error(origin + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
        return true;
    };
    // nlohmann stops at a NUL and accepts what came before; Python's json
    // refuses it. JSON text never holds one (a string escapes it as \u0000).
    const size_t nul = text.find('\0');
    if (nul != std::string::npos)
        throw Error(origin + ": not valid JSON (a NUL byte at offset " + std::to_string(nul) + ")");
    try {
        return nlohmann::json::parse(text, limit_depth);
    } catch (const nlohmann::json::exception &e) {
        throw Error(origin + ": not valid JSON (" + parser_message(e.what()) + ")");
    }
}

class JsonReader {
  public:
    JsonReader(const nlohmann::json &object, std::string context)
        : j_(object), context_(std::move(context)) {
        if (!j_.is_object()) throw Error(context_ + ": must be a JSON object");
    }

    void set_context(std::string context) { context_ = std::move(context); }
    const std::string &context() const { return context_; }

    // Refuses fields other than these (so a typo is an error, not ignored).
    void allow_only(std::initializer_list<const char *> keys) const {
        for (auto it = j_.begin(); it != j_.end(); ++it) {
            bool known = false;
            for (const char *k : keys) known = known || it.key() == k;
            if (!known) {
                std::string list;
                for (const char *k : keys) list += std::string(list.empty() ? "" : ", ") + k;
                throw Error(context_ + ": unknown field " + in_quotes(it.key()) + " (expected: " + list + ")");
            }
        }
    }

    bool has(const char *key) const { return j_.contains(key); }

    const nlohmann::json &value(const char *key) const {
        if (!j_.contains(key)) throw Error(context_ + ": missing field '" + key + "'");
        return j_[key];
    }

    const nlohmann::json &object(const char *key) const {
        const nlohmann::json &v = value(key);
        if (!v.is_object()) throw Error(context_ + ": field '" + key + "' must be an object");
        return v;
    }

    std::string string(const char *key) const {
        const nlohmann::json &v = value(key);
        if (!v.is_string()) throw Error(context_ + ": field '" + key + "' must be a string");
        return v.get<std::string>();
    }

    std::string string_or(const char *key, const std::string &fallback) const {
        return has(key) ? string(key) : fallback;
    }

    int64_t integer(const char *key, int64_t lo, int64_t hi) const {
        // Written as an integer (1, not 1.0 or 1e0), as python/ requires too:
        // one rule for both readers (MODEL_FORMAT.md, "Validity rules").
        const nlohmann::json &v = value(key);
        if (!v.is_number_integer())
            throw Error(context_ + ": field '" + key + "' must be an integer (written without '.' or 'e'), not " +
                        in_quotes(v.dump(), 40));
        const bool in_range = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(std::max<int64_t>(hi, 0)) &&
                                                           int64_t(v.get<uint64_t>()) >= lo
                                                     : v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
        if (!in_range)
            throw Error(context_ + ": field '" + key + "' is " + v.dump() + ", outside [" +
                        std::to_string(lo) + ", " + std::to_string(hi) + "]");
        return v.get<int64_t>();
    }

    int64_t integer_or(const char *key, int64_t fallback, int64_t lo, int64_t hi) const {
        return has(key) ? integer(key, lo, hi) : fallback;
    }

    double number(const char *key) const {
        const nlohmann::json &v = value(key);
        if (!v.is_number()) throw Error(context_ + ": field '" + key + "' must be a number");
        const double d = v.get<double>();
        if (!std::isfinite(d)) throw Error(context_ + ": field '" + key + "' must be finite");
        return d;
    }

    double number_or(const char *key, double fallback) const {
        return has(key) ? number(key) : fallback;
    }

  private:
    const nlohmann::json &j_;
    std::string context_;
};

} // namespace dmc
