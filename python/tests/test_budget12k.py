"""The committed Caffe LeNet-5 for a 12,000-byte flash budget
(assets/lenet5_caffe.budget12k.json and .config.json): the engine's solver
chose the config (`dmc search --flash 12000`), `dmc finetune
--physically-pruned` fine-tuned the model under it as it was written, and
`dmc eval` measures the committed pair at exactly the figures the README
gives, within Deep Compression's 0.74% error.

The pair is the physically pruned form (only the kept channels, every keep
1.0). Written back at full size (zeros in the pruned channels) with the
solver's config, the engine computes exactly the same outputs: that is
checked here too."""

import json
import os
import subprocess

import torch

from conftest import ASSETS
from dmc import parity, prune
from dmc.config import config_from_dict, weight_specs
from dmc.modelfile import load_model_file, save_model_file
from dmc.models import build_model

MODEL = os.path.join(ASSETS, "lenet5_caffe.budget12k.json")
CONFIG = os.path.join(ASSETS, "lenet5_caffe.budget12k.config.json")
BUDGET = 12000
FLOAT_BYTES = 1724320            # assets/lenet5_caffe.json, 4 bytes per parameter

# As `dmc eval` measures the committed pair (the README's figures).
CORRECT = 9937                   # 99.37%, error 0.63%
FLASH_BYTES = 10117
PEAK_RAM_BYTES = 7200
MACS = 379250


def engine_json(dmc_bin, mnist_dir, *args):
    return json.loads(subprocess.run([dmc_bin, *args, "--json", "--mnist", mnist_dir],
                                     capture_output=True, text=True, check=True).stdout)


def test_budget12k_as_the_engine_measures_it(mnist_dir, dmc_bin):
    report = engine_json(dmc_bin, mnist_dir, "eval", "--model", MODEL, "--config", CONFIG)
    meta = load_model_file(MODEL).metadata
    assert report["images"] == 10000
    assert round(report["accuracy"] * 10000) == CORRECT
    assert report["accuracy"] == meta["compressed_test"]["accuracy"]   # what finetune said
    assert 1 - report["accuracy"] <= 0.0074                            # Deep Compression's
    assert report["flash_bytes"] == meta["flash_bytes"] == FLASH_BYTES <= BUDGET
    assert report["peak_ram_bytes"] == PEAK_RAM_BYTES
    assert report["macs"] == MACS
    assert meta["float_bytes"] == FLOAT_BYTES
    assert FLOAT_BYTES / BUDGET >= 143.6                               # "144x smaller"
    assert json.loads(open(CONFIG).read()) == meta["compression_config"]
    assert all(layer["keep"] == 1.0 for layer in report["layers"])


def test_budget12k_config_is_the_solvers(mnist_dir, dmc_bin, tmp_path):
    """The config fine-tuned for is the one `dmc search --flash 12000` writes,
    byte for byte as finetune read it."""
    out = tmp_path / "best.config.json"
    subprocess.run([dmc_bin, "search", "--model", os.path.join(ASSETS, "lenet5_caffe.json"),
                    "--flash", str(BUDGET), "--mnist", mnist_dir, "-o", str(out)],
                   capture_output=True, text=True, check=True)
    meta = load_model_file(MODEL).metadata
    assert json.loads(out.read_text()) == meta["physically_pruned"]["config"]


def test_budget12k_parity(mnist_dir, dmc_bin):
    report = parity.check(MODEL, CONFIG, mnist_dir, limit=300, binary=dmc_bin,
                          log=lambda line: None)
    assert report["mismatches"] == 0 and report["first_parameter_difference"] is None


def _plan_from_kept(model, kept):
    """prune.plan's bookkeeping (live inputs, through the flatten) for given
    kept channels."""
    live_in, live = {}, list(range(model.input_spec["channels"]))
    in_shape = (model.input_spec["channels"], model.input_spec["height"],
                model.input_spec["width"])
    for spec, out_shape in zip(model.layer_specs, model.shapes):
        live_in[spec["name"]] = list(live)
        if spec["type"] in ("conv2d", "linear"):
            live = kept[spec["name"]]
        elif spec["type"] == "flatten":
            c, h, w = in_shape
            live = [ch * h * w + p for ch in live for p in range(h * w)]
        in_shape = out_shape
    return prune.PrunePlan(kept, live_in)


def test_budget12k_full_size_is_the_same_to_the_engine(mnist_dir, dmc_bin, tmp_path):
    """Put back into the full Caffe LeNet-5 (pruned channels zero) with the
    solver's config, the model gives the engine the same output bytes for all
    10,000 test images, and the same accuracy, flash, RAM and MACs."""
    pruned = load_model_file(MODEL)
    meta = pruned.metadata["physically_pruned"]
    template = build_model("lenet5_caffe")
    plan = _plan_from_kept(template, meta["kept_channels"])
    full = prune.expand(template, plan, pruned)
    solver_config = config_from_dict(meta["config"])
    prune.check_expanded(full, solver_config, plan)   # the engine keeps the same channels
    assert [s["name"] for s in weight_specs(full)] == ["conv1", "conv2", "fc1", "fc2"]
    full_path, config_path = tmp_path / "full.json", tmp_path / "full.config.json"
    save_model_file(full, full_path)
    config_path.write_text(json.dumps(meta["config"]))

    outputs = {}
    for name, model, config in (("pruned", MODEL, CONFIG),
                                ("full", str(full_path), str(config_path))):
        out = tmp_path / f"{name}.bin"
        subprocess.run([dmc_bin, "infer", "--model", model, "--config", config, "-o", str(out),
                        "--mnist", mnist_dir], capture_output=True, text=True, check=True)
        outputs[name] = out.read_bytes()
    assert outputs["full"] == outputs["pruned"] and len(outputs["full"]) == 10000 * 10

    a = engine_json(dmc_bin, mnist_dir, "eval", "--model", MODEL, "--config", CONFIG)
    b = engine_json(dmc_bin, mnist_dir, "eval", "--model", str(full_path), "--config",
                    str(config_path))
    for key in ("accuracy", "flash_bytes", "peak_ram_bytes", "macs"):
        assert a[key] == b[key], key
    assert b["float_flash_bytes"] == FLOAT_BYTES
    assert a["float_flash_bytes"] == meta["file_float_bytes"]
    assert torch.count_nonzero(full.conv1.weight).item() <= 10 * 25
