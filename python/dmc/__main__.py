"""Command line: `python3 -m dmc <command> ...` (see --help).

Commands:
  train     train a model from scratch on MNIST and write a model file
  evaluate  float test accuracy of a model file on MNIST (PyTorch)
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

DESCRIPTION = "Deep MicroCompression Workbench: train and export small MNIST models."


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
    from .models import MODELS
    from .train import TrainConfig

    parser = argparse.ArgumentParser(prog="python3 -m dmc", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    defaults = TrainConfig()
    p = sub.add_parser("train", help="train a model from scratch and write a model file",
                       description="Train a model from scratch on MNIST, deterministically "
                                   "(same seed and thread count, same file), and write "
                                   "it as a dmc-model JSON file.")
    p.add_argument("--model", choices=sorted(MODELS), default=defaults.model,
                   help=f"network to train (default {defaults.model})")
    add_mnist(p)
    p.add_argument("--out", required=True, metavar="FILE", help="model file to write")
    p.add_argument("--epochs", type=positive_int, default=defaults.epochs,
                   help=f"training epochs (default {defaults.epochs})")
    p.add_argument("--seed", type=int, default=defaults.seed,
                   help=f"random seed (default {defaults.seed})")
    p.add_argument("--batch-size", type=positive_int, default=defaults.batch_size,
                   help=f"mini-batch size (default {defaults.batch_size})")
    p.add_argument("--lr", type=float, default=defaults.lr,
                   help=f"peak learning rate (default {defaults.lr})")
    p.add_argument("--weight-decay", type=float, default=defaults.weight_decay,
                   help=f"weight decay on weights (default {defaults.weight_decay})")
    p.add_argument("--shift", type=non_negative_int, default=defaults.shift,
                   help=f"augmentation: random shifts of up to this many pixels "
                        f"(default {defaults.shift}; 0 disables)")
    add_threads(p)

    p = sub.add_parser("evaluate", help="float test accuracy of a model file",
                       description="Load a model file and print its float (PyTorch) "
                                   "accuracy on the 10,000 MNIST test images.")
    p.add_argument("--model-file", required=True, metavar="FILE", help="model file to read")
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


def cmd_train(args, argv):
    import numpy as np
    import torch

    from .mnist import load_mnist
    from .modelfile import save_model_file
    from .train import TrainConfig, train

    # Fail now rather than after training if the result cannot be written.
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        raise DmcError(f"cannot write {args.out}: folder {folder!r} does not exist")

    config = TrainConfig(model=args.model, epochs=args.epochs, seed=args.seed,
                         batch_size=args.batch_size, lr=args.lr,
                         weight_decay=args.weight_decay, shift=args.shift,
                         threads=args.threads)
    train_data, test_data = load_mnist(args.mnist)
    print(f"training {config.model}: {len(train_data[1])} train / {len(test_data[1])} "
          f"test images, {config.epochs} epochs, seed {config.seed}, "
          f"{config.threads} thread(s)", flush=True)
    start = time.perf_counter()
    model, history = train(config, train_data, test_data,
                           log=lambda line: print(line, flush=True))
    seconds = time.perf_counter() - start
    final = history[-1]
    metadata = {
        "command": "python3 -m dmc " + shlex.join(argv),
        "training": config.as_metadata(),
        "schedule": "SGD, Nesterov momentum, linear warm-up then per-step cosine decay",
        "augmentation": (f"random shifts of up to {config.shift} pixels"
                         if config.shift else "none"),
        "dataset": f"MNIST, {len(train_data[1])} train / {len(test_data[1])} test images",
        "float_test_accuracy": final["test_acc"],
        "float_test_correct": final["test_correct"],
        "final_train_loss": round(final["loss"], 6),
        "training_seconds": round(seconds, 1),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "numpy": np.__version__},
    }
    save_model_file(model, args.out, metadata)
    print(f"wrote {args.out}: float test accuracy {100 * final['test_acc']:.2f}% "
          f"({final['test_correct']}/{len(test_data[1])}), {seconds:.0f}s in all")
    return 0


def cmd_evaluate(args, argv):
    import numpy as np
    import torch

    from .mnist import load_split, normalize, resolve_folder
    from .modelfile import load_model_file
    from .train import evaluate

    torch.set_num_threads(args.threads)
    model = load_model_file(args.model_file)
    images, labels = load_split(resolve_folder(args.mnist), "test")
    x = torch.from_numpy(normalize(images, model.input_spec))
    correct = evaluate(model, x, torch.from_numpy(labels.astype(np.int64)))
    print(f"{args.model_file}: float test accuracy {100 * correct / len(labels):.2f}% "
          f"({correct}/{len(labels)})")
    return 0


def cmd_onnx(args, argv):
    import torch

    from .onnx_export import export_onnx

    torch.set_num_threads(args.threads)
    summary = export_onnx(args.model_file, args.out)
    print(f"wrote {args.out}: {summary}")
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "onnx": cmd_onnx}


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
