"""The one place kernels get their Numba options, their on-disk cache and their rules under threads and fork.

Options. Numba's on-disk cache is on (`NUMBACONV_CACHE=0` turns it off); `NUMBACONV_SERIAL=1` compiles every
kernel without `parallel=True` (prange becomes range), which the bounds-check CI job needs: Numba ignores
`NUMBA_BOUNDSCHECK=1` inside prange.

Cache. Every kernel's cache is Numba's own per-function cache (its folder rules: next to the kernel sources
when writable, else `NUMBA_CACHE_DIR` or the user's cache folder) with two changes (`_SafeCache`). Each entry's
key also holds the parallel flag, the bounds-check flag, numbaconv's version and a hash of every kernel source
file, so a serial process never loads a kernel a parallel one cached (or the reverse), a bounds-checked one
never an unchecked one, and an edit to any kernel module (Numba keys by the kernel's own file only, not by the
helpers inlined into it) compiles afresh. And no cache problem reaches a call: a truncated or garbled index or
data file is deleted and the kernel compiled again (the next save repairs the cache); a cache folder that
cannot be made or written leaves the kernel compiled in memory. Each kind of problem is logged once per
process, at debug level, on the "numbaconv" logger.

Threads and fork. Numba's threading layers differ (numba.readthedocs.io, "The Threading Layers"): `tbb` is safe
under threads and fork; `omp` (GNU OpenMP) is safe under threads but a forked child of a process that ran a
parallel region is terminated when it starts one; `workqueue` is fork-safe but aborts the process when two
threads launch parallel regions at once. So every parallel kernel is a `ParallelKernel`, which
- takes a process-wide lock around each launch unless the layer Numba loaded is thread-safe (`tbb`, `omp`); the
  lock is also held for the first launch, before the layer is known;
- in a child forked from a process whose layer is not fork-safe (`omp`) and that has launched a parallel kernel,
  runs a serial twin of the kernel (compiled on first use in the child, cached like any kernel).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import threading
from importlib import metadata
from pathlib import Path

import numba
from numba import njit
from numba.core.caching import FunctionCache

# Not fastmath=True: that adds nnan/ninf, and max-pooling must propagate NaN.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
PARALLEL = os.environ.get("NUMBACONV_SERIAL", "0") != "1"
CACHE = os.environ.get("NUMBACONV_CACHE", "1") != "0"

THREAD_SAFE_LAYERS = frozenset({"tbb", "omp"})
FORK_SAFE_LAYERS = frozenset({"tbb", "workqueue"})

_reported: set[str] = set()
log = logging.getLogger("numbaconv")


def _report_once(kind: str, message: str) -> None:
    if kind not in _reported:
        _reported.add(kind)
        log.debug("numbaconv: %s", message)


@functools.cache
def source_key() -> tuple[str, str]:
    """(numbaconv's version, a hash of every kernel source file): part of every cache entry's key."""
    try:
        version = metadata.version("numbaconv")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        version = "unknown"
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return version, digest.hexdigest()[:16]


class _SafeCache(FunctionCache):
    """Numba's function cache keyed also by the parallel flag, turning every failure into a recompile."""

    def __init__(self, py_func, parallel: bool):
        super().__init__(py_func)
        self._parallel = parallel

    def _index_key(self, sig, codegen):
        flags = ("parallel", self._parallel, "boundscheck", bool(numba.config.BOUNDSCHECK))
        return (*super()._index_key(sig, codegen), flags, source_key())

    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception as exc:  # truncated (EOFError), garbled (UnpicklingError, ValueError, ...) files
            self._forget(exc)
            return None

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
        except OSError as exc:  # a folder or file that cannot be written
            where = self._cache_path
            _report_once("save", f"the kernel cache in {where!r} cannot be written ({exc!r}); compiling in memory")
        except Exception as exc:  # a corrupt index fails the save too: drop it and save into a fresh one
            self._forget(exc)
            with contextlib.suppress(Exception):
                super().save_overload(sig, data)

    def _forget(self, exc: Exception) -> None:
        """Delete this function's index (its data files are then unreachable and get overwritten)."""
        with contextlib.suppress(OSError):
            os.unlink(self._cache_file._index_path)
        where = self._cache_path
        _report_once("load", f"a corrupt kernel cache entry in {where!r} ({exc!r}) was deleted; compiling again")


def _dispatcher(fn, **options):
    """An njit dispatcher of `fn` with `options`, on `_SafeCache` when the cache is on."""
    dispatcher = njit(fastmath=FASTMATH, **options)(fn)
    if CACHE:
        try:
            dispatcher._cache = _SafeCache(dispatcher.py_func, options.get("parallel", False))
        except Exception as exc:  # no cache folder can be made for this function
            _report_once("locate", f"no kernel cache folder is usable ({exc!r}); kernels are compiled in memory")
    return dispatcher


class _Launch:
    """What a parallel launch needs to know of this process: the threading layer, the lock, the fork state."""

    layer: str | None = None  # the layer Numba loaded, known after the first parallel launch
    lock = threading.Lock()
    serial = not PARALLEL  # True: run the serial twins (serial build, or a child forked from a fork-unsafe layer)

    @classmethod
    def after_fork_in_child(cls) -> None:
        cls.lock = threading.Lock()  # a parent thread may have held it at the fork: it would never be released here
        if cls.layer is not None and cls.layer not in FORK_SAFE_LAYERS:
            cls.serial = True


os.register_at_fork(after_in_child=_Launch.after_fork_in_child)


class ParallelKernel:
    """A parallel CPU kernel, called like the function it wraps (see the module docstring for the rules)."""

    def __init__(self, fn):
        functools.update_wrapper(self, fn)
        self.parallel = _dispatcher(fn, parallel=PARALLEL, nogil=True)
        self._serial = None if PARALLEL else self.parallel

    @property
    def serial(self):
        if self._serial is None:
            self._serial = _dispatcher(self.__wrapped__, nogil=True)
        return self._serial

    def __call__(self, *args, **kwargs):
        if _Launch.serial:
            return self.serial(*args, **kwargs)
        if _Launch.layer in THREAD_SAFE_LAYERS:
            return self.parallel(*args, **kwargs)
        with _Launch.lock:
            result = self.parallel(*args, **kwargs)
            if _Launch.layer is None:
                _Launch.layer = _loaded_layer()
        return result


def _loaded_layer() -> str | None:
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        return None


def kernel(fn):
    """A top-level CPU kernel: parallel over its outputs, compiled on first call, called from Python only."""
    return ParallelKernel(fn)


def serial_kernel(fn):
    """A CPU kernel with no parallel loop (cheap, or called inside another kernel's parallel loop)."""
    return _dispatcher(fn, nogil=True)


def inline(fn):
    """A helper inlined into the kernels that call it."""
    return _dispatcher(fn, inline="always")
