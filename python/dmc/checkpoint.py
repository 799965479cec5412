"""PyTorch checkpoints: what a training run leaves behind besides the model
file, and what `export` turns into a model file.

A dmc checkpoint is a torch.save()d dict that carries the architecture with
the weights, so that it can be exported without knowing which code made it:

    {"format": "dmc-checkpoint", "version": 1, "state_dict": {...},
     "spec": '{"name": ..., "task": ..., "dataset": ..., "input": {...},
               "layers": [layer specs], "metadata": {...}}'}

The spec is a JSON string because checkpoints are read with
torch.load(weights_only=True), which never runs code from the file but, in
torch 1.13, refuses pickled floats.

Weights are in PyTorch's layouts (OIHW, CHW flatten); modelfile.py converts
them. A network from someone's own training loop comes in as a TorchScript
module (torch.jit.save) with the architecture named (--model): its weights
are loaded into that architecture, and both are run on the same inputs, so
a module that fits the names and shapes but computes something else (a
Caffe LeNet-5 without ReLUs after its convolutions) is refused. A plain
state_dict is refused: it holds weights, not what the network computes.
"""

import json
import os

import torch

from .errors import DmcError, ModelSpecError
from .models import DmcNet, build_model

FORMAT = "dmc-checkpoint"
VERSION = 1


def save_checkpoint(model, path, metadata=None):
    """Write `model` (a DmcNet) with its specs; atomically."""
    spec = {"name": model.model_name, "task": model.task, "dataset": model.dataset,
            "input": dict(model.input_spec), "layers": [dict(s) for s in model.layer_specs],
            "metadata": metadata or {}}
    payload = {
        "format": FORMAT, "version": VERSION, "spec": json.dumps(spec),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    }
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise DmcError(f"{path}: cannot write: {e.strerror or e}") from None


def _load(path):
    try:
        # weights_only: a checkpoint is data; never run code from a pickle.
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a bad file
        raise DmcError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else 'no detail'})") from None


def _load_script(path):
    """The TorchScript module in `path`, or None when it holds none."""
    try:
        return torch.jit.load(path, map_location="cpu")
    except Exception:  # not TorchScript: a pickle, or not PyTorch at all
        return None


def _require_same_outputs(script, model, path, count=64):
    """Run the module and the named architecture (holding its weights) on
    the same seeded inputs; refuse when they disagree."""
    spec = model.input_spec
    shape = (count, spec["channels"], spec["height"], spec["width"])
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        try:
            theirs = script.eval()(x)
        except Exception as e:
            raise DmcError(f"{path}: the module does not run on a {tuple(shape[1:])} input "
                           f"({type(e).__name__})") from None
        ours = model.eval()(x)
    if not isinstance(theirs, torch.Tensor) or tuple(theirs.shape) != tuple(ours.shape):
        raise DmcError(f"{path}: the module's output is not {tuple(ours.shape)}, as model "
                       f"{model.model_name!r} gives")
    difference = float((theirs - ours).abs().max())
    if not difference <= 1e-4 * (1.0 + float(ours.abs().max())):
        raise DmcError(f"{path}: fits model {model.model_name!r} by names and shapes but "
                       f"computes something else (outputs differ by up to {difference:.4g} on {count} "
                       f"inputs): a layer without parameters, such as a ReLU, differs. "
                       f"Export it with torch.onnx.export and use dmc import instead")


def load_checkpoint(path, model_name=None):
    """A DmcNet with the checkpoint's weights, and its metadata.

    `model_name` (a name from models.MODELS) is needed for a plain
    state_dict and, for a dmc checkpoint, must match it if given.
    """
    if not os.path.isfile(path):
        raise DmcError(f"{path}: no such checkpoint file")
    script = _load_script(path)
    data = script.state_dict() if script is not None else _load(path)
    metadata = {}
    if script is None and isinstance(data, dict) and data.get("format") == FORMAT:
        if data.get("version") != VERSION:
            raise DmcError(f"{path}: checkpoint version {data.get('version')!r} is not "
                           f"supported (this reader knows {VERSION})")
        try:
            spec = json.loads(data["spec"])
            if model_name and model_name != spec.get("name"):
                raise DmcError(f"{path}: holds model {spec.get('name')!r}, not {model_name!r}")
            model = DmcNet(spec["name"], spec["input"], spec["layers"],
                           task=spec.get("task", "classification"), dataset=spec.get("dataset"))
        except (KeyError, TypeError, ValueError, AttributeError, ModelSpecError) as e:
            raise DmcError(f"{path}: bad architecture in checkpoint: {e}") from None
        state = data.get("state_dict")
        metadata = spec.get("metadata") or {}
    elif script is None:
        raise DmcError(f"{path}: a plain state_dict holds weights, not what the network "
                       f"computes (a layer without parameters, such as a ReLU, leaves no "
                       f"trace in it), so it could fit an architecture and compute something "
                       f"else. Save the module: torch.jit.save(torch.jit.trace(model, "
                       f"example_input), FILE) and export that with --model, or "
                       f"torch.onnx.export it and use dmc import")
    else:
        if not model_name:
            raise DmcError(f"{path}: a TorchScript module does not say which architecture it "
                           f"is; name it with --model")
        try:
            model = build_model(model_name)
        except ModelSpecError as e:
            raise DmcError(str(e)) from None
        state = data
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DmcError(f"{path}: no state_dict of tensors in the checkpoint")
    # DistributedDataParallel and nn.DataParallel prefix every key.
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise DmcError(f"{path}: does not fit model {model.model_name!r}: "
                       + "; ".join(part for part in (
                           f"missing {', '.join(missing)}" if missing else "",
                           f"unexpected {', '.join(unexpected)}" if unexpected else "") if part))
    for key, value in expected.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise DmcError(f"{path}: {key} has shape {tuple(state[key].shape)}, model "
                           f"{model.model_name!r} needs {tuple(value.shape)}")
    with torch.no_grad():
        for key, value in expected.items():
            value.copy_(state[key].to(value.dtype))
    if script is not None:
        _require_same_outputs(script, model, path)
    return model, metadata
