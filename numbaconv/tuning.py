"""Opt-in autotuning of the convolution algorithm.

``algorithm="tune"`` on any function of the convolution family (``conv1d/2d/3d``, ``depthwise_conv2d``,
``pointwise_conv2d``, ``shuffle_conv2d``) times every algorithm that applies to the call (each as the
concrete kernel it runs: "plane", "row", "gemm", "winograd", ...; see ``numbaconv._algorithms.kernel_for``), on
the call's own arrays, the first time a call signature is seen: the full geometry (shapes, stride,
padding, dilation, groups, padding mode, flip, activation, layout), the compute dtype and the backend. The
fastest is remembered in memory for the rest of the process and used for every later call with that signature.
Each candidate runs once to compile and warm up, then ``REPEAT`` timed runs, of which the fastest counts.

Tuning results are plain data: :func:`choices` returns them, :func:`save` and :func:`load` keep them in a JSON
file, and with the environment variable ``NUMBACONV_TUNE_FILE`` set they are loaded from that file on first use
and written back after each new signature is tuned.

>>> import numpy as np, numbaconv
>>> from numbaconv import tuning
>>> x = np.ones((1, 8, 16, 16), np.float32); w = np.ones((8, 8, 3, 3), np.float32)
>>> y = numbaconv.conv2d(x, w, padding=1, algorithm="tune")
>>> [entry["algorithm"] in ("plane", "gemm", "winograd", "winograd_f2") for entry in tuning.choices().values()]
[True]
>>> tuning.clear()
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["REPEAT", "choices", "clear", "load", "save"]

ENV_FILE = "NUMBACONV_TUNE_FILE"
REPEAT = 2
_FORMAT = "numbaconv-tuning-1"

_lock = threading.Lock()
_choices: dict[str, dict] = {}
_env_loaded = False


def signature(params, compute, backend: str) -> str:
    """The key of a call: backend, compute dtype and the frozen params' repr (every geometry field)."""
    return f"{backend}|{np.dtype(compute).name}|{params!r}"


def tune(params, compute, backend: str, candidates: Sequence[str], run: Callable[[str], object]) -> str:
    """The algorithm for a call: `choose` under the call's signature, waiting for the device on CUDA."""
    return choose(
        signature(params, compute, backend), candidates, run, _device_sync if backend == "cuda" else lambda: None
    )


def _device_sync() -> None:
    from . import _cuda

    _cuda.cuda().synchronize()


def choose(
    key: str,
    candidates: Sequence[str],
    run: Callable[[str], object],
    sync: Callable[[], object] = lambda: None,
    timer: Callable[[], float] = time.perf_counter,
) -> str:
    """The remembered algorithm for `key` if it is one of `candidates`; else time each candidate (`run(name)`
    runs it, `sync()` waits for it to finish) and remember the fastest."""
    _load_env_once()
    with _lock:
        entry = _choices.get(key)
    if entry is not None and entry["algorithm"] in candidates:
        return entry["algorithm"]
    seconds = {}
    for name in candidates:
        run(name)  # compiles and warms up
        sync()
        best = float("inf")
        for _ in range(REPEAT):
            start = timer()
            run(name)
            sync()
            best = min(best, timer() - start)
        seconds[name] = best
    winner = min(seconds, key=seconds.__getitem__)
    with _lock:
        _choices[key] = {"algorithm": winner, "seconds": seconds}
    path = os.environ.get(ENV_FILE)
    if path:
        save(path)
    return winner


def choices() -> dict[str, dict]:
    """Every tuned signature: ``{key: {"algorithm": name, "seconds": {candidate: best time}}}`` (a copy)."""
    _load_env_once()
    with _lock:
        return {key: {"algorithm": e["algorithm"], "seconds": dict(e["seconds"])} for key, e in _choices.items()}


def clear() -> None:
    """Forget every tuned signature (in memory; files are left alone)."""
    with _lock:
        _choices.clear()


def save(path: str | os.PathLike) -> None:
    """Write every tuned signature to the JSON file `path` (replaced atomically)."""
    data = {"format": _FORMAT, "choices": choices()}
    tmp = f"{os.fspath(path)}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def load(path: str | os.PathLike) -> int:
    """Add the signatures saved in `path` (later tuning in this process wins over them); returns how many.

    A file of another format is a ValueError; entries are checked when used (an algorithm that does not apply
    to the call is tuned again)."""
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("choices"), dict):
        raise ValueError(f"tuning.load: {os.fspath(path)!r} is not a numbaconv tuning file (format {_FORMAT!r})")
    entries = {
        key: {"algorithm": str(e["algorithm"]), "seconds": dict(e.get("seconds", {}))}
        for key, e in data["choices"].items()
        if isinstance(e, dict) and "algorithm" in e
    }
    with _lock:
        for key, entry in entries.items():
            _choices.setdefault(key, entry)
    return len(entries)


def _load_env_once() -> None:
    global _env_loaded
    if _env_loaded:
        return
    _env_loaded = True
    path = os.environ.get(ENV_FILE)
    if path and os.path.exists(path):
        load(path)
