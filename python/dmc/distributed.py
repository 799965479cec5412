"""Data-parallel training over several processes with PyTorch's own
distributed engine (torch.distributed, DistributedDataParallel, gloo on CPU).

Start the same command under torchrun (or `python3 -m torch.distributed.run`,
which is the same program where Debian ships no `torchrun` script):

    python3 -m torch.distributed.run --standalone --nproc_per_node=2 -m dmc train ...

torchrun sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT in each process's
environment; without them the command runs as one ordinary process. gloo is
the backend because it needs no GPU; with more machines torchrun's
--nnodes/--rdzv options do the rest, nothing here changes.

How the work is split (see train.py): every process draws the same global
batch from identically seeded generators and takes every world_size-th
sample of it; DistributedDataParallel averages the gradients. With the loss
scaled as below, the averaged gradient is that of the global batch, so N
processes train the same model as one process would, up to the order of
floating-point sums.
"""

import os
from dataclasses import dataclass

import torch

from .errors import DmcError


@dataclass
class Context:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self):
        """Only the main process prints progress and writes files."""
        return self.rank == 0

    @property
    def distributed(self):
        return self.world_size > 1


def launched_by_torchrun():
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def setup():
    """Join the process group if torchrun started us; return the Context."""
    if not launched_by_torchrun():
        return Context()
    try:
        world_size = int(os.environ["WORLD_SIZE"])
        rank = int(os.environ["RANK"])
    except ValueError:
        raise DmcError("RANK and WORLD_SIZE must be integers (they are set by torchrun)") from None
    if world_size <= 1:
        return Context()
    if not torch.distributed.is_available():
        raise DmcError("this PyTorch build has no torch.distributed; run without torchrun")
    torch.distributed.init_process_group(backend="gloo")
    return Context(rank=rank, world_size=world_size)


def wrap(model, ctx):
    """The model DistributedDataParallel-wrapped when there are several
    processes (it broadcasts rank 0's initial weights, then averages
    gradients), else the model itself."""
    if not ctx.distributed:
        return model
    return torch.nn.parallel.DistributedDataParallel(model)


def unwrap(model):
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def all_sum(ctx, values):
    """Sum a list of numbers over all processes (for the progress lines)."""
    if not ctx.distributed:
        return list(values)
    t = torch.tensor(list(values), dtype=torch.float64)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
    return t.tolist()


def barrier(ctx):
    if ctx.distributed:
        torch.distributed.barrier()


def shutdown(ctx):
    if ctx.distributed and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
