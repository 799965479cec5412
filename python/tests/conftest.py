"""Shared test setup: one CPU thread and fixed seeds, so tests are quick and
repeatable on a shared two-core machine; fixtures for what some tests need
from outside the package: the MNIST folder, the engine CLI, and a tiny
synthetic MNIST for runs that must not take long."""

import gzip
import os
import struct
import sys

import numpy as np
import pytest
import torch

# Lets the tests import the package when pytest runs without the ini file's
# pythonpath (e.g. from another folder with explicit paths).
PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PYTHON_DIR)
REPO = os.path.dirname(PYTHON_DIR)

# Every version-2 layer (engine/MODEL_FORMAT.md): ReLU6 fused into a conv
# and into a depthwise conv with stride 2 and padding (which reads the input
# zero point), a pointwise conv, global average pooling over 14 x 14 = 196
# positions (a multiplier of 1/196 that is not a power of two), a linear
# layer after it.
DEPTHWISE_LAYERS = [
    {"name": "c1", "type": "conv2d", "in_channels": 1, "out_channels": 8, "kernel": 3,
     "padding": 1},
    {"name": "r1", "type": "relu", "max": 6},
    {"name": "dw", "type": "depthwise_conv2d", "channels": 8, "kernel": 3, "stride": 2,
     "padding": 1},
    {"name": "r2", "type": "relu", "max": 6},
    {"name": "pw", "type": "conv2d", "in_channels": 8, "out_channels": 16, "kernel": 1},
    {"name": "r3", "type": "relu"},
    {"name": "gap", "type": "global_avgpool2d"},
    {"name": "f1", "type": "flatten"},
    {"name": "fc", "type": "linear", "in_features": 16, "out_features": 10},
]
ASSETS = os.path.join(REPO, "assets")

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def mnist_dir():
    """The real MNIST folder. CI sets MNIST_DIR (the Makefile does); a run
    without it fails here rather than skipping the checks that matter."""
    folder = os.environ.get("MNIST_DIR")
    if not folder or not os.path.isdir(folder):
        pytest.fail(f"MNIST_DIR is {folder!r}: set it to the folder with the four MNIST "
                    f"IDX files (make test does) to run the engine and parity tests",
                    pytrace=False)
    return folder


@pytest.fixture(scope="session")
def dmc_bin():
    """The engine CLI: $DMC_BIN or build/engine/dmc (make test builds it)."""
    from dmc.engine import DEFAULT_BINARY, ENV_VAR
    path = os.environ.get(ENV_VAR) or DEFAULT_BINARY
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"engine CLI {path!r} not found: build it first (cmake --build build, "
                    f"or make test) or set {ENV_VAR}", pytrace=False)
    return path


def _idx(magic, dims, data):
    return struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + bytes(data)


def write_fake_mnist(folder, n_train=256, n_test=64, seed=0):
    """Four gzip IDX files of blurry random 'digits': the class decides
    where a blob sits, so a network can learn something in a few steps."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    yy, xx = np.mgrid[0:28, 0:28]
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        cy = 6 + (labels // 5) * 14 + rng.integers(-2, 3, n)
        cx = 4 + (labels % 5) * 5 + rng.integers(-2, 3, n)
        blob = np.exp(-((yy[None] - cy[:, None, None]) ** 2
                        + (xx[None] - cx[:, None, None]) ** 2) / 8.0)
        images = np.clip(255 * blob + rng.integers(0, 40, (n, 28, 28)), 0, 255).astype(np.uint8)
        with open(os.path.join(folder, f"{split}-images-idx3-ubyte.gz"), "wb") as f:
            f.write(gzip.compress(_idx(2051, (n, 28, 28), images.ravel())))
        with open(os.path.join(folder, f"{split}-labels-idx1-ubyte.gz"), "wb") as f:
            f.write(gzip.compress(_idx(2049, (n,), labels)))
    return folder


@pytest.fixture(scope="session")
def fake_mnist(tmp_path_factory):
    return write_fake_mnist(str(tmp_path_factory.mktemp("fake-mnist")))
