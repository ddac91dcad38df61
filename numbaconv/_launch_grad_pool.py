"""Launching the gradients of pooling, unpooling and interpolation on both backends.

Every one of these forwards but max pooling and max unpooling is a separable linear gather: along each spatial dim
output o reads inputs index[o, t] with weights weight[o, t] (pooling windows with 1 / the divisor, unpooling and
nearest cells with 1, interpolation taps with their weights). Its gradient w.r.t. the input is the transposed
gather: input i sums the outputs o that read it, each with its summed weight. `transposed` builds those (in, J)
tables on the host, once per geometry (ascending outputs, -1 after the last), and the interpolation kernels
(kernels/unpool.py, kernels/unpool_cuda.py) run them as they are: each input element written once, deterministic,
no atomics. Max pooling's gradient walks the same tables of the outputs covering each input and adds those whose
saved index names it (kernels/grad_pool.py, kernels/grad_pool_cuda.py); max unpooling's reads grad_output at
the indices. Every check has run before `launch`; the index checks (`strays`, and max unpooling's range) run
here, and on CUDA are waited for, before any gradient kernel starts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from . import _cuda, _gpu
from ._launch_pool import CPU_CACHE_SIZE, DEVICE_CACHE_SIZE, as5d, cpu_index_maps, device_index_maps, frozen
from ._params import pad3
from ._params_pool import GatherParams, InterpolateParams

KINDS = ("max", "linear", "max_unpool")


def launch(call, params, kind: str, out, options: tuple = ()) -> None:
    """Fill `out` (the gradient w.r.t. the forward's input) with the `kind` gradient of `params`; `options` are
    average pooling's ("avg", count_include_pad, divisor_override)."""
    LAUNCHERS[kind, call.backend](call, params, options, out)


# ---- tables ----


def forward_taps(params, options: tuple, dtype) -> list[tuple[np.ndarray, np.ndarray]]:
    """The forward's per-dim (index, weight) tables, each (out, taps) (index -1 = a zero), padded to 3 dims."""
    dtype = np.dtype(dtype)
    if isinstance(params, InterpolateParams):
        tables = params.tables(dtype)
        return list(zip(tables[0::2], tables[1::2], strict=True))
    if isinstance(params, GatherParams):
        maps = [np.array(t, np.int64)[:, None] for t in pad3(params.tables, (0,))]
        return [(m, np.ones(m.shape, dtype)) for m in maps]
    maps = params.index_maps()  # pooling: PoolParams or AdaptivePoolParams
    if options[:1] != ("avg",):
        return [(m, np.ones(m.shape, dtype)) for m in maps]
    divisors = params.divisors(*options[1:], dtype)
    return [(m, np.broadcast_to((dtype.type(1) / d)[:, None], m.shape)) for m, d in zip(maps, divisors, strict=True)]


def transposed(index: np.ndarray, weight: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The (size, J) tables of the transposed gather of one dim: row i lists the outputs o that read input i,
    ascending (-1 after the last; J is the most of any input, at least 1), and the sum of their weights for i
    (an output can read one input through two taps: clamped borders)."""
    outs, taps = index.shape
    read = index.ravel()
    keep = read >= 0
    keys, inverse = np.unique(read[keep] * outs + np.repeat(np.arange(outs), taps)[keep], return_inverse=True)
    summed = np.bincount(inverse.ravel(), weights=weight.ravel()[keep].astype(np.float64), minlength=keys.size)
    rows, cols = keys // outs, keys % outs
    counts = np.bincount(rows, minlength=size)
    slot = np.arange(keys.size) - np.repeat(np.cumsum(counts) - counts, counts)
    table = np.full((size, max(int(counts.max(initial=0)), 1)), -1, np.int64)
    weights = np.zeros(table.shape, weight.dtype)
    table[rows, slot], weights[rows, slot] = cols, summed
    return table, weights


@functools.lru_cache(maxsize=CPU_CACHE_SIZE)
def cpu_transposed(params, options: tuple, compute: str) -> tuple[np.ndarray, ...]:
    """(td, wd, th, wh, tw, ww): the transposed tables of `params`' forward, once per geometry, options and dtype."""
    sizes = pad3(params.in_spatial, 1)
    pairs = [transposed(m, w, n) for (m, w), n in zip(forward_taps(params, options, compute), sizes, strict=True)]
    return tuple(frozen(a) for pair in pairs for a in pair)


@_cuda.device_cache(DEVICE_CACHE_SIZE)
def device_transposed(params, options: tuple, compute: str):
    """`cpu_transposed` on the device, output indices int32 where they fit."""
    return tuple(
        _cuda.to_device(t.astype(_gpu.index_dtype(t.max() + 1)) if t.dtype.kind == "i" else t, 0)
        for t in cpu_transposed(params, options, compute)
    )


def _planes(a: np.ndarray, channels_last: bool) -> np.ndarray:
    """A C-contiguous (N, C, *spatial) or (N, *spatial, C) host array as an (N, C, D, H, W) view."""
    a5 = as5d(a, channels_last)
    return np.moveaxis(a5, -1, 1) if channels_last else a5


def _host_indices(call, channels_last: bool) -> np.ndarray:
    return _planes(np.ascontiguousarray(call["indices"], np.int64), channels_last)


# ---- the check of max pooling's indices ----


def strays(call, params) -> np.ndarray:
    """(N, C) int64: per plane, the first flat output position (C order) whose index is not a tap of its window
    (-1 where none). On CUDA a kernel, waited for."""
    in_h, in_w = pad3(params.in_spatial, 1)[1:]
    plane = int(np.prod(params.in_spatial))
    cl = params.channels_last
    if not call.is_cuda:
        from .kernels import grad_pool as k

        idx5 = _host_indices(call, cl)
        firsts = np.empty(idx5.shape[:2], np.int64)
        k.first_stray_cpu(idx5, *cpu_index_maps(params), in_h, in_w, plane, firsts)
        return firsts
    from .kernels import grad_pool_cuda as k

    stream = call.stream
    _cuda.check_elements(call.op, indices=call["indices"])
    idx5 = _cuda.view5(call["indices"], params.nd, cl)
    firsts = _cuda.cuda().device_array(tuple(idx5.shape[:2]), np.int64, stream=stream)
    blocks, threads = _cuda.launch_1d(idx5.shape[0] * idx5.shape[1])
    k.first_stray_cuda[blocks, threads, stream](idx5, *device_index_maps(params), in_h, in_w, plane, firsts)
    host = firsts.copy_to_host(stream=stream)
    stream.synchronize()
    return host


# ---- CPU ----


def _max_cpu(call, params, options, out: np.ndarray) -> None:
    from .kernels import grad_pool as k

    cl = params.channels_last
    td, _, th, _, tw, _ = cpu_transposed(params, ("max",), out.dtype.name)
    g5 = _planes(call.compute_input("grad_output"), cl)
    k.max_pool_grad_cpu(g5, _host_indices(call, cl), td, th, tw, cl, _planes(out, cl))


def _linear_cpu(call, params, options, out: np.ndarray) -> None:
    from .kernels import unpool as k

    cl = params.channels_last
    tables = cpu_transposed(params, options, out.dtype.name)
    k.interpolate_cpu(_planes(call.compute_input("grad_output"), cl), *tables, cl, _planes(out, cl))


def _max_unpool_cpu(call, params, options, out: np.ndarray) -> None:
    from .kernels import grad_pool as k

    cl = params.channels_last
    g5 = _planes(call.compute_input("grad_output"), cl)
    k.max_unpool_grad_cpu(g5, _host_indices(call, cl), cl, _planes(out, cl))


# ---- CUDA ----


def _views(call, params, out):
    """(grad_output, out) as 5-D device views, their sizes checked for the kernels' 32-bit coordinates."""
    _cuda.check_elements(call.op, grad_output=call["grad_output"], out=out)
    nd, cl = params.nd, params.channels_last
    return _cuda.view5(call["grad_output"], nd, cl), _cuda.view5(out, nd, cl)


def _max_cuda(call, params, options, out) -> None:
    from .kernels import grad_pool_cuda as k

    cl = params.channels_last
    g5, out5 = _views(call, params, out)
    td, _, th, _, tw, _ = device_transposed(params, ("max",), call.compute.name)
    idx5 = _cuda.view5(call["indices"], params.nd, cl)
    k.max_pool_grad_cuda(call.compute.name, cl)[_cuda.launch_cells(out5.shape, cl) + (call.stream,)](
        g5, idx5, td, th, tw, out5
    )


def _linear_cuda(call, params, options, out) -> None:
    from .kernels import unpool_cuda as k

    cl = params.channels_last
    g5, out5 = _views(call, params, out)
    tables = device_transposed(params, options, call.compute.name)
    k.interpolate_cuda(call.compute.name, cl)[_cuda.launch_cells(out5.shape, cl) + (call.stream,)](g5, *tables, out5)


def _max_unpool_cuda(call, params, options, out) -> None:
    from .kernels import grad_pool_cuda as k

    cl = params.channels_last
    g5, out5 = _views(call, params, out)
    idx5 = _cuda.view5(call["indices"], params.nd, cl)
    k.max_unpool_grad_cuda(cl)[_cuda.launch_cells(out5.shape, cl) + (call.stream,)](g5, idx5, out5)


LAUNCHERS: dict[tuple[str, str], Callable] = {
    ("max", "cpu"): _max_cpu,
    ("max", "cuda"): _max_cuda,
    ("linear", "cpu"): _linear_cpu,
    ("linear", "cuda"): _linear_cuda,
    ("max_unpool", "cpu"): _max_unpool_cpu,
    ("max_unpool", "cuda"): _max_unpool_cuda,
}
