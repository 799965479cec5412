// conv_gather.h - gathers a convolution's receptive fields for the engine's
// SIMD convolutions (conv_simd.h, avx2.cpp): the same fields as
// dmc_conv2d_s8_gather's, zero-padded to whole 16-byte chunks, into the
// scratch the caller gives. The functions have internal linkage (static):
// avx2.cpp is compiled for another instruction set, and must not share code
// with the rest of the engine through the linker.
//
// The fields are read straight from the input tensor, which sits in the
// arena between other tensors: nothing may be read or written outside the
// input, the output and the scratch. A window that lies inside the image
// is copied a row at a time in fixed-size words (a window row is a few
// bytes, where a call to memcpy costs more than the copy), but only where
// the word's read stays inside the input and its write inside the field;
// the rest of the rows, and windows that cross the image's border
// (padding), are copied exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dmc_conv2d.h"

// The least scratch either SIMD convolution needs: one block of fields, as
// dmc_conv2d_s8_run does (the buffer plan counts the largest least need
// over a layer's variants; equal needs keep the plan what the exported
// header's C kernel needs).
static inline int64_t simd_conv2d_scratch_bytes(const dmc_conv2d_s8 *p) {
    return int64_t(DMC_CONV_BLOCK) * dmc_padded_length(p->kernel * p->kernel * p->in_c);
}

// The fields of up to kGatherPixels output pixels are gathered before any
// is read, as many as the scratch holds: each channel (pair) then runs
// over all of them with its weights and requantization constants set up
// once, and no 16-byte load comes right after the small stores that wrote
// its bytes (it would wait for them: no store-to-load forwarding). A
// multiple of DMC_CONV_BLOCK.
constexpr int32_t kGatherPixels = 64 * DMC_CONV_BLOCK;

// The window geometry the gather needs, as scalars. gather_fields works on
// a local copy: a store through an int8_t pointer may alias any memory the
// compiler cannot prove local, so values read through a pointer or a
// reference would be loaded again after every byte written.
struct Gather {
    const int8_t *in, *in_end; // the input tensor
    size_t line;               // bytes of one input row
    int32_t in_h, in_w, in_c, kernel, step, padding, out_w; // step: the convolution's stride
    int32_t row;               // bytes of one window row (kernel * in_c)
    int32_t field;             // bytes from one gathered field to the next: depth padded to whole chunks
    int32_t word;              // short rows (< 16 bytes): the word they are copied with, 8 or 16
    int32_t word_rows;         // short rows: how many, from the first, are copied as one word
    bool shifted_border;       // border windows by gather_border_short
    bool rows8;                // every row one 8-byte word, the last one's bytes past the row zeroed (row_mask)
    uint64_t row_mask;         // the low `row` bytes
    uint64_t pad;              // the input zero point, 8 times
    uint64_t tail[2];          // a field's last 16 bytes before its rows are written: the zero point below depth, 0 above
};

// What both SIMD convolutions set up before their loops.
struct ConvSetup {
    Gather g;
    int32_t depth;  // values in a receptive field
    int32_t stride; // bytes from one gathered field to the next (g.field)
    int32_t chunks; // 16-value chunks in a field
    int32_t pixels; // output pixels
    int8_t *fields; // the scratch
    int32_t batch;  // fields it holds: a multiple of DMC_CONV_BLOCK, at most kGatherPixels
};

