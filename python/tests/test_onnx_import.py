"""ONNX import (engine/ONNX.md): small PyTorch models, exported here by
torch.onnx.export, imported by `dmc import` and run by the engine in float
(every layer at 32 bits) on MNIST test images, against PyTorch's own
outputs; and the graphs the importer must refuse, each with exit code 1 and
a message naming the node and its op."""

import json
import subprocess

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn
from onnx import helper, numpy_helper

from dmc.mnist import load_split

LIMIT = 200          # test images per comparison
MAX_RELATIVE = 1e-4  # max |engine - torch| / max |torch|
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


@pytest.fixture(scope="module")
def images(mnist_dir):
    """The first LIMIT test images as the engine reads them: pixel / 255."""
    pixels, _ = load_split(mnist_dir, "test")
    return torch.from_numpy(pixels[:LIMIT].astype(np.float32) / 255.0).unsqueeze(1)


def run(dmc_bin, *args):
    return subprocess.run([dmc_bin, *map(str, args)], capture_output=True, text=True, timeout=300)


def export(model, path, **kwargs):
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), str(path), opset_version=kwargs.pop("opset", 13),
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, **kwargs)
    return path


def randomize_batch_norms(model):
    """Running statistics and affine parameters far from the identity, so a
    wrong fold shows."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    return model


def engine_outputs(dmc_bin, model_path, mnist_dir, tmp_path, *options):
    """`dmc infer` with every layer float: the raw float32 outputs."""
    config = tmp_path / "float.json"
    config.write_text(json.dumps({"default": {"bits": 32}}))
    out = tmp_path / "outputs.bin"
    result = run(dmc_bin, "infer", "--model", model_path, "--config", config, "--mnist", mnist_dir,
                 "--limit", LIMIT, "-o", out, *options)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info["dtype"] == "float32" and info["count"] == LIMIT
    return np.fromfile(out, dtype="<f4").reshape(LIMIT, info["outputs"])


def import_onnx(dmc_bin, onnx_path, tmp_path, *options):
    out = tmp_path / "imported.json"
    result = run(dmc_bin, "import", onnx_path, "-o", out, *options)
    assert result.returncode == 0, result.stdout + result.stderr
    return out, result.stdout


def assert_matches(engine, reference):
    relative = np.abs(engine - reference).max() / np.abs(reference).max()
    agree = int((engine.argmax(1) == reference.argmax(1)).sum())
    print(f"max relative difference {relative:.2e}, argmax agrees on {agree}/{len(engine)}")  # pytest -s
    assert relative < MAX_RELATIVE, relative
    assert agree == len(engine)


def check(model, tmp_path, dmc_bin, mnist_dir, images, options=(), normalise=None, reference=None, **export_args):
    """Exports, imports and compares; returns the import's printout."""
    path = export(model, tmp_path / "model.onnx", **export_args)
    imported, printout = import_onnx(dmc_bin, path, tmp_path, *options)
    engine = engine_outputs(dmc_bin, imported, mnist_dir, tmp_path)
    with torch.no_grad():
        x = normalise(images) if normalise else images
        want = (reference or model)(x).numpy()
    assert_matches(engine, want)
    return printout


def mnist_normalise(x):
    return (x - MNIST_MEAN) / MNIST_STD


def test_conv_batchnorm_relu_maxpool_flatten_gemm(tmp_path, dmc_bin, mnist_dir, images):
    torch.manual_seed(1)
    model = randomize_batch_norms(nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1),
        nn.Flatten(), nn.Linear(8 * 4 * 4, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10)))
    # PRESERVE keeps the BatchNormalization nodes (eval mode would fuse the
    # 2-D one into its Conv): the importer folds both.
    printout = check(model, tmp_path, dmc_bin, mnist_dir, images,
                     options=("--mean", MNIST_MEAN, "--std", MNIST_STD), normalise=mnist_normalise,
                     training=torch.onnx.TrainingMode.PRESERVE)
    assert printout.count("folded node") == 2, printout
    assert "columns reordered" in printout
    assert "conv1 -> relu1 -> maxpool1 -> conv2 -> relu2 -> maxpool2 -> flatten1 -> fc1 -> relu3 -> fc2" in printout


class MatMulAdd(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, stride=3)
        self.w = nn.Parameter(torch.randn(3 * 9 * 9, 10) * 0.1)
        self.b = nn.Parameter(torch.randn(10))

    def forward(self, x):
        return torch.flatten(self.conv(x), 1) @ self.w + self.b


def test_matmul_add(tmp_path, dmc_bin, mnist_dir, images):
    torch.manual_seed(2)
    model = MatMulAdd()
    printout = check(model, tmp_path, dmc_bin, mnist_dir, images)
    assert "conv1 -> flatten1 -> fc1" in printout
    ops = [n.op_type for n in onnx.load(str(tmp_path / "model.onnx")).graph.node]
    assert "MatMul" in ops and "Add" in ops


