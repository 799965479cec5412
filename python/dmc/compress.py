"""A float model plus a compression config, made into what the engine runs:
pruned, laid out in steps, quantized and calibrated, in PyTorch.

This is the Python twin of engine/src/compress.cpp and the executor. Its
integer outputs are the engine's, bit for bit, for any config whose layers
are all integer (`dmc parity` checks that against the engine's CLI); a
layer left in float (bits 32) runs in PyTorch's float32, whose summation
order differs from the engine's float kernels in the last bits.

The steps (engine: lay_out_steps): the raw input is quantized from the
input spec's exact range (or normalized, if the first weight layer is
float); a ReLU right after a conv2d/linear layer is fused into it; a float
layer dequantizes its int8 input, and an integer layer after float ones
quantizes it with a calibrated range. Calibration runs the calibration set
through the compressed model itself, one layer at a time, each layer's
output range measured on the integers it really receives.

The same object serves fine-tuning: `forward(raw)` returns the output whose
value is the engine's and whose gradient reaches the pruned network's float
weights (layers.py), and `calibrate()` refreshes the output ranges.
"""

import numpy as np
import torch

from . import prune, quant
from .config import FLOAT_BITS, WEIGHT_TYPES, validate_config, weight_specs
from .datasets import normalize_raw
from . import layers as layers_module
from .layers import QTensor, QuantError, relu_max_of


