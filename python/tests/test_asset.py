"""The committed model file assets/lenet5.json is well-formed and, when
MNIST is available (MNIST_DIR), really has the accuracy its metadata claims
when run by the independent NumPy reference."""

import os

import numpy as np
import pytest

import numpy_reference
from dmc.mnist import load_split
from dmc.modelfile import load_model_file

ASSET = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "..", "..", "assets", "lenet5.json")


def test_asset_loads_and_claims_the_target_accuracy():
    model = load_model_file(ASSET)
    assert model.model_name == "lenet5"
    assert [s["name"] for s in model.layer_specs] == [
        "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten",
        "fc1", "relu3", "fc2", "relu4", "fc3"]
    assert model.metadata["float_test_accuracy"] >= 0.991


@pytest.mark.skipif(not os.environ.get("MNIST_DIR"),
                    reason="set MNIST_DIR to check the asset's accuracy on MNIST")
def test_asset_accuracy_with_numpy_reference():
    doc = numpy_reference.load(ASSET)
    images, labels = load_split(os.environ["MNIST_DIR"], "test")
    raw = images[:, :, :, None].astype(np.float32) / np.float32(255.0)   # NHWC
    correct = int((numpy_reference.predict_raw(doc, raw) == labels).sum())
    claimed = doc["metadata"]["float_test_correct"]
    # Float64 here vs float32 in PyTorch: at most a near-tie may flip.
    assert abs(correct - claimed) <= 1, (correct, claimed)
