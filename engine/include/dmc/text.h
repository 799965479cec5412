// dmc/text.h - how the engine writes numbers for people: the CLI's reports
// and the workbench's panels use the same helpers, so a figure reads the
// same in both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace dmc {

// 1234567 -> "1,234,567"; negative numbers keep their sign in front.
std::string with_commas(int64_t value);

// A signal-to-noise ratio in dB with one decimal ("34.5", or "34.5 dB" with
// `unit`); "exact" for +infinity (no noise), "-inf" for no signal, "-" for
// NaN (not measured).
std::string db_text(double db, bool unit = false);

// A string from a file or the user, ready to put in a message: in single
// quotes, control characters and non-ASCII bytes escaped (\n, \x00), and
// cut to `max_chars` characters with "..." after. A name holding a newline
// or a NUL cannot split or hide a message, and a megabyte string cannot
// become a megabyte message.
std::string in_quotes(const std::string &text, size_t max_chars = 64);

// A fraction as a percentage with two decimals: 0.995 -> "99.50%".
std::string percent_text(double fraction);

} // namespace dmc
