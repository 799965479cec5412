"""The data a model is trained, calibrated and scored on, by its dataset.

A model file names its dataset ("mnist" or "sine"); the engine picks its test
and calibration inputs from that (engine/src/dataset.cpp). Everything here
hands out *raw* inputs (before normalization: pixel / 255 for MNIST, x for
sine) as float32 NCHW arrays, exactly as the engine feeds its first step, so
the integer simulation quantizes the same float32 values the engine does.
"""

from dataclasses import dataclass

import numpy as np

from . import mnist, sine
from .errors import DatasetFitError, quoted


@dataclass
class EvalSet:
    """Inputs and what the model should give for them."""
    raw: np.ndarray                 # float32 (N, C, H, W), raw (unnormalized)
    labels: np.ndarray = None       # int64 (N,) for classification
    targets: np.ndarray = None      # float32 (N, outputs) for regression

    def __len__(self):
        return len(self.raw)

    def limit(self, n):
        """The first n entries (all of them for n <= 0 or n >= len)."""
        if n is None or n <= 0 or n >= len(self):
            return self
        return EvalSet(self.raw[:n],
                       None if self.labels is None else self.labels[:n],
                       None if self.targets is None else self.targets[:n])


_cache = {}


def _mnist_split(folder, split):
    key = (folder, split)
    if key not in _cache:
        _cache[key] = mnist.load_split(folder, split)
    return _cache[key]


def mnist_train(option=None):
    """(uint8 images, uint8 labels) of the MNIST training split."""
    return _mnist_split(mnist.resolve_folder(option), "train")


def test_set(dataset, mnist_option=None):
    """The engine's test set for `dataset`: MNIST's 10,000 test images, or
    the 1,000-point sine grid."""
    if dataset == "sine":
        raw, targets = sine.test_grid()
        return EvalSet(raw, targets=targets)
    images, labels = _mnist_split(mnist.resolve_folder(mnist_option), "test")
    return EvalSet(mnist.raw_pixels(images), labels=labels.astype(np.int64))


# What each data set's inputs are, and how many outputs a model must give
# for them (engine/MODEL_FORMAT.md, "Validity rules"; engine/src/dataset.cpp).
DATASET_INPUT_SHAPE = {"mnist": (1, 28, 28), "sine": (1, 1, 1)}
DATASET_OUTPUTS = {"mnist": 10, "sine": 1}


def _shape_text(shape):
    return "x".join(map(str, shape))


def check_model_fits(model, test=None):
    """Refuse a model that does not fit the data set it names, as the engine
    does before it compresses anything: the input shape must be the data
    set's (MNIST 1x28x28, sine 1x1x1), an MNIST model's raw range exactly
    [0, 1] (pixel / 255; any other range clips the pixels or wastes the
    input quantization's levels), its output count the data set's (MNIST's
    10 classes, sine's 1 target), and the test set `test` (an EvalSet, when
    given) not empty. Raises DatasetFitError."""
    name = quoted(model.model_name)
    spec = model.input_spec
    shape = (spec["channels"], spec["height"], spec["width"])
    expected = DATASET_INPUT_SHAPE[model.dataset] if test is None else tuple(test.raw.shape[1:])
    if shape != expected:
        raise DatasetFitError(f"model {name} takes {_shape_text(shape)} inputs; "
                              f"{model.dataset} (test set) holds {_shape_text(expected)}")
    # Compared as the float32 values the engine keeps.
    low, high = np.float32(spec["min"]), np.float32(spec["max"])
    if model.dataset == "mnist" and (low != 0 or high != 1):
        raise DatasetFitError(f"model {name}: input range [{float(low):g}, {float(high):g}] is "
                              f"not MNIST's [0, 1] (raw values are pixel / 255)")
    if test is not None and len(test) < 1:
        raise DatasetFitError(f"the {model.dataset} test set holds no inputs; there is "
                              f"nothing to evaluate")
    outputs = int(np.prod(model.shapes[-1]))
    if outputs != DATASET_OUTPUTS[model.dataset]:
        if model.dataset == "mnist":
            raise DatasetFitError(f"model {name} has {outputs} outputs; MNIST has 10 classes")
        raise DatasetFitError(f"model {name} has {outputs} outputs; {model.dataset} has "
                              f"{DATASET_OUTPUTS[model.dataset]} targets per input")


def model_test_set(model, mnist_option=None):
    """The test set of the data set `model` names, after checking that the
    model fits it (check_model_fits): what every command that scores or
    compresses a model starts with."""
    test = test_set(model.dataset, mnist_option)
    check_model_fits(model, test)
    return test


def calibration_inputs(dataset, mnist_option=None):
    """The engine's calibration inputs for `dataset`, raw float32 NCHW."""
    if dataset == "sine":
        return sine.calibration_grid()
    images, _ = mnist_train(mnist_option)
    if len(images) < 1:
        raise DatasetFitError("the MNIST training set holds no images; calibration needs some")
    return mnist.raw_pixels(images[mnist.calibration_indices(len(images))])


def normalize_raw(raw, input_spec):
    """(raw - mean) / std in float32, what the float network sees."""
    return ((raw - np.float32(input_spec["mean"])) / np.float32(input_spec["std"])).astype(np.float32)
