"""The committed depthwise-separable model, `assets/dsconv.json`: trained by
a user-style script (`python/examples/dsconv_mnist.py`, plain PyTorch),
exported to ONNX and brought in by `dmc import`; and its fine-tuned
compressed pair `assets/dsconv.compressed{,.config}.json`. The figures
asserted here are the ones written in python/README.md ("A model of one's
own"), measured by the engine (`dmc eval`) on all 10,000 test images."""

import json
import os
import subprocess

import pytest

from conftest import ASSETS
from dmc import parity
from dmc.modelfile import load_model_file

MODEL = os.path.join(ASSETS, "dsconv.json")
COMPRESSED = os.path.join(ASSETS, "dsconv.compressed.json")
CONFIG = os.path.join(ASSETS, "dsconv.compressed.config.json")

# What `dmc eval` measured on the committed files (all 10,000 test images).
FLOAT_CORRECT = 9931            # 99.31%
FLOAT_FLASH = 97704             # 24,426 parameters x 4 bytes
MACS = 554432
COMPRESSED_CORRECT = 9930       # 99.30%
COMPRESSED_FLASH = 15418        # 6.3x smaller than float
COMPRESSED_MACS = 504960        # 96 of conv5's 128 filters kept
PEAK_RAM = 7904                 # conv2: input 1,568 + scratch 64 + output 6,272


def dmc_eval(dmc_bin, mnist_dir, *args):
    return json.loads(subprocess.run(
        [dmc_bin, "eval", "--json", "--mnist", mnist_dir, *args],
        capture_output=True, text=True, check=True).stdout)


def test_the_model_file_is_the_imported_depthwise_network():
    model = load_model_file(MODEL)
    assert model.model_name == "dsconv"
    specs = model.layer_specs
    kinds = [s["type"] for s in specs]
    assert kinds.count("depthwise_conv2d") == 4
    assert kinds.count("conv2d") == 5 and kinds[-3:] == ["global_avgpool2d", "flatten", "linear"]
    # stride-2 depthwise blocks, ReLU6 after each depthwise and pointwise conv
    assert [s.get("stride", 1) for s in specs if s["type"] == "depthwise_conv2d"] == [2, 2, 2, 1]
    assert sum(1 for s in specs if s["type"] == "relu" and s.get("max") == 6) == 8
    # --mean 0.1307 --std 0.3081, kept as the float32 values the engine uses
    assert model.input_spec["mean"] == pytest.approx(0.1307, rel=1e-7)
    assert model.input_spec["std"] == pytest.approx(0.3081, rel=1e-7)
    assert model.metadata["source"] == "onnx" and model.metadata["producer"] == "pytorch 1.13.0"


def test_float_and_compressed_as_the_engine_measures_them(mnist_dir, dmc_bin):
    report = dmc_eval(dmc_bin, mnist_dir, "--model", MODEL)
    assert report["images"] == 10000
    assert round(report["float_accuracy"] * 10000) == FLOAT_CORRECT
    assert report["float_flash_bytes"] == FLOAT_FLASH
    assert report["macs"] == MACS

    report = dmc_eval(dmc_bin, mnist_dir, "--model", COMPRESSED, "--config", CONFIG)
    meta = load_model_file(COMPRESSED).metadata
    assert report["images"] == 10000
    assert round(report["accuracy"] * 10000) == COMPRESSED_CORRECT
    assert report["accuracy"] == meta["compressed_test"]["accuracy"]   # what finetune said
    assert report["flash_bytes"] == COMPRESSED_FLASH == meta["flash_bytes"] < 30000
    assert report["macs"] == COMPRESSED_MACS
    assert report["peak_ram_bytes"] == PEAK_RAM
    # the goal: within half a point of the float model
    assert FLOAT_CORRECT - COMPRESSED_CORRECT <= 50
    assert json.loads(open(CONFIG).read()) == meta["compression_config"]


def test_compressed_parity(mnist_dir, dmc_bin):
    report = parity.check(COMPRESSED, CONFIG, mnist_dir, limit=300, binary=dmc_bin,
                          log=lambda line: None)
    assert report["mismatches"] == 0 and report["first_parameter_difference"] is None
