"""Writes a small depthwise-separable MNIST model file (version 2) with
seeded random weights to stdout: what the export test needs to prove the
header's depthwise, global pooling and ReLU6 steps equal the engine's
integers. Plain Python (no torch), so the test runs wherever python3 does.

1x28x28 -> conv 3x3/2 (8) -> ReLU6 -> depthwise 3x3 -> ReLU6 -> conv 1x1
(12) -> ReLU -> depthwise 3x3/2 -> ReLU(max 4) -> maxpool 2 -> ReLU(max 3),
stand-alone -> global average pool -> linear (10)."""

import json
import math
import random

rng = random.Random(10)


def tensor(n, fan_in):
    std = math.sqrt(2.0 / fan_in)
    return [rng.gauss(0.0, std) for _ in range(n)]


def bias(n):
    return [rng.gauss(0.0, 0.1) for _ in range(n)]


def conv(name, cin, cout, k, stride, padding):
    return {"name": name, "type": "conv2d", "in_channels": cin, "out_channels": cout, "kernel": k,
            "stride": stride, "padding": padding, "weight": tensor(cout * k * k * cin, k * k * cin),
            "bias": bias(cout)}


def depthwise(name, c, k, stride, padding):
    return {"name": name, "type": "depthwise_conv2d", "channels": c, "kernel": k, "stride": stride,
            "padding": padding, "weight": tensor(c * k * k, k * k), "bias": bias(c)}


def relu(name, top=None):
    layer = {"name": name, "type": "relu"}
    if top is not None:
        layer["max"] = top
    return layer


layers = [conv("conv1", 1, 8, 3, 2, 1), relu("relu1", 6.0),
          depthwise("dw1", 8, 3, 1, 1), relu("relu2", 6.0),
          conv("pw1", 8, 12, 1, 1, 0), relu("relu3"),
          depthwise("dw2", 12, 3, 2, 1), relu("relu4", 4.0),
          {"name": "pool", "type": "maxpool2d", "kernel": 2},
          relu("clamp", 3.0),
          {"name": "gap", "type": "global_avgpool2d"},
          {"name": "fc", "type": "linear", "in_features": 12, "out_features": 10,
           "weight": tensor(120, 12), "bias": bias(10)}]
print(json.dumps({"format": "dmc-model", "version": 2, "name": "dwsep", "task": "classification",
                  "dataset": "mnist",
                  "input": {"channels": 1, "height": 28, "width": 28, "min": 0.0, "max": 1.0,
                            "mean": 0.1307, "std": 0.3081},
                  "layers": layers}))
