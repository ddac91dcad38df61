"""Launching the pooling, unpooling and interpolation kernels on both backends: one table of launchers, one `select`.

`select(params, op_kind, backend)` names the kernel, `launch(call, params, kernel, ...)` runs it into the
target array that `Call.run` / `Call.result` hands out (the compute dtype on the CPU, the caller's memory as a
Numba view on CUDA). Every check has run by then. The CPU kernels get 5-D views and index tables cached per
geometry; the CUDA ones get 5-D device views and device tables cached per geometry and device
(`_cuda.device_cache`). numba-cuda is imported only inside the CUDA launchers, through numbaconv._cuda.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from . import _cuda, _gpu
from ._params import interior_range, join_shape, pad3, split_shape
from ._params_pool import GatherParams, InterpolateParams, MaxUnpoolParams, PoolParams

OP_KINDS = ("max", "avg", "gather", "max_unpool", "interpolate")
BACKENDS = ("cpu", "cuda")
CPU_CACHE_SIZE = 128  # geometries whose CPU tables are kept (a few KiB each)
DEVICE_CACHE_SIZE = 256


def select(params, op_kind: str, backend: str) -> str:
    """The kernel (a key of LAUNCHERS with `backend`) for `op_kind` on these params.

    On the CPU pooling and gathers have one kernel per layout (a plane per thread channels-first, a channel
    vector per tap channels-last); the CUDA kernels, max unpooling and interpolation take either layout.
    """
    if op_kind not in OP_KINDS:
        raise ValueError(f"select: op_kind={op_kind!r} is not one of {', '.join(map(repr, OP_KINDS))}")
    if backend not in BACKENDS:
        raise ValueError(f"select: backend={backend!r} is not one of {', '.join(map(repr, BACKENDS))}")
    if backend == "cuda" or op_kind in ("max_unpool", "interpolate"):
        return op_kind
    return f"{op_kind}_{'cl' if params.channels_last else 'cf'}"


def launch(call, params, kernel: str, *args):
    """Run `kernel` of `call`'s backend on `params`: the launchers' arguments follow (target arrays, options)."""
    return LAUNCHERS[kernel, call.backend](call, params, *args)


# ---- CPU: cached tables ----


def frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False  # shared by every call of one geometry
    return a


@functools.lru_cache(maxsize=CPU_CACHE_SIZE)
def cpu_index_maps(params: PoolParams) -> tuple[np.ndarray, ...]:
    """The (out, kernel) input-index tables of a pooling, once per geometry."""
    return tuple(frozen(m) for m in params.index_maps())


@functools.lru_cache(maxsize=CPU_CACHE_SIZE)
def cpu_divisors(params: PoolParams, count_include_pad: bool, divisor_override, compute: str):
    """Average pooling's per-dim divisor factors, once per geometry and options."""
    return tuple(frozen(d) for d in params.divisors(count_include_pad, divisor_override, np.dtype(compute)))


@functools.lru_cache(maxsize=CPU_CACHE_SIZE)
def cpu_tables(tables: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, ...]:
    """A gather's per-dim source tables (-1 = zero) as int64 arrays padded to 3 dims, once per set of tables."""
    return tuple(frozen(np.array(t, np.int64)) for t in ((0,),) * (3 - len(tables)) + tables)


@functools.lru_cache(maxsize=CPU_CACHE_SIZE)
def cpu_interpolation_tables(params: InterpolateParams, compute: str) -> tuple[np.ndarray, ...]:
    """An interpolation's per-dim (index, weight) tables in the compute dtype, once per geometry and dtype."""
    return tuple(frozen(t) for t in params.tables(np.dtype(compute)))


def as5d(a: np.ndarray, channels_last: bool) -> np.ndarray:
    """(N, C, D, H, W) or (N, D, H, W, C) reshape of a C-contiguous array: a view, never a copy."""
    batch, channels, spatial = split_shape(a.shape, channels_last)
    return a.reshape(join_shape(batch, channels, pad3(spatial, 1), channels_last))


def _row_interior(params: PoolParams) -> tuple[int, int, int, int, int]:
    """(w_lo, w_hi, stride, dilation, pad_lo) along W for the channels-first kernels' check-free stretch."""
    s, d, lo = params.stride[-1], params.dilation[-1], params.padding[-1][0]
    w_lo, w_hi = interior_range(params.in_spatial[-1], params.out_spatial[-1], params.kernel[-1], s, d, lo)
    return w_lo, w_hi, s, d, lo


