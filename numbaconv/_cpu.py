"""What every CPU launcher shares: 5-D views, per-thread workspaces, the activation constants, row-task sizes
and the index tables, cached per geometry. Imports Numba only when first used."""

from __future__ import annotations

import functools
import math
import threading
from typing import cast

import numpy as np

# Upper bound on the im2col / GEMM-result workspace of the dense path, per tile of output rows.
WORKSPACE_BYTES = 8 << 20


_workspaces = threading.local()


def workspace(name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A scratch array kept per thread between calls (at most WORKSPACE_BYTES-sized for im2col tiles).

    A fresh multi-megabyte np.empty on every call is mapped from the OS and page-faults on first touch, which
    cost about 1.5 ms of an 11 ms ResNet 3x3 conv (measured); reusing the pages removes that.
    """
    key = (name, np.dtype(dtype).str)
    # The thread's own attribute dict, keyed by (name, dtype) tuples (typeshed types every __dict__ as str-keyed).
    cache = cast("dict[tuple[str, str], np.ndarray]", _workspaces.__dict__)
    need = math.prod(shape)
    buf = cache.get(key)
    if buf is None or buf.size < need:
        buf = cache[key] = np.empty(need, dtype=dtype)
    return buf[:need].reshape(shape)


def to5d(a: np.ndarray, nd: int, channels_last: bool) -> np.ndarray:
    """View of an (N, C, *spatial) or (N, *spatial, C) array as (N, C, D, H, W); never a copy."""
    if channels_last:
        a = np.moveaxis(a, -1, 1)
    return a[(slice(None), slice(None)) + (None,) * (3 - nd)]


def activation_consts(params, dtype: np.dtype) -> np.ndarray:
    """(negative_slope, 0, 1, 6) in the compute dtype, as kernels/_epilogue.py expects."""
    return np.array([params.negative_slope, 0, 1, 6], dtype=dtype)


def row_chunk(rows: int) -> int:
    """Output rows per parallel task of the row kernels: about 8 tasks per thread, at most 256 rows each."""
    import numba

    return min(rows // (8 * numba.get_num_threads()) + 1, 256)


@functools.lru_cache(maxsize=256)
def index_maps(params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`params.index_maps()` (any params object with that method), built once per geometry: the tables cost more
    than a small kernel (kernels only read them). At most 256 geometries are kept."""
    return params.index_maps()


def skewed_rows(rows: int, cols: int, dtype, name: str | None = None) -> np.ndarray:
    """A C-contiguous (rows, stride) array, stride >= cols, whose rows start 64 bytes past a multiple of 4 KiB
    from each other (a workspace when `name` is given). Kernels that stream through many rows at once (the
    Winograd transforms: 9 to 36) need it: with row sizes a multiple of 4 KiB, as most CNN shapes give, every
    stream fell in the same L1 set and the transforms ran 3x (input) to 50x (weights) slower (measured)."""
    itemsize = np.dtype(dtype).itemsize
    stride = cols + 64 // itemsize
    stride += (-stride * itemsize) % 4096 // itemsize + 64 // itemsize
    return workspace(name, (rows, stride), dtype) if name else np.empty((rows, stride), dtype)
