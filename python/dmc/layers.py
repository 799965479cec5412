"""The network's layers, one for each engine layer type, with quantization
hooks.

Each class is the ordinary PyTorch layer (same parameters, same state_dict
keys, same float forward) plus a second forward path, taken when the input
is a QTensor instead of a Tensor: the engine's integer arithmetic, step for
step (engine/kernels/*.h, engine/src/compress.cpp). That path computes two
things at once:

- the exact integers the engine computes (int64 tensors, `QTensor.q`), from
  parameters derived exactly as the engine derives them from the current
  float weights (quant.py): per-row weight scales and quantized weights,
  folded int32 bias, per-channel multiplier and shift, requantization with
  rounding half up, clamping at the fused ReLU's zero point;
- a differentiable float stand-in (`QTensor.real`) whose *value* is the
  dequantized integer output and whose *gradient* is that of the float layer
  run with fake-quantized weights and clamped to the output's range: the
  straight-through estimator. Training on `real` sees exactly the engine's
  outputs, rounding and clamping included, and still gets useful gradients.

Output ranges (scale and zero point of each integer conv2d/linear output,
and of a float layer's output that is quantized again) come from
calibration: a forward pass with `QTensor.calibrating` set measures them on
the exact accumulators, as the engine does, and stores them on the layer
(`q_out`, `q_convert`). Between calibrations they stay fixed, and everything
else follows the weights. Which layers are integer, and whether a ReLU is
fused, is set by compress.CompressedModel (attributes `q_bits`,
`q_fused_relu`), which also lays out the steps as the engine does.
"""

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import quant
from .quant import ACT_MAX, ACT_MIN

FLOAT_BITS = 32
INT32_MAX = 2 ** 31 - 1
NO_MAX = float("inf")     # a relu without a max


def quantized_relu_max(relu_max, qp):
    """The largest int8 a ReLU with this max lets through (dmc_arith.h rule
    5, the engine's quantized_relu_max): min(127, z + round_half_up(max /
    s)) in double; 127 when there is no max. `relu_max` is the float32
    value the engine holds, as a double."""
    if not np.isfinite(relu_max):
        return ACT_MAX
    top = float(qp.zero_point) + float(quant.round_half_up(float(relu_max) / qp.scale))
    return int(min(float(ACT_MAX), top))


def relu_max_of(spec):
    """A relu spec's max as the engine holds it (float32, as a double), or
    NO_MAX."""
    return quant.f32(spec["max"]) if "max" in spec else NO_MAX


class QuantError(ValueError):
    """The engine would refuse this model at this setting (e.g. an int32
    accumulator overflow or a rescale factor out of range)."""


class QTensor:
    """An activation in the quantized forward pass.

    integer: `q` holds int64 values in [-128, 127] with `qp` (QParams), and
    `real` is float32 with value quant.dequantize(q, qp) (plus the
    straight-through gradient); float: `q` and `qp` are None and `real` is
    the float32 tensor. `calibrating` travels with the batch.
    """

    __slots__ = ("real", "q", "qp", "calibrating")

    def __init__(self, real, q=None, qp=None, calibrating=False):
        self.real, self.q, self.qp, self.calibrating = real, q, qp, calibrating

    @property
    def integer(self):
        return self.q is not None

    def map(self, fn):
        """The same tensor with `fn` applied to q and real (reshapes)."""
        return QTensor(fn(self.real), None if self.q is None else fn(self.q), self.qp,
                       self.calibrating)


def _straight_through(stand_in, exact):
    """exact's value with stand_in's gradient (when there is one)."""
    if stand_in is None or not stand_in.requires_grad:
        return exact
    return stand_in + (exact - stand_in).detach()


def _needs_grad(*tensors):
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


