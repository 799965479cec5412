"""Export -> engine load -> the same float outputs: the engine's float
reference (every layer at 32 bits) on model files written here agrees with
PyTorch within 1e-5 on real inputs, for every architecture, including the
export of a PyTorch checkpoint through the CLI."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ASSETS, PYTHON_DIR
from dmc import datasets, engine
from dmc.checkpoint import save_checkpoint
from dmc.models import build_model
from dmc.modelfile import load_model_file, save_model_file

FLOAT = {"default": {"bits": 32}}


def engine_float_outputs(dmc_bin, path, tmp_path, mnist, limit):
    config = tmp_path / "float.json"
    config.write_text(json.dumps(FLOAT))
    out, info, _ = engine.infer(dmc_bin, str(path), str(tmp_path / "out.bin"), str(config),
                                mnist, limit=limit)
    assert info["dtype"] == "float32"
    return out


def torch_outputs(model, test):
    x = torch.from_numpy(datasets.normalize_raw(test.raw, model.input_spec))
    with torch.no_grad():
        return model.eval()(x).numpy()


@pytest.mark.parametrize("name", ["lenet5", "lenet5_caffe", "lenet300", "sine"])
def test_fresh_models(name, tmp_path, request, dmc_bin):
    model = build_model(name)
    # The sine regressor needs no data set: the engine makes its own grid.
    mnist_dir = request.getfixturevalue("mnist_dir") if model.dataset == "mnist" else None
    with torch.no_grad():                    # logits well away from zero
        for p in model.parameters():
            p.mul_(2.0)
    path = tmp_path / f"{name}.json"
    save_model_file(model, path)
    test = datasets.test_set(model.dataset, mnist_dir).limit(200)
    ours = torch_outputs(model, test)
    theirs = engine_float_outputs(dmc_bin, path, tmp_path, mnist_dir, 200)
    assert np.abs(ours).max() > 0.05
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-5)


def test_committed_lenet5(tmp_path, mnist_dir, dmc_bin):
    path = os.path.join(ASSETS, "lenet5.json")
    model = load_model_file(path)
    test = datasets.test_set("mnist", mnist_dir).limit(300)
    theirs = engine_float_outputs(dmc_bin, path, tmp_path, mnist_dir, 300)
    np.testing.assert_allclose(theirs, torch_outputs(model, test), rtol=0, atol=1e-5)


def test_checkpoint_export_cli(tmp_path, mnist_dir, dmc_bin):
    """A TorchScript module of the Caffe LeNet-5 with --model, and a dmc
    checkpoint, both exported by the CLI to the same file."""
    model = build_model("lenet5_caffe")
    script = tmp_path / "script.pt"
    torch.jit.save(torch.jit.trace(model.eval(), torch.zeros(1, 1, 28, 28)), script)
    ours = tmp_path / "dmc.pt"
    save_checkpoint(model, str(ours))
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    for args, out in (([str(script), "--model", "lenet5_caffe"], "a.json"),
                      ([str(ours)], "b.json")):
        result = subprocess.run([sys.executable, "-m", "dmc", "export", "--checkpoint", *args,
                                 "--out", str(tmp_path / out)], env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert a["layers"] == b["layers"]
    test = datasets.test_set("mnist", mnist_dir).limit(100)
    theirs = engine_float_outputs(dmc_bin, tmp_path / "a.json", tmp_path, mnist_dir, 100)
    np.testing.assert_allclose(theirs, torch_outputs(model, test), rtol=0, atol=1e-5)


class _CaffeWithoutConvRelus(torch.nn.Module):
    """The Caffe LeNet-5's parameters (same names and shapes), but no ReLU
    after the convolutions: what issue 10 found exported silently."""

    def __init__(self, caffe):
        super().__init__()
        for name in ("conv1", "conv2", "fc1", "fc2"):
            setattr(self, name, getattr(caffe, name))

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(self.conv1(x), 2)
        x = torch.nn.functional.max_pool2d(self.conv2(x), 2)
        x = torch.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


def test_export_refuses_a_module_that_computes_something_else(tmp_path):
    caffe = build_model("lenet5_caffe")
    other = _CaffeWithoutConvRelus(caffe)
    assert set(other.state_dict()) == set(caffe.state_dict())
    script = tmp_path / "no_relu.pt"
    torch.jit.save(torch.jit.trace(other.eval(), torch.zeros(1, 1, 28, 28)), script)
    result = subprocess.run([sys.executable, "-m", "dmc", "export", "--checkpoint", str(script),
                             "--model", "lenet5_caffe", "--out", str(tmp_path / "x.json")],
                            env=dict(os.environ, PYTHONPATH=PYTHON_DIR), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode not in (0,) and result.returncode < 128, result.stderr
    assert "fits model 'lenet5_caffe' by names and shapes but computes something else" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.json").exists()


def test_version_2_layers(tmp_path, mnist_dir, dmc_bin):
    """Depthwise conv (stride, padding), ReLU6 (fused and after pooling,
    where it clamps), global average pooling: the engine's float steps and
    PyTorch's modules agree."""
    from dmc.mnist import MNIST_INPUT
    from dmc.models import DmcNet
    layers = [
        {"name": "c1", "type": "conv2d", "in_channels": 1, "out_channels": 8, "kernel": 3,
         "padding": 1},
        {"name": "r1", "type": "relu", "max": 6},
        {"name": "dw", "type": "depthwise_conv2d", "channels": 8, "kernel": 3, "stride": 2,
         "padding": 1},
        {"name": "p1", "type": "maxpool2d", "kernel": 2},
        {"name": "r2", "type": "relu", "max": 0.5},
        {"name": "pw", "type": "conv2d", "in_channels": 8, "out_channels": 16, "kernel": 1},
        {"name": "r3", "type": "relu"},
        {"name": "g", "type": "global_avgpool2d"},
        {"name": "f", "type": "flatten"},
        {"name": "fc", "type": "linear", "in_features": 16, "out_features": 10},
    ]
    torch.manual_seed(9)
    model = DmcNet("v2", MNIST_INPUT, layers)
    with torch.no_grad():
        model.c1.weight.mul_(8.0)
        model.pw.weight.mul_(4.0)
    path = tmp_path / "v2.json"
    save_model_file(model, path)
    test = datasets.test_set("mnist", mnist_dir).limit(200)
    ours = torch_outputs(model, test)
    theirs = engine_float_outputs(dmc_bin, path, tmp_path, mnist_dir, 200)
    assert np.abs(ours).max() > 0.05
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-5)
