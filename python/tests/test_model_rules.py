"""One set of validity rules, two readers: every case of tests/model_rules.json
goes through the engine (`dmc info`, `dmc eval`) and through python/
(load_model_file, datasets.model_test_set), and both must give the outcome
the table says (engine/MODEL_FORMAT.md, "Validity rules").

A case is a file built from an asset (`base`, default lenet5.json) by
`patch`, a list of edits applied in order, each at `path` (keys; in a list,
an integer index or a layer name):

  {"path": P, "value": V}            set to V
  {"path": P, "delete": true}        remove
  {"path": P, "fill": [N, X]}        a base64 tensor of N float32 values X
  {"path": P, "nest": D}             D nested empty arrays ([[...]]),
  {"path": P, "nest": D, "holding": V}   the innermost holding V
  {"path": P, "insert": [I, N, L]}   N copies of layer L at index I, named
                                     L's name + 0, 1, ...

then, on the JSON text: `raw_replace` [old, new] (once; for what JSON cannot
hold, such as 1e999), `raw_prefix`, `raw_suffix`. `expect` is "load" (both
refuse the file when loading it), "fit" (both load it, and both refuse it
for its data set before evaluating), "config" (both load it and refuse the
case's compression `config`, a JSON object, for it) or "ok" (with a
`config`, both accept it too); `message`, where given, is a fragment both
messages contain.

Also here: the Python commands on what only evaluation shows (an empty test
set, weights of 1e38) and on a file refused at load, run as a user would:
a clear one-line error, no traceback.
"""

import base64
import gzip
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from conftest import ASSETS, PYTHON_DIR, REPO
from dmc import datasets
from dmc.config import ConfigError, config_from_dict, validate_config
from dmc.errors import DatasetFitError, ModelFileError
from dmc.modelfile import load_model_file

with open(os.path.join(REPO, "tests", "model_rules.json"), encoding="utf-8") as _f:
    CASES = json.load(_f)


def _step(container, key):
    """Index `container` by a path element: a key, a list index, or the
    name of a layer in a list."""
    if isinstance(container, list) and isinstance(key, str):
        (index,) = [i for i, item in enumerate(container) if item.get("name") == key]
        return index
    return key


def _nested(depth, holding):
    # Built from the inside out, without recursion.
    value = [] if holding is None else [holding]
    for _ in range(depth - 1):
        value = [value]
    return value


def apply_patch(doc, edit):
    *parents, last = edit["path"]
    target = doc
    for key in parents:
        target = target[_step(target, key)]
    last = _step(target, last)
    if "value" in edit:
        target[last] = edit["value"]
    elif edit.get("delete"):
        del target[last]
    elif "fill" in edit:
        count, x = edit["fill"]
        target[last] = base64.b64encode(np.full(count, x, "<f4").tobytes()).decode("ascii")
    elif "nest" in edit:
        target[last] = _nested(edit["nest"], edit.get("holding"))
    elif "insert" in edit:
        at, count, layer = edit["insert"]
        copies = [dict(layer, name=f"{layer['name']}{i}") for i in range(count)]
        target[last][at:at] = copies
    else:
        raise ValueError(f"unknown edit {edit}")


def build_case(case, folder):
    """Write the case's model file; return its path."""
    with open(os.path.join(ASSETS, case.get("base", "lenet5.json")), encoding="utf-8") as f:
        doc = json.load(f)
    for edit in case["patch"]:
        apply_patch(doc, edit)
    # json.dumps recurses once per level; the 100,000-level case is written
    # by hand around a placeholder instead.
    deep = [e for e in case["patch"] if e.get("nest", 0) > 500]
    if deep:
        (edit,) = deep
        apply_patch(doc, {"path": edit["path"], "value": "DEEP"})
    text = json.dumps(doc)
    if deep:
        text = text.replace('"DEEP"', "[" * edit["nest"] + "]" * edit["nest"], 1)
    if "raw_replace" in case:
        old, new = case["raw_replace"]
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    text = case.get("raw_prefix", "") + text + case.get("raw_suffix", "")
    path = os.path.join(folder, "model.json")
    with open(path, "wb") as f:
        f.write(text.encode("utf-8"))
    return path


def write_config(case, folder):
    """The case's config file, or None."""
    if "config" not in case:
        return None
    path = os.path.join(folder, "config.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(case["config"], f)
    return path


def run_engine(dmc_bin, mnist_dir, *args):
    return subprocess.run([dmc_bin, *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, MNIST_DIR=mnist_dir))


def assert_refused(result, fragment):
    """A clear error: exit 1..127 (not a signal), the fragment in one short
    message."""
    assert 1 <= result.returncode <= 127, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr) < 4000, result.stderr[:4000]
    if fragment:
        assert fragment in result.stderr, result.stderr