class ClampMin(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 24), nn.Linear(24, 10)

    def forward(self, x):
        return self.fc2(torch.clamp(self.fc1(torch.flatten(x, 1)), min=0))


def test_clip_min_zero_is_relu(tmp_path, dmc_bin, mnist_dir, images):
    torch.manual_seed(3)
    printout = check(ClampMin(), tmp_path, dmc_bin, mnist_dir, images)
    assert "fc1 -> relu1 -> fc2" in printout
    assert "Clip" in [n.op_type for n in onnx.load(str(tmp_path / "model.onnx")).graph.node]


@pytest.mark.parametrize("pool", [nn.AvgPool2d(2), nn.AvgPool2d(3, stride=1, padding=1),
                                  nn.AvgPool2d(3, stride=2, padding=1)])
def test_average_pool(pool, tmp_path, dmc_bin, mnist_dir, images):
    torch.manual_seed(4)
    conv = nn.Conv2d(1, 4, 3, padding=1)
    with torch.no_grad():
        size = pool(torch.zeros(1, 4, 28, 28)).numel()
    model = nn.Sequential(conv, pool, nn.Flatten(), nn.Linear(size, 10))
    printout = check(model, tmp_path, dmc_bin, mnist_dir, images)
    assert "avgpool1" in printout


def test_global_average_pool(tmp_path, dmc_bin, mnist_dir, images):
    torch.manual_seed(5)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    printout = check(model, tmp_path, dmc_bin, mnist_dir, images)
    assert "conv1 -> relu1 -> gap1 -> flatten1 -> fc1" in printout
    layers = json.loads((tmp_path / "imported.json").read_text())["layers"]
    assert layers[2]["type"] == "global_avgpool2d"


def separable_block(c_in, c_out, stride):
    """Depthwise 3x3 (stride) + BN + ReLU6, then pointwise 1x1 + BN + ReLU6."""
    return [nn.Conv2d(c_in, c_in, 3, stride=stride, padding=1, groups=c_in), nn.BatchNorm2d(c_in), nn.ReLU6(),
            nn.Conv2d(c_in, c_out, 1), nn.BatchNorm2d(c_out), nn.ReLU6()]


def depthwise_separable():
    """A DS-CNN / MobileNet-style stem and two depthwise-separable blocks with
    stride 2, global average pooling and a linear classifier."""
    return randomize_batch_norms(nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6(),
        *separable_block(8, 16, 2), *separable_block(16, 24, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, 10)))


@pytest.mark.parametrize("training", [torch.onnx.TrainingMode.EVAL, torch.onnx.TrainingMode.PRESERVE])
def test_depthwise_separable(training, tmp_path, dmc_bin, mnist_dir, images):
    torch.manual_seed(8)
    model = depthwise_separable()
    printout = check(model, tmp_path, dmc_bin, mnist_dir, images,
                     options=("--mean", MNIST_MEAN, "--std", MNIST_STD), normalise=mnist_normalise,
                     training=training)
    assert ("conv1 -> relu1 -> dwconv1 -> relu2 -> conv2 -> relu3 -> dwconv2 -> relu4 -> conv3 -> relu5 -> gap1"
            " -> flatten1 -> fc1") in printout
    ops = [n.op_type for n in onnx.load(str(tmp_path / "model.onnx")).graph.node]
    assert "Clip" in ops and "GlobalAveragePool" in ops
    if training == torch.onnx.TrainingMode.PRESERVE:
        assert printout.count("folded node") == 5, printout
    model_file = json.loads((tmp_path / "imported.json").read_text())
    assert model_file["version"] == 2
    dw = [l for l in model_file["layers"] if l["type"] == "depthwise_conv2d"]
    assert [(l["channels"], l["stride"], l["padding"]) for l in dw] == [(8, 2, 1), (16, 2, 1)]
    assert [l.get("max") for l in model_file["layers"] if l["type"] == "relu"] == [6.0] * 5


class ClampMax(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 24), nn.Linear(24, 10)

    def forward(self, x):
        return self.fc2(torch.clamp(self.fc1(torch.flatten(x, 1)), min=0, max=0.5))


def test_clip_with_a_max_is_a_clamped_relu(tmp_path, dmc_bin, mnist_dir, images):
    torch.manual_seed(9)
    check(ClampMax(), tmp_path, dmc_bin, mnist_dir, images)
    relu = [l for l in json.loads((tmp_path / "imported.json").read_text())["layers"] if l["type"] == "relu"]
    assert relu == [{"name": "relu1", "type": "relu", "max": 0.5}]


