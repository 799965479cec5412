"""Running the C++ engine's command-line tool (build/engine/dmc) from Python.

Only `parity` and the tests need it; training and fine-tuning never do. The
binary is found from, in order: an explicit path (--dmc), the DMC_BIN
environment variable, then build/engine/dmc in the repository this package
sits in (python/../build/engine/dmc).
"""

import json
import os
import subprocess

import numpy as np

from .errors import DmcError

ENV_VAR = "DMC_BIN"
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BINARY = os.path.join(_REPO, "build", "engine", "dmc")


class EngineError(DmcError):
    """The engine binary is missing or refused the job (its message included)."""


def find_engine(option=None):
    path = option or os.environ.get(ENV_VAR) or DEFAULT_BINARY
    source = "--dmc" if option else (ENV_VAR if os.environ.get(ENV_VAR) else "default")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise EngineError(f"engine CLI {path!r} ({source}) not found or not executable: "
                          f"build it with 'cmake --build build' at the repository root, "
                          f"or pass --dmc FILE / set {ENV_VAR}")
    return path


def _run(binary, args, mnist=None, timeout=1800):
    env = dict(os.environ)
    if mnist:
        env["MNIST_DIR"] = mnist
    try:
        result = subprocess.run([binary, *args], capture_output=True, text=True, env=env,
                                timeout=timeout)
    except OSError as e:
        raise EngineError(f"cannot run {binary}: {e.strerror or e}") from None
    if result.returncode != 0:
        message = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise EngineError(f"{os.path.basename(binary)} {args[0]} failed "
                          f"(exit {result.returncode}): "
                          f"{message[-1] if message else 'no message'}")
    return result.stdout


def infer(binary, model_path, out_path, config_path=None, mnist=None, limit=0,
          params_path=None):
    """`dmc infer`: returns (outputs (count, outputs) int8 or float32, info
    dict {count, outputs, dtype, scale, zero_point}, params dict or None)."""
    args = ["infer", "--model", model_path, "-o", out_path]
    if config_path:
        args += ["--config", config_path]
    if mnist:
        args += ["--mnist", mnist]
    if limit:
        args += ["--limit", str(limit)]
    if params_path:
        args += ["--params", params_path]
    stdout = _run(binary, args, mnist)
    try:
        info = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise EngineError(f"dmc infer printed no JSON summary: {stdout[-200:]!r}") from None
    dtype = np.int8 if info["dtype"] == "int8" else np.dtype("<f4")
    outputs = np.fromfile(out_path, dtype=dtype).reshape(info["count"], info["outputs"])
    params = None
    if params_path:
        with open(params_path, "r", encoding="utf-8") as f:
            params = json.load(f)
    return outputs, info, params


def evaluate(binary, model_path, config_path=None, mnist=None):
    """`dmc eval --json`: the engine's report as a dict."""
    args = ["eval", "--model", model_path, "--json"]
    if config_path:
        args += ["--config", config_path]
    if mnist:
        args += ["--mnist", mnist]
    stdout = _run(binary, args, mnist)
    try:
        return json.loads(stdout)
    except ValueError:
        raise EngineError(f"dmc eval --json printed no JSON: {stdout[-200:]!r}") from None
