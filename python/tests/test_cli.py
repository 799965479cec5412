"""Command-line behaviour: clear errors for bad inputs (missing MNIST data, a
config naming a layer the model lacks, a bad checkpoint, a missing engine:
exit status 2, one line, no traceback), --help everywhere, the ONNX export,
and short end-to-end runs of train (sine) and finetune checked by the
engine."""

import json
import os
import subprocess
import sys

import pytest
import torch

from dmc.errors import MnistNotFoundError
from dmc.mnist import load_mnist, resolve_folder
from dmc.models import build_model
from dmc.modelfile import save_model_file

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_dmc(*args, env_extra=None, drop_mnist_dir=True):
    env = dict(os.environ)
    if drop_mnist_dir:
        env.pop("MNIST_DIR", None)
    env["PYTHONPATH"] = PYTHON_DIR
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "dmc", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_no_folder_given(monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    with pytest.raises(MnistNotFoundError, match="pass --mnist DIR or set MNIST_DIR"):
        resolve_folder(None)


def test_missing_folder_is_named(monkeypatch, tmp_path):
    missing = str(tmp_path / "no-such-mnist")
    monkeypatch.delenv("MNIST_DIR", raising=False)
    with pytest.raises(MnistNotFoundError) as info:
        load_mnist(missing)
    assert missing in str(info.value) and "--mnist" in str(info.value)
    assert "MNIST_DIR" in str(info.value)

    # The environment variable is used when there is no option, and named.
    monkeypatch.setenv("MNIST_DIR", missing)
    with pytest.raises(MnistNotFoundError, match=r"no-such-mnist.*from MNIST_DIR"):
        resolve_folder(None)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(MnistNotFoundError, match=r"has no train-images-idx3-ubyte\.gz"):
        load_mnist(str(tmp_path))


def test_cli_missing_mnist_exits_2_without_traceback(tmp_path):
    missing = str(tmp_path / "nowhere")
    result = run_dmc("train", "--model", "lenet5", "--mnist", missing,
                     "--out", str(tmp_path / "m.json"))
    assert result.returncode == 2
    assert missing in result.stderr and "MNIST_DIR" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m.json").exists()

    result = run_dmc("train", "--out", str(tmp_path / "m.json"))
    assert result.returncode == 2
    assert "no MNIST folder given" in result.stderr and "Traceback" not in result.stderr


def test_cli_bad_idx_exits_2_without_traceback(tmp_path):
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(b"\x00\x00\x08\x09junk")
    result = run_dmc("train", "--mnist", str(tmp_path), "--out", str(tmp_path / "m.json"))
    assert result.returncode == 2
    assert "wrong magic number" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [[], ["train"], ["finetune"], ["export"], ["parity"],
                                     ["evaluate"], ["onnx"]])
def test_help(command):
    result = run_dmc(*command, "--help")
    assert result.returncode == 0
    assert "usage:" in result.stdout


def test_onnx_export(tmp_path):
    onnx = pytest.importorskip("onnx", reason="the onnx package is not installed")
    model_file = tmp_path / "m.json"
    save_model_file(build_model("lenet5"), model_file)
    out = tmp_path / "m.onnx"
    result = run_dmc("onnx", "--model-file", str(model_file), "-o", str(out))
    assert result.returncode == 0, result.stderr
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto)
    assert proto.opset_import[0].version == 13
    (inp,) = proto.graph.input
    assert inp.name == "input"
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch"                      # dynamic batch
    assert [d.dim_value for d in dims[1:]] == [1, 28, 28]   # NCHW


def test_onnx_bad_model_file_exits_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    result = run_dmc("onnx", "--model-file", str(bad), "-o", str(tmp_path / "x.onnx"))
    assert result.returncode == 2
    assert "bad.json" in result.stderr and "Traceback" not in result.stderr


def _lenet5_file(tmp_path):
    path = tmp_path / "m.json"
    save_model_file(build_model("lenet5"), path)
    return str(path)


def _config_file(tmp_path, doc):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _clean_error(result, *expected):
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


def test_finetune_missing_mnist_folder(tmp_path):
    missing = str(tmp_path / "no-mnist-here")
    result = run_dmc("finetune", "--model", _lenet5_file(tmp_path),
                     "--config", _config_file(tmp_path, {"default": {"bits": 4}}),
                     "--mnist", missing, "--out", str(tmp_path / "f.json"))
    _clean_error(result, missing, "MNIST_DIR")
    assert not (tmp_path / "f.json").exists()


