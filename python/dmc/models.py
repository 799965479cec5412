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
import json
import math
import re
from collections import OrderedDict

import numpy as np
from torch import nn

from . import layers as layers_module
from .config import WEIGHT_TYPES
from .errors import ModelSpecError, quoted
from .mnist import MNIST_INPUT

# fullmatch, not match with "$": "$" also matches before a trailing newline,
# which let a name "conv1\n" through.
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_NAME = 64

# The engine's limits (engine/include/dmc/model.h, namespace limits; the
# table "Validity rules" in engine/MODEL_FORMAT.md). Both readers refuse
# the same files.
MAX_LAYERS = 256
MAX_DIMENSION = 1 << 16          # any channel count, height or width
MAX_ACTIVATION = 1 << 22         # values in one activation tensor
MAX_PARAMETERS = 1 << 26         # all weights and biases
MAX_FAN_IN = 100000              # weights per output: int32 accumulators stay exact
MAX_MACS = 1 << 28               # work per inference
MAX_KERNEL = 64
MAX_STRIDE = 64
MAX_INPUT_VALUE = 1e6            # |min|, |max|, |mean|, std
MIN_INPUT_STD = 1e-6


def valid_name(name):
    """Letters, digits and _, starting with a letter, at most 64 characters
    (names become C identifiers in the engine's exported header)."""
    return isinstance(name, str) and len(name) <= MAX_NAME and NAME_RE.fullmatch(name) is not None


