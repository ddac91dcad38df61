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

Writes are atomic and merge: :func:`save` reads what the file holds now, adds this process's signatures and
replaces the file in one rename, under an exclusive lock on ``<file>.lock`` (``fcntl``, where the platform has
it), so threads and processes tuning into one file all keep their choices. With the environment variable, a
file that cannot be read or written never fails a call: the problem is reported once as a RuntimeWarning, the
file is left as it is and tuning goes on in memory. :func:`load` and :func:`save` called by hand raise instead.

>>> import numpy as np, numbaconv
>>> from numbaconv import tuning
>>> x = np.ones((1, 8, 16, 16), np.float32); w = np.ones((8, 8, 3, 3), np.float32)
>>> y = numbaconv.conv2d(x, w, padding=1, algorithm="tune")
>>> [entry["algorithm"] in ("plane", "gemm", "winograd", "winograd_f2") for entry in tuning.choices().values()]
[True]
>>> tuning.clear()
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np

__all__ = ["REPEAT", "choices", "clear", "load", "save"]

ENV_FILE = "NUMBACONV_TUNE_FILE"
REPEAT = 2
_FORMAT = "numbaconv-tuning-1"

_lock = threading.Lock()
_file_lock = threading.Lock()  # one writer per process at a time; fcntl orders the processes
_choices: dict[str, dict] = {}
_env_loaded = False
_reported: set[str] = set()


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
        try:
            save(path)
        except (OSError, ValueError) as exc:
            _report_once(path, f"the tuning file {path!r} cannot be written ({exc!r}); tuning goes on in memory")
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
    """Merge every tuned signature into the JSON file `path`: the file's entries stay, this process's win on
    the same signature; the file is replaced atomically. A file there that is not a tuning file is a
    ValueError (it is not overwritten)."""
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    with _file_lock, _locked(path):
        merged = _read(path, "tuning.save") if os.path.exists(path) else {}
        merged.update(choices())
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump({"format": _FORMAT, "choices": merged}, f, indent=1, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """An exclusive advisory lock on `path`.lock for the duration (none where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: threads of this process are still ordered by _file_lock
        yield
        return
    with open(path + ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read(path: str, who: str) -> dict[str, dict]:
    """The entries of the tuning file `path`; ValueError naming the file when it is not one."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{who}: {path!r} is not a numbaconv tuning file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("choices"), dict):
        raise ValueError(f"{who}: {path!r} is not a numbaconv tuning file (format {_FORMAT!r})")
    return {
        key: {"algorithm": str(e["algorithm"]), "seconds": dict(e.get("seconds", {}))}
        for key, e in data["choices"].items()
        if isinstance(e, dict) and "algorithm" in e
    }


def load(path: str | os.PathLike) -> int:
    """Add the signatures saved in `path` (later tuning in this process wins over them); returns how many.

    A file that is not a tuning file (another format, truncated, not JSON) is a ValueError; entries are checked
    when used (an algorithm that does not apply to the call is tuned again)."""
    entries = _read(os.fspath(path), "tuning.load")
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
        try:
            load(path)
        except (OSError, ValueError) as exc:
            message = f"the tuning file {path!r} cannot be read ({exc}); it is left as it is, tuning goes on in memory"
            _report_once(path, message)


def _report_once(path: str, message: str) -> None:
    """Warn of a problem with the tuning file `path`, once per process and file."""
    if path not in _reported:
        _reported.add(path)
        warnings.warn(f"numbaconv: {message}", RuntimeWarning, stacklevel=3)
