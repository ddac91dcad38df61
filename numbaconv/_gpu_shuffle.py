"""Launching the CUDA shuffle kernels: unsigned-word views of device arrays, per-group conv launches."""

from __future__ import annotations

import math

import numpy as np

from . import _cuda
from ._params import ConvParams


def _c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def _words(a, shape: tuple[int, ...], strides: tuple[int, ...]):
    """`a`'s elements, laid out by `shape` / byte `strides`, as unsigned words (last axis: words per element).

    The same trick as the CPU path (numbaconv/shuffle.py `_words`): one compiled kernel per word size serves
    every dtype, and the bytes move untouched.
    """
    size = a.dtype.itemsize
    word = next(w for w in (8, 4, 2, 1) if size % w == 0)
    return _cuda.reinterpret(a, np.dtype(f"u{word}"), tuple(shape) + (size // word,), tuple(strides) + (word,))


def _launch(src, dst, stream) -> None:
    from .kernels import shuffle_cuda as k

    k.permute_copy_cuda[_cuda.launch_1d(math.prod(dst.shape[:5])) + (stream,)](src, dst)


def _contiguous(op: str, x, stream):
    """`x` if C-contiguous, else a C-contiguous device copy, so the caller's 5-d reshape is a view.

    The copy reuses the gather kernel on x's axes with neighbours that step through memory as one merged and
    size-1 axes dropped; more than 5 axes left is not supported (a NotImplementedError, before any kernel).
    """
    if _cuda.is_c_contiguous(x):
        return x
    dims = []
    for n, s in zip(x.shape, x.strides):
        if n == 1:
            continue
        if dims and dims[-1][1] == n * s:
            dims[-1] = (dims[-1][0] * n, s)
        else:
            dims.append((n, s))
    if len(dims) > 5:
        raise NotImplementedError(f"{op}: a non-contiguous CUDA input with more than 5 independent strided axes "
                                  f"(shape {tuple(x.shape)}, strides {tuple(x.strides)}) is not supported; "
                                  f"pass a C-contiguous copy")
    dims = [(1, 0)] * (5 - len(dims)) + dims
    shape = tuple(n for n, _ in dims)
    copy = _cuda.allocate(x, tuple(x.shape), x.dtype, stream)
    _launch(_words(x, shape, tuple(s for _, s in dims)), _words(copy, shape, _c_strides(shape, x.dtype.itemsize)),
            stream)
    return copy


def permute_copy(op: str, x, src_shape: tuple[int, ...], axes: tuple[int, ...], out, stream) -> None:
    """out = x viewed as the 5-d `src_shape`, transposed by `axes` (all Numba device views); one gather."""
    if math.prod(out.shape) == 0:
        return
    x = _contiguous(op, x, stream)
    strides = _c_strides(src_shape, x.dtype.itemsize)
    shape = tuple(src_shape[a] for a in axes)
    src = _words(x, shape, tuple(strides[a] for a in axes))
    _launch(src, _words(out, shape, _c_strides(shape, out.dtype.itemsize)), stream)


def shuffle_conv(params: ConvParams, one_group: ConvParams, algorithm: str, x, weight, bias, out,
                 compute: np.dtype, stream) -> None:
    """Fill device array `out` (caller's layout) with the grouped conv, channels already shuffled.

    One launch of the CUDA conv kernels per group, on the group's channel slice of x and the strided view of
    out holding channels gi, gi + groups, ...: the kernels index any strides, so there is no temporary.
    """
    from . import _gpu

    g, c_group, o_group = params.groups, params.in_per_group, params.out_per_group
    if bias is None:
        bias = _cuda.to_device(np.zeros(params.out_channels, compute), stream)
    for gi in range(g):
        cs, os = slice(gi * c_group, (gi + 1) * c_group), slice(gi * o_group, (gi + 1) * o_group)
        if params.channels_last:
            x_g, out_g = x[:, :, :, cs], out[:, :, :, gi::g]
        else:
            x_g, out_g = x[:, cs], out[:, gi::g]
        _gpu.conv(one_group, algorithm, x_g, weight[os], bias[os], out_g, compute, stream)