static inline Gather gather_geometry(const dmc_conv2d_s8 *p, const int8_t *in) {
    Gather g;
    g.in = in;
    g.line = size_t(p->in_w) * size_t(p->in_c);
    g.in_end = in + size_t(p->in_h) * g.line;
    g.in_h = p->in_h;
    g.in_w = p->in_w;
    g.in_c = p->in_c;
    g.kernel = p->kernel;
    g.step = p->stride;
    g.padding = p->padding;
    g.out_w = p->out_w;
    g.row = p->kernel * p->in_c;
    const int32_t depth = g.row * p->kernel;
    g.field = dmc_padded_length(depth);
    // A short row's word runs into the next rows, which overwrite it; it
    // must not reach past depth (the tail's zeros are written first).
    g.word = g.row > 8 ? 16 : 8;
    g.word_rows = g.word > depth ? 0 : (depth - g.word) / g.row + 1;
    if (g.word_rows > p->kernel) g.word_rows = p->kernel;
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    g.shifted_border = g.word == 8 && g.in_end - in >= 8;
#else
    g.shifted_border = false;
#endif
    // Rows of at most 8 bytes whose last word, written last, stays in the
    // field: that word, masked, leaves the zeros past depth as they were.
    g.rows8 = g.shifted_border && (p->kernel - 1) * g.row + 8 <= g.field;
    g.row_mask = g.row >= 8 ? ~uint64_t(0) : (uint64_t(1) << (8 * g.row)) - 1;
    if (g.rows8) g.word_rows = p->kernel;
    uint8_t bytes[16];
    std::memset(bytes, p->input_zero_point, 8);
    std::memcpy(&g.pad, bytes, 8);
    for (int32_t i = 0; i < 16; ++i) bytes[i] = g.field - 16 + i < depth ? uint8_t(p->input_zero_point) : 0;
    std::memcpy(g.tail, bytes, 16);
    return g;
}

// room: bytes of scratch, at least simd_conv2d_scratch_bytes(p).
static inline ConvSetup conv_setup(const dmc_conv2d_s8 *p, const int8_t *in, int8_t *scratch, int64_t room) {
    ConvSetup c;
    c.g = gather_geometry(p, in);
    c.depth = p->kernel * p->kernel * p->in_c;
    c.stride = c.g.field;
    c.chunks = c.stride / 16;
    c.pixels = p->out_h * p->out_w;
    c.fields = scratch;
    const int64_t fit = room / c.stride / DMC_CONV_BLOCK * DMC_CONV_BLOCK;
    c.batch = fit < kGatherPixels ? int32_t(fit) : kGatherPixels;
    return c;
}

static inline void store16(int8_t *d, uint64_t lo, uint64_t hi) {
    std::memcpy(d, &lo, 8);
    std::memcpy(d + 8, &hi, 8);
}

// A window that crosses the image's border (or whose words would read past
// the input's end): the zero point everywhere, then the rows and columns
// inside the image copied exactly.
static inline void gather_border_field(const Gather &g, int32_t y0, int32_t x0, int8_t *col) {
    for (int32_t i = 0; i < g.field - 16; i += 16) store16(col + i, g.pad, g.pad);
    const int32_t x_lo = x0 < 0 ? -x0 : 0, x_hi = x0 + g.kernel > g.in_w ? g.in_w - x0 : g.kernel;
    const int32_t y_lo = y0 < 0 ? -y0 : 0, y_hi = y0 + g.kernel > g.in_h ? g.in_h - y0 : g.kernel;
    for (int32_t ky = y_lo; ky < y_hi; ++ky)
        dmc_copy_bytes(col + ky * g.row + x_lo * g.in_c, g.in + size_t(y0 + ky) * g.line + size_t(x0 + x_lo) * size_t(g.in_c),
                       (x_hi - x_lo) * g.in_c);
}

// The low n bytes of a word (n <= 8).
static inline uint64_t low_bytes(int32_t n) { return n >= 8 ? ~uint64_t(0) : (uint64_t(1) << (8 * n)) - 1; }

// Rows of at most 8 bytes of a window that crosses the border, as the
// interior's rows are written: each row one word of input bytes, read
// where the word stays inside the input and shifted into place, with the
// zero point blended in where the window leaves the image. (Byte i of a
// word is its i-th byte in memory: little-endian, as x86 and WebAssembly
// are; gather_field checks.)
static inline void gather_border_short(const Gather &g, int32_t y0, int32_t x0, int8_t *col) {
    const int32_t x_lo = x0 < 0 ? -x0 : 0, x_hi = x0 + g.kernel > g.in_w ? g.in_w - x0 : g.kernel;
    const uint64_t inside = low_bytes(x_hi * g.in_c) & ~low_bytes(x_lo * g.in_c);
    const int64_t last_word = int64_t(g.in_end - g.in) - 8;
    for (int32_t ky = 0; ky < g.kernel; ++ky) {
        const int32_t iy = y0 + ky;
        uint64_t v = g.pad;
        if (iy >= 0 && iy < g.in_h) {
            // The window row's first byte (outside the input where x0 < 0),
            // and a word around its bytes inside the image; |d| < 8.
            const int64_t first = int64_t(iy) * int64_t(g.line) + int64_t(x0) * g.in_c;
            const int64_t at = first < 0 ? 0 : (first > last_word ? last_word : first), d = first - at;
            uint64_t w;
            std::memcpy(&w, g.in + at, 8);
            w = d >= 0 ? w >> (8 * d) : w << (-8 * d);
            v = (w & inside) | (g.pad & ~inside);
        }
        if (g.rows8 && ky == g.kernel - 1) v &= g.row_mask;
        if (ky < g.word_rows) std::memcpy(col + ky * g.row, &v, 8);
        else dmc_copy_bytes(col + ky * g.row, reinterpret_cast<const int8_t *>(&v), g.row);
    }
}

