"""Structured pruning, exactly as the engine does it (engine/src/prune/prune.cpp),
and the way back from a pruned network to a full-size model file.

Per conv2d/linear layer, the config's keep ratio says how many output
channels survive: ceil(keep x channels), ranked by the L1 norm of each
channel's weights (sum of |w|, or of w^2 with "prune_norm": "l2"), summed in
double in the model file's order (OHWI; HWC after a flatten) over the
*unpruned* weights, so the ranking is bit-identical to the engine's. Ties go
to the lower index; the kept indices stay in ascending order. Removing a
channel also removes the matching inputs of the next weight layer, through
ReLU and pooling (channel-wise, global average pooling too) and through a
flatten, where channel c of an H x W x C tensor owns H x W features. A
depthwise_conv2d has no keep ratio: its channel c filters input channel c
only, so it keeps exactly the channels that reach it (their filters and
biases) and passes them on, like ReLU and pooling.

Here the pruned network is built as a real, smaller DmcNet (PyTorch layouts:
a flatten's features are c * H * W + h * W + w over the *kept* channels), to
be fine-tuned. expand() writes a fine-tuned pruned network back into the
full architecture with every pruned weight and bias set to zero: the
engine, pruning that file with the same config, ranks the all-zero channels
last and so keeps exactly the fine-tuned ones, and the file's float model
computes what the pruned network computes.
"""

import copy

import numpy as np
import torch

from .config import ConfigError, kept_channels, validate_config, weight_specs
from .modelfile import file_weights
from .models import DmcNet


def channel_importance(rows, norm="l1"):
    """Per row of a (rows, fan_in) float32 array, the sum of |w| (or w^2),
    accumulated left to right in double as the engine does."""
    w = np.asarray(rows, dtype=np.float32).astype(np.float64)
    terms = np.abs(w) if norm == "l1" else w * w
    if terms.shape[1] == 0:
        return np.zeros(len(terms))
    return np.cumsum(terms, axis=1)[:, -1]     # sequential, unlike np.sum


def select_channels(importance, count):
    """The `count` most important indices, ascending; ties to the lower
    index (a stable sort by descending importance)."""
    order = sorted(range(len(importance)), key=lambda i: -importance[i])
    return sorted(order[:max(0, min(count, len(order)))])


class PrunePlan:
    """What pruning keeps: per weight layer the output channels (`kept`; a
    depthwise layer's are the channels it receives),
    and per layer the live entries of its input along the channel (or
    feature) axis in PyTorch's order (`live_in`)."""

    def __init__(self, kept, live_in):
        self.kept = kept          # name -> list of kept output channels
        self.live_in = live_in    # name -> list of live input indices (torch order)


def plan(model, config):
    """The engine's pruning decisions for `model` (DmcNet) under `config`."""
    validate_config(config, model)
    weights = file_weights(model)
    kept, live_in = {}, {}
    live = list(range(model.input_spec["channels"]))
    in_shape = (model.input_spec["channels"], model.input_spec["height"],
                model.input_spec["width"])
    for spec, out_shape in zip(model.layer_specs, model.shapes):
        name, kind = spec["name"], spec["type"]
        live_in[name] = list(live)
        if kind in ("conv2d", "linear"):
            channels = weights[name].shape[0]
            keep, _ = config.resolve(model, name)
            count = kept_channels(keep, channels)
            if count == channels:
                outputs = list(range(channels))
            else:
                outputs = select_channels(channel_importance(weights[name], config.prune_norm),
                                          count)
            kept[name] = outputs
            live = outputs
        elif kind == "depthwise_conv2d":
            kept[name] = list(live)     # as the engine: its live channels pass through
        elif kind == "flatten" and len(in_shape) == 3:
            c, h, w = in_shape
            live = [ch * h * w + p for ch in live for p in range(h * w)]
        in_shape = out_shape
    return PrunePlan(kept, live_in)


def _pruned_specs(model, p):
    specs = []
    for spec in model.layer_specs:
        s = copy.deepcopy(spec)
        if spec["type"] == "conv2d":
            s["in_channels"] = len(p.live_in[spec["name"]])
            s["out_channels"] = len(p.kept[spec["name"]])
        elif spec["type"] == "depthwise_conv2d":
            s["channels"] = len(p.kept[spec["name"]])
        elif spec["type"] == "linear":
            s["in_features"] = len(p.live_in[spec["name"]])
            s["out_features"] = len(p.kept[spec["name"]])
        specs.append(s)
    return specs


def _columns(spec, p):
    """The input-channel (or feature) indices of a weight layer's weight
    that survive: the live inputs, or for a depthwise layer (weight [C][1]
    [k][k]: one input per filter) its single one."""
    if spec["type"] == "depthwise_conv2d":
        return torch.tensor([0], dtype=torch.long)
    return torch.tensor(p.live_in[spec["name"]], dtype=torch.long)


def pruned_model(model, p):
    """A smaller DmcNet holding only the kept channels' weights."""
    net = DmcNet(model.model_name, model.input_spec, _pruned_specs(model, p),
                 task=model.task, dataset=model.dataset)
    with torch.no_grad():
        for spec in weight_specs(model):
            name = spec["name"]
            src, dst = getattr(model, name), getattr(net, name)
            rows = torch.tensor(p.kept[name], dtype=torch.long)
            cols = _columns(spec, p)
            dst.weight.copy_(src.weight.detach()[rows][:, cols])
            if dst.bias is not None:
                dst.bias.copy_(src.bias.detach()[rows])
    return net


def expand(model, p, net):
    """A copy of the full-size `model` with the weights of the pruned `net`
    in the kept places and zeros everywhere pruning removes."""
    full = copy.deepcopy(model)
    with torch.no_grad():
        for spec in weight_specs(model):
            name = spec["name"]
            dst, src = getattr(full, name), getattr(net, name)
            rows = torch.tensor(p.kept[name], dtype=torch.long)
            cols = _columns(spec, p)
            dst.weight.zero_()
            block = dst.weight[rows]
            block[:, cols] = src.weight.detach()
            dst.weight[rows] = block
            if dst.bias is not None:
                dst.bias.zero_()
                dst.bias[rows] = src.bias.detach()
    return full


def check_expanded(full, config, p):
    """The engine, pruning `full` with `config`, must keep what `p` kept."""
    again = plan(full, config)
    for name, kept in p.kept.items():
        if again.kept[name] != kept:
            raise ConfigError(f"layer '{name}': after fine-tuning, pruning would keep other "
                              f"channels than the fine-tuned ones (a kept channel has "
                              f"all-zero weights?)")


def physical_config(model, config):
    """The config for the physically pruned network (pruned_model): every
    weight layer at the bits `config` gives it in `model`, every keep 1.0.

    The engine, compressing the pruned network with it, quantizes the same
    kept rows with the same per-row scales, calibrates the same ranges on the
    same calibration images (a pruned channel contributes nothing to a range
    in either) and counts the same flash, so its integers are those of the
    full-size model under `config`; the file is only smaller."""
    from .config import CompressionConfig

    layers = {s["name"]: {"bits": config.resolve(model, s["name"])[1]}
              for s in weight_specs(model)}
    return CompressionConfig(default_keep=1.0, default_bits=config.default_bits,
                             layers=layers, prune_norm=config.prune_norm)
