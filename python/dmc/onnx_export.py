"""Export a model file to ONNX, for the benchmark that runs onnxruntime-node.

The ONNX graph is the PyTorch model itself: input "input", NCHW float32,
already normalized ((pixel / 255 - mean) / std), with a dynamic batch
dimension; output "output", the logits. Opset 13.
"""

import torch

from .datasets import check_model_fits
from .errors import DmcError
from .modelfile import load_model_file

OPSET = 13


def export_onnx(model_file, out_path):
    """Write `out_path` from `model_file`, check it with onnx.checker and
    return a short description of the graph."""
    model = load_model_file(model_file)
    # The graph is for the benchmark that feeds it the model's data set: a
    # model that does not fit it is refused here as everywhere else.
    check_model_fits(model)
    model.eval()
    spec = model.input_spec
    dummy = torch.zeros(1, spec["channels"], spec["height"], spec["width"])
    try:
        torch.onnx.export(
            model, dummy, out_path,
            export_params=True, opset_version=OPSET, do_constant_folding=True,
            input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    except OSError as e:
        raise DmcError(f"{out_path}: cannot write: {e.strerror or e}") from None

    # Imported here so that the other commands work without the onnx package.
    try:
        import onnx
    except ImportError:
        raise DmcError("wrote the ONNX file, but cannot check it: the onnx "
                       "package is not installed") from None
    proto = onnx.load(out_path)
    onnx.checker.check_model(proto, full_check=True)
    ops = sorted({node.op_type for node in proto.graph.node})
    return (f"opset {proto.opset_import[0].version}, input "
            f"{proto.graph.input[0].name}, output {proto.graph.output[0].name}, "
            f"ops {', '.join(ops)}")
