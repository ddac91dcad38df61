"""Launching the CUDA pooling and unpooling kernels: 5-D device views, cached tables, launch shapes, streams.

Every array argument is a Numba device view (numbaconv._cuda.to_numba) and every check has run.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import _cuda
from ._gpu import device_index_maps


def _words(a):
    """`a` as unsigned integers of its itemsize (same shape and strides): the copy kernels move bits."""
    return _cuda.reinterpret(a, np.dtype(f"u{a.dtype.itemsize}"), tuple(a.shape), tuple(a.strides))


def _index_dtype(limit: int) -> np.dtype:
    return np.dtype(np.int32 if limit < 2 ** 31 else np.int64)


@functools.lru_cache(maxsize=256)
def device_divisors(params, count_include_pad: bool, divisor_override, compute: str):
    """Average pooling's per-dim divisor factors on the device, once per geometry and options."""
    return tuple(_cuda.to_device(d, 0) for d in params.divisors(count_include_pad, divisor_override,
                                                                 np.dtype(compute)))


@functools.lru_cache(maxsize=256)
def device_tables(tables: tuple[tuple[int, ...], ...]):
    """Per-dim source tables (-1 = zero), padded to 3 dims, on the device, once per set of tables."""
    tables = ((0,),) * (3 - len(tables)) + tables
    return tuple(_cuda.to_device(np.array(t, _index_dtype(max(t) + 1)), 0) for t in tables)


def max_pool(params, x, out, indices, compute: np.dtype, stream) -> None:
    """Fill `out` (and `indices` unless None) with the max pooling of `x`."""
    from .kernels import pool_cuda as k

    nd, cl = params.nd, params.channels_last
    want_idx = indices is not None
    idx5 = _cuda.view5(indices, nd, cl) if want_idx else _no_indices()
    md, mh, mw = device_index_maps(params)
    k.max_pool_cuda(compute.name)[_cuda.launch_1d(math.prod(out.shape)) + (stream,)](
        _cuda.view5(x, nd, cl), md, mh, mw, cl, want_idx, _cuda.view5(out, nd, cl), idx5)


@functools.cache
def _no_indices():
    """The kernel's `idx` argument when no indices are wanted (never written)."""
    return _cuda.to_device(np.zeros((1, 1, 1, 1, 1), np.int64), 0)


def avg_pool(params, x, out, count_include_pad: bool, divisor_override, compute: np.dtype, stream) -> None:
    """Fill `out` with the average pooling of `x` (sums in `compute`)."""
    from .kernels import pool_cuda as k

    nd, cl = params.nd, params.channels_last
    md, mh, mw = device_index_maps(params)
    divisors = device_divisors(params, count_include_pad, divisor_override, compute.name)
    k.avg_pool_cuda(compute.name)[_cuda.launch_1d(math.prod(out.shape)) + (stream,)](
        _cuda.view5(x, nd, cl), md, mh, mw, *divisors, cl, _cuda.view5(out, nd, cl))


def gather(x, tables, channels_last: bool, out, stream) -> None:
    """out[..., o, ...] = x[..., table[o], ...] per spatial dim (-1 = zero), any dtype, either layout."""
    from .kernels import unpool_cuda as k

    total = math.prod(out.shape)
    if total == 0:
        return
    nd = len(tables)
    md, mh, mw = device_tables(tuple(tuple(int(i) for i in t) for t in tables))
    k.gather_cuda[_cuda.launch_1d(total) + (stream,)](
        _cuda.view5(_words(x), nd, channels_last), md, mh, mw, channels_last,
        _cuda.view5(_words(out), nd, channels_last))


def first_outside(indices, plane: int, stream):
    """The first C-order position of `indices` (any shape of 1 to 5 dims, any strides) outside [0, plane),
    or None: a device reduction, synchronised, so the caller can raise before any other kernel runs."""
    from .kernels import unpool_cuda as k

    total = math.prod(indices.shape)
    if total == 0:
        return None
    pad = 5 - indices.ndim
    idx5 = _cuda.restride(indices, (1,) * pad + tuple(indices.shape), (0,) * pad + tuple(indices.strides))
    blocks, threads = _cuda.launch_1d(total)
    blocks = min(blocks, 1024)  # the partial results come back to the host
    partial = _cuda.cuda().device_array(blocks, np.int64, stream=stream)
    k.first_outside_cuda(threads)[blocks, threads, stream](idx5, plane, partial)
    first = int(partial.copy_to_host(stream=stream).min())
    stream.synchronize()
    return None if first >= total else tuple(int(i) for i in np.unravel_index(first, tuple(indices.shape)))


def max_unpool(x, indices, channels_last: bool, out, compute: np.dtype, stream) -> None:
    """out = zeros, then the largest x per index of each (n, c) plane; indices already checked."""
    from .kernels import unpool_cuda as k

    nd = x.ndim - 2
    total = math.prod(out.shape)
    x5 = _cuda.view5(x, nd, channels_last)
    win = _cuda.cuda().device_array(tuple(out.shape), _index_dtype(math.prod(x5.shape[2:])), stream=stream)
    win5 = _cuda.view5(win, nd, channels_last)
    k.fill_cuda[_cuda.launch_1d(total) + (stream,)](win5, -1)
    k.max_unpool_scan_cuda(compute.name)[_cuda.launch_1d(x5.shape[0] * x5.shape[1]) + (stream,)](
        x5, _cuda.view5(indices, nd, channels_last), win5)
    k.max_unpool_gather_cuda[_cuda.launch_1d(total) + (stream,)](
        _cuda.view5(_words(x), nd, channels_last), win5, channels_last, _cuda.view5(_words(out), nd, channels_last))
