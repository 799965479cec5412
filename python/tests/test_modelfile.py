"""Export -> import round trip, and refusal of malformed model files."""

import base64
import copy
import json

import numpy as np
import pytest
import torch

from dmc.errors import ModelFileError
from dmc.models import DmcNet, build_model
from dmc.modelfile import export_model, load_model_file, model_from_dict, save_model_file

# Exercises what LeNet-5 does not: avg pooling with padding, strides, a conv
# without bias, a flatten of a one-channel image, a linear layer on a 1x1
# image, a relu between flatten and linear.
ODD_INPUT = {"channels": 3, "height": 11, "width": 9,
             "min": -1.0, "max": 1.0, "mean": 0.0, "std": 0.5}
ODD_LAYERS = [
    {"name": "c1", "type": "conv2d", "in_channels": 3, "out_channels": 4, "kernel": 3,
     "stride": 2, "padding": 1, "bias": False},
    {"name": "a1", "type": "avgpool2d", "kernel": 3, "stride": 1, "padding": 1},
    {"name": "m1", "type": "maxpool2d", "kernel": 2},
    {"name": "f1", "type": "flatten"},
    {"name": "r1", "type": "relu"},
    {"name": "l1", "type": "linear", "in_features": 24, "out_features": 5},
]
ONE_BY_ONE_LAYERS = [
    {"name": "c1", "type": "conv2d", "in_channels": 3, "out_channels": 7, "kernel": 5},
    {"name": "m1", "type": "maxpool2d", "kernel": 3, "stride": 3},
    {"name": "c2", "type": "conv2d", "in_channels": 7, "out_channels": 6, "kernel": 2},
    {"name": "l1", "type": "linear", "in_features": 6, "out_features": 4},
]
ONE_BY_ONE_INPUT = {"channels": 3, "height": 10, "width": 11,
                    "min": 0.0, "max": 1.0, "mean": 0.5, "std": 0.25}
# Version 2: a depthwise conv with stride, padding and no bias, ReLU6 both
# fused and after pooling, global average pooling into a linear layer
# without a flatten (its output is C x 1 x 1).
DEPTHWISE_LAYERS = [
    {"name": "c1", "type": "conv2d", "in_channels": 3, "out_channels": 6, "kernel": 3},
    {"name": "r1", "type": "relu", "max": 6},
    {"name": "d1", "type": "depthwise_conv2d", "channels": 6, "kernel": 3, "stride": 2,
     "padding": 1, "bias": False},
    {"name": "m1", "type": "maxpool2d", "kernel": 2},
    {"name": "r2", "type": "relu", "max": 0.75},
    {"name": "d2", "type": "depthwise_conv2d", "channels": 6, "kernel": 2},
    {"name": "g1", "type": "global_avgpool2d"},
    {"name": "l1", "type": "linear", "in_features": 6, "out_features": 4},
]


def models():
    return [build_model("lenet5"), build_model("lenet5_caffe"), build_model("lenet300"),
            build_model("sine"),
            DmcNet("odd", ODD_INPUT, ODD_LAYERS),
            DmcNet("onebyone", ONE_BY_ONE_INPUT, ONE_BY_ONE_LAYERS),
            DmcNet("depthwise", ONE_BY_ONE_INPUT, DEPTHWISE_LAYERS)]


def random_input(model, n=4):
    s = model.input_spec
    return torch.randn(n, s["channels"], s["height"], s["width"])


@pytest.mark.parametrize("model", models(), ids=lambda m: m.model_name)
def test_round_trip_is_exact(model, tmp_path):
    path = tmp_path / "m.json"
    meta = {"seed": 3, "note": ["kept", "as", "is"]}
    save_model_file(model, path, meta)
    back = load_model_file(path)

    assert back.layer_specs == model.layer_specs
    assert back.input_spec == model.input_spec
    assert (back.task, back.dataset) == (model.task, model.dataset)
    assert back.metadata == meta
    original, restored = model.state_dict(), back.state_dict()
    assert original.keys() == restored.keys()
    for key in original:
        assert torch.equal(original[key], restored[key]), key

    model.eval()
    back.eval()
    x = random_input(model)
    with torch.no_grad():
        torch.testing.assert_close(back(x), model(x), rtol=0, atol=1e-6)

    # Exporting the import gives the very same document.
    assert export_model(back, meta) == json.loads(path.read_text())


def test_lenet5_file_layout():
    doc = export_model(build_model("lenet5"))
    assert doc["format"] == "dmc-model" and doc["version"] == 1
    assert doc["input"] == {"channels": 1, "height": 28, "width": 28, "min": 0.0,
                            "max": 1.0, "mean": 0.1307, "std": 0.3081}
    names = [layer["name"] for layer in doc["layers"]]
    assert names == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten",
                     "fc1", "relu3", "fc2", "relu4", "fc3"]
    fc1 = doc["layers"][7]
    assert (fc1["in_features"], fc1["out_features"]) == (400, 120)
    assert len(base64.b64decode(fc1["weight"])) == 4 * 400 * 120


