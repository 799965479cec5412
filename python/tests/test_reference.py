"""The model file computes what the PyTorch model computes, as read by an
independent NumPy implementation of the format (NHWC, OHWI, HWC flatten).

A wrong flatten permutation or conv transpose in the exporter makes these
fail, because the reference never looks at PyTorch's layouts.
"""

import numpy as np
import pytest
import torch

import numpy_reference
from dmc.models import DmcNet, build_model
from dmc.modelfile import export_model
from test_modelfile import ODD_INPUT, ODD_LAYERS, ONE_BY_ONE_INPUT, ONE_BY_ONE_LAYERS


def check_against_torch(model, n=8, atol=1e-4):
    model.eval()
    doc = export_model(model)
    s = model.input_spec
    x = torch.randn(n, s["channels"], s["height"], s["width"])
    with torch.no_grad():
        expected = model(x).numpy()
    got = numpy_reference.forward(doc, x.numpy().transpose(0, 2, 3, 1))  # NCHW -> NHWC
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol)
    return got


def test_lenet5_matches_torch():
    model = build_model("lenet5")
    # Larger weights than PyTorch's default init, so the logits are far from
    # zero and a permuted layout could not pass by accident.
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    logits = check_against_torch(model)
    assert np.abs(logits).max() > 0.1


@pytest.mark.parametrize("name, input_spec, layers", [
    ("odd", ODD_INPUT, ODD_LAYERS),
    ("onebyone", ONE_BY_ONE_INPUT, ONE_BY_ONE_LAYERS),
])
def test_other_layer_kinds_match_torch(name, input_spec, layers):
    check_against_torch(DmcNet(name, input_spec, layers))


def test_reference_sees_a_wrong_permutation():
    """Sanity check of the check: feeding the reference PyTorch's CHW-ordered
    fc1 columns must give different logits."""
    model = build_model("lenet5")
    model.eval()
    doc = export_model(model)
    import base64
    fc1 = next(layer for layer in doc["layers"] if layer["name"] == "fc1")
    fc1["weight"] = base64.b64encode(
        model.fc1.weight.detach().numpy().astype("<f4").tobytes()).decode()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        expected = model(x).numpy()
    got = numpy_reference.forward(doc, x.numpy().transpose(0, 2, 3, 1))
    assert np.abs(got - expected).max() > 1e-3