class _WeightLayer:
    """The quantized forward of conv2d and linear: the engine's integer step
    (or float step, for bits 32), with the conversions the engine inserts
    where integer and float layers meet."""

    q_bits = 8
    q_fused_relu = False
    q_relu_max = NO_MAX  # the fused ReLU's max (ReLU6: 6.0); NO_MAX for none
    q_out = None        # QParams of the output, from calibration
    q_convert = None    # float -> int8 conversion in front of this layer (QParams)
    q_params = None     # the integer parameters of the last forward (for reports)

    def _dot(self, q_in, q_w, dtype):
        raise NotImplementedError

    def _float(self, x, weight, bias):
        raise NotImplementedError

    def _fan_in(self):
        return self.weight[0].numel()

    def quant_forward(self, x):
        integer = self.q_bits != FLOAT_BITS
        if integer and not x.integer:
            x = self._quantize_input(x)
        elif not integer and x.integer:
            x = QTensor(x.real, calibrating=x.calibrating)   # dequantize: real is exactly it
        if not integer:
            y = self._float(x.real, self.weight, self.bias)
            if self.q_fused_relu:
                y = F.relu(y)
                if self.q_relu_max != NO_MAX:
                    y = y.clamp(max=self.q_relu_max)
            return QTensor(y, calibrating=x.calibrating)
        return self._integer(x)

    def _quantize_input(self, x):
        """The engine's Quantize step after a float layer: range of the float
        values over the calibration set; q = zp + floor(x / scale + 0.5)."""
        if x.calibrating:
            values = x.real.detach()
            self.q_convert = quant.activation_params(float(values.min()), float(values.max()))
        qp = self.q_convert
        if qp is None:
            raise QuantError(f"layer '{self._name}': not calibrated")
        inv = np.float32(1.0 / qp.scale)
        q = quant.quantize_input(x.real.detach(), np.float32(0.0), inv, qp.zero_point)
        exact = quant.dequantize(q, qp)
        stand_in = None
        if _needs_grad(x.real):
            lo, hi = qp.scale * (ACT_MIN - qp.zero_point), qp.scale * (ACT_MAX - qp.zero_point)
            stand_in = x.real.clamp(lo, hi)
        return QTensor(_straight_through(stand_in, exact), q, qp, x.calibrating)

    def integer_params(self, in_q):
        """Quantized weights, scales and folded bias for input quantization
        in_q (everything but the output stage), from the current weights."""
        out_c = self.weight.shape[0]
        rows = self.weight.detach().reshape(out_c, -1).cpu().numpy()
        q_w, scales, row_sums = quant.quantize_weights(rows, self.q_bits)
        step, b_q, folded, bad = self._fold_bias(in_q, scales, row_sums, rows.shape[1])
        if bad.size:
            # As the engine does: a row too small to carry its bias at its
            # own scale is scaled as the layer's largest row.
            scales = scales.copy()
            scales[bad] = np.maximum(scales[bad], quant.layer_weight_scale(rows, self.q_bits))
            q_w, scales, row_sums = quant.quantize_weights(rows, self.q_bits, scales)
            step, b_q, folded, bad = self._fold_bias(in_q, scales, row_sums, rows.shape[1])
        if bad.size:
            c = int(bad[0])
            raise QuantError(f"layer '{self._name}': its bias {float(self.bias[c])} is too "
                             f"large for an int32 accumulator at this input scale")
        return q_w, scales, step, b_q, folded.astype(np.int64)

    def _fold_bias(self, in_q, scales, row_sums, fan_in):
        """Each row's step, quantized bias and folded bias, and the rows
        whose accumulator could leave int32."""
        step = in_q.scale * scales
        if self.bias is not None:
            b = self.bias.detach().cpu().numpy().astype(np.float32).astype(np.float64)
            b_q = quant.round_half_up(b / step)
        else:
            b_q = np.zeros(len(scales))
        folded = b_q - float(in_q.zero_point) * row_sums.astype(np.float64)
        worst_dot = float(fan_in) * quant.weight_qmax(self.q_bits) * 128.0
        return step, b_q, folded, np.flatnonzero(np.abs(folded) + worst_dot > INT32_MAX)

    def _integer(self, x):
        in_q = x.qp
        q_w, scales, step, b_q, folded = self.integer_params(in_q)
        dtype = quant.exact_dtype(self._fan_in(), self.q_bits)
        acc = self._dot(x.q, torch.from_numpy(q_w).view(self.weight.shape), in_q.zero_point, dtype)
        acc = acc + torch.from_numpy(folded).view([1, -1] + [1] * (acc.dim() - 2))
        if x.calibrating:
            # Per channel, the extreme accumulators over every image and
            # position, as reals; a fused ReLU starts the range at 0.
            dims = [d for d in range(acc.dim()) if d != 1]
            acc_lo = acc.amin(dim=dims).numpy().astype(np.float64)
            acc_hi = acc.amax(dim=dims).numpy().astype(np.float64)
            lo = float(np.min(acc_lo * step))
            hi = float(np.max(acc_hi * step))
            if self.q_fused_relu:
                # Outputs are clamped to [0, max]: so is the range (the
                # engine's min with an infinite max changes nothing).
                lo = 0.0
                hi = min(hi, self.q_relu_max)
            self.q_out = quant.activation_params(lo, hi)
        out_q = self.q_out
        if out_q is None:
            raise QuantError(f"layer '{self._name}': not calibrated")
        act_min = out_q.zero_point if self.q_fused_relu else ACT_MIN
        act_max = quantized_relu_max(self.q_relu_max, out_q) if self.q_fused_relu else ACT_MAX
        try:
            mults = [quant.quantize_multiplier(s / out_q.scale) for s in step]
        except ValueError as e:
            raise QuantError(f"layer '{self._name}': {e}") from None
        m = torch.tensor([v[0] for v in mults], dtype=torch.int64)
        sh = torch.tensor([v[1] for v in mults], dtype=torch.int64)
        q = quant.requantize(acc, m, sh, out_q.zero_point, act_min, act_max)
        self.q_params = {"bits": self.q_bits, "weights": q_w, "weight_scales": scales,
                         "bias": folded, "multiplier": m.numpy(), "shift": sh.numpy(),
                         "in_q": in_q, "out_q": out_q, "act_min": act_min, "act_max": act_max}
        exact = quant.dequantize(q, out_q)
        stand_in = None
        if _needs_grad(x.real, self.weight):
            # Fake-quantized weights and bias: their values are the engine's,
            # their gradients pass straight through to the float weights.
            w_q = torch.from_numpy(scales[:, None] * q_w).to(torch.float32).view_as(self.weight)
            w_fq = self.weight + (w_q - self.weight).detach()
            b_fq = None
            if self.bias is not None:
                b_real = torch.from_numpy(b_q * step).to(torch.float32)
                b_fq = self.bias + (b_real - self.bias).detach()
            y = self._float(x.real, w_fq, b_fq)
            lo = out_q.scale * (act_min - out_q.zero_point)
            hi = out_q.scale * (act_max - out_q.zero_point)
            stand_in = y.clamp(lo, hi)
        return QTensor(_straight_through(stand_in, exact), q, out_q, x.calibrating)


