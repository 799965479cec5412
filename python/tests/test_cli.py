"""Command-line behaviour: clear errors for missing MNIST data (exit status 2,
no traceback), --help everywhere, and the ONNX export."""

import os
import subprocess
import sys

import pytest

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


@pytest.mark.parametrize("command", [[], ["train"], ["evaluate"], ["onnx"]])
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