def insert_before_first_node(path, op_type):
    """An Identity or Dropout node on the graph input (torch removes both
    in eval mode, other exporters keep them)."""
    proto = onnx.load(str(path))
    graph = proto.graph
    for node in graph.node:
        node.input[:] = [f"{op_type}_out" if name == "input" else name for name in node.input]
    graph.node.insert(0, helper.make_node(op_type, ["input"], [f"{op_type}_out"], name=f"my_{op_type}"))
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


@pytest.mark.parametrize("op_type", ["Identity", "Dropout"])
def test_identity_and_dropout_removed(op_type, tmp_path, dmc_bin, mnist_dir, images):
    torch.manual_seed(6)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    path = export(model, tmp_path / "model.onnx")
    insert_before_first_node(path, op_type)
    imported, printout = import_onnx(dmc_bin, path, tmp_path)
    assert f"removed node 'my_{op_type}' ({op_type})" in printout
    with torch.no_grad():
        assert_matches(engine_outputs(dmc_bin, imported, mnist_dir, tmp_path), model(images).numpy())


@pytest.mark.parametrize("final", [nn.Softmax(dim=1), nn.LogSoftmax(dim=1)])
def test_final_softmax_removed(final, tmp_path, dmc_bin, mnist_dir, images):
    torch.manual_seed(7)
    logits = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 10))
    printout = check(nn.Sequential(logits, final), tmp_path, dmc_bin, mnist_dir, images, reference=logits)
    assert "removed the final node" in printout and type(final).__name__ in printout


class Normalised(nn.Module):
    def __init__(self, how):
        super().__init__()
        self.how = how
        self.conv, self.fc = nn.Conv2d(1, 4, 3, stride=2), nn.Linear(4 * 13 * 13, 10)

    def forward(self, x):
        x = (x - MNIST_MEAN) / MNIST_STD if self.how == "sub_div" else x * 2.5 + -0.25
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))


@pytest.mark.parametrize("how,mean,std", [("sub_div", MNIST_MEAN, MNIST_STD), ("mul_add", 0.1, 0.4)])
def test_input_normalisation_folded(how, mean, std, tmp_path, dmc_bin, mnist_dir, images):
    torch.manual_seed(8)
    printout = check(Normalised(how), tmp_path, dmc_bin, mnist_dir, images)
    assert "folded the graph's input normalisation" in printout
    spec = json.loads((tmp_path / "imported.json").read_text())["input"]
    assert spec["mean"] == pytest.approx(mean, rel=1e-6) and spec["std"] == pytest.approx(std, rel=1e-6)


def to_float_data(path):
    """Every float initializer rewritten from raw_data to float_data."""
    proto = onnx.load(str(path))
    tensors = proto.graph.initializer
    for i, t in enumerate(list(tensors)):
        if t.data_type == onnx.TensorProto.FLOAT:
            values = numpy_helper.to_array(t)
            tensors[i].CopyFrom(helper.make_tensor(t.name, onnx.TensorProto.FLOAT, values.shape,
                                                   values.flatten().tolist()))
    assert all(len(t.float_data) > 0 and not t.raw_data for t in tensors)
    onnx.save(proto, str(path))


def test_raw_data_and_float_data_initializers(tmp_path, dmc_bin, mnist_dir, images):
    torch.manual_seed(9)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    raw = export(model, tmp_path / "raw.onnx")
    assert all(t.raw_data for t in onnx.load(str(raw)).graph.initializer)
    typed = export(model, tmp_path / "typed.onnx")
    to_float_data(typed)
    from_raw = engine_outputs(dmc_bin, raw, mnist_dir, tmp_path)
    from_typed = engine_outputs(dmc_bin, typed, mnist_dir, tmp_path)
    assert np.array_equal(from_raw, from_typed)
    with torch.no_grad():
        assert_matches(from_raw, model(images).numpy())


def test_eval_takes_onnx_directly(tmp_path, dmc_bin, mnist_dir):
    torch.manual_seed(10)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 13 * 13, 10))
    path = export(model, tmp_path / "direct.onnx")
    imported, _ = import_onnx(dmc_bin, path, tmp_path, "--mean", MNIST_MEAN, "--std", MNIST_STD)
    direct = run(dmc_bin, "eval", "--model", path, "--mean", MNIST_MEAN, "--std", MNIST_STD, "--mnist", mnist_dir,
                 "--limit", 100, "--json")
    assert direct.returncode == 0, direct.stderr
    via_file = run(dmc_bin, "eval", "--model", imported, "--mnist", mnist_dir, "--limit", 100, "--json")
    assert via_file.returncode == 0, via_file.stderr
    assert json.loads(direct.stdout) == json.loads(via_file.stdout)
    # A model file's input spec is its own: the ONNX options are refused.
    refused = run(dmc_bin, "eval", "--model", imported, "--mean", "0.5", "--mnist", mnist_dir, "--limit", 10)
    assert refused.returncode == 1 and "--mean is for ONNX files" in refused.stderr


