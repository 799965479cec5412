"""Structured pruning as the engine does it, through ReLU, pooling and the
flatten into the first linear layer (HWC in the engine, CHW in PyTorch)."""

import json

import numpy as np
import torch

from dmc import datasets, engine, prune
from dmc.config import config_from_dict
from dmc.modelfile import file_weights, save_model_file
from dmc.models import build_model

CONFIG = {"default": {"bits": 32}, "layers": {"conv1": {"keep": 0.5}, "conv2": {"keep": 0.5},
                                               "fc1": {"keep": 0.3}}}


def lenet5(seed=3):
    torch.manual_seed(seed)
    model = build_model("lenet5")
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return model.eval()


def test_kept_channels_follow_the_l1_norm_in_file_order():
    model = lenet5()
    p = prune.plan(model, config_from_dict(CONFIG))
    w = file_weights(model)
    for name, count in (("conv1", 3), ("conv2", 8), ("fc1", 36)):
        norms = np.abs(w[name].astype(np.float64)).sum(axis=1)
        expected = sorted(np.argsort(-norms, kind="stable")[:count].tolist())
        assert p.kept[name] == expected
    assert p.kept["fc2"] == list(range(84)) and p.kept["fc3"] == list(range(10))
    # fc1's inputs: the 25 positions of each kept conv2 channel, CHW order.
    assert p.live_in["fc1"] == [c * 25 + q for c in p.kept["conv2"] for q in range(25)]
    assert p.live_in["conv2"] == p.kept["conv1"]
    assert p.live_in["fc2"] == p.kept["fc1"]


def test_ties_go_to_the_lower_index():
    assert prune.select_channels([1.0, 2.0, 2.0, 1.0, 2.0], 2) == [1, 2]
    assert prune.select_channels([0.0, 0.0, 0.0], 1) == [0]
    model = build_model("lenet300")
    with torch.no_grad():
        model.fc1.weight.fill_(0.5)                 # all rows equal
    p = prune.plan(model, config_from_dict({"layers": {"fc1": {"keep": 0.1}}}))
    assert p.kept["fc1"] == list(range(30))


def test_pruned_layouts_are_the_engines_gather():
    """The pruned network, exported, holds exactly the weights the engine
    gathers from the full file: rows of kept channels, and after the flatten
    the features (h * W + w) * C + c of the kept channels c."""
    model = lenet5()
    p = prune.plan(model, config_from_dict(CONFIG))
    net = prune.pruned_model(model, p)
    full, small = file_weights(model), file_weights(net)
    kept1, kept2, kept3 = p.kept["conv1"], p.kept["conv2"], p.kept["fc1"]
    conv2 = full["conv2"].reshape(16, 25, 6)[kept2][:, :, kept1].reshape(len(kept2), -1)
    assert np.array_equal(small["conv2"], conv2)
    features = [q * 16 + c for q in range(25) for c in kept2]
    assert np.array_equal(small["fc1"], full["fc1"][kept3][:, features])
    assert np.array_equal(small["fc2"], full["fc2"][:, kept3])


