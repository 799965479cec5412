"""The sine regression task: the data the engine scores a "sine" model on,
and the samples it is trained on.

The engine (engine/src/dataset.cpp) evaluates on the grid
x_i = 2 pi (i + 0.5) / 1000, i < 1000, with target sin(x_i), and calibrates
activation ranges on x_i = 2 pi i / 999. Both are reproduced here exactly:
computed in double, then rounded to float32 as the engine stores them, so
the integer simulation quantizes the very same inputs.
"""

import math

import numpy as np

POINTS = 1000
TWO_PI = 2.0 * math.pi   # 6.283185307179586, the engine's kTwoPi


def test_grid():
    """(raw inputs float32 (N, 1, 1, 1), targets float32 (N, 1))."""
    x = TWO_PI * (np.arange(POINTS, dtype=np.float64) + 0.5) / POINTS
    return (x.astype(np.float32).reshape(-1, 1, 1, 1),
            np.sin(x).astype(np.float32).reshape(-1, 1))


def calibration_grid():
    """Raw calibration inputs float32 (N, 1, 1, 1)."""
    x = TWO_PI * np.arange(POINTS, dtype=np.float64) / (POINTS - 1)
    return x.astype(np.float32).reshape(-1, 1, 1, 1)


def training_samples(count, generator):
    """`count` points drawn uniformly from [0, 2 pi] with a torch generator:
    (raw inputs float32 (count, 1, 1, 1), targets float32 (count, 1))."""
    import torch
    x = torch.rand(count, generator=generator, dtype=torch.float64) * TWO_PI
    return (x.to(torch.float32).reshape(-1, 1, 1, 1),
            torch.sin(x).to(torch.float32).reshape(-1, 1))