class CompressedModel:
    """`model` (full-size DmcNet) compressed with `config`.

    `net` is the pruned network (its weights are the ones to fine-tune);
    call calibrate() before running it.
    """

    def __init__(self, model, config, net=None):
        validate_config(config, model)
        self.model = model
        self.config = config
        self.plan = prune.plan(model, config)
        self.net = net if net is not None else prune.pruned_model(model, self.plan)
        self.bits = {s["name"]: config.resolve(model, s["name"])[1] for s in weight_specs(model)}
        specs = self.net.layer_specs
        for i, spec in enumerate(specs):
            if spec["type"] in WEIGHT_TYPES:
                layer = getattr(self.net, spec["name"])
                layer.q_bits = self.bits[spec["name"]]
                layer.q_fused_relu = i + 1 < len(specs) and specs[i + 1]["type"] == "relu"
                # A fused ReLU6 clamps at its max too (the engine's relu_max).
                layer.q_relu_max = (relu_max_of(specs[i + 1]) if layer.q_fused_relu
                                    else layers_module.NO_MAX)
                layer.q_out = layer.q_convert = None
        first = weight_specs(model)[0]["name"]
        self.first_integer = self.bits[first] != FLOAT_BITS
        self.input_q, self.input_mean, self.input_inv_scale = quant.input_quantization(
            model.input_spec)
        self.calibrated = False

    # ------------------------------------------------------------ running

    def input_tensor(self, raw, calibrating=False):
        """The first step: raw float32 NCHW inputs to int8 (or normalized)."""
        raw = torch.as_tensor(raw, dtype=torch.float32)
        if not self.first_integer:
            x = torch.from_numpy(normalize_raw(raw.numpy(), self.model.input_spec))
            return QTensor(x, calibrating=calibrating)
        qp = self.input_q
        q = quant.quantize_input(raw, self.input_mean, self.input_inv_scale, qp.zero_point)
        return QTensor(quant.dequantize(q, qp), q, qp, calibrating)

    def forward(self, raw, calibrating=False):
        """The output QTensor for raw inputs (float32 NCHW)."""
        if not (self.calibrated or calibrating):
            raise QuantError("the compressed model is not calibrated yet")
        return self.net(self.input_tensor(raw, calibrating))

    __call__ = forward

    @torch.no_grad()
    def calibrate(self, raw):
        """Set every output range from the calibration inputs, as the engine
        does (all at once: each step's range depends on all images)."""
        self.net.eval()
        self.forward(raw, calibrating=True)
        self.calibrated = True

    @torch.no_grad()
    def outputs(self, raw, batch_size=1000):
        """The engine's raw outputs: int64 (N, outputs) for an integer output
        layer, else float32."""
        self.net.eval()
        chunks = []
        for start in range(0, len(raw), batch_size):
            out = self.forward(raw[start:start + batch_size])
            chunks.append((out.q if out.integer else out.real).numpy())
        return np.concatenate(chunks)

    def output_real(self, outputs):
        """Outputs as reals, in double, as the engine scores them."""
        last = getattr(self.net, weight_specs(self.net)[-1]["name"])
        if last.q_bits == FLOAT_BITS:
            return outputs.astype(np.float64)
        qp = last.q_out
        return qp.scale * (outputs.astype(np.float64) - qp.zero_point)

    def score(self, evalset, batch_size=1000):
        """{"correct", "accuracy"} or {"mse"} of the compressed model, as
        `dmc eval` computes them."""
        out = self.outputs(evalset.raw, batch_size)
        if evalset.labels is not None:
            pred = argmax_lowest(out)
            correct = int((pred == evalset.labels).sum())
            return {"correct": correct, "count": len(out), "accuracy": correct / len(out)}
        err = self.output_real(out) - evalset.targets.astype(np.float64)
        return {"count": len(out), "mse": float((err * err).sum(axis=1).mean())}

    # ------------------------------------------------------------ reports

    def flash_bytes(self):
        """The engine's count: per integer layer packed weights + int32 bias +
        multiplier and shift; a float layer's float32 weights and bias."""
        total = 0
        for spec in weight_specs(self.net):
            layer = getattr(self.net, spec["name"])
            rows, fan_in = layer.weight.shape[0], layer.weight[0].numel()
            if layer.q_bits == FLOAT_BITS:
                total += 4 * layer.weight.numel() + (4 * rows if layer.bias is not None else 0)
            else:
                total += quant.flash_bytes(rows, fan_in, layer.q_bits)
        return total

    def float_bytes(self):
        """The unpruned float model: 4 bytes per parameter."""
        return 4 * sum(p.numel() for p in self.model.parameters())

    def layer_table(self):
        rows = []
        for spec in weight_specs(self.net):
            layer = getattr(self.net, spec["name"])
            n, fan_in = layer.weight.shape[0], layer.weight[0].numel()
            total = getattr(self.model, spec["name"]).weight.shape[0]
            flash = (4 * layer.weight.numel() + 4 * n if layer.q_bits == FLOAT_BITS
                     else quant.flash_bytes(n, fan_in, layer.q_bits))
            rows.append({"name": spec["name"], "kept": n, "channels": total,
                         "bits": layer.q_bits, "fan_in": fan_in, "flash_bytes": flash})
        return rows

    @torch.no_grad()
    def snap_weights(self):
        """Replace each integer layer's float weights by the values the engine
        uses (scale x quantized weight, rounded to float32). The engine,
        quantizing them again, finds the same scales and integers (the row
        maximum maps to itself, every other value to within 2^-24 of an
        integer multiple), so the compressed model is unchanged, while the
        float model becomes the one the integers approximate. Biases stay:
        they quantize to the same integers by definition."""
        for spec in weight_specs(self.net):
            layer = getattr(self.net, spec["name"])
            if layer.q_bits == FLOAT_BITS:
                continue
            rows = layer.weight.detach().reshape(layer.weight.shape[0], -1).numpy()
            q_w, scales, _ = quant.quantize_weights(rows, layer.q_bits)
            snapped = (scales[:, None] * q_w).astype(np.float32)
            layer.weight.copy_(torch.from_numpy(snapped).view_as(layer.weight))

    def expanded_model(self):
        """The full-size model with the pruned network's weights and zeros
        where pruning removes channels (see prune.expand)."""
        full = prune.expand(self.model, self.plan, self.net)
        prune.check_expanded(full, self.config, self.plan)
        return full

    def params(self):
        """Per integer conv2d/depthwise_conv2d/linear step, the parameters of the last forward
        pass, weights in the model file's layouts (for comparing with the
        engine's `dmc infer --params`)."""
        from .modelfile import _flatten_orders, chw_to_hwc_columns
        orders = _flatten_orders(self.net)
        out = {}
        for spec in weight_specs(self.net):
            layer = getattr(self.net, spec["name"])
            p = layer.q_params
            if layer.q_bits == FLOAT_BITS or p is None:
                continue
            w = p["weights"]
            if spec["type"] == "conv2d":
                o, i, k, _ = layer.weight.shape
                w = w.reshape(o, i, k, k).transpose(0, 2, 3, 1).reshape(o, -1)
            elif spec["type"] == "linear" and orders[spec["name"]] is not None:
                w = chw_to_hwc_columns(w, orders[spec["name"]])
            out[spec["name"]] = dict(p, weights=np.ascontiguousarray(w))
        return out


def argmax_lowest(values):
    """Row-wise argmax with ties to the lowest index (numpy's argmax does
    return the first maximum)."""
    return np.asarray(values).argmax(axis=1)


__all__ = ["CompressedModel", "QuantError", "argmax_lowest"]
