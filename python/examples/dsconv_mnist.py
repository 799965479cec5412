"""Train a small depthwise-separable CNN on MNIST with plain PyTorch and
export it to ONNX, the way a user of the workbench would bring their own
model (README, "Bring your own model (ONNX)").

The network is an ordinary nn.Module (no dmc classes):

    stem   Conv2d(1, C, 3, padding 1) + BatchNorm2d + ReLU          28x28
    block  depthwise Conv2d(c, c, 3, stride s, groups c) + BN + ReLU6,
           pointwise Conv2d(c, c', 1) + BN + ReLU6                  (x4)
           strides 2, 2, 2, 1: 28 -> 14 -> 7 -> 4 -> 4
    head   AdaptiveAvgPool2d(1), Flatten, Dropout, Linear(c, 10)

Inputs are normalised outside the module, (pixel / 255 - 0.1307) / 0.3081,
so the import needs the same numbers:

    dmc import dsconv.onnx -o dsconv.json --name dsconv --mean 0.1307 --std 0.3081

MNIST is read from the IDX files by python/dmc/mnist.py (no download): pass
--mnist DIR or set MNIST_DIR. Training is seeded (same seed and thread count,
same weights) and runs on the CPU.

Run from the repository root:

    MNIST_DIR=/path/to/mnist /usr/bin/python3 python/examples/dsconv_mnist.py \\
        --out dsconv.onnx --predictions dsconv.pred.txt
"""

import argparse
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dmc.mnist import load_split, resolve_folder  # noqa: E402  (the IDX reader)

MEAN, STD = 0.1307, 0.3081


def separable(cin, cout, stride):
    """Depthwise 3x3 (one filter per channel) then pointwise 1x1, each with
    batch norm and ReLU6, as in MobileNet."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        nn.ReLU6(inplace=True),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class DSConvNet(nn.Module):
    def __init__(self, stem=8, widths=(32, 64, 96, 128), strides=(2, 2, 2, 1), dropout=0.1):
        super().__init__()
        layers = [nn.Conv2d(1, stem, 3, padding=1, bias=False), nn.BatchNorm2d(stem),
                  nn.ReLU(inplace=True)]
        cin = stem
        for cout, stride in zip(widths, strides):
            layers.append(separable(cin, cout, stride))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.fc(self.dropout(self.flatten(x)))


def normalise(images):
    """uint8 N x 28 x 28 -> float32 N x 1 x 28 x 28, as the network sees it."""
    raw = torch.from_numpy(images).float().div_(255.0)
    return ((raw - MEAN) / STD).unsqueeze(1)


def shift_batch(x, shift, generator):
    """Random translations of up to `shift` pixels (zero raw pixels fill in)."""
    if shift == 0:
        return x
    n = x.shape[0]
    background = (0.0 - MEAN) / STD
    padded = torch.nn.functional.pad(x, (shift,) * 4, value=background)
    offsets = torch.randint(0, 2 * shift + 1, (n, 2), generator=generator)
    out = torch.empty_like(x)
    for i in range(n):
        dy, dx = int(offsets[i, 0]), int(offsets[i, 1])
        out[i] = padded[i, :, dy:dy + 28, dx:dx + 28]
    return out


@torch.no_grad()
def predict(model, x, batch=1000):
    model.eval()
    return torch.cat([model(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Train a depthwise-separable CNN on MNIST (plain PyTorch, CPU) and "
                    "export it to ONNX for `dmc import`.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--mnist", metavar="DIR",
                   help="folder with the four MNIST IDX files (.gz or not); default: $MNIST_DIR")
    p.add_argument("--out", default="dsconv.onnx", help="ONNX file to write")
    p.add_argument("--checkpoint", metavar="FILE.pt", help="also save the state_dict here")
    p.add_argument("--predictions", metavar="FILE",
                   help="write the predicted class of each of the 10,000 test images, "
                        "one per line (to compare with dmc)")
    p.add_argument("--epochs", type=int, default=12, help="training epochs")
    p.add_argument("--batch-size", type=int, default=128, help="mini-batch size")
    p.add_argument("--lr", type=float, default=0.1,
                   help="peak SGD learning rate (one warm-up epoch, then cosine decay to 0)")
    p.add_argument("--weight-decay", type=float, default=5e-4,
                   help="weight decay on conv and linear weights (not on batch norm or biases)")
    p.add_argument("--shift", type=int, default=2,
                   help="augmentation: random shifts of up to this many pixels (0: none)")
    p.add_argument("--stem", type=int, default=8, help="channels of the stem convolution")
    p.add_argument("--widths", default="32,64,96,128",
                   help="output channels of the separable blocks, comma-separated")
    p.add_argument("--strides", default="2,2,2,1",
                   help="depthwise strides of the separable blocks, comma-separated")
    p.add_argument("--dropout", type=float, default=0.1, help="dropout before the linear layer")
    p.add_argument("--opset", type=int, default=13, help="ONNX opset to export")
    p.add_argument("--seed", type=int, default=1, help="random seed")
    p.add_argument("--threads", type=int, default=1,
                   help="PyTorch CPU threads (results are reproducible for a given count)")
    args = p.parse_args(argv)

    widths = [int(w) for w in args.widths.split(",")]
    strides = [int(s) for s in args.strides.split(",")]
    if len(widths) != len(strides):
        p.error("--widths and --strides need the same number of entries")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)

    folder = resolve_folder(args.mnist)
    train_images, train_labels = load_split(folder, "train")
    test_images, test_labels = load_split(folder, "test")
    x_train, y_train = normalise(train_images), torch.from_numpy(train_labels).long()
    x_test, y_test = normalise(test_images), torch.from_numpy(test_labels).long()

    model = DSConvNet(args.stem, widths, strides, args.dropout)
    params = sum(p.numel() for p in model.parameters())
    print(f"DSConvNet stem {args.stem}, blocks {widths} strides {strides}: {params:,} parameters "
          f"(batch norm included)", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() > 1]
    no_decay = [p for n, p in model.named_parameters() if p.dim() <= 1]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": args.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=args.lr, momentum=0.9, nesterov=True)
    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    total = args.epochs * steps_per_epoch
    warmup = min(steps_per_epoch, total)

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        return 0.5 * args.lr * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    loss_fn = nn.CrossEntropyLoss()
    start = time.time()
    step = 0
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        running, seen = 0.0, 0
        for b in range(steps_per_epoch):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            x = shift_batch(x_train[idx], args.shift, generator)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
            loss = loss_fn(model(x), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            running += float(loss) * len(idx)
            seen += len(idx)
        correct = int((predict(model, x_test) == y_test).sum())
        print(f"epoch {epoch + 1}/{args.epochs}: loss {running / seen:.4f}, "
              f"test {correct}/10000 = {correct / 100:.2f}%, {time.time() - start:.0f} s",
              flush=True)

    model.eval()
    predictions = predict(model, x_test)
    correct = int((predictions == y_test).sum())
    print(f"float test accuracy {correct / 100:.2f}% ({correct}/10000); "
          f"training took {time.time() - start:.0f} s", flush=True)
    if args.predictions:
        with open(args.predictions, "w") as f:
            f.writelines(f"{int(c)}\n" for c in predictions)
    if args.checkpoint:
        torch.save(model.state_dict(), args.checkpoint)
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), args.out, opset_version=args.opset,
                      input_names=["input"], output_names=["logits"])
    print(f"wrote {args.out} (opset {args.opset}); import it with\n"
          f"  dmc import {args.out} -o MODEL.json --mean {MEAN} --std {STD}", flush=True)


if __name__ == "__main__":
    main()