def _exact(t):
    """An exactly integer-valued float tensor as int64."""
    return torch.round(t).to(torch.int64)


class Conv2d(_WeightLayer, nn.Conv2d):
    def forward(self, x):
        if isinstance(x, QTensor):
            return self.quant_forward(x)
        return super().forward(x)

    def _float(self, x, weight, bias):
        return F.conv2d(x, weight, bias, stride=self.stride, padding=self.padding)

    def _dot(self, q_in, q_w, zero_point, dtype):
        # Padding reads the input zero point (the quantized real 0), as the
        # engine's gather does. Every product and partial sum is an integer
        # that `dtype` holds exactly, so any summation order gives the exact
        # result: float32 (PyTorch's direct convolution, fast) when the
        # worst case stays below 2^24, else im2col and a float64 product.
        k, s, p = self.kernel_size[0], self.stride[0], self.padding[0]
        x = q_in.to(dtype)
        if p:
            x = F.pad(x, (p, p, p, p), value=float(zero_point))
        if dtype == torch.float32:
            return _exact(F.conv2d(x, q_w.to(dtype), stride=s))
        n, _, h, w = x.shape
        out_h, out_w = (h - k) // s + 1, (w - k) // s + 1
        cols = F.unfold(x, k, stride=s)                          # (N, C*k*k, L)
        acc = torch.matmul(q_w.reshape(q_w.shape[0], -1).to(dtype), cols)
        return _exact(acc).view(n, -1, out_h, out_w)


