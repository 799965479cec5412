"""Export a DmcNet to the dmc-model JSON file and import one back.

The format is specified in engine/MODEL_FORMAT.md. What this module adds to
the layer specs is the tensors, converted between PyTorch's layouts and the
file's microcontroller layouts:

- conv2d weights: PyTorch OIHW <-> file OHWI;
- depthwise_conv2d weights: PyTorch [C][1][k][k] <-> file [C][k][k] (the
  same values in the same order);
- linear weights: [out][in] in both, but the linear layer that consumes a
  flatten sees its input in a different order: PyTorch flattens C x H x W as
  c*H*W + h*W + w, the file (and engine, which keeps activations NHWC) as
  (h*W + w)*C + c. So that layer's columns are permuted on the way out and
  back on the way in. ReLU and further flattens between the two do not change
  the order, so the permutation is carried to the next linear layer.

Tensors are written as base64 of little-endian float32; on import a JSON
array of numbers is accepted too. Import checks everything and raises
ModelFileError naming the file and the problem, so a bad file never turns into
a model that silently computes something else.
"""

import base64
import binascii
import json
import math
import os
import re
import tempfile

import numpy as np
import torch

from .errors import ModelFileError, ModelSpecError, quoted
from .config import WEIGHT_TYPES
from .models import DEFAULT_DATASET, TASKS, DmcNet, check_integer, uses_version_2

FORMAT = "dmc-model"
# Version 2 adds depthwise_conv2d, global_avgpool2d and relu's max
# (engine/MODEL_FORMAT.md). As the engine does, a model that uses none of
# them is written as version 1, byte for byte what it was before.
VERSION = 1
VERSION_2 = 2
READ_VERSIONS = (1, 2)
TOP_LEVEL_FIELDS = ("format", "version", "name", "task", "dataset", "input", "layers",
                    "metadata")
TENSOR_FIELDS = ("weight", "bias")

# The engine's JSON limits (engine/src/json_reader.h, engine/MODEL_FORMAT.md):
# no value deeper than 64 (the top-level object is at depth 0, a number in a
# tensor array at 4: the engine's parser refuses a value its callback sees
# at a depth over 64), and no file over 1 GiB.
MAX_JSON_DEPTH = 64
MAX_FILE_BYTES = 1 << 30
# How much of the JSON parser's own message an error quotes.
MAX_PARSER_MESSAGE = 200


# ---------------------------------------------------------------- layouts

def _flatten_orders(model):
    """For each linear layer, the (C, H, W) whose CHW->HWC permutation its
    columns need, or None. Raises ModelSpecError if a permuted vector reaches
    the output without passing a linear layer (PyTorch and the engine would
    then disagree on the output order)."""
    pending = None
    orders = {}
    in_shape = (model.input_spec["channels"], model.input_spec["height"],
                model.input_spec["width"])
    for spec, out_shape in zip(model.layer_specs, model.shapes):
        if spec["type"] == "flatten" and len(in_shape) == 3:
            c, h, w = in_shape
            # With one channel or a 1x1 image both orders coincide.
            pending = in_shape if (c > 1 and h * w > 1) else None
        elif spec["type"] == "linear":
            orders[spec["name"]] = pending
            pending = None
        in_shape = out_shape
    if pending is not None:
        raise ModelSpecError("the model ends with a flattened image and no linear layer "
                             "after it; its output order would differ between PyTorch "
                             "(CHW) and the engine (HWC)")
    return orders


def chw_to_hwc_columns(weight, chw):
    """Permute a [out][C*H*W] PyTorch weight to the file's [out][H*W*C]."""
    c, h, w = chw
    return weight.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(weight.shape[0], -1)


def hwc_to_chw_columns(weight, chw):
    """Inverse of chw_to_hwc_columns."""
    c, h, w = chw
    return weight.reshape(-1, h, w, c).transpose(0, 3, 1, 2).reshape(weight.shape[0], -1)


