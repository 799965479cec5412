"""The committed models in assets/: well-formed, and really as good as the
README says. The float models' accuracy is recomputed by the independent
NumPy reference; each compressed model + config is measured by the engine
(`dmc eval`, the measurement that counts) against the targets of the
Deep Compression comparison, and checked for parity with the simulation."""

import json
import os
import subprocess

import numpy as np
import pytest

import numpy_reference
from conftest import ASSETS
from dmc import parity
from dmc.mnist import load_split
from dmc.modelfile import load_model_file


def asset(name):
    return os.path.join(ASSETS, name)


# name -> (float accuracy at least, compressed: max error, max flash bytes,
#          float bytes)
COMPRESSED = {
    "lenet5_caffe": (0.9920, 0.0080, 43100, 1724320),
    "lenet300": (0.9836, 0.0164, 26661, 1066440),
}


def test_asset_loads_and_claims_the_target_accuracy():
    model = load_model_file(asset("lenet5.json"))
    assert model.model_name == "lenet5"
    assert [s["name"] for s in model.layer_specs] == [
        "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten",
        "fc1", "relu3", "fc2", "relu4", "fc3"]
    assert model.metadata["float_test_accuracy"] >= 0.991
    caffe = load_model_file(asset("lenet5_caffe.json"))
    assert caffe.metadata["float_test_accuracy"] >= 0.992       # <= 0.80% error
    assert load_model_file(asset("lenet300.json")).model_name == "lenet300"


def test_float_accuracy_with_numpy_reference(mnist_dir):
    doc = numpy_reference.load(asset("lenet5.json"))
    images, labels = load_split(mnist_dir, "test")
    raw = images[:, :, :, None].astype(np.float32) / np.float32(255.0)   # NHWC
    correct = int((numpy_reference.predict_raw(doc, raw) == labels).sum())
    claimed = doc["metadata"]["float_test_correct"]
    # Float64 here vs float32 in PyTorch: at most a near-tie may flip.
    assert abs(correct - claimed) <= 1, (correct, claimed)


@pytest.mark.parametrize("name", sorted(COMPRESSED))
def test_float_accuracy_with_the_engine(name, mnist_dir, dmc_bin):
    report = json.loads(subprocess.run(
        [dmc_bin, "eval", "--model", asset(f"{name}.json"), "--json", "--mnist", mnist_dir],
        capture_output=True, text=True, check=True).stdout)
    meta = load_model_file(asset(f"{name}.json")).metadata
    assert abs(round(report["float_accuracy"] * 10000) - meta["float_test_correct"]) <= 1
    assert report["float_accuracy"] >= COMPRESSED[name][0]


@pytest.mark.parametrize("name", sorted(COMPRESSED))
def test_compressed_as_the_engine_measures_it(name, mnist_dir, dmc_bin):
    _, max_error, max_flash, float_bytes = COMPRESSED[name]
    model, config = asset(f"{name}.compressed.json"), asset(f"{name}.compressed.config.json")
    report = json.loads(subprocess.run(
        [dmc_bin, "eval", "--model", model, "--config", config, "--json", "--mnist", mnist_dir],
        capture_output=True, text=True, check=True).stdout)
    meta = load_model_file(model).metadata
    assert report["images"] == 10000
    assert report["accuracy"] == meta["compressed_test"]["accuracy"]   # what finetune said
    assert 1 - report["accuracy"] <= max_error
    assert report["flash_bytes"] == meta["flash_bytes"] <= max_flash
    assert report["float_flash_bytes"] == float_bytes
    assert json.loads(open(config).read()) == meta["compression_config"]


@pytest.mark.parametrize("name", sorted(COMPRESSED))
def test_compressed_parity(name, mnist_dir, dmc_bin):
    report = parity.check(asset(f"{name}.compressed.json"),
                          asset(f"{name}.compressed.config.json"), mnist_dir, limit=300,
                          binary=dmc_bin, log=lambda line: None)
    assert report["mismatches"] == 0 and report["first_parameter_difference"] is None


def test_sine_regressor(dmc_bin):
    """The regression model: the engine's mean squared error on its sine grid
    is what train and finetune recorded; compressed, it still fits sin(x)."""
    meta = load_model_file(asset("sine.json")).metadata
    report = json.loads(subprocess.run([dmc_bin, "eval", "--model", asset("sine.json"),
                                        "--json"], capture_output=True, text=True,
                                       check=True).stdout)
    # Float32 outputs of two implementations: equal to a few units in the last place.
    assert report["float_mse"] == pytest.approx(meta["float_test_mse"], rel=1e-4)
    model, config = asset("sine.compressed.json"), asset("sine.compressed.config.json")
    report = json.loads(subprocess.run([dmc_bin, "eval", "--model", model, "--config", config,
                                        "--json"], capture_output=True, text=True,
                                       check=True).stdout)
    meta = load_model_file(model).metadata
    assert report["mse"] == pytest.approx(meta["compressed_test"]["mse"], rel=1e-9)
    assert report["mse"] < 1e-3
    assert parity.check(model, config, None, binary=dmc_bin,
                        log=lambda line: None)["mismatches"] == 0
