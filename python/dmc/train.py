"""Deterministic training and evaluation on MNIST.

Reproducibility: every random choice (initial weights, data order, shifts)
comes from generators seeded with --seed, and PyTorch is told to use
deterministic algorithms, so the same command with the same thread count
gives the same model bit for bit. (A different thread count may change the
order of float sums, and so the last bits.)

Recipe: SGD with Nesterov momentum, weight decay on the weights (not the
biases), a short linear warm-up then cosine decay of the learning rate per
step, and random shifts of up to `shift` pixels in each direction as the only
augmentation. LeNet-5 reaches about 99.5% in 30 epochs (about 4-5 minutes
on one thread) with this. The sine regressor trains with Adam on fresh
uniform samples each epoch and the mean squared error (RECIPES).

Several processes (torchrun, see distributed.py) split every batch between
them; the single-process path computes exactly what it always did.
"""

import math
import random
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from . import distributed, sine
from .mnist import normalize
from .models import MODELS, build_model


@dataclass
class TrainConfig:
    model: str = "lenet5"
    epochs: int = 30
    seed: int = 1
    batch_size: int = 128       # global: split between processes under torchrun
    lr: float = 0.05            # peak learning rate, reached after warm-up
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    shift: int = 2              # max random shift in pixels; 0 disables it
    threads: int = 1            # per process
    optimizer: str = "sgd"      # "sgd" (Nesterov) or "adam"
    samples_per_epoch: int = 0  # regression: fresh points drawn per epoch
    train_limit: int = 0        # use only the first N training images (0: all)
    world_size: int = 1         # processes (torchrun --nproc_per_node)

    def as_metadata(self):
        return asdict(self)


# Per-model departures from the TrainConfig defaults.
RECIPES = {
    "sine": dict(epochs=300, batch_size=64, lr=3e-3, weight_decay=0.0, shift=0,
                 optimizer="adam", samples_per_epoch=4096, warmup_epochs=0.0),
}


def default_config(model, **overrides):
    """The recipe of `model`, with the given fields (those not None) replaced."""
    fields = dict(RECIPES.get(model, {}))
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(model=model, **fields)


def seed_everything(seed):
    """Seed every generator a library might fall back to, and forbid
    nondeterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def lr_factor(step, total_steps, warmup_steps):
    """Multiplier of the peak learning rate at `step`: linear warm-up from
    near zero, then cosine decay to zero at the last step."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def shifted_batch(padded, index, shift, generator):
    """Crop each image of the batch from its zero-padded copy at a random
    offset, i.e. shift it by -shift..shift pixels in x and y.

    `padded` is (N, 1, H + 2*shift, W + 2*shift); the result (B, 1, H, W).
    Done with one gather for the whole batch, which is much faster than
    shifting images one by one.
    """
    n = index.numel()
    h = padded.shape[2] - 2 * shift
    w = padded.shape[3] - 2 * shift
    dy = torch.randint(0, 2 * shift + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * shift + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]     # (B, H, 1)
    cols = (dx[:, None] + torch.arange(w))[:, None, :]     # (B, 1, W)
    images = padded[index][:, 0]                            # (B, H+2s, W+2s)
    batch = images[torch.arange(n)[:, None, None], rows, cols]
    return batch[:, None]


@torch.no_grad()
def evaluate(model, x, labels, batch_size=1000):
    """Number of correct argmax predictions of `model` on normalized inputs."""
    model.eval()
    correct = 0
    for start in range(0, len(x), batch_size):
        out = model(x[start:start + batch_size])
        correct += int((out.argmax(1) == labels[start:start + batch_size]).sum())
    return correct


@torch.no_grad()
def finite_outputs(model, x, batch_size=1000):
    """The float model's outputs on normalized inputs, refusing any that is
    not finite: weights of 1e38 are finite but overflow float32 arithmetic,
    and the argmax of inf and NaN would be noise, not an accuracy."""
    from .errors import DmcError, quoted

    model.eval()
    outputs = torch.cat([model(x[start:start + batch_size])
                         for start in range(0, len(x), batch_size)]) if len(x) else None
    if outputs is None:
        raise DmcError("no inputs to evaluate the model on")
    bad = (~torch.isfinite(outputs)).nonzero()
    if len(bad):
        i, k = (int(v) for v in bad[0])
        raise DmcError(f"model {quoted(getattr(model, 'model_name', '?'))}: the float model's "
                       f"output {k} on test input {i} is not finite; its weights or biases "
                       f"overflow float32 arithmetic")
    return outputs


@torch.no_grad()
def mean_squared_error(model, x, targets):
    """Mean over inputs of the summed squared error of the outputs, in
    double (the engine's definition)."""
    model.eval()
    err = model(x).double() - targets.double()
    return float((err * err).sum(1).mean())


def make_optimizer(model, config, steps_per_epoch):
    """Optimizer and per-step scheduler of the recipe: weight decay on the
    weights only; linear warm-up then cosine decay."""
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(groups, lr=config.lr)
    else:
        optimizer = torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum,
                                    nesterov=True)
    total_steps = steps_per_epoch * config.epochs
    warmup_steps = int(config.warmup_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup_steps))
    return optimizer, scheduler


