"""The arithmetic primitives against the engine's contract: the worked
example of engine/kernels/dmc_arith.h, rounding edge cases, and the
calibration slice. No data or engine needed."""

import math

import numpy as np
import pytest
import torch

from dmc import quant
from dmc.mnist import calibration_indices
from dmc.quant import QParams


def test_worked_example_of_dmc_arith_h():
    s_in, z_in = 0.02, -128
    q_w, scales, sums = quant.quantize_weights(np.array([[0.30, -0.15, 0.07]], np.float32), 4)
    assert q_w.tolist() == [[7, -3, 2]]                 # -3.5 rounds half up to -3
    assert sums.tolist() == [6]
    step = s_in * scales[0]
    b_q = quant.round_half_up(np.float64(np.float32(0.1)) / step)
    assert b_q == 117
    assert b_q - z_in * sums[0] == 885
    # The example's multiplier uses the exact 0.30 / 7 (as tests/test_arith.cpp
    # does); the float32 weight 0.30f gives one a little larger.
    assert quant.quantize_multiplier(s_in * (0.30 / 7) / 0.05) == (1178048173, 36)
    m, shift = quant.quantize_multiplier(step / 0.05)
    assert shift == 36 and abs(m - 1178048173) < 100
    acc = 885 + 7 * -28 + -3 * 22 + 2 * -128
    assert acc == 367
    out = quant.requantize(torch.tensor([[acc]]), torch.tensor([m]), torch.tensor([shift]),
                           -20, -128)
    assert out.item() == -14


def test_activation_params():
    qp = quant.activation_params(-1.0, 3.0)
    assert qp.scale == 4.0 / 255.0
    assert qp.zero_point == -128 - math.floor(-1.0 / qp.scale + 0.5)
    assert quant.activation_params(0.5, 2.0).zero_point == -128      # widened to include 0
    assert quant.activation_params(-2.0, -1.0).zero_point == 127
    assert quant.activation_params(0.0, 0.0) == QParams(1.0, -128)   # all zero


def test_quantize_multiplier_edges():
    assert quant.quantize_multiplier(0.5) == (1 << 30, 31)
    # Rounding reaches 2^31: carried into the exponent.
    m, s = quant.quantize_multiplier(1.0 - 2.0 ** -40)
    assert (m, s) == (1 << 30, 30)   # 1.0 = 2^30 * 2^-30
    # Below 2^-31: the shift stays at 62 and the multiplier shrinks.
    m, s = quant.quantize_multiplier(2.0 ** -40)
    assert s == 62 and m == 1 << 22
    with pytest.raises(ValueError, match="too large"):
        quant.quantize_multiplier(2.0 ** 31)


def test_requantize_rounds_half_up_and_clamps():
    # acc * m / 2^s = -2.5 -> -2 (towards +infinity), 2.5 -> 3.
    m, s = 1 << 30, 31            # multiply by one half
    acc = torch.tensor([[-5, 5, -6, 6, 10 ** 6, -(10 ** 6)]])
    out = quant.requantize(acc, torch.tensor([m]), torch.tensor([s]), 0, -128, channel_dim=0)
    assert out.tolist() == [[-2, 3, -3, 3, 127, -128]]
    # A fused ReLU clamps at the zero point.
    out = quant.requantize(torch.tensor([[-50, 50]]), torch.tensor([m]), torch.tensor([s]),
                           -10, -10, channel_dim=0)
    assert out.tolist() == [[-10, 15]]


def test_quantize_input_is_float32_without_fma():
    spec = {"min": 0.0, "max": 1.0, "mean": 0.1307, "std": 0.3081}
    qp, mean, inv = quant.input_quantization(spec)
    pixels = np.arange(256, dtype=np.float32) / np.float32(255.0)
    q = quant.quantize_input(torch.from_numpy(pixels), mean, inv, qp.zero_point).numpy()
    # The same in numpy float32, step by step.
    scaled = (pixels - mean) * inv
    expected = np.clip(qp.zero_point + np.floor(scaled + np.float32(0.5)), -128, 127)
    assert np.array_equal(q, expected)
    assert q[0] == qp.zero_point - round(float(mean * inv)) and q[-1] == 127


def test_weight_quantization_zero_rows_and_ternary():
    w = np.array([[0.0, 0.0, 0.0], [0.9, -0.3, 0.46], [0.0, 0.2, -0.1]], np.float32)
    q, scales, _ = quant.quantize_weights(w, 2)
    assert scales[0] == np.float64(np.float32(0.9))          # borrows the layer's max
    assert q.tolist() == [[0, 0, 0], [1, 0, 1], [0, 1, 0]]   # -0.5 rounds up to 0
    q, scales, _ = quant.quantize_weights(np.zeros((2, 3), np.float32), 8)
    assert scales.tolist() == [1.0, 1.0]                      # an all-zero layer


def test_flash_bytes():
    # 800 x 500 at 2 bits: 200 bytes a row, + 4 bias + 5 requantization.
    assert quant.flash_bytes(500, 800, 2) == 500 * 209
    assert quant.flash_bytes(10, 25, 4) == 10 * (13 + 9)


def test_calibration_indices_match_the_engine():
    assert calibration_indices(60000)[:5] == [7953, 45504, 15548, 38828, 58306]
    idx = calibration_indices(60000)
    assert len(idx) == 1000 and len(set(idx)) == 1000
    assert calibration_indices(10, 1000) == sorted(calibration_indices(10, 1000),
                                                   key=calibration_indices(10, 1000).index)
    assert sorted(calibration_indices(10, 1000)) == list(range(10))
