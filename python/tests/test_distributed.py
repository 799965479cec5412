"""Training under torchrun with DistributedDataParallel (gloo, CPU): two
processes split every batch and train the same model one process trains,
up to the order of float sums. A tiny run on synthetic IDX files."""

import os
import subprocess
import sys

import torch

from conftest import PYTHON_DIR
from dmc.modelfile import load_model_file

TRAIN = ["-m", "dmc", "train", "--model", "lenet300", "--epochs", "2", "--batch-size", "64",
         "--threads", "1"]


def run(args, tmp_path):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR, OMP_NUM_THREADS="1")
    env.pop("MNIST_DIR", None)
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=str(tmp_path))


def test_two_processes_train_what_one_does(tmp_path, fake_mnist):
    one = run([*TRAIN, "--mnist", fake_mnist, "--out", str(tmp_path / "one.json")], tmp_path)
    assert one.returncode == 0, one.stderr
    # torch 1.13's launcher needs --redirects/--tee set (non-zero) on Python 3.11.
    two = run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "--redirects", "1", "--tee", "1", "--log_dir", str(tmp_path / "logs"),
               *TRAIN, "--mnist", fake_mnist, "--out", str(tmp_path / "two.json")], tmp_path)
    assert two.returncode == 0, two.stdout + two.stderr
    assert "2 process(es)" in two.stdout and "wrote" in two.stdout

    a, b = load_model_file(tmp_path / "one.json"), load_model_file(tmp_path / "two.json")
    assert b.metadata["processes"] == 2 and b.metadata["training"]["world_size"] == 2
    assert b.metadata["command"].startswith("python3 -m torch.distributed.run")
    assert a.metadata["processes"] == 1
    for (key, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert not torch.equal(x, torch.zeros_like(x)), key
        torch.testing.assert_close(y, x, rtol=0, atol=1e-5, msg=key)