def train(config, train_data, test_data, log=print, ctx=None):
    """Train a fresh model; return (model, history).

    For MNIST models `train_data` and `test_data` are (uint8 images
    N x 28 x 28, uint8 labels); a regression model draws its own data and
    ignores them. `log` gets one line per epoch (main process only).
    `history` is a list of per-epoch dicts. `ctx` (distributed.Context)
    says which share of each batch this process trains on.
    """
    ctx = ctx or distributed.Context()
    torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    if MODELS[config.model].task == "regression":
        return _train_regression(config, log, ctx)
    model = build_model(config.model)
    net = distributed.wrap(model, ctx)
    spec = model.input_spec
    mean, std = spec["mean"], spec["std"]

    # Training images stay raw ([0, 1]) so that the shift pads with true
    # background (raw 0); they are normalized per batch after the shift.
    train_images, train_labels = train_data
    if config.train_limit:
        train_images = train_images[:config.train_limit]
        train_labels = train_labels[:config.train_limit]
    raw = torch.from_numpy(train_images.astype(np.float32) / np.float32(255.0))[:, None]
    s = config.shift
    padded = nn.functional.pad(raw, (s, s, s, s)) if s > 0 else raw
    y_train = torch.from_numpy(train_labels.astype(np.int64))
    x_test = torch.from_numpy(normalize(test_data[0], spec))
    y_test = torch.from_numpy(test_data[1].astype(np.int64))

    n = len(y_train)
    steps_per_epoch = math.ceil(n / config.batch_size)
    optimizer, scheduler = make_optimizer(model, config, steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    sum_loss_fn = nn.CrossEntropyLoss(reduction="sum")
    # Every process takes every world_size-th sample of the global batch.
    local = slice(ctx.rank, None, ctx.world_size)

    # One generator for everything random in the data pipeline, seeded
    # separately from the weight initialisation above. Every process draws
    # the same numbers, so they agree on the global batches.
    generator = torch.Generator().manual_seed(config.seed)
    history = []
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        net.train()
        order = torch.randperm(n, generator=generator)
        loss_sum, correct = 0.0, 0
        for first in range(0, n, config.batch_size):
            index = order[first:first + config.batch_size]
            if s > 0:
                batch = shifted_batch(padded, index, s, generator)
            else:
                batch = padded[index]
            x = (batch - mean) / std
            y = y_train[index]
            if ctx.distributed:
                x, y = x[local], y[local]
                out = net(x)
                # DDP averages over processes: scaling each process's sum by
                # world_size / global batch makes that the global mean.
                loss = sum_loss_fn(out, y) * (ctx.world_size / len(index))
                loss_sum += float(loss) * len(index) / ctx.world_size
            else:
                out = net(x)
                loss = loss_fn(out, y)
                loss_sum += float(loss) * len(index)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            correct += int((out.argmax(1) == y).sum())
        loss_sum, correct = distributed.all_sum(ctx, [loss_sum, correct])
        seconds = time.perf_counter() - start
        row = {"epoch": epoch, "loss": loss_sum / n, "train_acc": correct / n,
               "seconds": seconds}
        if ctx.is_main:
            test_correct = evaluate(model, x_test, y_test)
            row.update(test_acc=test_correct / len(y_test), test_correct=test_correct,
                       seconds=time.perf_counter() - start)
            log(f"epoch {epoch:3d}/{config.epochs}  loss {row['loss']:.4f}  "
                f"train acc {100 * row['train_acc']:.2f}%  "
                f"test acc {100 * row['test_acc']:.2f}%  {row['seconds']:.1f}s")
        history.append(row)
    return model, history


def _train_regression(config, log, ctx):
    """The sine regressor: fresh uniform samples each epoch, MSE loss,
    scored on the engine's test grid."""
    model = build_model(config.model)
    net = distributed.wrap(model, ctx)
    spec = model.input_spec
    mean, std = spec["mean"], spec["std"]
    raw_test, targets = sine.test_grid()
    x_test = torch.from_numpy((raw_test - np.float32(mean)) / np.float32(std))
    y_test = torch.from_numpy(targets)

    n = config.samples_per_epoch
    steps_per_epoch = math.ceil(n / config.batch_size)
    optimizer, scheduler = make_optimizer(model, config, steps_per_epoch)
    local = slice(ctx.rank, None, ctx.world_size)
    generator = torch.Generator().manual_seed(config.seed)
    history = []
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        net.train()
        raw, target = sine.training_samples(n, generator)
        x_all = (raw - mean) / std
        loss_sum = 0.0
        for first in range(0, n, config.batch_size):
            x = x_all[first:first + config.batch_size]
            y = target[first:first + config.batch_size]
            count = len(x)
            x, y = x[local], y[local]
            out = net(x)
            # Sum over the local share, scaled to the global batch's mean.
            loss = ((out - y) ** 2).sum() * (ctx.world_size / count)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += float(loss) * count / ctx.world_size
        (loss_sum,) = distributed.all_sum(ctx, [loss_sum])
        row = {"epoch": epoch, "loss": loss_sum / n, "seconds": time.perf_counter() - start}
        if ctx.is_main:
            row["test_mse"] = mean_squared_error(model, x_test, y_test)
            row["seconds"] = time.perf_counter() - start
            if epoch == config.epochs or epoch % max(1, config.epochs // 20) == 0:
                log(f"epoch {epoch:3d}/{config.epochs}  loss {row['loss']:.3e}  "
                    f"test MSE {row['test_mse']:.3e}  {row['seconds']:.2f}s")
        history.append(row)
    return model, history
