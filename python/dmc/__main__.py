"""Command line: `python3 -m dmc <command> ...` (see --help).

Commands:
  train     train a model from scratch (MNIST, or sine) and write a model file
  finetune  prune and quantization-aware fine-tune a model for a compression config
  export    a PyTorch checkpoint to a model file
  parity    the engine CLI and the PyTorch simulation on the same inputs: same integers?
  evaluate  float (and, with --config, simulated compressed) test score of a model file
  onnx      export a model file to ONNX

User errors (missing data, malformed files) print one line and exit with
status 2; no traceback, since there is no bug to debug.
"""

import argparse
import datetime
import os
import platform
import shlex
import sys
import time

from .errors import DmcError

DESCRIPTION = ("Deep MicroCompression Workbench: train small models, fine-tune them for "
               "the engine's compression, export them, and check the engine against the "
               "PyTorch simulation of its integer arithmetic.")


def _int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value
    return parse


positive_int = _int_at_least(1)
non_negative_int = _int_at_least(0)


def add_threads(p):
    p.add_argument("--threads", type=positive_int, default=1,
                   help="PyTorch CPU threads (default 1; results are reproducible "
                        "for a given thread count)")


def add_mnist(p):
    p.add_argument("--mnist", metavar="DIR",
                   help="folder with the four MNIST IDX files (.gz or not); "
                        "default: the MNIST_DIR environment variable")