@pytest.mark.parametrize("model", models(), ids=lambda m: m.model_name)
def test_version_written(model):
    """Version 1 stays version 1 (byte for byte what it was); a model with a
    version-2 layer or field is written as version 2."""
    expected = 2 if model.model_name == "depthwise" else 1
    assert export_model(model)["version"] == expected


@pytest.mark.parametrize("layers", [
    [{"name": "r", "type": "relu", "max": 6}],
    [{"name": "g", "type": "global_avgpool2d"}],
    [{"name": "d", "type": "depthwise_conv2d", "channels": 3, "kernel": 1}],
], ids=["relu max", "global_avgpool2d", "depthwise_conv2d"])
def test_each_version_2_feature_needs_version_2(layers, tmp_path):
    layers = layers + [{"name": "f", "type": "flatten"},
                       {"name": "l", "type": "linear", "in_features": 330, "out_features": 2}]
    if layers[0]["type"] == "global_avgpool2d":
        layers[2]["in_features"] = 3
    model = DmcNet("v2", ONE_BY_ONE_INPUT, layers)
    doc = export_model(model)
    assert doc["version"] == 2
    path = tmp_path / "m.json"
    save_model_file(model, path)
    assert load_model_file(path).layer_specs == model.layer_specs
    doc["version"] = 1
    with pytest.raises(ModelFileError, match="needs model file version 2"):
        model_from_dict(doc, source="v1.json")


def test_depthwise_file_layout():
    """A depthwise weight [C][1][k][k] is the file's [C][k][k] as it is,
    and the layer computes PyTorch's Conv2d(C, C, k, groups=C)."""
    model = DmcNet("depthwise", ONE_BY_ONE_INPUT, DEPTHWISE_LAYERS)
    doc = export_model(model)
    d1 = next(layer for layer in doc["layers"] if layer["name"] == "d1")
    assert list(d1) == ["name", "type", "channels", "kernel", "stride", "padding", "weight"]
    values = np.frombuffer(base64.b64decode(d1["weight"]), "<f4")
    assert np.array_equal(values, model.d1.weight.detach().numpy().ravel())
    assert values.size == 6 * 3 * 3
    r2 = next(layer for layer in doc["layers"] if layer["name"] == "r2")
    assert r2 == {"name": "r2", "type": "relu", "max": 0.75}
    assert model.shapes[-2] == (6, 1, 1)
    x = random_input(model)
    with torch.no_grad():
        y = torch.nn.functional.conv2d(model.c1(x).clamp(0, 6), model.d1.weight, stride=2,
                                       padding=1, groups=6)
        torch.testing.assert_close(model.d1(model.r1(model.c1(x))), y, rtol=0, atol=0)
        big = torch.full((1, 6, 4, 4), 5.0)
        assert float(model.r2(big).max()) == 0.75


def test_flatten_permutation_by_hand():
    """A one-hot fc1 row that picks activation (c, h, w) in PyTorch must, in
    the file, sit at column (h * W + w) * C + c."""
    model = build_model("lenet5")
    C, H, W = 16, 5, 5
    c, h, w = 11, 3, 1
    with torch.no_grad():
        model.fc1.weight.zero_()
        model.fc1.weight[0, c * H * W + h * W + w] = 1.0
    doc = export_model(model)
    fc1 = np.frombuffer(base64.b64decode(doc["layers"][7]["weight"]), "<f4").reshape(120, 400)
    assert np.flatnonzero(fc1[0]).tolist() == [(h * W + w) * C + c]

    # conv weights: OIHW -> OHWI
    conv2 = np.frombuffer(base64.b64decode(doc["layers"][3]["weight"]), "<f4")
    expected = model.conv2.weight.detach().numpy().transpose(0, 2, 3, 1).ravel()
    assert np.array_equal(conv2, expected)


def test_json_array_tensors_are_accepted():
    model = DmcNet("odd", ODD_INPUT, ODD_LAYERS)
    doc = export_model(model)
    for layer in doc["layers"]:
        for key in ("weight", "bias"):
            if key in layer:
                layer[key] = np.frombuffer(base64.b64decode(layer[key]), "<f4").tolist()
    back = model_from_dict(doc)
    for key, value in model.state_dict().items():
        assert torch.equal(value, back.state_dict()[key])


def _mutate(doc, change):
    doc = copy.deepcopy(doc)
    change(doc)
    return doc


def _layer(name):
    def get(doc):
        return next(layer for layer in doc["layers"] if layer["name"] == name)
    return get


fc1, conv1, pool1 = _layer("fc1"), _layer("conv1"), _layer("pool1")