class DepthwiseConv2d(_WeightLayer, nn.Conv2d):
    """nn.Conv2d(C, C, k, groups=C): channel c of the output is channel c of
    the input convolved with its own k x k filter. The weight [C][1][k][k]
    is, row for row, the file's [C][k][k] (dmc_arith.h rule 7)."""

    def forward(self, x):
        if isinstance(x, QTensor):
            return self.quant_forward(x)
        return super().forward(x)

    def _float(self, x, weight, bias):
        return F.conv2d(x, weight, bias, stride=self.stride, padding=self.padding,
                        groups=self.groups)

    def _dot(self, q_in, q_w, zero_point, dtype):
        # As Conv2d._dot: padding reads the input zero point, and `dtype`
        # holds every product and partial sum exactly (float64 is exact
        # below 2^53, far beyond any fan-in of k x k <= 4096).
        p = self.padding[0]
        x = q_in.to(dtype)
        if p:
            x = F.pad(x, (p, p, p, p), value=float(zero_point))
        return _exact(F.conv2d(x, q_w.to(dtype), stride=self.stride[0], groups=self.groups))


class Linear(_WeightLayer, nn.Linear):
    """nn.Linear that also accepts a (N, C, 1, 1) input, as the format allows."""

    def forward(self, x):
        if isinstance(x, QTensor):
            if x.real.dim() > 2:
                x = x.map(lambda t: torch.flatten(t, 1))
            return self.quant_forward(x)
        if x.dim() > 2:
            x = torch.flatten(x, 1)
        return super().forward(x)

    def _float(self, x, weight, bias):
        return F.linear(x, weight, bias)

    def _dot(self, q_in, q_w, zero_point, dtype):
        return _exact(torch.matmul(q_in.to(dtype), q_w.to(dtype).t()))


class ReLU(nn.ReLU):
    """Integer: max(q, zero point), or with a max (ReLU6) a clamp to [zero
    point, quantized max] (dmc_arith.h rule 5; input and output share s and
    z). A ReLU right after a weight layer is fused into that layer's clamp,
    with the same zero point and quantized max: applying it again changes
    nothing."""

    def __init__(self, relu_max=NO_MAX):
        super().__init__()
        self.relu_max = relu_max

    def forward(self, x):
        if not isinstance(x, QTensor):
            if self.relu_max == NO_MAX:
                return super().forward(x)
            # One clamp to [0, max]: ONNX Clip(0, max), which the engine imports.
            return torch.clamp(x, min=0.0, max=self.relu_max)
        real = F.relu(x.real)   # exactly the dequantized max(q, zp)
        if self.relu_max == NO_MAX:
            if not x.integer:
                return QTensor(real, calibrating=x.calibrating)
            return QTensor(real, torch.clamp(x.q, min=x.qp.zero_point), x.qp, x.calibrating)
        real = real.clamp(max=self.relu_max)
        if not x.integer:
            return QTensor(real, calibrating=x.calibrating)
        act_max = quantized_relu_max(self.relu_max, x.qp)
        q = torch.clamp(x.q, min=x.qp.zero_point, max=act_max)
        return QTensor(_straight_through(real, quant.dequantize(q, x.qp)), q, x.qp,
                       x.calibrating)


class MaxPool2d(nn.MaxPool2d):
    """Integer: the max of the q values (scale and zero point unchanged;
    padding never wins)."""

    def forward(self, x):
        if not isinstance(x, QTensor):
            return super().forward(x)
        real = super().forward(x.real)   # dequantization is monotonic: exact
        if not x.integer:
            return QTensor(real, calibrating=x.calibrating)
        q = _exact(super().forward(x.q.to(torch.float32)))   # int8 values: exact
        return QTensor(real, q, x.qp, x.calibrating)