def make_parser():
    from .finetune import FinetuneConfig
    from .models import MODELS
    from .train import RECIPES, TrainConfig

    parser = argparse.ArgumentParser(prog="python3 -m dmc", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    defaults = TrainConfig()
    p = sub.add_parser("train", help="train a model from scratch and write a model file",
                       description="Train a model from scratch, deterministically (same "
                                   "seed and thread count, same file), and write it as a "
                                   "dmc-model JSON file. MNIST models read the four IDX "
                                   "files; the sine regressor makes its own data. Runs as "
                                   "one process, or as several under torchrun "
                                   "(python3 -m torch.distributed.run --standalone "
                                   "--nproc_per_node=N -m dmc train ...), which split "
                                   "every batch with DistributedDataParallel (gloo).")
    p.add_argument("--model", choices=sorted(MODELS), default=defaults.model,
                   help=f"network to train (default {defaults.model})")
    add_mnist(p)
    p.add_argument("--out", required=True, metavar="FILE", help="model file to write")
    p.add_argument("--checkpoint", metavar="FILE.pt",
                   help="also write a PyTorch checkpoint (see the export command)")
    p.add_argument("--epochs", type=positive_int,
                   help=f"training epochs (default {defaults.epochs}; sine "
                        f"{RECIPES['sine']['epochs']})")
    p.add_argument("--seed", type=int, help=f"random seed (default {defaults.seed})")
    p.add_argument("--batch-size", type=positive_int,
                   help=f"global mini-batch size, split between processes "
                        f"(default {defaults.batch_size})")
    p.add_argument("--lr", type=float, help=f"peak learning rate (default {defaults.lr})")
    p.add_argument("--weight-decay", type=float,
                   help=f"weight decay on weights (default {defaults.weight_decay})")
    p.add_argument("--shift", type=non_negative_int,
                   help=f"augmentation: random shifts of up to this many pixels "
                        f"(default {defaults.shift}; 0 disables)")
    p.add_argument("--train-limit", type=non_negative_int, metavar="N",
                   help="train on the first N training images only (quick runs; default all)")
    add_threads(p)

    fdefaults = FinetuneConfig()
    p = sub.add_parser("finetune", help="prune, then fine-tune with quantization simulated",
                       description="Apply a compression config (the JSON the engine and the "
                                   "browser use) to a model: prune its channels as the engine "
                                   "does, then train the pruned network with the engine's "
                                   "integer arithmetic simulated in the forward pass. Writes "
                                   "the fine-tuned float model (full size, pruned channels "
                                   "zero) and the config next to it; the engine's compressed "
                                   "score of that pair is the one reported here.")
    p.add_argument("--model-file", "--model", required=True, metavar="FILE",
                   help="model file to start from")
    p.add_argument("--config", required=True, metavar="CFG", help="compression config (JSON)")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="fine-tuned model file to write")
    p.add_argument("--config-out", metavar="FILE",
                   help="where to write the config (default: --out with .json replaced "
                        "by .config.json)")
    add_mnist(p)
    p.add_argument("--epochs", type=non_negative_int, default=fdefaults.epochs,
                   help=f"fine-tuning epochs (default {fdefaults.epochs}; 0 only compresses "
                        f"and writes)")
    p.add_argument("--seed", type=int, default=fdefaults.seed,
                   help=f"random seed (default {fdefaults.seed})")
    p.add_argument("--batch-size", type=positive_int, default=fdefaults.batch_size,
                   help=f"mini-batch size (default {fdefaults.batch_size})")
    p.add_argument("--lr", type=float, default=fdefaults.lr,
                   help=f"initial learning rate, cosine decay (default {fdefaults.lr})")
    p.add_argument("--weight-decay", type=float, default=fdefaults.weight_decay,
                   help=f"weight decay on weights (default {fdefaults.weight_decay})")
    p.add_argument("--shift", type=non_negative_int, default=fdefaults.shift,
                   help=f"augmentation: random shifts of up to this many pixels "
                        f"(default {fdefaults.shift})")
    p.add_argument("--recalibrate-every", type=non_negative_int,
                   default=fdefaults.recalibrate_every, metavar="STEPS",
                   help=f"recalibrate output ranges every this many steps, and after every "
                        f"epoch (default {fdefaults.recalibrate_every}; 0: after epochs only)")
    p.add_argument("--no-snap", dest="snap", action="store_false",
                   help="write the float shadow weights as trained, instead of snapping "
                        "each integer layer's weights to the values the engine uses (the "
                        "compressed model is the same either way)")
    p.add_argument("--distill", type=float, default=fdefaults.distill, metavar="ALPHA",
                   help="weight of distillation from the uncompressed model in [0, 1) "
                        "(default 0: off)")
    p.add_argument("--physically-pruned", action="store_true",
                   help="write only the kept channels (a smaller model file) and the config "
                        "with the same bits and every keep 1.0, instead of the full-size "
                        "model with pruned channels zero; the engine computes the same "
                        "integers and counts the same flash for either pair")
    add_threads(p)

    p = sub.add_parser("export", help="PyTorch checkpoint -> model file",
                       description="Write a PyTorch checkpoint as the engine's model file: "
                                   "OIHW conv weights to OHWI, and the columns of the linear "
                                   "layer after a flatten from PyTorch's CHW order to the "
                                   "engine's HWC order. Takes a dmc checkpoint (train "
                                   "--checkpoint), or a TorchScript module (torch.jit.save) "
                                   "with --model, which must compute what that architecture "
                                   "computes with its weights. A plain state_dict is refused: "
                                   "for a network of one's own, torch.onnx.export then dmc "
                                   "import.")
    p.add_argument("--checkpoint", required=True, metavar="FILE.pt", help="checkpoint to read")
    p.add_argument("--model", choices=sorted(MODELS),
                   help="architecture of a TorchScript module (a dmc checkpoint names its own)")
    p.add_argument("--out", required=True, metavar="FILE", help="model file to write")

    p = sub.add_parser("parity", help="engine CLI vs PyTorch simulation: identical integers?",
                       description="Run the engine CLI (dmc infer) and the PyTorch simulation "
                                   "of its integer arithmetic on the same test inputs with the "
                                   "same model and config, and compare the compressed model's "
                                   "integer outputs input by input. Exit status 0 when there "
                                   "is no mismatch for any config, 1 otherwise.")
    p.add_argument("--model-file", "--model", required=True, metavar="FILE", help="model file")
    p.add_argument("--config", action="append", metavar="CFG",
                   help="compression config; repeat for several (default: 8-bit, no pruning)")
    p.add_argument("--limit", type=non_negative_int, default=0, metavar="N",
                   help="first N test inputs only (default all)")
    p.add_argument("--dmc", metavar="BIN",
                   help="engine CLI (default: $DMC_BIN, else build/engine/dmc)")
    p.add_argument("--json", metavar="FILE", help="also write the reports as JSON")
    add_mnist(p)
    add_threads(p)

    p = sub.add_parser("evaluate", help="test score of a model file (float; compressed with --config)",
                       description="Load a model file and print its float (PyTorch) score on "
                                   "its test set: accuracy on the 10,000 MNIST test images, or "
                                   "the mean squared error on the sine grid. With --config, "
                                   "also the compressed model's, by the PyTorch simulation "
                                   "of the engine.")
    p.add_argument("--model-file", required=True, metavar="FILE", help="model file to read")
    p.add_argument("--config", metavar="CFG", help="also score the model compressed with this")
    add_mnist(p)
    add_threads(p)

    p = sub.add_parser("onnx", help="export a model file to ONNX",
                       description="Export a model file to ONNX (opset 13): input "
                                   "'input', NCHW float32 already normalized "
                                   "((pixel/255 - mean)/std), dynamic batch; output "
                                   "'output' (logits). The file is checked with "
                                   "onnx.checker.")
    p.add_argument("--model-file", required=True, metavar="FILE", help="model file to read")
    p.add_argument("-o", "--out", required=True, metavar="OUT.onnx", help="ONNX file to write")
    add_threads(p)
    return parser


