// dmc/dmc.h - the engine's whole public API in one include.
//
//   Model m = load_model("assets/lenet5.json");            // model.h
//   CompressionConfig c = load_config("config.json");       // config.h
//   ImageSet train = load_mnist(dir, "train");              // mnist.h
//   CompressedModel cm = compress_model(m, c,                // compressed_model.h
//       calibration_set(train, calibration_indices(train.count, kCalibrationImages)));
//   Report r = evaluate(cm, mnist_test_set(load_mnist(dir, "t10k")));  // dataset.h, evaluate.h
#pragma once

#include "dmc/budget.h"
#include "dmc/compressed_model.h"
#include "dmc/config.h"
#include "dmc/dataset.h"
#include "dmc/error.h"
#include "dmc/evaluate.h"
#include "dmc/export.h"
#include "dmc/mnist.h"
#include "dmc/model.h"
#include "dmc/onnx.h"
#include "dmc/prune.h"
#include "dmc/quantize.h"
#include "dmc/search.h"
#include "dmc/text.h"