MALFORMED = {
    "wrong format": (lambda d: d.update(format="onnx"), "format"),
    "wrong version": (lambda d: d.update(version=3), "version 3 is not supported"),
    "boolean version": (lambda d: d.update(version=True), "version"),
    "bad task": (lambda d: d.update(task="ranking"), "task"),
    "regression on mnist": (lambda d: d.update(task="regression"), "dataset 'mnist' is not known"),
    "unknown dataset": (lambda d: d.update(dataset="cifar10"), "dataset 'cifar10'"),
    "bad name": (lambda d: d.update(name="1net"), "name"),
    "unknown top-level field": (lambda d: d.update(extra=1), "extra"),
    "missing layers": (lambda d: d.pop("layers"), "layers"),
    "zero channels": (lambda d: d["input"].update(channels=0), "channels"),
    "bad std": (lambda d: d["input"].update(std=0.0), "std"),
    "min above max": (lambda d: d["input"].update(min=2.0), "min"),
    "unknown layer type": (lambda d: conv1(d).update(type="conv3d"), "conv3d"),
    "layer type not a string": (lambda d: conv1(d).update(type=["conv2d"]), "unknown type"),
    "layer not an object": (lambda d: d["layers"].insert(0, "conv1"), "not an object"),
    "empty layers": (lambda d: d.update(layers=[]), "non-empty"),
    "input not an object": (lambda d: d.update(input=[1, 28, 28]), "input"),
    "duplicate name": (lambda d: fc1(d).update(name="conv1"), "duplicate"),
    "missing weight": (lambda d: fc1(d).pop("weight"), "missing weight"),
    "missing field": (lambda d: conv1(d).pop("kernel"), "kernel"),
    "kernel not an integer": (lambda d: conv1(d).update(kernel=5.0), "kernel"),
    "unknown layer field": (lambda d: conv1(d).update(dilation=2), "dilation"),
    "weight on relu": (lambda d: d["layers"][1].update(weight=[1.0]), "weight"),
    "in_features mismatch": (lambda d: fc1(d).update(in_features=401), "in_features"),
    "in_channels mismatch": (lambda d: conv1(d).update(in_channels=3), "in_channels"),
    "linear without flatten": (lambda d: d["layers"].pop(6), "flatten"),
    "pool padding too big": (lambda d: pool1(d).update(padding=2), "padding"),
    "short weight": (lambda d: fc1(d).update(weight=fc1(d)["weight"][:-16]), "values"),
    "bad base64": (lambda d: fc1(d).update(bias="not base64!"), "base64"),
    "odd byte count": (lambda d: fc1(d).update(bias=base64.b64encode(b"abcde").decode()),
                       "float32"),
    "non-finite": (lambda d: fc1(d).update(
        bias=base64.b64encode(np.full(120, np.inf, "<f4").tobytes()).decode()), "infinite"),
    "tensor of strings": (lambda d: fc1(d).update(bias=["x"] * 120), "numbers"),
    "relu max in version 1": (lambda d: d["layers"][1].update(max=6),
                              "needs model file version 2"),
    "relu max 0": (lambda d: d.update(version=2) or d["layers"][1].update(max=0),
                   "max 0 must be a number in (0, 1000000]"),
    "relu max true": (lambda d: d.update(version=2) or d["layers"][1].update(max=True),
                      "must be a number"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_documents_are_refused(case):
    change, expected = MALFORMED[case]
    doc = _mutate(export_model(build_model("lenet5")), change)
    with pytest.raises(ModelFileError) as info:
        model_from_dict(doc, source="bad.json")
    message = str(info.value)
    assert message.startswith("bad.json: ")
    assert expected in message


@pytest.mark.parametrize("text, expected", [
    ("{", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"format": "dmc-model", "version": 1, "x": NaN}', "not valid JSON"),
])
def test_malformed_files_are_refused(tmp_path, text, expected):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ModelFileError, match=expected):
        load_model_file(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model_file(tmp_path / "absent.json")


def test_architectures_of_the_issue():
    """Parameter counts of Deep Compression's two models, and the sine
    regressor's task and dataset in its file."""
    def count(name):
        return sum(p.numel() for p in build_model(name).parameters())
    assert count("lenet5_caffe") == 431080 and 4 * count("lenet5_caffe") == 1724320
    assert count("lenet300") == 266610 and 4 * count("lenet300") == 1066440
    doc = export_model(build_model("sine"))
    assert (doc["task"], doc["dataset"]) == ("regression", "sine")
    assert doc["input"]["channels"] == doc["input"]["height"] == doc["input"]["width"] == 1
    names = [layer["name"] for layer in export_model(build_model("lenet5_caffe"))["layers"]]
    assert names == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten",
                     "fc1", "relu3", "fc2"]


def test_files_without_task_are_mnist_classifiers():
    doc = export_model(build_model("lenet5"))
    del doc["task"], doc["dataset"]
    model = model_from_dict(doc)
    assert (model.task, model.dataset) == ("classification", "mnist")
    doc = export_model(build_model("sine"))
    del doc["dataset"]
    assert model_from_dict(doc).dataset == "sine"