def test_config_naming_a_missing_layer(tmp_path):
    config = _config_file(tmp_path, {"layers": {"fc9": {"bits": 2}}})
    for command in (["finetune", "--out", str(tmp_path / "f.json")], ["evaluate"],
                    ["parity"]):
        result = run_dmc(command[0], "--model", _lenet5_file(tmp_path), "--config", config,
                         *command[1:], env_extra={"MNIST_DIR": str(tmp_path)})
        _clean_error(result, "has no layer 'fc9'", "conv1, conv2, fc1, fc2, fc3")


def test_bad_config_values(tmp_path):
    result = run_dmc("evaluate", "--model-file", _lenet5_file(tmp_path), "--config",
                     _config_file(tmp_path, {"default": {"bits": 3}}))
    _clean_error(result, "bits 3 is not supported")
    result = run_dmc("evaluate", "--model-file", _lenet5_file(tmp_path), "--config",
                     _config_file(tmp_path, {"layers": {"fc3": {"keep": 0.5}}}))
    _clean_error(result, "output layer")


def test_export_bad_checkpoints(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    _clean_error(run_dmc("export", "--checkpoint", str(junk), "--model", "lenet5",
                         "--out", str(tmp_path / "x.json")), "junk.pt", "not a readable")
    plain = tmp_path / "plain.pt"
    torch.save(build_model("lenet5").state_dict(), plain)
    _clean_error(run_dmc("export", "--checkpoint", str(plain), "--model", "lenet5",
                         "--out", str(tmp_path / "x.json")), "a plain state_dict holds weights")
    script = tmp_path / "script.pt"
    torch.jit.save(torch.jit.trace(build_model("lenet5"), torch.zeros(1, 1, 28, 28)), script)
    _clean_error(run_dmc("export", "--checkpoint", str(script), "--out", str(tmp_path / "x.json")),
                 "--model")
    _clean_error(run_dmc("export", "--checkpoint", str(script), "--model", "lenet300",
                         "--out", str(tmp_path / "x.json")), "does not fit model 'lenet300'")
    _clean_error(run_dmc("export", "--checkpoint", str(tmp_path / "absent.pt"), "--model",
                         "lenet5", "--out", str(tmp_path / "x.json")), "no such checkpoint")


def test_parity_without_engine(tmp_path):
    result = run_dmc("parity", "--model", _lenet5_file(tmp_path), "--dmc",
                     str(tmp_path / "no-dmc"), env_extra={"MNIST_DIR": str(tmp_path)})
    _clean_error(result, "no-dmc", "cmake --build build")


def test_sine_train_and_engine_eval(tmp_path, dmc_bin):
    """The regression model end to end: trained here (a few epochs), scored
    by the engine with its mean squared error."""
    out = tmp_path / "sine.json"
    result = run_dmc("train", "--model", "sine", "--epochs", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    assert doc["task"] == "regression" and doc["dataset"] == "sine"
    report = json.loads(subprocess.run([dmc_bin, "eval", "--model", str(out), "--json"],
                                       capture_output=True, text=True, check=True).stdout)
    assert abs(report["float_mse"] - doc["metadata"]["float_test_mse"]) < 1e-6 * max(
        1.0, report["float_mse"])
    assert report["mse"] > 0


def test_finetune_is_what_the_engine_measures(tmp_path, fake_mnist, dmc_bin):
    """A short fine-tuning on synthetic data: the engine's compressed accuracy
    of the written model + config is the one finetune reported."""
    model = tmp_path / "m.json"
    result = run_dmc("train", "--model", "lenet5", "--epochs", "1", "--mnist", fake_mnist,
                     "--out", str(model))
    assert result.returncode == 0, result.stderr
    config = _config_file(tmp_path, {"default": {"bits": 4}, "layers": {
        "conv2": {"keep": 0.5}, "fc1": {"keep": 0.3, "bits": 2}}})
    out = tmp_path / "f.json"
    result = run_dmc("finetune", "--model", str(model), "--config", config, "--epochs", "2",
                     "--recalibrate-every", "2", "--mnist", fake_mnist, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "compressed test" in result.stdout
    written = json.loads(out.read_text())
    saved_config = tmp_path / "f.config.json"
    assert json.loads(saved_config.read_text())["layers"]["fc1"] == {"bits": 2, "keep": 0.3}
    report = json.loads(subprocess.run(
        [dmc_bin, "eval", "--model", str(out), "--config", str(saved_config), "--json",
         "--mnist", fake_mnist], capture_output=True, text=True, check=True).stdout)
    assert report["accuracy"] == written["metadata"]["compressed_test"]["accuracy"]
    assert report["flash_bytes"] == written["metadata"]["flash_bytes"]
    assert report["float_flash_bytes"] == 4 * 61706