def lowest(dtype: np.dtype) -> np.ndarray:
    low = -np.inf if dtype.kind == "f" else np.iinfo(dtype).min
    return np.array([low], dtype=dtype)


# ---- CPU launchers ----


def indices5(indices, channels_last: bool):
    return as5d(indices, channels_last) if indices is not None else np.empty((1, 1, 0, 0, 0), dtype=np.int64)


def _launch_max(channels_last: bool) -> Callable:
    """The CPU max-pool launcher of one layout (the channels-first kernel also takes the row interior)."""

    def launch(call, params: PoolParams, out: np.ndarray, indices=None) -> None:
        from .kernels import pool as k

        kernel, interior = (k.max_pool_cl, ()) if channels_last else (k.max_pool_cf, _row_interior(params))
        kernel(
            as5d(call.compute_input("x"), channels_last),
            *cpu_index_maps(params),
            *interior,
            lowest(out.dtype),
            indices is not None,
            as5d(out, channels_last),
            indices5(indices, channels_last),
        )

    return launch


def _launch_avg(channels_last: bool) -> Callable:
    """The CPU average-pool launcher of one layout."""

    def launch(call, params: PoolParams, out: np.ndarray, count_include_pad: bool, divisor_override) -> None:
        from .kernels import pool as k

        kernel, interior = (k.avg_pool_cl, ()) if channels_last else (k.avg_pool_cf, _row_interior(params))
        divisors = cpu_divisors(params, count_include_pad, divisor_override, out.dtype.name)
        x5, out5 = as5d(call.compute_input("x"), channels_last), as5d(out, channels_last)
        kernel(x5, *cpu_index_maps(params), *interior, *divisors, out5)

    return launch


def _gather_cf(call, params: GatherParams, out: np.ndarray) -> None:
    """out[n, c, o...] = x[n, c, table[o]...]: elements moved as unsigned words of their size."""
    from .kernels import unpool as k

    md, mh, mw = cpu_tables(params.tables)
    x = call.compute_input("x")
    bits = np.dtype(f"u{x.dtype.itemsize}")
    k.gather_cf(as5d(x, False).view(bits), md, mh, mw, as5d(out, False).view(bits))


def _gather_cl(call, params: GatherParams, out: np.ndarray) -> None:
    """out[n, o..., :] = x[n, table[o]..., :]: each pixel's channels moved as a vector of bytes."""
    from .kernels import unpool as k

    md, mh, mw = cpu_tables(params.tables)
    k.gather_pixels(as5d(call.compute_input("x"), True).view(np.uint8), md, mh, mw, as5d(out, True).view(np.uint8))


def _interpolate_cpu(call, params: InterpolateParams, out: np.ndarray) -> None:
    """out = the interpolation of x: both as (N, C, D, H, W) views (strided for channels-last data)."""
    from .kernels import unpool as k

    cl = params.channels_last

    def view(a):
        a5 = as5d(a, cl)
        return np.moveaxis(a5, -1, 1) if cl else a5

    tables = cpu_interpolation_tables(params, out.dtype.name)
    k.interpolate_cpu(view(call.compute_input("x")), *tables, cl, view(out))