# ---- refusals ---------------------------------------------------------------

def assert_refused(dmc_bin, path, tmp_path, *expected):
    result = run(dmc_bin, "import", path, "-o", tmp_path / "never.json")
    assert result.returncode == 1, result.stdout + result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    assert not (tmp_path / "never.json").exists()
    return result.stderr


def test_depthwise_multiplier_refused(tmp_path, dmc_bin):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Conv2d(4, 8, 3, groups=4), nn.Flatten(), nn.Linear(8 * 24 * 24, 10))
    path = export(model, tmp_path / "dw.onnx")
    assert_refused(dmc_bin, path, tmp_path, "node '/1/Conv' (Conv)", "grouped convolution (group 4)",
                   "depthwise (group = input = output channels)")


def test_group_two_refused(tmp_path, dmc_bin):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Conv2d(4, 8, 3, groups=2), nn.Flatten(), nn.Linear(8 * 24 * 24, 10))
    path = export(model, tmp_path / "g2.onnx")
    assert_refused(dmc_bin, path, tmp_path, "node '/1/Conv' (Conv)", "grouped convolution (group 2)")


def test_external_data_refused(tmp_path, dmc_bin):
    path = export(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), tmp_path / "ext.onnx")
    proto = onnx.load(str(path))
    onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.data", size_threshold=0)
    assert_refused(dmc_bin, path, tmp_path, "external file (external_data)")


def test_unsupported_op_refused(tmp_path, dmc_bin):
    path = export(nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Sigmoid()), tmp_path / "sig.onnx")
    assert_refused(dmc_bin, path, tmp_path, "node '/2/Sigmoid' (Sigmoid)", "operator not supported",
                   "supported: Conv")


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(784, 10), nn.Linear(784, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.a(x) + self.b(x)


def test_branch_refused(tmp_path, dmc_bin):
    path = export(TwoHeads(), tmp_path / "branch.onnx")
    assert_refused(dmc_bin, path, tmp_path, "the graph branches", "'/Flatten_output_0' is read by 2 nodes",
                   "node '/a/Gemm' (Gemm)", "node '/b/Gemm' (Gemm)")


def test_missing_initializer_refused(tmp_path, dmc_bin):
    path = export(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), tmp_path / "missing.onnx")
    proto = onnx.load(str(path))
    (bias,) = [t for t in proto.graph.initializer if t.name.endswith("bias")]
    proto.graph.initializer.remove(bias)
    onnx.save(proto, str(path))
    assert_refused(dmc_bin, path, tmp_path, "node '/1/Gemm' (Gemm)", f"its input '{bias.name}'",
                   "a missing initializer")


def test_dmc_onnx_export_of_version_2_layers(tmp_path, dmc_bin, mnist_dir):
    """python/'s own ONNX export of a model file with a depthwise conv,
    ReLU6 and global pooling (Clip(0, 6), GlobalAveragePool) imports into
    the engine, which evaluates it exactly as it does the model file."""
    from dmc.mnist import MNIST_INPUT
    from dmc.modelfile import save_model_file
    from dmc.models import DmcNet
    from dmc.onnx_export import export_onnx
    from conftest import DEPTHWISE_LAYERS
    torch.manual_seed(12)
    model = DmcNet("v2onnx", MNIST_INPUT, DEPTHWISE_LAYERS)
    with torch.no_grad():
        model.c1.weight.mul_(8.0)
    path = tmp_path / "v2.json"
    save_model_file(model, str(path))
    described = export_onnx(str(path), str(tmp_path / "v2.onnx"))
    assert "Clip" in described and "GlobalAveragePool" in described
    assert "ReduceMean" not in described
    direct = run(dmc_bin, "eval", "--model", tmp_path / "v2.onnx", "--mean", MNIST_MEAN, "--std",
                 MNIST_STD, "--mnist", mnist_dir, "--limit", 100, "--json")
    assert direct.returncode == 0, direct.stderr
    via_file = run(dmc_bin, "eval", "--model", path, "--mnist", mnist_dir, "--limit", 100,
                   "--json")
    assert via_file.returncode == 0, via_file.stderr
    a, b = json.loads(direct.stdout), json.loads(via_file.stdout)
    for key in ("accuracy", "float_accuracy", "agreement", "flash_bytes", "float_macs"):
        assert a[key] == b[key], key
    # The importer names layers its own way; types, sizes and errors agree.
    for key in ("type", "macs", "params", "output_sqnr_db"):
        assert [layer[key] for layer in a["layers"]] == [layer[key] for layer in b["layers"]], key
    assert [layer["type"] for layer in a["layers"]] == ["conv2d", "depthwise_conv2d", "conv2d",
                                                        "linear"]