def _check_writable(path):
    """Fail now rather than after a long run if `path` cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise DmcError(f"cannot write {path}: folder {folder!r} does not exist")


def _versions():
    import numpy as np
    import torch
    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__}


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _command_line(argv, ctx=None):
    """How to run this again: under torchrun when it was."""
    command = "python3 -m dmc " + shlex.join(argv)
    if ctx is not None and ctx.distributed:
        command = (f"python3 -m torch.distributed.run --standalone "
                   f"--nproc_per_node={ctx.world_size} -m dmc " + shlex.join(argv))
    return command


def cmd_train(args, argv):
    from . import distributed
    from .checkpoint import save_checkpoint
    from .mnist import load_mnist
    from .models import MODELS
    from .modelfile import save_model_file
    from .train import default_config, train

    _check_writable(args.out)
    if args.checkpoint:
        _check_writable(args.checkpoint)
    regression = MODELS[args.model].task == "regression"
    # Read the data before joining the process group, so that a missing
    # folder is reported (exit 2) by every process without a hang.
    train_data, test_data = (None, None) if regression else load_mnist(args.mnist)
    ctx = distributed.setup()
    try:
        config = default_config(args.model, epochs=args.epochs, seed=args.seed,
                                 batch_size=args.batch_size, lr=args.lr,
                                 weight_decay=args.weight_decay, shift=args.shift,
                                 threads=args.threads, train_limit=args.train_limit,
                                 world_size=ctx.world_size)
        say = (lambda line: print(line, flush=True)) if ctx.is_main else (lambda line: None)
        if regression:
            say(f"training {config.model}: sin(x) on [0, 2 pi], {config.samples_per_epoch} "
                f"fresh points per epoch, {config.epochs} epochs, seed {config.seed}, "
                f"{ctx.world_size} process(es) x {config.threads} thread(s)")
        else:
            n_train = len(train_data[1]) if not config.train_limit else min(
                config.train_limit, len(train_data[1]))
            say(f"training {config.model}: {n_train} train / {len(test_data[1])} test images, "
                f"{config.epochs} epochs, seed {config.seed}, {ctx.world_size} process(es) x "
                f"{config.threads} thread(s)")
        start = time.perf_counter()
        model, history = train(config, train_data, test_data, log=say, ctx=ctx)
        seconds = time.perf_counter() - start
        if ctx.is_main:
            final = history[-1]
            metadata = {
                "command": _command_line(argv, ctx),
                "training": config.as_metadata(),
                "schedule": ("Adam" if config.optimizer == "adam" else "SGD, Nesterov momentum")
                            + ", linear warm-up then per-step cosine decay",
                "processes": ctx.world_size,
            }
            if regression:
                metadata.update({
                    "augmentation": "none (fresh uniform samples every epoch)",
                    "dataset": "sin(x), x uniform on [0, 2 pi]; scored on the engine's "
                               "1,000-point grid",
                    "float_test_mse": final["test_mse"],
                })
                result = f"float test MSE {final['test_mse']:.3e}"
            else:
                n_test = len(test_data[1])
                metadata.update({
                    "augmentation": (f"random shifts of up to {config.shift} pixels"
                                     if config.shift else "none"),
                    "dataset": f"MNIST, {n_train} train / {n_test} test images",
                    "float_test_accuracy": final["test_acc"],
                    "float_test_correct": final["test_correct"],
                })
                result = (f"float test accuracy {100 * final['test_acc']:.2f}% "
                          f"({final['test_correct']}/{n_test})")
            metadata.update({
                "final_train_loss": round(final["loss"], 6),
                "training_seconds": round(seconds, 1),
                "date": _now(),
                "versions": _versions(),
            })
            save_model_file(model, args.out, metadata)
            if args.checkpoint:
                save_checkpoint(model, args.checkpoint, metadata)
            print(f"wrote {args.out}" + (f" and {args.checkpoint}" if args.checkpoint else "")
                  + f": {result}, {seconds:.0f}s in all")
        distributed.barrier(ctx)
    finally:
        distributed.shutdown(ctx)
    return 0


def _float_score(model, evalset):
    """The float model's score (PyTorch) on an EvalSet."""
    import torch

    from .datasets import normalize_raw
    from .train import finite_outputs

    x = torch.from_numpy(normalize_raw(evalset.raw, model.input_spec))
    # One forward pass, checked: a model that overflows float32 has no score.
    out = finite_outputs(model, x)
    if evalset.labels is not None:
        correct = int((out.argmax(1) == torch.from_numpy(evalset.labels)).sum())
        return {"correct": correct, "count": len(evalset), "accuracy": correct / len(evalset)}
    # Mean over inputs of the summed squared error, in double (the engine's
    # definition, as train.mean_squared_error).
    err = out.double() - torch.from_numpy(evalset.targets).double()
    return {"count": len(evalset), "mse": float((err * err).sum(1).mean())}


