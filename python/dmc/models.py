"""Networks as lists of layer specs, and the PyTorch modules built from them.

A layer spec is a plain dict with the same keys as a layer in the model file
(engine/MODEL_FORMAT.md) minus the tensors, plus `"bias": True/False` for
conv2d and linear. Describing networks this way, rather than as hand-written
nn.Module classes, keeps three things in step for free: the PyTorch module
(layer names become state_dict keys), the exporter and the importer (which
rebuilds the module from the specs found in a file). Adding a model means
adding one list below.

The PyTorch module works in PyTorch's layouts (NCHW, CHW flatten); converting
to the model file's layouts is modelfile.py's job. Its layers (layers.py) are
the ordinary PyTorch ones plus the quantization hooks that simulate the
engine's integer arithmetic.
"""

import copy
import math
import re
from collections import OrderedDict

from torch import nn

from . import layers as layers_module
from .errors import ModelSpecError
from .mnist import MNIST_INPUT

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

# Hyperparameter fields of each layer type (tensors excluded), and defaults
# for the optional ones. Pool stride defaults to the kernel, filled in below.
LAYER_FIELDS = {
    "conv2d": ("in_channels", "out_channels", "kernel", "stride", "padding", "bias"),
    "linear": ("in_features", "out_features", "bias"),
    "relu": (),
    "flatten": (),
    "maxpool2d": ("kernel", "stride", "padding"),
    "avgpool2d": ("kernel", "stride", "padding"),
}
_DEFAULTS = {
    "conv2d": {"stride": 1, "padding": 0, "bias": True},
    "linear": {"bias": True},
    "maxpool2d": {"padding": 0},
    "avgpool2d": {"padding": 0},
}


def conv(name, cin, cout, kernel, stride=1, padding=0):
    return {"name": name, "type": "conv2d", "in_channels": cin, "out_channels": cout,
            "kernel": kernel, "stride": stride, "padding": padding, "bias": True}


def linear(name, fin, fout):
    return {"name": name, "type": "linear", "in_features": fin, "out_features": fout,
            "bias": True}


def relu(name):
    return {"name": name, "type": "relu"}


def maxpool(name, kernel, stride=None):
    return {"name": name, "type": "maxpool2d", "kernel": kernel,
            "stride": kernel if stride is None else stride, "padding": 0}


def flatten(name="flatten"):
    return {"name": name, "type": "flatten"}


# The classic LeNet-5 as this project uses it (ReLU and max pooling instead of
# the original's tanh and subsampling; padding 2 keeps conv1 at 28x28).
LENET5 = [
    conv("conv1", 1, 6, 5, padding=2), relu("relu1"), maxpool("pool1", 2),   # 6x14x14
    conv("conv2", 6, 16, 5), relu("relu2"), maxpool("pool2", 2),             # 16x5x5
    flatten("flatten"),                                                      # 400
    linear("fc1", 400, 120), relu("relu3"),
    linear("fc2", 120, 84), relu("relu4"),
    linear("fc3", 84, 10),
]

# The LeNet-5 of Caffe's MNIST example, used as the baseline by Han et al.,
# "Deep Compression" (ICLR 2016): 20 and 50 5x5 filters, an 800 -> 500 -> 10
# classifier; 431,080 parameters (1,724,320 bytes as float32). Caffe's
# prototxt has no activation after the two convolutions; we put a ReLU there
# (parameters unchanged), which trains better and lets the engine fuse it
# into the convolution's output stage.
LENET5_CAFFE = [
    conv("conv1", 1, 20, 5), relu("relu1"), maxpool("pool1", 2),    # 20x12x12
    conv("conv2", 20, 50, 5), relu("relu2"), maxpool("pool2", 2),   # 50x4x4
    flatten("flatten"),                                             # 800
    linear("fc1", 800, 500), relu("relu3"),
    linear("fc2", 500, 10),
]

# LeNet-300-100 (LeCun et al. 1998; Deep Compression's other MNIST model):
# a multilayer perceptron on the 784 pixels; 266,610 parameters.
LENET300 = [
    flatten("flatten"),
    linear("fc1", 784, 300), relu("relu1"),
    linear("fc2", 300, 100), relu("relu2"),
    linear("fc3", 100, 10),
]

