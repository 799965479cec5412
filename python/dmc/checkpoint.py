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
them. A plain state_dict (say, from someone's own training loop) is accepted
too when the caller names the architecture (--model), and so are the
"module."-prefixed keys that DistributedDataParallel's state_dict has.
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
    if not os.path.isfile(path):
        raise DmcError(f"{path}: no such checkpoint file")
    try:
        # weights_only: a checkpoint is data; never run code from a pickle.
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a bad file
        raise DmcError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else 'no detail'})") from None


def load_checkpoint(path, model_name=None):
    """A DmcNet with the checkpoint's weights, and its metadata.

    `model_name` (a name from models.MODELS) is needed for a plain
    state_dict and, for a dmc checkpoint, must match it if given.
    """
    data = _load(path)
    metadata = {}
    if isinstance(data, dict) and data.get("format") == FORMAT:
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
    else:
        if not model_name:
            raise DmcError(f"{path}: a plain state_dict does not say its architecture; "
                           f"name it with --model")
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
    return model, metadata