def _launch_max_unpool(call, params: MaxUnpoolParams, out: np.ndarray) -> None:
    from .kernels import unpool as k

    x, indices = call.compute_input("x"), np.ascontiguousarray(call["indices"], np.int64)
    batch, channels, plane = params.batch, params.channels, params.plane
    # Planes as (B, P, C): channels-last is (N, P, C); channels-first is (N * C, P, 1).
    shape_in = (batch, -1, channels) if params.channels_last else (batch * channels, -1, 1)
    shape_out = (batch, plane, channels) if params.channels_last else (batch * channels, plane, 1)
    block = max(1, 64 // x.itemsize)  # one cache line of channels per thread
    k.max_unpool_planes(x.reshape(shape_in), indices.reshape(shape_in), block, out.reshape(shape_out))


def _first_outside_cpu(call, params: MaxUnpoolParams):
    """The first position of the indices outside [0, plane), or None."""
    indices = call["indices"]
    outside = (indices < 0) | (indices >= params.plane)
    return tuple(int(i) for i in np.argwhere(outside)[0]) if outside.any() else None


# ---- CUDA: device tables, cached per geometry and device ----


@_cuda.device_cache(DEVICE_CACHE_SIZE)
def device_index_maps(params: PoolParams):
    """The (out, kernel) index tables of a pooling on the device (copied synchronously)."""
    return tuple(
        _cuda.to_device(m.astype(_gpu.index_dtype(m.max() + 1 if m.size else 0)), 0) for m in cpu_index_maps(params)
    )


@_cuda.device_cache(DEVICE_CACHE_SIZE)
def device_divisors(params: PoolParams, count_include_pad: bool, divisor_override, compute: str):
    """Average pooling's per-dim divisor factors on the device, once per geometry and options."""
    return tuple(_cuda.to_device(d, 0) for d in cpu_divisors(params, count_include_pad, divisor_override, compute))


@_cuda.device_cache(DEVICE_CACHE_SIZE)
def device_tables(tables: tuple[tuple[int, ...], ...]):
    """Per-dim source tables (-1 = zero), padded to 3 dims, on the device, once per set of tables."""
    tables = ((0,),) * (3 - len(tables)) + tables
    return tuple(_cuda.to_device(np.array(t, _gpu.index_dtype(max(t) + 1)), 0) for t in tables)


@_cuda.device_cache(DEVICE_CACHE_SIZE)
def device_interpolation_tables(params: InterpolateParams, compute: str):
    """An interpolation's (index, weight) tables on the device: indices int32 where they fit."""
    return tuple(
        _cuda.to_device(t.astype(_gpu.index_dtype(t.max() + 1)) if t.dtype.kind == "i" else t, 0)
        for t in cpu_interpolation_tables(params, compute)
    )


@_cuda.device_cache(8)
def device_no_indices():
    """The max kernel's `idx` argument when no indices are wanted (never written)."""
    return _cuda.to_device(np.zeros((1, 1, 1, 1, 1), np.int64), 0)


def _words(a):
    """`a` as unsigned integers of its itemsize (same shape and strides): the copy kernels move bits."""
    return _cuda.reinterpret(a, np.dtype(f"u{a.dtype.itemsize}"), tuple(a.shape), tuple(a.strides))


# ---- CUDA launchers ----


def _max_cuda(call, params: PoolParams, out, indices=None) -> None:
    """The max gather; reads x's storage dtype and compares in the compute dtype, so nothing is converted."""
    from .kernels import pool_cuda as k

    nd, cl = params.nd, params.channels_last
    _cuda.check_elements(call.op, x=call["x"], out=out)
    idx5 = _cuda.view5(indices, nd, cl) if indices is not None else device_no_indices()
    md, mh, mw = device_index_maps(params)
    out5 = _cuda.view5(out, nd, cl)
    k.max_pool_cuda(call.compute.name, cl)[_cuda.launch_cells(out5.shape, cl) + (call.stream,)](
        _cuda.view5(call["x"], nd, cl), md, mh, mw, indices is not None, out5, idx5
    )


def _avg_cuda(call, params: PoolParams, out, count_include_pad: bool, divisor_override) -> None:
    """The average gather (sums in the compute dtype)."""
    from .kernels import pool_cuda as k

    nd, cl = params.nd, params.channels_last
    _cuda.check_elements(call.op, x=call["x"], out=out)
    md, mh, mw = device_index_maps(params)
    divisors = device_divisors(params, count_include_pad, divisor_override, call.compute.name)
    out5 = _cuda.view5(out, nd, cl)
    k.avg_pool_cuda(call.compute.name, cl)[_cuda.launch_cells(out5.shape, cl) + (call.stream,)](
        _cuda.view5(call["x"], nd, cl), md, mh, mw, *divisors, out5
    )


def _gather_cuda(call, params: GatherParams, out) -> None:
    """out[..., o, ...] = x[..., table[o], ...] per spatial dim (-1 = zero), any dtype, either layout."""
    from .kernels import unpool_cuda as k

    nd, cl = params.nd, params.channels_last
    _cuda.check_elements(call.op, x=call["x"], out=out)
    md, mh, mw = device_tables(params.tables)
    out5 = _cuda.view5(_words(out), nd, cl)
    k.gather_cuda(cl)[_cuda.launch_cells(out5.shape, cl) + (call.stream,)](
        _cuda.view5(_words(call["x"]), nd, cl), md, mh, mw, out5
    )


def _interpolate_cuda(call, params: InterpolateParams, out) -> None:
    """out = the interpolation of x (read in its storage dtype, summed in the compute dtype), either layout."""
    from .kernels import unpool_cuda as k

    nd, cl = params.nd, params.channels_last
    _cuda.check_elements(call.op, x=call["x"], out=out)
    tables = device_interpolation_tables(params, call.compute.name)
    out5 = _cuda.view5(out, nd, cl)
    k.interpolate_cuda(call.compute.name, cl)[_cuda.launch_cells(out5.shape, cl) + (call.stream,)](
        _cuda.view5(call["x"], nd, cl), *tables, out5
    )


def _first_outside_cuda(call, params: MaxUnpoolParams):
    """The first C-order position of the indices (1 to 5 dims, any strides) outside [0, plane), or None: a
    device reduction, synchronised, so the caller can raise before any other kernel runs."""
    from .kernels import unpool_cuda as k

    indices, stream = call["indices"], call.stream
    _cuda.check_elements(call.op, x=call.x, indices=indices)
    total = math.prod(indices.shape)
    if total == 0:
        return None
    pad = 5 - indices.ndim
    idx5 = _cuda.restride(indices, (1,) * pad + tuple(indices.shape), (0,) * pad + tuple(indices.strides))
    blocks, threads = _cuda.launch_1d(total)
    blocks = min(blocks, 1024)  # the partial results come back to the host
    partial = _cuda.cuda().device_array(blocks, np.int64, stream=stream)
    k.first_outside_cuda(threads)[blocks, threads, stream](idx5, params.plane, partial)
    first = int(partial.copy_to_host(stream=stream).min())
    stream.synchronize()
    return None if first >= total else tuple(int(i) for i in np.unravel_index(first, tuple(indices.shape)))


def _max_unpool_cuda(call, params: MaxUnpoolParams, out) -> None:
    """out = zeros, then the largest x per index of each (n, c) plane: one thread scans a plane into a table
    of winners, which a gather then copies (indices already checked)."""
    from .kernels import unpool_cuda as k

    nd, cl, stream = params.nd, params.channels_last, call.stream
    _cuda.check_elements(call.op, out=out)
    x5 = _cuda.view5(call["x"], nd, cl)
    win = _cuda.cuda().device_array(tuple(out.shape), _gpu.index_dtype(math.prod(x5.shape[2:])), stream=stream)
    win5 = _cuda.view5(win, nd, cl)
    cells = _cuda.launch_cells(win5.shape, cl) + (stream,)
    k.fill_cuda(cl)[cells](win5, -1)
    k.max_unpool_scan_cuda(call.compute.name)[_cuda.launch_1d(x5.shape[0] * x5.shape[1]) + (stream,)](
        x5, _cuda.view5(call["indices"], nd, cl), win5
    )
    k.max_unpool_gather_cuda(cl)[cells](_cuda.view5(_words(call["x"]), nd, cl), win5, _cuda.view5(_words(out), nd, cl))


LAUNCHERS: dict[tuple[str, str], Callable] = {
    ("max_cf", "cpu"): _launch_max(False),
    ("max_cl", "cpu"): _launch_max(True),
    ("max", "cuda"): _max_cuda,
    ("avg_cf", "cpu"): _launch_avg(False),
    ("avg_cl", "cpu"): _launch_avg(True),
    ("avg", "cuda"): _avg_cuda,
    ("gather_cf", "cpu"): _gather_cf,
    ("gather_cl", "cpu"): _gather_cl,
    ("gather", "cuda"): _gather_cuda,
    ("interpolate", "cpu"): _interpolate_cpu,
    ("interpolate", "cuda"): _interpolate_cuda,
    ("max_unpool", "cpu"): _launch_max_unpool,
    ("max_unpool", "cuda"): _max_unpool_cuda,
    # Not selected: max_unpool's index-range check, run (and on CUDA waited for) before anything is written.
    ("first_outside", "cpu"): _first_outside_cpu,
    ("first_outside", "cuda"): _first_outside_cuda,
}
