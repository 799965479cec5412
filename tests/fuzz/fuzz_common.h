// fuzz_common.h - what the fuzz targets do with an input the engine
// accepts: compress it, run it and export it, so that a file that parses
// but breaks a later stage is found too. Bad input must end as dmc::Error;
// anything else (a crash, a sanitizer report, another exception) is a bug.
#pragma once

#include <cstdint>
#include <vector>

#include "dmc/dmc.h"
#include "dmc/export.h"

namespace fuzz {

// Keeps one execution short. A model past this is skipped here: the
// fuzzers look for crashes, and a slow model is not one (the engine's own
// limit on work per inference is what refuses it for a user).
constexpr int64_t kMaxMacs = 2000000;

// A few raw inputs spread over the model's input range: enough to
// calibrate every integer step.
inline dmc::CalibrationSet small_calibration(const dmc::Model &m) {
    dmc::CalibrationSet c;
    c.count = 3;
    const int64_t n = m.input.shape.size();
    for (int i = 0; i < c.count; ++i)
        for (int64_t k = 0; k < n; ++k) {
            const float t = float((k * 7 + i * 3) % 11) / 10.0f;
            c.raw.push_back(m.input.min + t * (m.input.max - m.input.min));
        }
    return c;
}

// Compresses, runs one input and exports; dmc::Error is an accepted outcome.
inline void exercise(const dmc::Model &model, const dmc::CompressionConfig &config) {
    if (model.input.shape.size() * 8 > kMaxMacs) return;
    int64_t macs = 0;
    for (const dmc::Layer &l : model.layers) macs += l.macs();
    if (macs > kMaxMacs) return;
    try {
        const dmc::CalibrationSet calibration = small_calibration(model);
        const dmc::CompressedModel cm = dmc::compress_model(model, config, calibration);
        dmc::Executor run(cm);
        run.run(calibration.raw.data());
        if (cm.integer_only()) dmc::export_header(cm, dmc::describe(cm));
    } catch (const dmc::Error &) {
    }
}

} // namespace fuzz
