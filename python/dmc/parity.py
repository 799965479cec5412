"""Parity: the engine and the PyTorch simulation, run on the same inputs with
the same model and config, must produce the same integers.

Two independent implementations of the arithmetic contract: the engine's
C++ (`dmc infer` writes its int8 outputs) and compress.py here, which
derives every parameter itself from the float model and the config and never
reads the engine's. Outputs are compared image by image; any difference is a
mismatch. To say *where* two implementations part, the engine's parameter
dump (`dmc infer --params`) is compared afterwards with ours, step by step:
a diagnostic only, the verdict is the outputs.

Exact parity is defined for configs whose layers are all integer; a layer
left in float (bits 32) runs PyTorch's float kernels, whose last bits can
differ from the engine's (reported, not hidden).
"""

import os
import tempfile
import time

import numpy as np

from . import datasets, engine
from .compress import CompressedModel, argmax_lowest
from .config import CompressionConfig, load_config, weight_specs
from .modelfile import load_model_file


def _first_difference(ours, theirs):
    """Name of the first parameter (by step) that differs, or None."""
    steps = {s["name"]: s for s in theirs["steps"]}
    for name, p in ours.items():
        s = steps.get(name)
        if s is None:
            return f"{name}: no such step in the engine's parameters"
        checks = [
            ("weights", np.array_equal(np.asarray(s["weights"]), p["weights"].ravel())),
            ("weight_scales", np.array_equal(np.asarray(s["weight_scales"]), p["weight_scales"])),
            ("bias", np.array_equal(np.asarray(s["bias"]), p["bias"])),
            ("multiplier", np.array_equal(np.asarray(s["multiplier"]), p["multiplier"])),
            ("shift", np.array_equal(np.asarray(s["shift"]), p["shift"])),
            ("in_q", s["in_q"] == p["in_q"].as_dict()),
            ("out_q", s["out_q"] == p["out_q"].as_dict()),
            ("act_min", s["act_min"] == p["act_min"]),
            ("act_max", s["act_max"] == p["act_max"]),
        ]
        for field, same in checks:
            if not same:
                return f"{name}: {field}"
    return None


def check(model_path, config_path=None, mnist=None, limit=0, binary=None, log=print):
    """Run both sides; return a report dict (see `mismatches`)."""
    binary = engine.find_engine(binary)
    model = load_model_file(model_path)
    config = load_config(config_path) if config_path else CompressionConfig()
    datasets.check_model_fits(model)      # the model must fit its data set...
    cm = CompressedModel(model, config)   # ...and the config the model
    test = datasets.model_test_set(model, mnist).limit(limit)
    label = os.path.basename(config_path) if config_path else "default config (8-bit)"

    with tempfile.TemporaryDirectory(prefix="dmc-parity-") as tmp:
        start = time.perf_counter()
        theirs, info, params = engine.infer(
            binary, model_path, os.path.join(tmp, "out.bin"), config_path=config_path,
            mnist=mnist, limit=len(test), params_path=os.path.join(tmp, "params.json"))
        engine_seconds = time.perf_counter() - start

    start = time.perf_counter()
    cm.calibrate(datasets.calibration_inputs(model.dataset, mnist))
    ours = cm.outputs(test.raw)
    sim_seconds = time.perf_counter() - start

    if theirs.shape != ours.shape:
        raise engine.EngineError(f"the engine wrote {theirs.shape[0]} x {theirs.shape[1]} "
                                 f"outputs, the simulation {ours.shape[0]} x {ours.shape[1]}")
    if info["dtype"] == "int8":
        differ = (theirs.astype(np.int64) != ours).any(axis=1)
        max_diff = int(np.abs(theirs.astype(np.int64) - ours).max()) if len(ours) else 0
    else:
        differ = (theirs != ours).any(axis=1)
        max_diff = float(np.abs(theirs.astype(np.float64) - ours).max()) if len(ours) else 0.0
    report = {
        "model": model_path, "config": config_path, "images": int(len(ours)),
        "outputs": info["dtype"], "mismatches": int(differ.sum()),
        "first_mismatches": [int(i) for i in np.flatnonzero(differ)[:10]],
        "max_abs_difference": max_diff,
        "all_integer": config.all_integer(model),
        "flash_bytes": cm.flash_bytes(),
        "engine_seconds": round(engine_seconds, 2), "simulation_seconds": round(sim_seconds, 2),
    }
    if info["dtype"] == "int8":
        qp = getattr(cm.net, weight_specs(cm.net)[-1]["name"]).q_out
        report["output_quantization_agrees"] = (info["scale"] == qp.scale
                                                and info["zero_point"] == qp.zero_point)
    report["first_parameter_difference"] = _first_difference(cm.params(), params)
    if test.labels is not None:
        report["engine_accuracy"] = float((argmax_lowest(theirs) == test.labels).mean())
        report["simulation_accuracy"] = float((argmax_lowest(ours) == test.labels).mean())
    log(f"{label}: {report['mismatches']} mismatches in {report['images']} "
        f"{'images' if test.labels is not None else 'inputs'} ({info['dtype']} outputs"
        + (f", accuracy engine {100 * report['engine_accuracy']:.2f}% / simulation "
           f"{100 * report['simulation_accuracy']:.2f}%" if test.labels is not None else "")
        + (f", max |difference| {max_diff:.3g}" if info["dtype"] != "int8" else "")
        + f", flash {report['flash_bytes']:,} bytes; engine {engine_seconds:.1f}s, "
          f"simulation {sim_seconds:.1f}s)")
    if report["first_parameter_difference"]:
        log(f"  parameters first differ at {report['first_parameter_difference']}")
    if not report["all_integer"]:
        log("  note: the config leaves layers in float (bits 32); exact parity is only "
            "defined for all-integer configs")
    return report
