"""Locating and loading MNIST, and the input spec models trained on it use.

The data set is never bundled with the repository: its folder comes from the
--mnist option or, failing that, the MNIST_DIR environment variable. The folder
holds the four original IDX files, gzip-compressed or not.
"""

import os

import numpy as np

from .errors import IdxError, MnistNotFoundError
from .idx import read_images, read_labels

ENV_VAR = "MNIST_DIR"

# What the model file's "input" says for MNIST: raw input is pixel / 255 in
# [0, 1]; the network sees (raw - mean) / std, with the usual MNIST training
# set mean and standard deviation.
MNIST_INPUT = {
    "channels": 1, "height": 28, "width": 28,
    "min": 0.0, "max": 1.0, "mean": 0.1307, "std": 0.3081,
}

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_HOW_TO = f"pass --mnist DIR or set {ENV_VAR} to the folder holding the four MNIST IDX files"


def resolve_folder(option=None):
    """Return the MNIST folder from the option, else from MNIST_DIR.

    Raises MnistNotFoundError (naming the folder and saying how to fix it)
    when neither is given or the folder does not exist.
    """
    folder = option if option else os.environ.get(ENV_VAR)
    if not folder:
        raise MnistNotFoundError(f"no MNIST folder given: {_HOW_TO}")
    source = "--mnist" if option else ENV_VAR
    if not os.path.isdir(folder):
        raise MnistNotFoundError(
            f"MNIST folder {folder!r} (from {source}) does not exist or is not "
            f"a folder: {_HOW_TO}")
    return folder


def _find_file(folder, stem):
    """Path of `stem` in `folder`, compressed (.gz) or not."""
    for name in (stem + ".gz", stem):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise MnistNotFoundError(
        f"MNIST folder {folder!r} has no {stem}.gz (nor {stem}): {_HOW_TO}")


def load_split(folder, split):
    """Load one split ("train" or "test") as (images uint8 NxHxW, labels uint8 N)."""
    image_stem, label_stem = _FILES[split]
    image_path = _find_file(folder, image_stem)
    label_path = _find_file(folder, label_stem)
    images = read_images(image_path)
    labels = read_labels(label_path)
    rows, cols = images.shape[1:]
    if (rows, cols) != (MNIST_INPUT["height"], MNIST_INPUT["width"]):
        raise IdxError(f"{image_path}: images are {rows}x{cols}, MNIST's are "
                       f"{MNIST_INPUT['height']}x{MNIST_INPUT['width']}")
    if len(images) != len(labels):
        raise IdxError(f"{image_path} has {len(images)} images but "
                       f"{label_path} has {len(labels)} labels")
    return images, labels


def load_mnist(option=None):
    """Load both splits: ((train_images, train_labels), (test_images, test_labels))."""
    folder = resolve_folder(option)
    return load_split(folder, "train"), load_split(folder, "test")


def normalize(images, input_spec=MNIST_INPUT):
    """uint8 images (N, H, W) -> float32 (N, 1, H, W) as the network sees them.

    raw = pixel / 255 (the model file's [min, max] = [0, 1]), then
    (raw - mean) / std. Done in float32 like the engine and the ONNX users.
    """
    raw = images.astype(np.float32) / np.float32(255.0)
    x = (raw - np.float32(input_spec["mean"])) / np.float32(input_spec["std"])
    return x[:, None, :, :]


# The engine calibrates activation ranges on a fixed slice of the training
# set (engine/src/mnist.cpp): the first CALIBRATION_COUNT entries of a
# partial Fisher-Yates shuffle of 0..59999 driven by splitmix64 from this
# seed. The integer simulation must see the very same images.
CALIBRATION_SEED = 20241126
CALIBRATION_COUNT = 1000
_MASK64 = (1 << 64) - 1


def calibration_indices(total, count=CALIBRATION_COUNT, seed=CALIBRATION_SEED):
    """The engine's calibration_indices(), bit for bit (uint64 arithmetic)."""
    count = min(count, total)
    index = list(range(total))
    state = seed
    for i in range(count):
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        z ^= z >> 31
        j = i + z % (total - i)
        index[i], index[j] = index[j], index[i]
    return index[:count]


def raw_pixels(images):
    """uint8 images (N, H, W) -> raw inputs float32 (N, 1, H, W) in [0, 1],
    computed as the engine does: float(p) / 255.0f."""
    return (images.astype(np.float32) / np.float32(255.0))[:, None, :, :]
