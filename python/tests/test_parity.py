"""Parity: the engine CLI and the PyTorch simulation of its integer
arithmetic give identical outputs (zero mismatches) on the same inputs, for
8-, 4- and 2-bit configs with pruning, for every layer kind, and for the
regression task. The simulation derives every parameter itself; the engine's
parameter dump is only compared as a diagnostic."""

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import ASSETS, PYTHON_DIR
from dmc import parity
from dmc.models import DmcNet, build_model
from dmc.mnist import MNIST_INPUT
from dmc.modelfile import save_model_file

LENET5 = os.path.join(ASSETS, "lenet5.json")

CONFIGS = {
    "int8": None,
    "int4_pruned": {"default": {"bits": 4},
                    "layers": {"conv2": {"keep": 0.5}, "fc1": {"keep": 0.5}}},
    "int2_pruned_l2": {"default": {"bits": 2}, "prune_norm": "l2",
                       "layers": {"conv1": {"bits": 8, "keep": 0.5}, "conv2": {"keep": 0.75},
                                  "fc1": {"keep": 0.25}, "fc2": {"bits": 4}}},
    "mixed_pruned": {"layers": {"conv2": {"bits": 4, "keep": 0.6},
                                "fc1": {"bits": 2, "keep": 0.4}, "fc3": {"bits": 4}}},
}

# Every layer kind and option the engine has: a conv with stride and
# padding (which reads the input zero point) and no bias, average pooling
# with padding, a ReLU that is not fused, a flatten of a multi-channel image.
ODD_LAYERS = [
    {"name": "c1", "type": "conv2d", "in_channels": 1, "out_channels": 8, "kernel": 3,
     "stride": 2, "padding": 1, "bias": False},
    {"name": "a1", "type": "avgpool2d", "kernel": 3, "stride": 1, "padding": 1},
    {"name": "m1", "type": "maxpool2d", "kernel": 2},
    {"name": "r1", "type": "relu"},
    {"name": "c2", "type": "conv2d", "in_channels": 8, "out_channels": 12, "kernel": 3,
     "padding": 1},
    {"name": "r2", "type": "relu"},
    {"name": "a2", "type": "avgpool2d", "kernel": 2},
    {"name": "f1", "type": "flatten"},
    {"name": "l1", "type": "linear", "in_features": 108, "out_features": 20},
    {"name": "r3", "type": "relu"},
    {"name": "l2", "type": "linear", "in_features": 20, "out_features": 10},
]


def write_config(tmp_path, name, doc):
    if doc is None:
        return None
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    return str(path)


def assert_identical(report):
    assert report["mismatches"] == 0, report
    assert report["first_parameter_difference"] is None, report
    assert report.get("output_quantization_agrees", True), report


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_lenet5_configs(name, tmp_path, mnist_dir, dmc_bin):
    report = parity.check(LENET5, write_config(tmp_path, name, CONFIGS[name]), mnist_dir,
                          limit=300, binary=dmc_bin, log=lambda line: None)
    assert report["images"] == 300 and report["all_integer"]
    assert_identical(report)


@pytest.mark.parametrize("config", [
    {"default": {"bits": 8}},
    {"default": {"bits": 4}, "layers": {"c1": {"keep": 0.5}, "c2": {"keep": 0.5, "bits": 2}}},
])
def test_every_layer_kind(config, tmp_path, mnist_dir, dmc_bin):
    torch.manual_seed(5)
    model = DmcNet("odd", MNIST_INPUT, ODD_LAYERS)
    path = str(tmp_path / "odd.json")
    save_model_file(model, path)
    report = parity.check(path, write_config(tmp_path, "c", config), mnist_dir, limit=200,
                          binary=dmc_bin, log=lambda line: None)
    assert_identical(report)


def test_sine_regression(tmp_path, dmc_bin):
    torch.manual_seed(2)
    model = build_model("sine")
    path = str(tmp_path / "sine.json")
    save_model_file(model, path)
    for bits in (8, 4, 2):
        config = write_config(tmp_path, f"b{bits}", {"default": {"bits": bits},
                                                     "layers": {"fc2": {"keep": 0.5}}})
        report = parity.check(path, config, None, binary=dmc_bin, log=lambda line: None)
        assert report["images"] == 1000
        assert_identical(report)


def test_parity_cli(tmp_path, mnist_dir, dmc_bin):
    config = write_config(tmp_path, "c", CONFIGS["int4_pruned"])
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR, MNIST_DIR=mnist_dir, DMC_BIN=dmc_bin)
    result = subprocess.run([sys.executable, "-m", "dmc", "parity", "--model", LENET5,
                             "--config", config, "--limit", "100", "--json",
                             str(tmp_path / "r.json")],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 mismatches in 100 images" in result.stdout
    (report,) = json.loads((tmp_path / "r.json").read_text())
    assert report["mismatches"] == 0


def test_row_too_small_for_its_bias(tmp_path, mnist_dir, dmc_bin):
    """One conv2 row scaled down to max|w| 3e-8 (issue 11): at its own scale
    its bias would leave int32, so both sides scale it as the layer's
    largest row, and still agree on every integer."""
    from dmc.modelfile import load_model_file
    model = load_model_file(LENET5)
    with torch.no_grad():
        row = model.conv2.weight[3]
        row.mul_(3e-8 / float(row.abs().max()))
    path = str(tmp_path / "tiny_row.json")
    save_model_file(model, path)
    for bits in (8, 2):
        config = write_config(tmp_path, f"b{bits}", {"default": {"bits": bits}})
        report = parity.check(path, config, mnist_dir, limit=200, binary=dmc_bin,
                              log=lambda line: None)
        assert_identical(report)