# A tiny regressor of sin(x) on [0, 2 pi], to show that nothing in the
# pipeline is tied to MNIST: the engine evaluates it by the mean squared
# error on its own fixed grid (engine/MODEL_FORMAT.md, dataset "sine").
SINE = [
    linear("fc1", 1, 16), relu("relu1"),
    linear("fc2", 16, 16), relu("relu2"),
    linear("fc3", 16, 1),
]

# One input x in [0, 2 pi]; the network sees (x - mean) / std with the mean
# and standard deviation of the uniform distribution on that interval.
SINE_INPUT = {
    "channels": 1, "height": 1, "width": 1,
    "min": 0.0, "max": 2.0 * math.pi,
    "mean": math.pi, "std": 2.0 * math.pi / math.sqrt(12.0),
}

TASKS = ("classification", "regression")
# The data set the engine evaluates a model on, by task (MODEL_FORMAT.md).
DEFAULT_DATASET = {"classification": "mnist", "regression": "sine"}


class ModelDef:
    """What build_model() needs to know about a named network."""

    def __init__(self, input_spec, layers, task="classification", dataset=None):
        self.input_spec = input_spec
        self.layers = layers
        self.task = task
        self.dataset = dataset or DEFAULT_DATASET[task]


MODELS = {
    "lenet5": ModelDef(MNIST_INPUT, LENET5),
    "lenet5_caffe": ModelDef(MNIST_INPUT, LENET5_CAFFE),
    "lenet300": ModelDef(MNIST_INPUT, LENET300),
    "sine": ModelDef(SINE_INPUT, SINE, task="regression", dataset="sine"),
}


def normalize_specs(layers):
    """Return a deep copy of `layers` with defaults filled in and fields checked.

    Checks names (valid, unique), types and that every field is a positive
    (or, for padding, non-negative) integer. Shapes are checked by
    infer_shapes(). Raises ModelSpecError.
    """
    if not isinstance(layers, list) or not layers:
        raise ModelSpecError("a model needs a non-empty list of layers")
    out, seen = [], set()
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise ModelSpecError(f"layer {i} is not an object")
        name = layer.get("name")
        where = f"layer {i} ({name!r})" if isinstance(name, str) else f"layer {i}"
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ModelSpecError(f"{where}: name must be letters, digits and _, "
                                 f"starting with a letter")
        if name in seen:
            raise ModelSpecError(f"{where}: duplicate layer name")
        seen.add(name)
        kind = layer.get("type")
        if not isinstance(kind, str) or kind not in LAYER_FIELDS:
            raise ModelSpecError(f"{where}: unknown type {kind!r} "
                                 f"(known: {', '.join(LAYER_FIELDS)})")
        fields = LAYER_FIELDS[kind]
        unknown = set(layer) - {"name", "type"} - set(fields)
        if unknown:
            raise ModelSpecError(f"{where}: unknown field(s) {sorted(unknown)} "
                                 f"for a {kind} layer")
        defaults = dict(_DEFAULTS.get(kind, {}))
        if kind in ("maxpool2d", "avgpool2d") and "kernel" in layer:
            defaults["stride"] = layer["kernel"]
        # Fields in the fixed order of LAYER_FIELDS, so exported files read
        # the same whatever order the spec was written in.
        spec = {"name": name, "type": kind}
        for field in fields:
            if field in layer:
                spec[field] = copy.deepcopy(layer[field])
            elif field in defaults:
                spec[field] = defaults[field]
        for field in fields:
            if field not in spec:
                raise ModelSpecError(f"{where}: missing field {field!r}")
            value = spec[field]
            if field == "bias":
                if not isinstance(value, bool):
                    raise ModelSpecError(f"{where}: bias must be true or false")
                continue
            # bool is an int subclass; reject it so `true` is not a kernel of 1.
            if not isinstance(value, int) or isinstance(value, bool):
                raise ModelSpecError(f"{where}: {field} must be an integer, got {value!r}")
            low = 0 if field == "padding" else 1
            if value < low:
                raise ModelSpecError(f"{where}: {field} must be >= {low}, got {value}")
        out.append(spec)
    return out


