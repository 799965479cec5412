"""An independent NumPy forward pass that reads a model file directly.

It shares no code with the dmc package on purpose: it follows
engine/MODEL_FORMAT.md literally (NHWC activations, OHWI conv weights,
[out][in] linear weights, flatten in HWC order), the way the C++ engine does.
If the exporter got a layout wrong (say the flatten permutation), this and
PyTorch disagree. Computes in float64 so that its own rounding is negligible.
"""

import base64
import json

import numpy as np


def load(path_or_doc):
    if isinstance(path_or_doc, dict):
        return path_or_doc
    with open(path_or_doc, "r", encoding="utf-8") as f:
        return json.load(f)


def tensor(value):
    if isinstance(value, str):
        return np.frombuffer(base64.b64decode(value), dtype="<f4").astype(np.float64)
    return np.asarray(value, dtype=np.float64)


def conv2d(x, layer):
    """x: (N, H, W, Cin); weight OHWI."""
    k, cin, cout = layer["kernel"], layer["in_channels"], layer["out_channels"]
    s, p = layer.get("stride", 1), layer.get("padding", 0)
    w = tensor(layer["weight"]).reshape(cout, k, k, cin)
    x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    n, h, wd, _ = x.shape
    ho, wo = (h - k) // s + 1, (wd - k) // s + 1
    out = np.zeros((n, ho, wo, cout))
    for ky in range(k):
        for kx in range(k):
            patch = x[:, ky:ky + s * (ho - 1) + 1:s, kx:kx + s * (wo - 1) + 1:s, :]
            out += patch @ w[:, ky, kx, :].T
    if "bias" in layer:
        out += tensor(layer["bias"])
    return out


def pool(x, layer, kind):
    k = layer["kernel"]
    s, p = layer.get("stride", k), layer.get("padding", 0)
    fill = -np.inf if kind == "max" else 0.0
    x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), constant_values=fill)
    n, h, w, c = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    windows = [x[:, ky:ky + s * (ho - 1) + 1:s, kx:kx + s * (wo - 1) + 1:s, :]
               for ky in range(k) for kx in range(k)]
    if kind == "max":
        return np.max(windows, axis=0)
    return np.sum(windows, axis=0) / (k * k)   # padded zeros count


def linear(x, layer):
    x = x.reshape(x.shape[0], -1)   # only a no-op or a 1x1 image here
    w = tensor(layer["weight"]).reshape(layer["out_features"], layer["in_features"])
    out = x @ w.T
    if "bias" in layer:
        out += tensor(layer["bias"])
    return out


def forward(model, x_nhwc):
    """Logits for a batch of normalized NHWC inputs."""
    doc = load(model)
    x = np.asarray(x_nhwc, dtype=np.float64)
    for layer in doc["layers"]:
        kind = layer["type"]
        if kind == "conv2d":
            x = conv2d(x, layer)
        elif kind == "linear":
            x = linear(x, layer)
        elif kind == "relu":
            x = np.maximum(x, 0.0)
        elif kind == "flatten":
            x = x.reshape(x.shape[0], -1)   # NHWC memory order = HWC flatten
        elif kind == "maxpool2d":
            x = pool(x, layer, "max")
        elif kind == "avgpool2d":
            x = pool(x, layer, "avg")
        else:
            raise ValueError(f"unknown layer type {kind}")
    return x


def predict_raw(model, raw_nhwc, batch_size=1000):
    """Class predictions for raw inputs (in [min, max]), normalizing with the
    file's own mean and std."""
    doc = load(model)
    mean, std = doc["input"]["mean"], doc["input"]["std"]
    preds = []
    for start in range(0, len(raw_nhwc), batch_size):
        # Normalize in float32, as PyTorch and the engine's users do, so
        # both sides start from the very same input values.
        raw = np.asarray(raw_nhwc[start:start + batch_size], dtype=np.float32)
        x = (raw - np.float32(mean)) / np.float32(std)
        preds.append(forward(doc, x).argmax(axis=1))
    return np.concatenate(preds)
