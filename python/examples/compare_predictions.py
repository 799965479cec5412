"""Compare PyTorch's predictions with the engine's on the MNIST test images.

Runs `dmc infer` on a model (an .onnx file or a model file) with every layer
in float (config {"default": {"bits": 32}}), takes the argmax of each output
row and counts the images where it differs from the class in PREDICTIONS
(one per line, as dsconv_mnist.py --predictions writes them).

    MNIST_DIR=/path/to/mnist /usr/bin/python3 python/examples/compare_predictions.py \\
        dsconv.onnx dsconv.pred.txt --mean 0.1307 --std 0.3081

Exit status 1 when any prediction differs.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description="Count the test images where the engine's float "
                                            "prediction differs from PyTorch's.")
    p.add_argument("model", help="model: .onnx or dmc model file")
    p.add_argument("predictions", help="PyTorch's classes, one per line")
    p.add_argument("--mean", help="input mean for an .onnx model (dmc --mean)")
    p.add_argument("--std", help="input std for an .onnx model (dmc --std)")
    p.add_argument("--mnist", help="MNIST folder (default: $MNIST_DIR)")
    p.add_argument("--dmc", default=os.environ.get("DMC_BIN",
                                                   os.path.join(REPO, "build/engine/dmc")),
                   help="engine CLI (default: $DMC_BIN or build/engine/dmc)")
    args = p.parse_args(argv)

    torch_classes = np.loadtxt(args.predictions, dtype=np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "float.json")
        with open(config, "w") as f:
            json.dump({"default": {"bits": 32}}, f)
        out = os.path.join(tmp, "out.bin")
        cmd = [args.dmc, "infer", "--model", args.model, "--config", config, "-o", out]
        for option in ("mean", "std", "mnist"):
            if getattr(args, option) is not None:
                cmd += [f"--{option}", getattr(args, option)]
        info = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                         text=True).stdout.strip().splitlines()[-1])
        if info["dtype"] != "float32":
            sys.exit(f"dmc infer wrote {info['dtype']} outputs, not float32")
        scores = np.fromfile(out, dtype="<f4").reshape(info["count"], info["outputs"])
    engine_classes = scores.argmax(1)
    if len(engine_classes) != len(torch_classes):
        sys.exit(f"{len(engine_classes)} engine outputs, {len(torch_classes)} PyTorch predictions")
    mismatches = int((engine_classes != torch_classes).sum())
    print(f"{mismatches} of {len(torch_classes)} test images predicted differently "
          f"by dmc (float) and PyTorch")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
