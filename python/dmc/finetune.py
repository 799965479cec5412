"""Recovering the accuracy compression costs: prune as the config says, then
train with the engine's quantization simulated (quantization-aware
fine-tuning).

The network trained is the pruned one (compress.CompressedModel.net); its
forward pass is the engine's integer arithmetic (layers.py), so the loss and
the accuracy seen during training are those of the compressed model, and
the gradients reach the float weights through straight-through estimators.
Output ranges are recalibrated on the engine's own calibration set every
`recalibrate_every` steps and at the end of every epoch, so training never
drifts far from the ranges the engine will choose.

The result is written as a full-size float model file (pruned channels set
to zero, see prune.expand) plus the config: the engine, compressing that
pair, calibrates the same ranges from the same weights and computes the same
integers, so its accuracy is the one reported here (the CLI checks the
written file once more before it says so).

Recipe: SGD with Nesterov momentum, cosine decay from `lr` over all steps,
small weight decay, random shifts of up to `shift` pixels; optionally
distillation from the uncompressed float model (`distill` > 0), which helps
the smallest configs.
"""

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import datasets, sine
from .compress import CompressedModel
from .train import lr_factor, seed_everything, shifted_batch


@dataclass
class FinetuneConfig:
    epochs: int = 10
    seed: int = 1
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-5
    shift: int = 1
    recalibrate_every: int = 100    # steps
    distill: float = 0.0            # weight of the distillation loss (0: off)
    temperature: float = 4.0
    threads: int = 1
    samples_per_epoch: int = 4096   # regression: fresh points per epoch

    def as_metadata(self):
        return asdict(self)


def _score_line(score):
    if "accuracy" in score:
        return f"{100 * score['accuracy']:.2f}% ({score['correct']}/{score['count']})"
    return f"MSE {score['mse']:.3e}"


def finetune(model, config, fcfg, mnist=None, log=print):
    """Fine-tune `model` (full-size DmcNet) for compression `config`.

    Returns (CompressedModel, summary dict). The CompressedModel is
    calibrated on the final weights.
    """
    torch.set_num_threads(fcfg.threads)
    seed_everything(fcfg.seed)
    cm = CompressedModel(model, config)
    test = datasets.model_test_set(model, mnist)
    calibration = datasets.calibration_inputs(model.dataset, mnist)
    regression = model.task == "regression"

    cm.calibrate(calibration)
    before = cm.score(test)
    log(f"compressed as configured, before fine-tuning: {_score_line(before)}, "
        f"flash {cm.flash_bytes():,} bytes ({cm.float_bytes() / cm.flash_bytes():.1f}x "
        f"smaller than float)")

    teacher = None
    if fcfg.distill > 0 and not regression:
        teacher = model
        teacher.eval()

    net = cm.net
    decay = [p for p in net.parameters() if p.dim() > 1]
    no_decay = [p for p in net.parameters() if p.dim() <= 1]
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": fcfg.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=fcfg.lr, momentum=fcfg.momentum, nesterov=True)

    generator = torch.Generator().manual_seed(fcfg.seed)
    if regression:
        n = fcfg.samples_per_epoch
    else:
        images, labels = datasets.mnist_train(mnist)
        raw_train = torch.from_numpy(images.astype(np.float32) / np.float32(255.0))[:, None]
        s = fcfg.shift
        padded = nn.functional.pad(raw_train, (s, s, s, s)) if s > 0 else raw_train
        y_train = torch.from_numpy(labels.astype(np.int64))
        n = len(y_train)
    steps_per_epoch = math.ceil(n / fcfg.batch_size)
    total_steps = steps_per_epoch * fcfg.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, 0))

    history = []
    step = 0
    for epoch in range(1, fcfg.epochs + 1):
        start = time.perf_counter()
        net.train()
        loss_sum, correct = 0.0, 0
        if regression:
            raw_x, raw_y = sine.training_samples(n, generator)
            order = torch.arange(n)
        else:
            order = torch.randperm(n, generator=generator)
        for first in range(0, n, fcfg.batch_size):
            index = order[first:first + fcfg.batch_size]
            if regression:
                raw, y = raw_x[index], raw_y[index]
            else:
                raw = shifted_batch(padded, index, s, generator) if s > 0 else padded[index]
                y = y_train[index]
            out = cm(raw).real
            if regression:
                loss = ((out - y) ** 2).sum(1).mean()
            else:
                loss = F.cross_entropy(out, y)
                if teacher is not None:
                    with torch.no_grad():
                        x = (raw - model.input_spec["mean"]) / model.input_spec["std"]
                        soft = F.softmax(teacher(x) / fcfg.temperature, dim=1)
                    kd = F.kl_div(F.log_softmax(out / fcfg.temperature, dim=1), soft,
                                  reduction="batchmean") * fcfg.temperature ** 2
                    loss = (1 - fcfg.distill) * loss + fcfg.distill * kd
                correct += int((out.detach().argmax(1) == y).sum())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += float(loss) * len(index)
            step += 1
            if fcfg.recalibrate_every and step % fcfg.recalibrate_every == 0:
                cm.calibrate(calibration)
        cm.calibrate(calibration)
        score = cm.score(test)
        seconds = time.perf_counter() - start
        row = {"epoch": epoch, "loss": loss_sum / n, "seconds": round(seconds, 1), **score}
        if not regression:
            row["train_acc"] = correct / n
        history.append(row)
        log(f"epoch {epoch:3d}/{fcfg.epochs}  loss {row['loss']:.4f}  "
            + (f"train acc {100 * row['train_acc']:.2f}%  " if not regression else "")
            + f"compressed test {_score_line(score)}  {seconds:.1f}s")
    return cm, {"before": before, "after": history[-1] if history else before,
                "history": history}
