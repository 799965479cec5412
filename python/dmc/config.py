"""The compression config: the same JSON the engine and the browser read
(engine/include/dmc/config.h), parsed and checked by the same rules.

    {"default": {"bits": 8, "keep": 1.0},
     "layers": {"conv2": {"keep": 0.5, "bits": 4}, "fc1": {"bits": 2}},
     "prune_norm": "l1"}

Per conv2d/linear layer a keep ratio (structured pruning: ceil(keep x
channels) output channels survive) and a weight bit width (2, 4, 8, or 32 to
leave the layer in float); a layer not named takes the default. The model's
output layer is never pruned by the default, and naming a keep below 1 for it
is an error, as in the engine. The rules are repeated here rather than asking
the engine, because fine-tuning must know exactly what the engine will do
with the same file, and a config the engine would refuse must be refused
before hours of training, not after.
"""

import json
import math

from .errors import DmcError

SUPPORTED_BITS = (2, 4, 8, 32)
FLOAT_BITS = 32
PRUNE_NORMS = ("l1", "l2")


class ConfigError(DmcError):
    """A compression config is malformed or does not fit the model."""


class CompressionConfig:
    """Defaults, per-layer overrides and the pruning norm."""

    def __init__(self, default_keep=1.0, default_bits=8, layers=None, prune_norm="l1"):
        self.default_keep = default_keep
        self.default_bits = default_bits
        self.layers = dict(layers or {})   # name -> {"keep": float?, "bits": int?}
        self.prune_norm = prune_norm

    def resolve(self, model, name):
        """(keep, bits) of weight layer `name` of `model` (a DmcNet)."""
        keep, bits = self.default_keep, self.default_bits
        # A depthwise layer has no keep ratio of its own: it keeps the
        # channels that reach it (validate_config refuses one below 1).
        if name == output_layer(model) or not _prunable(model, name):
            keep = 1.0
        setting = self.layers.get(name, {})
        keep = setting.get("keep", keep)
        bits = setting.get("bits", bits)
        return keep, bits

    def to_dict(self):
        """Canonical form: the engine's config_to_json (default first, layers
        sorted by name, fields in a fixed order)."""
        layers = {}
        for name in sorted(self.layers):
            s = self.layers[name]
            entry = {}
            if "bits" in s:
                entry["bits"] = s["bits"]
            if "keep" in s:
                entry["keep"] = s["keep"]
            layers[name] = entry
        return {"default": {"bits": self.default_bits, "keep": float(self.default_keep)},
                "layers": layers, "prune_norm": self.prune_norm}

    def all_integer(self, model):
        return all(self.resolve(model, s["name"])[1] != FLOAT_BITS for s in weight_specs(model))


# The layers with weights: quantized, with bits in a config. Only conv2d and
# linear have a keep ratio; a depthwise layer keeps the channels of the
# layer before it (engine: Layer::has_weights, Layer::prunable).
WEIGHT_TYPES = ("conv2d", "linear", "depthwise_conv2d")
PRUNABLE_TYPES = ("conv2d", "linear")


def weight_specs(model):
    return [s for s in model.layer_specs if s["type"] in WEIGHT_TYPES]


def _prunable(model, name):
    return any(s["name"] == name and s["type"] in PRUNABLE_TYPES for s in model.layer_specs)


def output_layer(model):
    """Name of the last conv2d/linear layer: its outputs are the model's."""
    specs = weight_specs(model)
    return specs[-1]["name"] if specs else None


def kept_channels(keep, channels):
    """ceil(keep x channels), at least 1 (the engine's kept_channels; the
    1e-9 absorbs binary rounding, so that 0.3 x 10 keeps 3)."""
    n = int(math.ceil(keep * channels - 1e-9))
    return max(1, min(channels, n))


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _setting(value, where):
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be an object with 'keep' and/or 'bits'")
    unknown = sorted(set(value) - {"keep", "bits"})
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown} (known: keep, bits)")
    out = {}
    if "keep" in value:
        keep = value["keep"]
        if not _is_number(keep) or not (0.0 < keep <= 1.0):
            raise ConfigError(f"{where}: keep {json.dumps(keep)} is outside (0, 1]")
        out["keep"] = float(keep)
    if "bits" in value:
        bits = value["bits"]
        if not isinstance(bits, int) or isinstance(bits, bool):
            raise ConfigError(f"{where}: bits must be an integer, got {json.dumps(bits)}")
        if bits not in SUPPORTED_BITS:
            raise ConfigError(f"{where}: bits {bits} is not supported (use 2, 4 or 8, or 32 "
                              f"to leave the layer in float)")
        out["bits"] = bits
    return out


def config_from_dict(doc, origin="config"):
    if not isinstance(doc, dict):
        raise ConfigError(f"{origin}: the top level must be a JSON object")
    unknown = sorted(set(doc) - {"default", "layers", "prune_norm"})
    if unknown:
        raise ConfigError(f"{origin}: unknown field(s) {unknown} "
                          f"(known: default, layers, prune_norm)")
    config = CompressionConfig()
    if "default" in doc:
        d = _setting(doc["default"], f"{origin} default")
        config.default_keep = d.get("keep", 1.0)
        config.default_bits = d.get("bits", 8)
    if "layers" in doc:
        if not isinstance(doc["layers"], dict):
            raise ConfigError(f"{origin}: layers must be an object (layer name -> setting)")
        for name, value in doc["layers"].items():
            config.layers[name] = _setting(value, f"{origin} layer '{name}'")
    norm = doc.get("prune_norm", "l1")
    if norm not in PRUNE_NORMS:
        raise ConfigError(f"{origin}: prune_norm {json.dumps(norm)} is not supported "
                          f"(use l1 or l2)")
    config.prune_norm = norm
    return config


def load_config(path):
    origin = f"config file '{path}'"
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError(f"{origin}: no such file") from None
    except OSError as e:
        raise ConfigError(f"{origin}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{origin}: not UTF-8 text: {e}") from None
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"{origin}: not valid JSON ({e})") from None
    return config_from_dict(doc, origin)


def validate_config(config, model):
    """Refuse layer names the model lacks, layers without weights, and a keep
    below 1 on the output layer (the engine's validate_config)."""
    by_name = {s["name"]: s for s in model.layer_specs}
    weight_names = [s["name"] for s in weight_specs(model)]
    for name, setting in config.layers.items():
        if name not in by_name:
            raise ConfigError(f"config: model '{model.model_name}' has no layer '{name}' "
                              f"(its conv2d/linear layers: {', '.join(weight_names)})")
        kind = by_name[name]["type"]
        if kind not in WEIGHT_TYPES:
            raise ConfigError(f"config: layer '{name}' is a {kind} layer; "
                              f"only conv2d and linear layers can be compressed")
        if kind not in PRUNABLE_TYPES and setting.get("keep", 1.0) < 1.0:
            raise ConfigError(f"config: layer '{name}' is a {kind} layer; it has no keep "
                              f"ratio of its own (it keeps the channels of the layer before "
                              f"it): give it bits only")
        if name == output_layer(model) and setting.get("keep", 1.0) < 1.0:
            raise ConfigError(f"config: layer '{name}' is the output layer; its outputs are "
                              f"the model's, so it cannot be pruned (keep must be 1)")


def save_config(config, path):
    text = json.dumps(config.to_dict(), indent=2) + "\n"
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise ConfigError(f"{path}: cannot write: {e.strerror or e}") from None