def encode_tensor(array):
    """base64 of the values as little-endian float32, row-major."""
    data = np.ascontiguousarray(array, dtype="<f4").tobytes()
    return base64.b64encode(data).decode("ascii")


# ----------------------------------------------------------------- export

def file_weights(model, orders=None):
    """Each weight layer's weights as the file (and the engine) holds them:
    float32 rows of fan-in values, conv in OHWI order, a depthwise conv's
    channel c as row c of k x k values (ky, kx), a linear layer
    after a flatten with its columns in HWC order. Whatever depends on the
    order of a row's values (the engine's pruning norms are sums in that
    order) must use these."""
    if orders is None:
        orders = _flatten_orders(model)
    out = {}
    for spec in model.layer_specs:
        if spec["type"] not in WEIGHT_TYPES:
            continue
        weight = getattr(model, spec["name"]).weight.detach().cpu().numpy().astype(np.float32)
        if spec["type"] == "conv2d":
            weight = weight.transpose(0, 2, 3, 1)              # OIHW -> OHWI
        elif spec["type"] == "linear" and orders[spec["name"]] is not None:
            weight = chw_to_hwc_columns(weight, orders[spec["name"]])
        out[spec["name"]] = np.ascontiguousarray(weight.reshape(weight.shape[0], -1))
    return out


def export_model(model, metadata=None):
    """The model-file document (a dict ready for json.dump) for a DmcNet."""
    try:
        orders = _flatten_orders(model)
    except ModelSpecError as e:
        raise ModelFileError(f"cannot export model {model.model_name!r}: {e}") from None
    weights = file_weights(model, orders)
    layers = []
    for spec in model.layer_specs:
        entry = {k: v for k, v in spec.items() if k != "bias"}
        module = getattr(model, spec["name"])
        if spec["type"] in WEIGHT_TYPES:
            entry["weight"] = encode_tensor(weights[spec["name"]])
            if spec["bias"]:
                entry["bias"] = encode_tensor(module.bias.detach().cpu().numpy())
        layers.append(entry)
    doc = {
        "format": FORMAT,
        "version": VERSION_2 if uses_version_2(model.layer_specs) else VERSION,
        "name": model.model_name,
        "task": model.task,
        "dataset": model.dataset,
        "input": dict(model.input_spec),
        "layers": layers,
    }
    if metadata is not None:
        doc["metadata"] = metadata
    return doc


def save_model_file(model, path, metadata=None):
    """Write the model file atomically: a crash never leaves half a file."""
    doc = export_model(model, metadata)
    text = json.dumps(doc, indent=2, allow_nan=False) + "\n"
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        # mkstemp makes the file private (0600); give it the usual mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        raise ModelFileError(f"{path}: cannot write: {e.strerror or e}") from None
    return doc


# ----------------------------------------------------------------- import

def _base64_size_text(text):
    """What a base64 string holds, exactly: '60 characters of base64 (44 bytes)'."""
    chars = f"{len(text)} characters of base64"
    if len(text) % 4:
        return chars + " (not a whole number of 4-character groups)"
    padding = len(text) - len(text.rstrip("=")) if text else 0
    return chars + f" ({len(text) // 4 * 3 - min(padding, 2)} bytes)"


