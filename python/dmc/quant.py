"""The engine's integer arithmetic (engine/kernels/dmc_arith.h), in Python.

Every parameter the engine derives is a short, fixed sequence of IEEE double
operations on float32 values (engine/src/quant/quantize.cpp), so doing the
same operations in the same order in numpy/Python float64 gives the same
bits; the functions below say which operations. Inference itself is integer
arithmetic, done here in int64 (exact), with the products and sums of dot
products done in floating point only where every partial sum is an integer
small enough to be exact (below 2^24 in float32, 2^53 in float64).

Rules (see dmc_arith.h for the full contract and a worked example):
- round_half_up(x) = floor(x + 0.5), for every parameter;
- weights: symmetric per output row, scale = max|w| / qmax, qmax = 2^(b-1)-1;
- activations: asymmetric int8 from a real range [lo, hi] that includes 0;
- requantization: (acc * m + 2^(s-1)) >> s, then + zero point, then clamp.
"""

import math

import numpy as np
import torch

ACT_MIN, ACT_MAX = -128, 127


def round_half_up(x):
    """floor(x + 0.5) in double: scalars or numpy arrays."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5)


def f32(x):
    """A model-file number as the engine holds it (float), as a double."""
    return float(np.float32(x))


class QParams:
    """Scale and zero point of an int8 tensor: real = scale * (q - zero_point)."""

    __slots__ = ("scale", "zero_point")

    def __init__(self, scale, zero_point):
        self.scale = float(scale)
        self.zero_point = int(zero_point)

    def __eq__(self, other):
        return (isinstance(other, QParams) and self.scale == other.scale
                and self.zero_point == other.zero_point)

    def __repr__(self):
        return f"QParams(scale={self.scale!r}, zero_point={self.zero_point})"

    def as_dict(self):
        return {"scale": self.scale, "zero_point": self.zero_point}


def activation_params(lo, hi):
    """The engine's activation_params(): the range is widened to include 0,
    scale = (hi - lo) / 255, zero point = -128 - round(lo / scale) clamped."""
    lo = min(float(lo), 0.0)
    hi = max(float(hi), 0.0)
    if not hi > lo:                       # an all-zero tensor
        return QParams(1.0, -128)
    scale = (hi - lo) / 255.0
    zp = -128.0 - float(round_half_up(lo / scale))
    return QParams(scale, int(max(-128.0, min(127.0, zp))))


def weight_qmax(bits):
    return (1 << (bits - 1)) - 1


def layer_weight_scale(rows, bits):
    """max|w| / qmax over the whole matrix, 1.0 when it is all zero (the
    engine's layer_weight_scale)."""
    w = np.asarray(rows, dtype=np.float32).astype(np.float64)
    layer_max = float(np.abs(w).max()) if w.size else 0.0
    return layer_max / float(weight_qmax(bits)) if layer_max > 0.0 else 1.0


def quantize_weights(rows, bits, scales=None):
    """Per-row symmetric quantization of a (rows, fan_in) float32 array.

    Returns (q int64 (rows, fan_in), scales float64 (rows,), row_sums int64).
    Without `scales`, a row's scale is its max|w| / qmax, and an all-zero row
    borrows layer_weight_scale(), as the engine does.
    """
    w = np.asarray(rows, dtype=np.float32).astype(np.float64)
    qmax = float(weight_qmax(bits))
    if scales is None:
        max_abs = np.abs(w).max(axis=1) if w.shape[1] else np.zeros(len(w))
        scales = np.where(max_abs > 0.0, max_abs / qmax, layer_weight_scale(rows, bits))
    q = np.clip(round_half_up(w / scales[:, None]), -qmax, qmax).astype(np.int64)
    return q, scales, q.sum(axis=1)


def quantize_multiplier(real):
    """The engine's quantize_multiplier(): real = m * 2^-shift with m an
    int32 in [2^30, 2^31) and shift in [1, 62]. Returns (m, shift)."""
    real = float(real)
    if not (real >= 0.0) or not math.isfinite(real):
        raise ValueError(f"rescale factor {real} is not a finite non-negative number")
    if real == 0.0:
        return 0, 1          # multiplier 0: the output is the zero point
    fraction, exponent = math.frexp(real)
    q = int(round_half_up(math.ldexp(fraction, 31)))
    if q == 1 << 31:
        q >>= 1
        exponent += 1
    shift = 31 - exponent
    if shift < 1:
        raise ValueError(f"rescale factor {real} is too large for the int32 multiplier "
                         f"(must be below 2^30)")
    if shift > 62:
        q = int(round_half_up(math.ldexp(float(q), 62 - shift)))
        shift = 62
    return q, shift


def requantize(acc, multiplier, shift, zero_point, act_min, act_max=ACT_MAX, channel_dim=1):
    """clamp(zp + ((acc * m + 2^(s-1)) >> s), act_min, act_max) in int64.

    `acc` is an int64 tensor; `multiplier` and `shift` are per-channel int64
    tensors broadcast along `channel_dim` (or Python ints for one channel).
    The shift is arithmetic (towards -infinity), as in C on int64.
    """
    m = torch.as_tensor(multiplier, dtype=torch.int64)
    s = torch.as_tensor(shift, dtype=torch.int64)
    if m.dim() == 1:
        view = [1] * acc.dim()
        view[channel_dim] = -1
        m, s = m.view(view), s.view(view)
    rounding = torch.where(s > 0, torch.ones_like(s) << (s - 1).clamp(min=0), torch.zeros_like(s))
    scaled = torch.bitwise_right_shift(acc * m + rounding, s)
    return (scaled + zero_point).clamp(act_min, act_max)


def input_quantization(input_spec):
    """Quantization of the raw input from its spec's exact range: returns
    (QParams, mean as float32, inv_scale as float32) as the engine's first
    step holds them."""
    lo, hi = f32(input_spec["min"]), f32(input_spec["max"])
    mean, std = f32(input_spec["mean"]), f32(input_spec["std"])
    qp = activation_params((lo - mean) / std, (hi - mean) / std)
    inv_scale = np.float32(1.0 / (std * qp.scale))
    return qp, np.float32(mean), inv_scale


def quantize_input(x, mean, inv_scale, zero_point):
    """dmc_quantize_input on a float32 tensor: the product (x - mean) *
    inv_scale is rounded to float32 before the + 0.5 (no fused multiply-add),
    then floored; all in float32. Returns int64."""
    x = torch.as_tensor(x, dtype=torch.float32)
    scaled = (x - torch.tensor(mean, dtype=torch.float32)) * torch.tensor(inv_scale,
                                                                          dtype=torch.float32)
    t = scaled + torch.tensor(0.5, dtype=torch.float32)
    t = torch.nan_to_num(t, nan=-1000.0).clamp(-1000.0, 1000.0)
    return (zero_point + torch.floor(t).to(torch.int64)).clamp(ACT_MIN, ACT_MAX)


def dequantize(q, qp):
    """dmc_dequantize: float(scale) * (float)(q - zero_point), in float32."""
    return torch.tensor(np.float32(qp.scale)) * (q - qp.zero_point).to(torch.float32)


def row_bytes(n, bits):
    return (n * bits + 7) // 8


def flash_bytes(rows, fan_in, bits):
    """What the engine counts for an integer layer: packed weights, int32
    bias, and int32 multiplier + int8 shift per output channel."""
    return rows * row_bytes(fan_in, bits) + 4 * rows + 5 * rows


def exact_dtype(fan_in, bits):
    """A float dtype in which a dot product of fan_in int8 activations and
    b-bit weights is exact whatever the summation order."""
    worst = fan_in * weight_qmax(bits) * 128
    return torch.float32 if worst < (1 << 24) else torch.float64