def test_expand_keeps_the_function_and_the_ranking():
    model = lenet5()
    config = config_from_dict(CONFIG)
    p = prune.plan(model, config)
    net = prune.pruned_model(model, p)
    with torch.no_grad():                      # as if fine-tuned
        for param in net.parameters():
            param.add_(0.01 * torch.randn_like(param))
    full = prune.expand(model, p, net)
    prune.check_expanded(full, config, p)      # the engine would keep the same channels
    x = torch.randn(16, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(full.eval()(x), net.eval()(x), rtol=0, atol=1e-5)
    assert float(full.conv2.weight[[c for c in range(16) if c not in p.kept["conv2"]]]
                 .abs().sum()) == 0.0


def test_engine_prunes_the_same_and_computes_the_same(tmp_path, mnist_dir, dmc_bin):
    model = lenet5()
    path = str(tmp_path / "m.json")
    save_model_file(model, path)
    config_path = tmp_path / "c.json"
    config_path.write_text(json.dumps(CONFIG))
    config = config_from_dict(CONFIG)
    p = prune.plan(model, config)
    outputs, info, params = engine.infer(dmc_bin, path, str(tmp_path / "o.bin"),
                                         str(config_path), mnist_dir, limit=100,
                                         params_path=str(tmp_path / "p.json"))
    for name in ("conv1", "conv2", "fc1"):
        assert params["kept_channels"][name] == p.kept[name]
    assert info["dtype"] == "float32"
    net = prune.pruned_model(model, p).eval()
    test = datasets.test_set("mnist", mnist_dir).limit(100)
    with torch.no_grad():
        ours = net(torch.from_numpy(datasets.normalize_raw(test.raw, model.input_spec)))
    np.testing.assert_allclose(outputs, ours.numpy(), rtol=0, atol=1e-5)


# A conv's removed channels remove the depthwise filters after it (a
# depthwise layer has no keep of its own) and, through global pooling, the
# linear layer's inputs.
DEPTHWISE_LAYERS = [
    {"name": "c1", "type": "conv2d", "in_channels": 1, "out_channels": 8, "kernel": 3},
    {"name": "r1", "type": "relu", "max": 6},
    {"name": "dw", "type": "depthwise_conv2d", "channels": 8, "kernel": 3, "stride": 2,
     "padding": 1},
    {"name": "r2", "type": "relu"},
    {"name": "pw", "type": "conv2d", "in_channels": 8, "out_channels": 12, "kernel": 1},
    {"name": "g", "type": "global_avgpool2d"},
    {"name": "fc", "type": "linear", "in_features": 12, "out_features": 10},
]
DEPTHWISE_CONFIG = {"default": {"bits": 32},
                    "layers": {"c1": {"keep": 0.5}, "pw": {"keep": 0.25}}}


def test_pruning_through_depthwise_and_global_pooling(tmp_path, mnist_dir, dmc_bin):
    from dmc.mnist import MNIST_INPUT
    from dmc.models import DmcNet
    torch.manual_seed(4)
    model = DmcNet("dwprune", MNIST_INPUT, DEPTHWISE_LAYERS).eval()
    config = config_from_dict(DEPTHWISE_CONFIG)
    p = prune.plan(model, config)
    assert len(p.kept["c1"]) == 4 and len(p.kept["pw"]) == 3
    assert p.kept["dw"] == p.live_in["dw"] == p.live_in["pw"] == p.kept["c1"]
    assert p.live_in["fc"] == p.kept["pw"]

    net = prune.pruned_model(model, p).eval()
    assert net.dw.weight.shape == (4, 1, 3, 3) and net.fc.weight.shape == (10, 3)
    assert torch.equal(net.dw.weight, model.dw.weight[p.kept["c1"]])
    assert torch.equal(net.dw.bias, model.dw.bias[p.kept["c1"]])

    # The engine keeps the same channels and computes the same (float).
    path = str(tmp_path / "m.json")
    save_model_file(model, path)
    config_path = tmp_path / "c.json"
    config_path.write_text(json.dumps(DEPTHWISE_CONFIG))
    outputs, info, params = engine.infer(dmc_bin, path, str(tmp_path / "o.bin"),
                                         str(config_path), mnist_dir, limit=100,
                                         params_path=str(tmp_path / "p.json"))
    for name in ("c1", "dw", "pw", "fc"):
        assert params["kept_channels"][name] == p.kept[name], name
    test = datasets.test_set("mnist", mnist_dir).limit(100)
    with torch.no_grad():
        ours = net(torch.from_numpy(datasets.normalize_raw(test.raw, model.input_spec)))
    np.testing.assert_allclose(outputs, ours.numpy(), rtol=0, atol=1e-5)

    # Fine-tuned weights go back into the full model with zeros elsewhere,
    # and the engine's pruning of that file keeps the same channels.
    with torch.no_grad():
        for param in net.parameters():
            param.add_(0.01 * torch.randn_like(param))
    full = prune.expand(model, p, net)
    prune.check_expanded(full, config, p)
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(full.eval()(x), net(x), rtol=0, atol=1e-5)
    dropped = [c for c in range(8) if c not in p.kept["c1"]]
    assert float(full.dw.weight[dropped].abs().sum()) == 0.0


def test_depthwise_keep_is_refused():
    from dmc.config import ConfigError, validate_config
    from dmc.mnist import MNIST_INPUT
    from dmc.models import DmcNet
    model = DmcNet("dwprune", MNIST_INPUT, DEPTHWISE_LAYERS)
    validate_config(config_from_dict({"default": {"keep": 0.5},
                                      "layers": {"dw": {"bits": 2, "keep": 1.0}}}), model)
    try:
        validate_config(config_from_dict({"layers": {"dw": {"keep": 0.5}}}), model)
    except ConfigError as e:
        assert "has no keep ratio of its own" in str(e)
    else:
        raise AssertionError("a depthwise keep below 1 was accepted")
    # The default keep does not reach it: it keeps what reaches it.
    assert config_from_dict({"default": {"keep": 0.5}}).resolve(model, "dw") == (1.0, 8)
