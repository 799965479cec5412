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


def calibration_inputs(dataset, mnist_option=None):
    """The engine's calibration inputs for `dataset`, raw float32 NCHW."""
    if dataset == "sine":
        return sine.calibration_grid()
    images, _ = mnist_train(mnist_option)
    return mnist.raw_pixels(images[mnist.calibration_indices(len(images))])


def normalize_raw(raw, input_spec):
    """(raw - mean) / std in float32, what the float network sees."""
    return ((raw - np.float32(input_spec["mean"])) / np.float32(input_spec["std"])).astype(np.float32)
