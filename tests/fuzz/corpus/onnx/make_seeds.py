"""Writes the ONNX seeds of fuzz_onnx (tests/fuzz/run.sh) into this folder:
tiny models exported by torch 1.13's torch.onnx.export, each under 2 KB,
together meeting every op the importer reads. Run once with
/usr/bin/python3 tests/fuzz/corpus/onnx/make_seeds.py; the files are committed."""

import io
import os

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


class Norm(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(16, 3))
        self.b = nn.Parameter(torch.randn(3))

    def forward(self, x):
        x = (x - 0.1307) / 0.3081
        return torch.clamp(torch.flatten(x, 1) @ self.w + self.b, min=0)


def save(name, model, training=torch.onnx.TrainingMode.EVAL):
    model.eval()
    f = io.BytesIO()
    torch.onnx.export(model, torch.zeros(1, 1, 4, 4), f, opset_version=13, training=training,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    data = f.getvalue()
    assert len(data) < 2048, (name, len(data))
    with open(os.path.join(HERE, name), "wb") as out:
        out.write(data)


if __name__ == "__main__":
    torch.manual_seed(0)
    save("conv_bn_relu_maxpool_gemm.onnx",
         nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),
                       nn.Flatten(), nn.Linear(8, 3)),
         training=torch.onnx.TrainingMode.PRESERVE)
    save("avgpool_gemm_softmax.onnx",
         nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1), nn.Flatten(), nn.Linear(16, 2), nn.Softmax(1)))
    save("conv_gap_gemm_logsoftmax.onnx",
         nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 2), nn.LogSoftmax(1)))
    save("norm_matmul_add_clip.onnx", Norm())