def check_input_spec(input_spec):
    """Check the "input" object: positive integer dimensions, sane ranges.

    Returns a copy holding just the known fields, min/max/mean/std as floats.
    Raises ModelSpecError.
    """
    if not isinstance(input_spec, dict):
        raise ModelSpecError("input must be an object")
    out = {}
    for field in ("channels", "height", "width"):
        value = input_spec.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ModelSpecError(f"input.{field} must be a positive integer, got {value!r}")
        out[field] = value
    for field in ("min", "max", "mean", "std"):
        value = input_spec.get(field)
        if (not isinstance(value, (int, float)) or isinstance(value, bool)
                or not math.isfinite(value)):
            raise ModelSpecError(f"input.{field} must be a finite number, got {value!r}")
        out[field] = float(value)
    if not out["min"] < out["max"]:
        raise ModelSpecError(f"input.min ({out['min']}) must be below input.max ({out['max']})")
    if not out["std"] > 0:
        raise ModelSpecError(f"input.std must be positive, got {out['std']}")
    unknown = set(input_spec) - set(out)
    if unknown:
        raise ModelSpecError(f"input: unknown field(s) {sorted(unknown)}")
    return out


def infer_shapes(input_spec, layers):
    """Output shape of every layer: (C, H, W) for images, (N,) for vectors.

    `layers` must already be normalized. Raises ModelSpecError naming the
    layer whose input does not fit.
    """
    shape = (input_spec["channels"], input_spec["height"], input_spec["width"])
    shapes = []
    for layer in layers:
        kind, where = layer["type"], f"layer {layer['name']!r}"
        if kind in ("conv2d", "maxpool2d", "avgpool2d"):
            if len(shape) != 3:
                raise ModelSpecError(f"{where}: {kind} needs an image input, got a vector of {shape[0]}")
            c, h, w = shape
            k, s, p = layer["kernel"], layer["stride"], layer["padding"]
            if kind == "conv2d":
                if layer["in_channels"] != c:
                    raise ModelSpecError(f"{where}: in_channels is {layer['in_channels']} "
                                         f"but its input has {c} channels")
                c = layer["out_channels"]
            elif 2 * p > k:
                # PyTorch's pooling refuses this, and a window that is more
                # than half padding makes little sense anyway.
                raise ModelSpecError(f"{where}: padding {p} is more than half the kernel {k}")
            if h + 2 * p < k or w + 2 * p < k:
                raise ModelSpecError(f"{where}: kernel {k} is larger than its "
                                     f"padded {h}x{w} input")
            shape = (c, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
        elif kind == "linear":
            # A 1x1 image counts as a vector: CHW and HWC orders agree there.
            if len(shape) == 3 and shape[1:] != (1, 1):
                raise ModelSpecError(f"{where}: linear needs a vector input (add a "
                                     f"flatten), got {'x'.join(map(str, shape))}")
            n = shape[0]
            if layer["in_features"] != n:
                raise ModelSpecError(f"{where}: in_features is {layer['in_features']} "
                                     f"but its input has {n} values")
            shape = (layer["out_features"],)
        elif kind == "flatten":
            n = 1
            for d in shape:
                n *= d
            shape = (n,)
        shapes.append(shape)  # relu keeps the shape
    return shapes


class DmcNet(nn.Sequential):
    """A sequential network built from layer specs.

    Children carry the layer names, so state_dict keys are e.g. "conv1.weight".
    The input is NCHW, already normalized ((raw - mean) / std). The specs are
    kept (`model_name`, `task`, `dataset`, `input_spec`, `layer_specs`,
    `shapes`) because the exporter needs them.
    """

    def __init__(self, model_name, input_spec, layers, task="classification", dataset=None):
        if not isinstance(model_name, str) or not NAME_RE.match(model_name):
            raise ModelSpecError(f"model name {model_name!r} must be letters, digits "
                                 f"and _, starting with a letter")
        if task not in TASKS:
            raise ModelSpecError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        dataset = DEFAULT_DATASET[task] if dataset is None else dataset
        if dataset != DEFAULT_DATASET[task]:
            raise ModelSpecError(f"dataset {dataset!r} is not known for task {task!r} "
                                 f"(classification: mnist; regression: sine)")
        input_spec = check_input_spec(input_spec)
        specs = normalize_specs(layers)
        shapes = infer_shapes(input_spec, specs)
        super().__init__(OrderedDict((s["name"], layers_module.build(s)) for s in specs))
        self.model_name = model_name
        self.task = task
        self.dataset = dataset
        self.input_spec = input_spec
        self.layer_specs = specs
        self.shapes = shapes


def build_model(name):
    """A freshly initialised model from the MODELS table."""
    if name not in MODELS:
        raise ModelSpecError(f"unknown model {name!r} (known: {', '.join(MODELS)})")
    d = MODELS[name]
    return DmcNet(name, d.input_spec, d.layers, task=d.task, dataset=d.dataset)