// A window inside the image, rows of 16 bytes or more: whole words, the
// last one ending at the row's end (overlapping the one before), so that
// nothing is written past the row or read past the window.
static inline void gather_long_rows(const Gather &g, const int8_t *src, int8_t *col) {
    for (int32_t ky = 0; ky < g.kernel; ++ky, col += g.row) {
        const int8_t *r = src + size_t(ky) * g.line;
        int32_t i = 0;
        for (; i + 16 < g.row; i += 16) std::memcpy(col + i, r + i, 16);
        std::memcpy(col + g.row - 16, r + g.row - 16, 16);
    }
}

// Rows shorter than 16 bytes: the first word_rows as one word each (the
// caller checked that their reads stay inside the input), the rest exactly.
template <int Word> static inline void gather_short_rows(const Gather &g, const int8_t *src, int8_t *col) {
    int32_t ky = 0;
    for (; ky < g.word_rows; ++ky) std::memcpy(col + ky * g.row, src + size_t(ky) * g.line, Word);
    for (; ky < g.kernel; ++ky) dmc_copy_bytes(col + ky * g.row, src + size_t(ky) * g.line, g.row);
}

// Rows of at most 8 bytes (g.rows8), inside the image: one word each, the
// last masked (the caller checked that the reads stay inside the input).
static inline void gather_rows8(const Gather &g, const int8_t *src, int8_t *col) {
    const int32_t last = g.kernel - 1;
    for (int32_t ky = 0; ky < last; ++ky) std::memcpy(col + ky * g.row, src + size_t(ky) * g.line, 8);
    uint64_t v;
    std::memcpy(&v, src + size_t(last) * g.line, 8);
    v &= g.row_mask;
    std::memcpy(col + last * g.row, &v, 8);
}

// The receptive field of output pixel (oy, ox) into col, as
// dmc_conv2d_s8_gather writes it, then zeros up to the field's stride. The
// tail goes first (one fixed 16-byte store), the rows over it.
static inline void gather_field(const Gather &g, int32_t oy, int32_t ox, int8_t *col) {
    store16(col + g.field - 16, g.tail[0], g.tail[1]);
    const int32_t y0 = oy * g.step - g.padding, x0 = ox * g.step - g.padding;
    if (y0 < 0 || x0 < 0 || y0 + g.kernel > g.in_h || x0 + g.kernel > g.in_w)
        return g.shifted_border ? gather_border_short(g, y0, x0, col) : gather_border_field(g, y0, x0, col);
    const int8_t *src = g.in + size_t(y0) * g.line + size_t(x0) * size_t(g.in_c);
    if (g.row >= 16) return gather_long_rows(g, src, col);
    if (g.word_rows > 0 && size_t(g.in_end - src) < size_t(g.word_rows - 1) * g.line + size_t(g.word))
        return gather_border_field(g, y0, x0, col);
    if (g.rows8) gather_rows8(g, src, col);
    else if (g.word == 16) gather_short_rows<16>(g, src, col);
    else gather_short_rows<8>(g, src, col);
}

// Gathers the fields of output pixels [first, first + count) (count <=
// c.batch) into c.fields; (oy, ox) is pixel `first` and is stepped past
// the last one (no division).
static inline void gather_fields(const ConvSetup &c, int32_t count, int32_t &oy, int32_t &ox) {
    const Gather g = c.g;
    int8_t *col = c.fields;
    int32_t y = oy, x = ox;
    for (int32_t k = 0; k < count; ++k, col += g.field) {
        gather_field(g, y, x, col);
        if (++x == g.out_w) {
            x = 0;
            ++y;
        }
    }
    oy = y;
    ox = x;
}
