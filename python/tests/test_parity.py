"""Parity: the engine CLI and the PyTorch simulation of its integer
arithmetic give identical outputs (zero mismatches) on the same inputs, for
8-, 4- and 2-bit configs with pruning, for every layer kind, and for the
regression task. The simulation derives every parameter itself; the engine's
parameter dump is only compared as a diagnostic."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ASSETS, DEPTHWISE_LAYERS, PYTHON_DIR
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


DEPTHWISE_CONFIGS = {
    "int8": {"default": {"bits": 8}},
    # Pruning c1 removes depthwise channels (it has no keep of its own).
    "int4_pruned": {"default": {"bits": 4}, "layers": {"c1": {"keep": 0.5}, "pw": {"keep": 0.5}}},
    "mixed": {"layers": {"c1": {"bits": 8, "keep": 0.75}, "dw": {"bits": 2},
                         "pw": {"bits": 4, "keep": 0.6}, "fc": {"bits": 2}}},
}


def depthwise_model():
    """DEPTHWISE_LAYERS with weights large enough that c1 and dw see
    pre-activations beyond 6: their calibrated ranges are clipped to [0, 6]
    (scale 6 / 255), which a simulation without the clip would miss."""
    torch.manual_seed(7)
    model = DmcNet("dwnet", MNIST_INPUT, DEPTHWISE_LAYERS)
    with torch.no_grad():
        model.c1.weight.mul_(8.0)
        model.c1.bias.add_(1.0)
        model.dw.weight.mul_(3.0)
    return model


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


@pytest.mark.parametrize("name", sorted(DEPTHWISE_CONFIGS))
def test_depthwise_global_pool_relu6(name, tmp_path, mnist_dir, dmc_bin):
    from dmc import datasets
    from dmc.compress import CompressedModel
    from dmc.config import config_from_dict
    model = depthwise_model()
    path = str(tmp_path / "dwnet.json")
    doc = save_model_file(model, path)
    assert doc["version"] == 2
    config = DEPTHWISE_CONFIGS[name]
    report = parity.check(path, write_config(tmp_path, name, config), mnist_dir, limit=300,
                          binary=dmc_bin, log=lambda line: None)
    assert report["images"] == 300 and report["all_integer"]
    assert_identical(report)

    cm = CompressedModel(model, config_from_dict(config))
    cm.calibrate(datasets.calibration_inputs(model.dataset, mnist_dir))
    # The clip bit (the range would be wider than 6 without it)...
    assert cm.net.c1.q_out.scale == 6.0 / 255.0 and cm.net.dw.q_out.scale == 6.0 / 255.0
    # ...pruning went through the depthwise layer and global pooling...
    assert cm.plan.kept["dw"] == cm.plan.kept["c1"]
    assert cm.plan.live_in["fc"] == cm.plan.kept["pw"]
    # ...and the outputs are not degenerate (a constant output would agree
    # whatever the arithmetic).
    out = cm.outputs(datasets.model_test_set(model, mnist_dir).limit(300).raw)
    assert len(np.unique(out, axis=0)) > 50


def test_standalone_relu6(tmp_path, mnist_dir, dmc_bin):
    """A ReLU with a max after pooling is not fused: it clamps to [z,
    act_max] in its input's quantization, and act_max is below 127 here
    (the conv's range is much wider than 0.5)."""
    from dmc import datasets
    from dmc.compress import CompressedModel
    from dmc.config import config_from_dict
    from dmc.layers import quantized_relu_max
    layers = [
        {"name": "c1", "type": "conv2d", "in_channels": 1, "out_channels": 6, "kernel": 5},
        {"name": "p1", "type": "maxpool2d", "kernel": 2},
        {"name": "r1", "type": "relu", "max": 0.5},
        {"name": "dw", "type": "depthwise_conv2d", "channels": 6, "kernel": 3, "bias": False},
        {"name": "gap", "type": "global_avgpool2d"},
        {"name": "fc", "type": "linear", "in_features": 6, "out_features": 10},
    ]
    torch.manual_seed(11)
    model = DmcNet("relu6", MNIST_INPUT, layers)
    path = str(tmp_path / "relu6.json")
    save_model_file(model, path)
    for bits in (8, 4):
        config = {"default": {"bits": bits}}
        report = parity.check(path, write_config(tmp_path, f"b{bits}", config), mnist_dir,
                              limit=300, binary=dmc_bin, log=lambda line: None)
        assert_identical(report)
        cm = CompressedModel(model, config_from_dict(config))
        cm.calibrate(datasets.calibration_inputs(model.dataset, mnist_dir))
        assert quantized_relu_max(0.5, cm.net.c1.q_out) < 120