def decode_tensor(value, count, where):
    """A float32 numpy vector of `count` values from base64 or a JSON array."""
    if isinstance(value, str):
        # The length is checked before decoding (as the engine does), so a
        # wrong shape never decodes more than the shape implies, and the
        # message gives exact sizes rather than "about N floats".
        expected_chars = (count * 4 + 2) // 3 * 4
        if len(value) != expected_chars:
            raise ModelFileError(f"{where}: {_base64_size_text(value)}, but the shape needs "
                                 f"{count} float32 values: {count * 4} bytes, {expected_chars} "
                                 f"characters of base64")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as e:
            raise ModelFileError(f"{where}: not valid base64: {e}") from None
        if len(data) != count * 4:
            raise ModelFileError(f"{where}: decodes to {len(data)} bytes but the shape "
                                 f"needs {count * 4} (a whole number of float32 values)")
        array = np.frombuffer(data, dtype="<f4").astype(np.float32)
    elif isinstance(value, list):
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise ModelFileError(f"{where}: an array tensor must hold only numbers")
        array = np.array(value, dtype=np.float64).astype(np.float32)
    else:
        raise ModelFileError(f"{where}: a tensor must be a base64 string or an array "
                             f"of numbers, got {type(value).__name__}")
    if array.size != count:
        raise ModelFileError(f"{where}: has {array.size} values, expected {count}")
    if not np.all(np.isfinite(array)):
        raise ModelFileError(f"{where}: holds NaN or infinite values")
    return array


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _number_overflow(text):
    # The engine's parser (nlohmann) says "number overflow parsing '1e999'".
    return ValueError(f"number overflow parsing {quoted(text, 40)}: it is beyond what a "
                      f"double holds")


def _parse_float(text):
    """Python's json turns 1e999 into inf; the engine refuses it."""
    value = float(text)
    if not math.isfinite(value):
        raise _number_overflow(text)
    return value


def _parse_int(text):
    """An integer past what a double holds (a 400-digit number) is refused
    too: the engine reads integers past 64 bits as doubles."""
    value = int(text)
    try:
        float(value)
    except OverflowError:
        raise _number_overflow(text) from None
    return value


def check_json_tree(doc):
    """Refuse what the engine's JSON parser refuses in a parsed document: a
    value deeper than 64 (the top-level object is at 0, so 64 nested empty
    arrays in `metadata` pass and 65 do not, nor 64 holding a number), and
    a lone UTF-16 surrogate ("\\ud800") in a string. Iterative, so a deep
    document cannot exhaust Python's stack. Raises ValueError."""
    stack = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                _check_string(key)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_string(value)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_string(text):
    # json.loads joins a valid surrogate pair into one character, so any
    # surrogate left is a lone one, which is not Unicode text.
    if isinstance(text, str) and _SURROGATE.search(text):
        raise ValueError("invalid string: a lone UTF-16 surrogate (\\ud800-\\udfff)")