class AvgPool2d(nn.AvgPool2d):
    """Integer: the window sum of (q - zp), padding counting as 0, rescaled
    by the multiplier and shift of 1 / k^2, plus zp (dmc_arith.h rule 6)."""

    def forward(self, x):
        if not isinstance(x, QTensor):
            return super().forward(x)
        real = super().forward(x.real)
        if not x.integer:
            return QTensor(real, calibrating=x.calibrating)
        zp = x.qp.zero_point
        # |sum| <= 255 k^2: exact in float32 for any kernel this engine takes.
        window_sum = _exact(F.avg_pool2d((x.q - zp).to(torch.float32), self.kernel_size,
                                         self.stride, self.padding, divisor_override=1))
        m, sh = quant.quantize_multiplier(1.0 / float(self.kernel_size * self.kernel_size))
        q = quant.requantize(window_sum, m, sh, zp, ACT_MIN, ACT_MAX)
        return QTensor(_straight_through(real, quant.dequantize(q, x.qp)), q, x.qp,
                       x.calibrating)


class GlobalAvgPool2d(nn.Module):
    """C x H x W -> C x 1 x 1, the mean of each channel. Integer: each
    channel's sum of (q - zp) over the H*W positions, requantized with the
    multiplier and shift of 1 / (H*W), plus zp (dmc_arith.h rule 8; input
    and output share s and z)."""

    def forward(self, x):
        if not isinstance(x, QTensor):
            return self._mean(x)
        real = self._mean(x.real)
        if not x.integer:
            return QTensor(real, calibrating=x.calibrating)
        q_in = x.q if x.q.dim() == 4 else x.q.view(x.q.shape[0], -1, 1, 1)
        n, c, h, w = q_in.shape
        zp = x.qp.zero_point
        # int64: exact whatever the order (|sum| <= 255 * 2^22).
        total = (q_in - zp).sum(dim=(2, 3), keepdim=True)
        m, sh = quant.quantize_multiplier(1.0 / float(h * w))
        q = quant.requantize(total, m, sh, zp, ACT_MIN, ACT_MAX)
        return QTensor(_straight_through(real, quant.dequantize(q, x.qp)), q, x.qp,
                       x.calibrating)

    @staticmethod
    def _mean(t):
        # A vector (N, F) is F x 1 x 1 to the engine: its mean is itself.
        if t.dim() == 2:
            return t.view(t.shape[0], -1, 1, 1)
        return F.adaptive_avg_pool2d(t, 1)    # ONNX GlobalAveragePool


class Flatten(nn.Flatten):
    """PyTorch's CHW order; the engine's HWC order differs only in how the
    next linear layer's columns are laid out in the file (modelfile.py)."""

    def forward(self, x):
        if not isinstance(x, QTensor):
            return super().forward(x)
        return x.map(lambda t: torch.flatten(t, 1))


def build(spec):
    """The layer for one layer spec (models.py)."""
    kind = spec["type"]
    if kind == "conv2d":
        layer = Conv2d(spec["in_channels"], spec["out_channels"], spec["kernel"],
                       stride=spec["stride"], padding=spec["padding"], bias=spec["bias"])
    elif kind == "linear":
        layer = Linear(spec["in_features"], spec["out_features"], bias=spec["bias"])
    elif kind == "depthwise_conv2d":
        c = spec["channels"]
        layer = DepthwiseConv2d(c, c, spec["kernel"], stride=spec["stride"],
                                padding=spec["padding"], groups=c, bias=spec["bias"])
    elif kind == "global_avgpool2d":
        layer = GlobalAvgPool2d()
    elif kind == "relu":
        layer = ReLU(relu_max_of(spec))
    elif kind == "flatten":
        layer = Flatten()
    elif kind == "maxpool2d":
        layer = MaxPool2d(spec["kernel"], stride=spec["stride"], padding=spec["padding"])
    elif kind == "avgpool2d":
        layer = AvgPool2d(spec["kernel"], stride=spec["stride"], padding=spec["padding"],
                          count_include_pad=True)
    else:
        raise AssertionError(kind)   # normalize_specs() rejects unknown types
    layer._name = spec["name"]
    return layer