def _describe(score):
    if "accuracy" in score:
        return (f"accuracy {100 * score['accuracy']:.2f}% ({score['correct']}/{score['count']}), "
                f"error {100 * (1 - score['accuracy']):.2f}%")
    return f"MSE {score['mse']:.4e}"


def cmd_evaluate(args, argv):
    import torch

    from . import datasets
    from .compress import CompressedModel
    from .config import load_config
    from .modelfile import load_model_file

    torch.set_num_threads(args.threads)
    model = load_model_file(args.model_file)
    config = load_config(args.config) if args.config else None
    # The model must fit its data set before anything is compressed: its
    # shapes first, the data itself once loaded.
    datasets.check_model_fits(model)
    cm = CompressedModel(model, config) if config is not None else None  # checks the config
    test = datasets.model_test_set(model, args.mnist)
    print(f"{args.model_file}: float test {_describe(_float_score(model, test))}")
    if cm is not None:
        cm.calibrate(datasets.calibration_inputs(model.dataset, args.mnist))
        print(f"{args.model_file} + {args.config}: compressed test {_describe(cm.score(test))}, "
              f"flash {cm.flash_bytes():,} bytes ({cm.float_bytes() / cm.flash_bytes():.1f}x "
              f"smaller than {cm.float_bytes():,})")
    return 0


def _default_config_out(out):
    base = out[:-len(".json")] if out.endswith(".json") else out
    return base + ".config.json"