def model_from_dict(doc, source="<model file>"):
    """Build a DmcNet from a parsed model file, checking it by the rules of
    engine/MODEL_FORMAT.md ("Validity rules"). Its "metadata" (or None) is
    kept as `model.metadata`. Raises ModelFileError."""
    def fail(message):
        raise ModelFileError(f"{source}: {message}")

    try:
        check_json_tree(doc)
    except ValueError as e:
        fail(str(e))
    if not isinstance(doc, dict):
        fail("the top level must be a JSON object")
    unknown = set(doc) - set(TOP_LEVEL_FIELDS)
    if unknown:
        fail(f"unknown top-level field(s) {', '.join(quoted(k) for k in sorted(unknown))}")
    if doc.get("format") != FORMAT:
        fail(f"format must be {FORMAT!r}, got {quoted(doc.get('format'))}")
    try:
        if "version" not in doc:
            raise ModelSpecError("missing field 'version'")
        version = check_integer(doc["version"], "model file", "version", 0, 1000000)
    except ModelSpecError as e:
        fail(str(e))
    if version not in READ_VERSIONS:
        fail(f"model file version {version} is not supported (this reader reads versions 1 and 2)")
    # Both are optional in the format: a file without them is an MNIST
    # classifier, a regression model without a dataset is evaluated on sine.
    task = doc.get("task", "classification")
    if task not in TASKS:
        fail(f"task must be one of {', '.join(repr(t) for t in TASKS)}, "
             f"got {quoted(task)}")
    dataset = doc.get("dataset", DEFAULT_DATASET[task])
    if dataset != DEFAULT_DATASET[task]:
        fail(f"dataset {quoted(dataset)} is not known for task {task!r} "
             f"(classification: 'mnist'; regression: 'sine')")
    for field in ("name", "input", "layers"):
        if field not in doc:
            fail(f"missing field {field!r}")

    layers = doc["layers"]
    if not isinstance(layers, list):
        fail("layers must be an array")
    specs, tensors = [], []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            fail(f"layer {i} is not an object")
        spec = {k: v for k, v in layer.items() if k not in TENSOR_FIELDS}
        if version < VERSION_2 and uses_version_2([layer]):
            fail(f"layer {i} ({quoted(layer.get('name'))}): needs model file version 2 "
                 f"(the file says version {version})")
        if layer.get("type") in WEIGHT_TYPES:
            if "weight" not in layer:
                fail(f"layer {i} ({quoted(layer.get('name'))}): missing weight")
            spec["bias"] = "bias" in layer
        else:
            # Leave tensors in so the spec check reports them as unexpected.
            spec = dict(layer)
        specs.append(spec)
        tensors.append({k: layer[k] for k in TENSOR_FIELDS if k in layer})

    try:
        model = DmcNet(doc["name"], doc["input"], specs, task=task, dataset=dataset)
        orders = _flatten_orders(model)
    except ModelSpecError as e:
        fail(str(e))

    with torch.no_grad():
        for spec, found in zip(model.layer_specs, tensors):
            if spec["type"] not in WEIGHT_TYPES:
                continue
            module = getattr(model, spec["name"])
            where = f"{source}: layer {quoted(spec['name'])}"
            shape = tuple(module.weight.shape)
            weight = decode_tensor(found["weight"], int(np.prod(shape)), f"{where} weight")
            if spec["type"] == "conv2d":
                o, i, kh, kw = shape
                weight = weight.reshape(o, kh, kw, i).transpose(0, 3, 1, 2)  # OHWI -> OIHW
            elif spec["type"] == "depthwise_conv2d":
                weight = weight.reshape(shape)       # [C][k][k] is [C][1][k][k]
            else:
                weight = weight.reshape(shape)
                if orders[spec["name"]] is not None:
                    weight = hwc_to_chw_columns(weight, orders[spec["name"]])
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            if spec["bias"]:
                bias = decode_tensor(found["bias"], shape[0], f"{where} bias")
                module.bias.copy_(torch.from_numpy(bias))
    model.metadata = doc.get("metadata")
    return model


def parse_model_text(data, source):
    """The parsed JSON document of a model file's bytes, refusing what the
    engine's parser refuses: a NUL byte anywhere (the engine's parser would
    stop there and accept what came before), text that is not UTF-8 (a
    leading byte-order mark is skipped, as the engine does), JSON that is not
    valid, numbers beyond a double (1e999, which Python alone would read as
    inf), NaN and Infinity, and nesting deeper than 64 levels. Raises
    ModelFileError naming `source`."""
    def fail(message):
        raise ModelFileError(f"{source}: {message}")

    nul = data.find(b"\0")
    if nul >= 0:
        fail(f"not valid JSON (a NUL byte at offset {nul})")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        fail(f"not UTF-8 text: {e}")
    try:
        doc = json.loads(text, parse_constant=_reject_constant, parse_float=_parse_float,
                         parse_int=_parse_int)
    except RecursionError:
        # Only nesting makes the parser recurse this deep (about 1,000 levels).
        fail(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        message = str(e)
        if len(message) > MAX_PARSER_MESSAGE:
            message = message[:MAX_PARSER_MESSAGE] + f"... ({len(message)} characters)"
        fail(f"not valid JSON ({message})")
    try:
        check_json_tree(doc)
    except ValueError as e:
        fail(str(e))
    return doc


def load_model_file(path):
    """Read and check a model file; return the DmcNet (see model_from_dict)."""
    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            raise ModelFileError(f"{path}: larger than the limit of {MAX_FILE_BYTES:,} bytes "
                                 f"for a model file")
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read: {e.strerror or e}") from None
    return model_from_dict(parse_model_text(data, path), source=path)
