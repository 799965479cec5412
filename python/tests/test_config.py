"""The compression config: parsed, checked and resolved by the engine's rules
(engine/src/config.cpp), so that fine-tuning refuses what the engine would."""

import json

import pytest

from dmc.config import ConfigError, config_from_dict, kept_channels, load_config, validate_config
from dmc.models import build_model


def test_resolve_defaults_and_output_layer():
    model = build_model("lenet5")
    config = config_from_dict({"default": {"bits": 4, "keep": 0.5},
                               "layers": {"fc1": {"bits": 2}, "conv1": {"keep": 1.0}}})
    validate_config(config, model)
    assert config.resolve(model, "conv1") == (1.0, 4)
    assert config.resolve(model, "conv2") == (0.5, 4)
    assert config.resolve(model, "fc1") == (0.5, 2)
    assert config.resolve(model, "fc3") == (1.0, 4)      # the output layer keeps all
    assert config.to_dict() == {"default": {"bits": 4, "keep": 0.5},
                                "layers": {"conv1": {"keep": 1.0}, "fc1": {"bits": 2}},
                                "prune_norm": "l1"}


def test_kept_channels():
    assert kept_channels(0.3, 10) == 3          # not 4: 0.3 * 10 is 3.0000000000000004
    assert kept_channels(0.25, 50) == 13
    assert kept_channels(0.001, 20) == 1
    assert kept_channels(1.0, 7) == 7


@pytest.mark.parametrize("doc, message", [
    ({"default": {"bits": 3}}, "bits 3 is not supported"),
    ({"default": {"bits": 8.0}}, "bits must be an integer"),
    ({"layers": {"conv2": {"keep": 0}}}, "keep 0 is outside (0, 1]"),
    ({"layers": {"conv2": {"keep": 1.5}}}, "outside (0, 1]"),
    ({"layers": {"conv2": {"prune": 0.5}}}, "unknown field"),
    ({"layers": []}, "layers must be an object"),
    ({"prune_norm": "l3"}, "prune_norm"),
    ({"defaults": {}}, "unknown field"),
    ([1, 2], "JSON object"),
])
def test_malformed_configs(doc, message):
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc, "c.json")
    assert message in str(info.value)


@pytest.mark.parametrize("layers, message", [
    ({"fc9": {"bits": 4}}, "has no layer 'fc9' (its conv2d/linear layers: conv1, conv2, fc1, fc2, fc3)"),
    ({"relu1": {"bits": 4}}, "is a relu layer"),
    ({"fc3": {"keep": 0.5}}, "is the output layer"),
])
def test_config_must_fit_the_model(layers, message):
    with pytest.raises(ConfigError) as info:
        validate_config(config_from_dict({"layers": layers}), build_model("lenet5"))
    assert message in str(info.value)


def test_load_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(str(tmp_path / "absent.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(str(bad))
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"default": {"bits": 2}}))
    assert load_config(str(good)).default_bits == 2
