// splitmix.h - the engine's one pseudo-random generator. Every seeded choice
// the engine makes (the calibration slice, the stratified evaluation order)
// draws from it, so python/ can reproduce them from the same few lines.
#pragma once

#include <cstdint>

namespace dmc {

// splitmix64 (Steele, Lea and Flood): advances `state` and returns the next
// 64-bit value.
inline uint64_t splitmix64(uint64_t &state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

} // namespace dmc