def cmd_finetune(args, argv):
    import numpy as np

    from . import datasets
    from .compress import CompressedModel
    from .config import load_config, save_config
    from .finetune import FinetuneConfig, finetune
    from .modelfile import load_model_file, save_model_file

    config_out = args.config_out or _default_config_out(args.out)
    for path in (args.out, config_out):
        _check_writable(path)
    if os.path.abspath(config_out) == os.path.abspath(args.out):
        raise DmcError(f"--config-out must differ from --out ({args.out})")
    if not 0.0 <= args.distill < 1.0:
        raise DmcError(f"--distill must be in [0, 1), got {args.distill}")
    model = load_model_file(args.model_file)
    config = load_config(args.config)
    fcfg = FinetuneConfig(epochs=args.epochs, seed=args.seed, batch_size=args.batch_size,
                          lr=args.lr, weight_decay=args.weight_decay, shift=args.shift,
                          recalibrate_every=args.recalibrate_every, distill=args.distill,
                          threads=args.threads)
    # Fail on a model that does not fit its data set, a config that does not
    # fit the model, or missing data, before training.
    datasets.check_model_fits(model)
    CompressedModel(model, config)
    test = datasets.model_test_set(model, args.mnist)
    float_before = _float_score(model, test)
    print(f"fine-tuning {args.model_file} ({model.model_name}, float test "
          f"{_describe(float_before)}) for {args.config}: {fcfg.epochs} epochs, "
          f"seed {fcfg.seed}, {fcfg.threads} thread(s)", flush=True)
    start = time.perf_counter()
    cm, summary = finetune(model, config, fcfg, mnist=args.mnist,
                           log=lambda line: print(line, flush=True))
    seconds = time.perf_counter() - start
    after = cm.score(test)
    trained_outputs = cm.outputs(test.raw)
    if args.snap:
        cm.snap_weights()
        cm.calibrate(datasets.calibration_inputs(model.dataset, args.mnist))
        if not np.array_equal(cm.outputs(test.raw), trained_outputs):
            raise AssertionError("snapping the weights to their quantized values changed "
                                 "the compressed model")
    if args.physically_pruned:
        from .prune import physical_config
        written, written_config = cm.net, physical_config(model, config)
    else:
        written, written_config = cm.expanded_model(), config

    # What the engine will load: the file as written, compressed afresh.
    metadata = {
        "command": _command_line(argv),
        "base_model": {"file": os.path.basename(args.model_file),
                       "float_test": float_before,
                       "metadata": getattr(model, "metadata", None)},
        "compression_config": written_config.to_dict(),
        "config_file": os.path.basename(config_out),
        "finetuning": fcfg.as_metadata(),
        "weights": ("integer layers' weights snapped to their quantized values "
                    "(scale x integer), so the float model is what the integers compute"
                    if args.snap else "as trained (float shadow weights)"),
        "compressed_test_before_finetuning": summary["before"],
        "compressed_test": after,
        "float_test": _float_score(written, test),
        "flash_bytes": cm.flash_bytes(),
        "float_bytes": cm.float_bytes(),
        "compression_ratio": round(cm.float_bytes() / cm.flash_bytes(), 2),
        "layers": cm.layer_table(),
        "finetuning_seconds": round(seconds, 1),
        **({"physically_pruned": {
            "config": config.to_dict(),
            "kept_channels": {name: kept for name, kept in cm.plan.kept.items()},
            "file_float_bytes": 4 * sum(p.numel() for p in written.parameters()),
            "note": "only the channels the config keeps; float_bytes is the unpruned "
                    "model's"}} if args.physically_pruned else {}),
        "date": _now(),
        "versions": _versions(),
    }
    save_model_file(written, args.out, metadata)
    save_config(written_config, config_out)
    check = CompressedModel(load_model_file(args.out), load_config(config_out))
    check.calibrate(datasets.calibration_inputs(model.dataset, args.mnist))
    if not np.array_equal(check.outputs(test.raw), trained_outputs):
        raise AssertionError("the written model file does not reproduce the fine-tuned "
                             "compressed model")
    if check.flash_bytes() != cm.flash_bytes():
        raise AssertionError("the written pair does not count the flash of the fine-tuned "
                             "compressed model")
    print(f"wrote {args.out} and {config_out}: compressed test {_describe(after)}, flash "
          f"{cm.flash_bytes():,} bytes ({cm.float_bytes() / cm.flash_bytes():.1f}x smaller "
          f"than {cm.float_bytes():,}); float test of the written model "
          f"{_describe(metadata['float_test'])}; {seconds:.0f}s")
    return 0


def cmd_export(args, argv):
    from .checkpoint import load_checkpoint
    from .modelfile import save_model_file

    _check_writable(args.out)
    model, metadata = load_checkpoint(args.checkpoint, args.model)
    metadata = dict(metadata)
    metadata["exported_from"] = os.path.basename(args.checkpoint)
    save_model_file(model, args.out, metadata)
    print(f"wrote {args.out}: {model.model_name}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")
    return 0


def cmd_parity(args, argv):
    import json

    import torch

    from .parity import check

    torch.set_num_threads(args.threads)
    reports = [check(args.model_file, config, mnist=args.mnist, limit=args.limit,
                     binary=args.dmc, log=lambda line: print(line, flush=True))
               for config in (args.config or [None])]
    if args.json:
        _check_writable(args.json)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(reports, f, indent=2)
            f.write("\n")
    bad = [r for r in reports if r["mismatches"]]
    total = sum(r["images"] for r in reports)
    print(f"parity: {'FAILED' if bad else 'identical'}: "
          f"{sum(r['mismatches'] for r in reports)} mismatches in {total} outputs over "
          f"{len(reports)} config(s)")
    return 1 if bad else 0


def cmd_onnx(args, argv):
    import torch

    from .onnx_export import export_onnx

    torch.set_num_threads(args.threads)
    summary = export_onnx(args.model_file, args.out)
    print(f"wrote {args.out}: {summary}")
    return 0


COMMANDS = {"train": cmd_train, "finetune": cmd_finetune, "export": cmd_export,
            "parity": cmd_parity, "evaluate": cmd_evaluate, "onnx": cmd_onnx}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return COMMANDS[args.command](args, argv)
    except DmcError as e:
        print(f"dmc {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