def test_the_table_covers_every_outcome():
    expects = [case["expect"] for case in CASES]
    assert {"load", "fit", "config", "ok"} == set(expects)
    assert len({case["name"] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_engine(case, tmp_path, dmc_bin, mnist_dir):
    path = build_case(case, str(tmp_path))
    info = run_engine(dmc_bin, mnist_dir, "info", "--model", path)
    if case["expect"] == "load":
        assert_refused(info, case.get("message"))
        return
    assert info.returncode == 0, info.stderr
    config = write_config(case, str(tmp_path))
    evaluated = run_engine(dmc_bin, mnist_dir, "eval", "--model", path, "--limit", "1",
                           *(["--config", config] if config else []))
    if case["expect"] in ("fit", "config"):
        assert_refused(evaluated, case.get("message"))
    else:
        assert evaluated.returncode == 0, evaluated.stderr


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_python(case, tmp_path, mnist_dir):
    path = build_case(case, str(tmp_path))
    if case["expect"] == "load":
        with pytest.raises(ModelFileError) as refused:
            load_model_file(path)
        message = str(refused.value)
        assert message.startswith(path + ": "), message
        assert case.get("message", "") in message
        assert len(message) < 1000, message[:1000]
        return
    model = load_model_file(path)
    if "config" in case:
        config = config_from_dict(case["config"])
        if case["expect"] == "config":
            with pytest.raises(ConfigError) as refused:
                validate_config(config, model)
            assert case.get("message", "") in str(refused.value)
            return
        validate_config(config, model)
    if case["expect"] == "fit":
        with pytest.raises(DatasetFitError) as refused:
            datasets.model_test_set(model, mnist_dir)
        assert case.get("message", "") in str(refused.value)
    else:
        test = datasets.model_test_set(model, mnist_dir)
        assert len(test) == (10000 if model.dataset == "mnist" else 1000)


# ------------------------------------------------- the commands, end to end

def run_python(*args):
    return subprocess.run([sys.executable, "-m", "dmc", *args], capture_output=True, text=True,
                          cwd=PYTHON_DIR, timeout=300)


def _write_idx(path, magic, dims, data=b""):
    with open(path, "wb") as f:
        f.write(gzip.compress(struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims)
                              + data))


def _mnist_with_empty_test_set(folder, mnist_dir):
    """The real training files beside two t10k files that declare 0 items."""
    os.makedirs(folder)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        name = stem + ".gz" if os.path.exists(os.path.join(mnist_dir, stem + ".gz")) else stem
        os.symlink(os.path.join(mnist_dir, name), os.path.join(folder, name))
    _write_idx(os.path.join(folder, "t10k-images-idx3-ubyte.gz"), 2051, (0, 28, 28))
    _write_idx(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"), 2049, (0,))
    return folder


def test_empty_test_set_is_a_clear_error(tmp_path, dmc_bin, mnist_dir):
    folder = _mnist_with_empty_test_set(str(tmp_path / "mnist"), mnist_dir)
    model = os.path.join(ASSETS, "lenet5.json")
    expected = "the mnist test set holds no inputs; there is nothing to evaluate"
    assert_refused(run_python("evaluate", "--model-file", model, "--mnist", folder), expected)
    assert_refused(run_engine(dmc_bin, folder, "eval", "--model", model), expected)


def test_std_1e_50_is_refused_by_evaluate(tmp_path, mnist_dir):
    (case,) = [c for c in CASES if c["name"] == "std 1e-50"]
    path = build_case(case, str(tmp_path))
    result = run_python("evaluate", "--model-file", path, "--mnist", mnist_dir)
    assert_refused(result, "std 1e-50 is outside [1e-06, 1e+06]")
    assert "accuracy" not in result.stdout


def test_overflowing_float_model_is_refused_by_evaluate(tmp_path, dmc_bin, mnist_dir):
    """Weights of 1e38 are finite, so the file loads; the float outputs are
    not, and an accuracy computed from them would be noise. (In fc3, the
    last layer: 1e38 in fc1 gives inf, then NaN in fc2, which the engine's
    ReLU turns into 0 and PyTorch's keeps.)"""
    case = {"patch": [{"path": ["layers", "fc3", "weight"], "fill": [84 * 10, 1e38]}]}
    path = build_case(case, str(tmp_path))
    result = run_python("evaluate", "--model-file", path, "--mnist", mnist_dir)
    assert_refused(result, "is not finite; its weights or biases overflow float32 arithmetic")
    assert "accuracy" not in result.stdout
    assert_refused(run_engine(dmc_bin, mnist_dir, "eval", "--model", path, "--limit", "1"),
                   "overflow float32 arithmetic")


def test_onnx_refuses_a_model_that_does_not_fit_its_data(tmp_path):
    (case,) = [c for c in CASES if c["name"] == "2-class model on MNIST"]
    path = build_case(case, str(tmp_path))
    result = run_python("onnx", "--model-file", path, "-o", str(tmp_path / "m.onnx"))
    assert_refused(result, "has 2 outputs; MNIST has 10 classes")
    assert not (tmp_path / "m.onnx").exists()


def test_deep_nesting_is_refused_by_the_commands(tmp_path):
    (case,) = [c for c in CASES if c["name"] == "metadata nested 100000 levels"]
    path = build_case(case, str(tmp_path))
    result = run_python("onnx", "--model-file", path, "-o", str(tmp_path / "m.onnx"))
    assert_refused(result, "JSON nested deeper than 64 levels")
