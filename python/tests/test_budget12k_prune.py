"""`finetune --physically-pruned`: the fine-tuned model written with only the
kept channels, and its config with the same bits and every keep 1.0. The
engine must compute exactly the same integers from that pair as from the
full-size pair (pruned channels zero, the original config): the same output
bytes for every test image, hence the same accuracy, and the same flash,
peak RAM and MACs; only the file is smaller. (assets/lenet5_caffe.budget12k
is committed this way.)"""

import json
import os
import subprocess
import sys

import torch

from conftest import DEPTHWISE_LAYERS, PYTHON_DIR
from dmc.mnist import MNIST_INPUT
from dmc.modelfile import load_model_file, save_model_file
from dmc.models import DmcNet


def run_dmc(*args):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    result = subprocess.run([sys.executable, "-m", "dmc", *args], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def engine(dmc_bin, mnist, *args):
    return subprocess.run([dmc_bin, *args, "--mnist", mnist], capture_output=True,
                          text=True, check=True).stdout


def engine_outputs(dmc_bin, mnist, model, config, out):
    info = json.loads(engine(dmc_bin, mnist, "infer", "--model", model, "--config", config,
                             "-o", out).strip().splitlines()[-1])
    return info, open(out, "rb").read()


def finetune_both_ways(tmp_path, model, config_doc, mnist, *options):
    """Fine-tune `model` for `config_doc` twice with the same seed: written
    full size, and physically pruned. Returns the two (model, config) pairs."""
    config = tmp_path / "c.json"
    config.write_text(json.dumps(config_doc))
    pairs = []
    for name, extra in (("full", []), ("pruned", ["--physically-pruned"])):
        out = tmp_path / f"{name}.json"
        run_dmc("finetune", "--model", str(model), "--config", str(config), "--mnist", mnist,
                "--out", str(out), *options, *extra)
        pairs.append((str(out), str(tmp_path / f"{name}.config.json")))
    return pairs


def assert_engine_agrees(tmp_path, dmc_bin, mnist, full, pruned, config_doc):
    # Same integers for every test image.
    info_f, bytes_f = engine_outputs(dmc_bin, mnist, *full, str(tmp_path / "full.bin"))
    info_p, bytes_p = engine_outputs(dmc_bin, mnist, *pruned, str(tmp_path / "pruned.bin"))
    assert info_f == info_p
    assert bytes_f == bytes_p and len(bytes_f) > 0

    # Same measurement.
    report_f = json.loads(engine(dmc_bin, mnist, "eval", "--model", full[0], "--config",
                                 full[1], "--json"))
    report_p = json.loads(engine(dmc_bin, mnist, "eval", "--model", pruned[0], "--config",
                                 pruned[1], "--json"))
    for key in ("accuracy", "images", "flash_bytes", "peak_ram_bytes", "peak_ram_step",
                "macs"):
        assert report_f[key] == report_p[key], key
    for layer_f, layer_p in zip(report_f["layers"], report_p["layers"]):
        assert layer_f["name"] == layer_p["name"]
        assert layer_f["channels_kept"] == layer_p["channels_kept"]
        assert layer_p["channels_kept"] == layer_p["channels_total"]     # nothing left to prune
        for key in ("bits", "flash_bytes", "macs", "params"):
            assert layer_f[key] == layer_p[key], (layer_f["name"], key)

    # What finetune recorded is what the engine measures, for both files.
    meta_f = load_model_file(full[0]).metadata
    meta_p = load_model_file(pruned[0]).metadata
    assert report_p["accuracy"] == meta_p["compressed_test"]["accuracy"] == \
        meta_f["compressed_test"]["accuracy"]
    assert report_p["flash_bytes"] == meta_p["flash_bytes"] == meta_f["flash_bytes"]
    assert meta_p["float_bytes"] == meta_f["float_bytes"] == report_f["float_flash_bytes"]
    assert meta_p["physically_pruned"]["file_float_bytes"] == report_p["float_flash_bytes"]
    assert report_p["float_flash_bytes"] < report_f["float_flash_bytes"]
    assert os.path.getsize(pruned[0]) < os.path.getsize(full[0])

    # The pruned pair's config: the original bits, every keep 1.0; the
    # original config is kept in the metadata.
    written = json.loads(open(pruned[1]).read())
    assert written == meta_p["compression_config"]
    assert written["default"]["keep"] == 1.0
    assert all("keep" not in s for s in written["layers"].values())
    assert meta_p["physically_pruned"]["config"] == json.loads(open(full[1]).read())


def test_physically_pruned_lenet5_is_the_same_to_the_engine(tmp_path, fake_mnist, dmc_bin):
    """LeNet-5 fine-tuned for two epochs on synthetic data, with pruning
    through the flatten, at 4 and 2 bits."""
    model = tmp_path / "m.json"
    run_dmc("train", "--model", "lenet5", "--epochs", "1", "--mnist", fake_mnist,
            "--out", str(model))
    doc = {"default": {"bits": 4}, "layers": {
        "conv1": {"keep": 0.5, "bits": 8}, "conv2": {"keep": 0.3},
        "fc1": {"keep": 0.25, "bits": 2}, "fc2": {"keep": 0.5}, "fc3": {"bits": 2}}}
    full, pruned = finetune_both_ways(tmp_path, model, doc, fake_mnist, "--epochs", "2",
                                      "--recalibrate-every", "2")
    assert_engine_agrees(tmp_path, dmc_bin, fake_mnist, full, pruned, doc)
    assert load_model_file(pruned[0]).layer_specs[0]["out_channels"] == 3


def test_physically_pruned_depthwise_is_the_same_to_the_engine(tmp_path, fake_mnist, dmc_bin):
    """Pruning the conv before a depthwise layer removes its filters, and
    pruning passes through global pooling into the linear layer."""
    torch.manual_seed(3)
    model = tmp_path / "dw.json"
    save_model_file(DmcNet("dwnet", MNIST_INPUT, DEPTHWISE_LAYERS), model)
    doc = {"default": {"bits": 8}, "layers": {"c1": {"keep": 0.5, "bits": 4},
                                              "pw": {"keep": 0.5}, "fc": {"bits": 2}}}
    full, pruned = finetune_both_ways(tmp_path, model, doc, fake_mnist, "--epochs", "1")
    assert_engine_agrees(tmp_path, dmc_bin, fake_mnist, full, pruned, doc)
    specs = {s["name"]: s for s in load_model_file(pruned[0]).layer_specs}
    assert specs["dw"]["channels"] == 4 and specs["fc"]["in_features"] == 8
