"""The one place kernels get their Numba options.

`NUMBACONV_CACHE=1` turns on Numba's on-disk cache; `NUMBACONV_SERIAL=1` compiles every kernel without
`parallel=True` (prange becomes range), which the bounds-check CI job needs: Numba ignores
`NUMBA_BOUNDSCHECK=1` inside prange.
"""

import os

from numba import njit

# Not fastmath=True: that adds nnan/ninf, and max-pooling must propagate NaN.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
PARALLEL = os.environ.get("NUMBACONV_SERIAL", "0") != "1"
CACHE = os.environ.get("NUMBACONV_CACHE", "0") == "1"


def kernel(fn):
    """A top-level CPU kernel: parallel over its outputs, compiled on first call."""
    return njit(parallel=PARALLEL, fastmath=FASTMATH, cache=CACHE, nogil=True)(fn)


def serial_kernel(fn):
    """A CPU kernel with no parallel loop (cheap, or called inside another kernel's parallel loop)."""
    return njit(fastmath=FASTMATH, cache=CACHE, nogil=True)(fn)


def inline(fn):
    """A helper inlined into the kernels that call it."""
    return njit(inline="always", fastmath=FASTMATH, cache=CACHE)(fn)