def json_text(value):
    """How a value reads in the file, for messages ('1.0', 'true')."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def check_integer(value, where, field, low, high):
    """An integer field as the engine reads it: a JSON integer (not 1.0, not
    true) in [low, high]. Raises ModelSpecError naming the field."""
    # bool is an int subclass; reject it so `true` is not a kernel of 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ModelSpecError(f"{where}: field {field!r} must be an integer (written without "
                             f"'.' or 'e'), not {quoted(json_text(value), 40)}")
    if not low <= value <= high:
        raise ModelSpecError(f"{where}: field {field!r} is {value}, outside [{low}, {high}]")
    return value


def shape_text(shape):
    """(C, H, W) or (N,) as the engine writes shapes: CxHxW, a vector Nx1x1."""
    return "x".join(str(d) for d in (tuple(shape) + (1, 1))[:3])

# Hyperparameter fields of each layer type (tensors excluded), and defaults
# for the optional ones. Pool stride defaults to the kernel, filled in below.
LAYER_FIELDS = {
    "conv2d": ("in_channels", "out_channels", "kernel", "stride", "padding", "bias"),
    "linear": ("in_features", "out_features", "bias"),
    "relu": (),
    "flatten": (),
    "maxpool2d": ("kernel", "stride", "padding"),
    "avgpool2d": ("kernel", "stride", "padding"),
    # Version 2 of the model file (engine/MODEL_FORMAT.md).
    "depthwise_conv2d": ("channels", "kernel", "stride", "padding", "bias"),
    "global_avgpool2d": (),
}
# Optional fields that have no default: relu's "max" (version 2; a clamp to
# [0, max], 6 for ReLU6). Without it a relu has no upper bound.
_OPTIONAL_FIELDS = {"relu": ("max",)}
MAX_RELU_MAX = 1e6
_DEFAULTS = {
    "conv2d": {"stride": 1, "padding": 0, "bias": True},
    "linear": {"bias": True},
    "maxpool2d": {"padding": 0},
    "avgpool2d": {"padding": 0},
    "depthwise_conv2d": {"stride": 1, "padding": 0, "bias": True},
}


def conv(name, cin, cout, kernel, stride=1, padding=0):
    return {"name": name, "type": "conv2d", "in_channels": cin, "out_channels": cout,
            "kernel": kernel, "stride": stride, "padding": padding, "bias": True}


def linear(name, fin, fout):
    return {"name": name, "type": "linear", "in_features": fin, "out_features": fout,
            "bias": True}


def relu(name, max=None):
    spec = {"name": name, "type": "relu"}
    if max is not None:
        spec["max"] = max
    return spec


def depthwise(name, channels, kernel, stride=1, padding=0):
    return {"name": name, "type": "depthwise_conv2d", "channels": channels, "kernel": kernel,
            "stride": stride, "padding": padding, "bias": True}


def uses_version_2(layers):
    """True when a layer needs model file version 2: a depthwise_conv2d, a
    global_avgpool2d or a relu with a max (the engine's layer_version)."""
    return any(layer.get("type") in ("depthwise_conv2d", "global_avgpool2d")
               or (layer.get("type") == "relu" and "max" in layer) for layer in layers)


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


def _field_range(kind, field, spec):
    """[low, high] of an integer field, as the engine bounds it."""
    if field in ("in_channels", "out_channels", "in_features", "out_features", "channels"):
        return 1, MAX_DIMENSION
    if field == "kernel":
        return 1, MAX_KERNEL
    if field == "stride":
        return 1, MAX_STRIDE
    # padding: a conv's must be smaller than its kernel; a pool's at most
    # half its window (PyTorch's pooling refuses more, and a window that is
    # mostly padding makes little sense anyway).
    if kind in ("conv2d", "depthwise_conv2d"):
        return 0, spec["kernel"] - 1
    return 0, spec["kernel"] // 2


def normalize_specs(layers):
    """Return a deep copy of `layers` with defaults filled in and fields checked.

    Checks the number of layers, names (valid, unique), types, that every
    field is an integer in the engine's range, and the fan-in and parameter
    limits. Shapes are checked by infer_shapes(). Raises ModelSpecError.
    """
    if not isinstance(layers, list) or not layers:
        raise ModelSpecError("a model needs a non-empty list of layers ('layers' is empty "
                             "or not a list)")
    if len(layers) > MAX_LAYERS:
        raise ModelSpecError(f"{len(layers)} layers exceed the limit of {MAX_LAYERS}")
    out, seen = [], set()
    parameters = 0
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise ModelSpecError(f"layer {i} is not an object")
        name = layer.get("name")
        if not valid_name(name):
            raise ModelSpecError(f"layer {i}: name {quoted(name)} must be letters, digits and "
                                 f"_, starting with a letter (at most {MAX_NAME})")
        where = f"layer {quoted(name)}"
        if name in seen:
            raise ModelSpecError(f"{where}: duplicate layer name (the name is used twice)")
        seen.add(name)
        kind = layer.get("type")
        if not isinstance(kind, str) or kind not in LAYER_FIELDS:
            raise ModelSpecError(f"{where}: unknown type {quoted(kind)} "
                                 f"(known: {', '.join(LAYER_FIELDS)})")
        where = f"layer {quoted(name)} ({kind})"
        fields = LAYER_FIELDS[kind]
        optional = _OPTIONAL_FIELDS.get(kind, ())
        unknown = set(layer) - {"name", "type"} - set(fields) - set(optional)
        if unknown:
            raise ModelSpecError(f"{where}: unknown field(s) "
                                 f"{', '.join(quoted(str(k)) for k in sorted(map(str, unknown)))}")
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
            if field == "bias":
                if not isinstance(spec[field], bool):
                    raise ModelSpecError(f"{where}: bias must be true or false")
                continue
            low, high = _field_range(kind, field, spec)
            check_integer(spec[field], where, field, low, high)
        if "max" in optional and "max" in layer:
            value = layer["max"]
            # Also refuses NaN and the infinities: a clamp, not a disguised
            # "no upper bound" (the engine's kMaxReluMax).
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ModelSpecError(f"{where}: field 'max' must be a number, not "
                                     f"{quoted(json_text(value), 40)}")
            if not 0.0 < value <= MAX_RELU_MAX:
                raise ModelSpecError(f"{where}: max {json_text(value)} must be a number in "
                                     f"(0, {int(MAX_RELU_MAX)}]")
            spec["max"] = value
        if kind in WEIGHT_TYPES:
            if kind == "conv2d":
                fan_in = spec["kernel"] * spec["kernel"] * spec["in_channels"]
            elif kind == "depthwise_conv2d":
                fan_in = spec["kernel"] * spec["kernel"]   # one filter per channel
            else:
                fan_in = spec["in_features"]
            if fan_in > MAX_FAN_IN:
                raise ModelSpecError(f"{where}: {fan_in} weights per output exceed the limit of "
                                     f"{MAX_FAN_IN} (int32 accumulators must stay exact)")
            outputs = (spec["out_channels"] if kind == "conv2d" else spec["channels"]
                       if kind == "depthwise_conv2d" else spec["out_features"])
            parameters += outputs * fan_in + (outputs if spec["bias"] else 0)
            if parameters > MAX_PARAMETERS:
                raise ModelSpecError(f"{where}: the model has more than {MAX_PARAMETERS} "
                                     f"parameters")
        out.append(spec)
    return out


def _number_text(value):
    """A number as the engine writes it in messages (C's %g: 1e-50, 1e+07)."""
    try:
        return f"{value:g}"
    except OverflowError:     # an integer too large for a double, from code
        return quoted(str(value), 40)


# What the engine assumes for a field the "input" object leaves out.
INPUT_DEFAULTS = {"min": 0.0, "max": 1.0, "mean": 0.0, "std": 1.0}


def check_input_spec(input_spec):
    """Check the "input" object as the engine does: integer dimensions in
    [1, 65536] and at most 2^22 values; min, max and mean within 1e6 in
    magnitude, std in [1e-6, 1e6], each range-checked as written (a float32
    std of 1e-50 would be 0); min < max as float32 values. A missing min,
    max, mean or std takes the engine's default (0, 1, 0, 1).

    Returns a copy holding just the known fields, min/max/mean/std as floats.
    Raises ModelSpecError.
    """
    if not isinstance(input_spec, dict):
        raise ModelSpecError("input must be an object")
    unknown = set(input_spec) - {"channels", "height", "width"} - set(INPUT_DEFAULTS)
    if unknown:
        raise ModelSpecError(f"input: unknown field(s) "
                             f"{', '.join(quoted(str(k)) for k in sorted(map(str, unknown)))}")
    out = {}
    for field in ("channels", "height", "width"):
        if field not in input_spec:
            raise ModelSpecError(f"input: missing field {field!r}")
        out[field] = check_integer(input_spec[field], "input", field, 1, MAX_DIMENSION)
    for field in ("min", "max", "mean", "std"):
        value = input_spec.get(field, INPUT_DEFAULTS[field])
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ModelSpecError(f"input: field {field!r} must be a number, "
                                 f"not {quoted(json_text(value), 40)}")
        low, high = ((MIN_INPUT_STD, MAX_INPUT_VALUE) if field == "std"
                     else (-MAX_INPUT_VALUE, MAX_INPUT_VALUE))
        # Also refuses NaN and the infinities (every comparison with NaN is
        # false), without converting a huge integer to float.
        if not low <= value <= high:
            raise ModelSpecError(f"input: {field} {_number_text(value)} is outside "
                                 f"[{low:g}, {high:g}]")
        out[field] = float(value)
    size = out["channels"] * out["height"] * out["width"]
    if size > MAX_ACTIVATION:
        raise ModelSpecError(f"input {shape_text((out['channels'], out['height'], out['width']))} "
                             f"has more than {MAX_ACTIVATION} values")
    # The engine keeps float32 values: 0.1 and 0.1000000001 are one value.
    if not np.float32(out["min"]) < np.float32(out["max"]):
        raise ModelSpecError(f"input range [min, max] must have min < max, got "
                             f"[{out['min']:g}, {out['max']:g}]")
    return out


def infer_shapes(input_spec, layers):
    """Output shape of every layer: (C, H, W) for images, (N,) for vectors.

    `layers` must already be normalized. Raises ModelSpecError naming the
    layer whose input does not fit, whose output is larger than the engine
    allows (2^22 values, or a vector of more than 65,536), or that takes
    the multiply-accumulates per inference past 2^28 (counted as the engine
    does: a conv's output values x kernel x kernel x in_channels, a
    depthwise conv's output values x kernel x kernel, a linear layer's in x
    out; pooling counts none).
    """
    shape = (input_spec["channels"], input_spec["height"], input_spec["width"])
    shapes = []
    macs = 0
    for layer in layers:
        kind, where = layer["type"], f"layer {quoted(layer['name'])} ({layer['type']})"
        if kind in ("conv2d", "depthwise_conv2d", "maxpool2d", "avgpool2d"):
            if len(shape) != 3:
                raise ModelSpecError(f"{where}: {kind} needs an image input, got a vector of {shape[0]}")
            c, h, w = shape
            k, s, p = layer["kernel"], layer["stride"], layer["padding"]
            if kind == "conv2d" and layer["in_channels"] != c:
                raise ModelSpecError(f"{where}: in_channels is {layer['in_channels']} "
                                     f"but its input has {c} channels")
            if kind == "depthwise_conv2d" and layer["channels"] != c:
                raise ModelSpecError(f"{where}: has {layer['channels']} channels but receives "
                                     f"a {shape_text(shape)} tensor")
            if h + 2 * p < k or w + 2 * p < k:
                raise ModelSpecError(f"{where}: kernel {k} is larger than its "
                                     f"padded {h}x{w} input")
            if kind == "conv2d":
                c = layer["out_channels"]
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
        elif kind == "global_avgpool2d":
            # The mean of each channel: C x 1 x 1 (a vector N, which the
            # engine holds as N x 1 x 1, stays what it is).
            shape = (shape[0], 1, 1)
        elif kind == "flatten":
            n = 1
            for d in shape:
                n *= d
            shape = (n,)
        # relu keeps the shape. The engine holds a vector as N x 1 x 1: a
        # vector longer than the largest channel count is refused too.
        size = 1
        for d in shape:
            size *= d
        if size > MAX_ACTIVATION or shape[0] > MAX_DIMENSION:
            raise ModelSpecError(f"{where}: output {shape_text(shape)} has more than "
                                 f"{MAX_ACTIVATION} values (or more than {MAX_DIMENSION} "
                                 f"channels)")
        if kind == "conv2d":
            macs += size * layer["kernel"] * layer["kernel"] * layer["in_channels"]
        elif kind == "depthwise_conv2d":
            macs += size * layer["kernel"] * layer["kernel"]
        elif kind == "linear":
            macs += layer["in_features"] * layer["out_features"]
        if macs > MAX_MACS:
            raise ModelSpecError(f"{macs:,} MACs per inference by {where} exceed the limit "
                                 f"of {MAX_MACS:,}")
        shapes.append(shape)
    return shapes


class DmcNet(nn.Sequential):
    """A sequential network built from layer specs.

    Children carry the layer names, so state_dict keys are e.g. "conv1.weight".
    The input is NCHW, already normalized ((raw - mean) / std). The specs are
    kept (`model_name`, `task`, `dataset`, `input_spec`, `layer_specs`,
    `shapes`) because the exporter needs them.
    """

    def __init__(self, model_name, input_spec, layers, task="classification", dataset=None):
        if not valid_name(model_name):
            raise ModelSpecError(f"model name {quoted(model_name)} must be letters, digits "
                                 f"and _, starting with a letter (at most {MAX_NAME}; it "
                                 f"becomes a C identifier)")
        if task not in TASKS:
            raise ModelSpecError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        dataset = DEFAULT_DATASET[task] if dataset is None else dataset
        if dataset != DEFAULT_DATASET[task]:
            raise ModelSpecError(f"dataset {dataset!r} is not known for task {task!r} "
                                 f"(classification: mnist; regression: sine)")
        input_spec = check_input_spec(input_spec)
        specs = normalize_specs(layers)
        shapes = infer_shapes(input_spec, specs)
        if not any(spec["type"] in WEIGHT_TYPES for spec in specs):
            raise ModelSpecError(f"model {quoted(model_name)} has no conv2d, depthwise_conv2d "
                                 f"or linear layer; "
                                 f"there is nothing to compress")
        outputs = int(np.prod(shapes[-1]))
        if task == "classification" and outputs < 2:
            raise ModelSpecError(f"model {quoted(model_name)}: a classifier needs at least 2 "
                                 f"outputs, the model gives {outputs}")
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
