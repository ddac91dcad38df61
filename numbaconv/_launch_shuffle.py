"""The shuffle launchers, CPU and CUDA, in one table keyed by (kernel, backend): a permuted copy of a 5-d view of
the input, moved as unsigned words (one compiled kernel per word size serves every dtype, bits untouched)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from . import _cuda

# ---- CPU ----


def _words(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """C-contiguous `a` seen as `shape` + (words per element,) unsigned ints holding its bytes.

    Moving bytes instead of typed values gives one compiled kernel per word size for every dtype (float16,
    complex, structured, non-native byte order included) and copies NaN payloads bit for bit.
    """
    size = a.dtype.itemsize
    word = next(w for w in (8, 4, 2, 1) if size % w == 0)
    return a.reshape(-1).view(f"u{word}").reshape(*shape, size // word)


def _permute_copy(call, x: np.ndarray, src_shape: tuple[int, ...], axes: tuple[int, ...], out: np.ndarray) -> None:
    """out = x viewed as the 5-d `src_shape`, transposed by `axes`; one parallel gather, no temporary."""
    from .kernels import shuffle as k

    src = _words(np.ascontiguousarray(x), src_shape).transpose(*axes, 5)
    dst = _words(out, src.shape[:5])
    if src.flags.c_contiguous:  # the permutation only moves size-1 axes: a plain copy
        np.copyto(dst, src)
    else:
        k.permute_copy_cpu(src, dst)


# ---- CUDA ----


def _c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def _device_words(a, shape: tuple[int, ...], strides: tuple[int, ...]):
    """`a`'s elements, laid out by `shape` / byte `strides`, as unsigned words (last axis: words per element).

    The same trick as the CPU path (`_words`): one compiled kernel per word size serves
    every dtype, and the bytes move untouched.
    """
    size = a.dtype.itemsize
    word = next(w for w in (8, 4, 2, 1) if size % w == 0)
    return _cuda.reinterpret(a, np.dtype(f"u{word}"), tuple(shape) + (size // word,), tuple(strides) + (word,))


def _launch_cuda(src, dst, stream) -> None:
    from .kernels import shuffle_cuda as k

    k.permute_copy_cuda[_cuda.launch_1d(math.prod(dst.shape[:5])) + (stream,)](src, dst)


def _contiguous(op: str, x, stream):
    """`x` if C-contiguous, else a C-contiguous device copy, so the caller's 5-d reshape is a view.

    The copy reuses the gather kernel on x's axes with neighbours that step through memory as one merged and
    size-1 axes dropped; more than 5 axes left is not supported (a NotImplementedError, before any kernel).
    """
    if _cuda.is_c_contiguous(x):
        return x
    dims: list[tuple[int, int]] = []  # (size, byte stride)
    for n, s in zip(x.shape, x.strides, strict=False):
        if n == 1:
            continue
        if dims and dims[-1][1] == n * s:
            dims[-1] = (dims[-1][0] * n, s)
        else:
            dims.append((n, s))
    if len(dims) > 5:
        raise NotImplementedError(
            f"{op}: a non-contiguous CUDA input with more than 5 independent strided axes "
            f"(shape {tuple(x.shape)}, strides {tuple(x.strides)}) is not supported; "
            f"pass a C-contiguous copy"
        )
    dims = [(1, 0)] * (5 - len(dims)) + dims
    shape = tuple(n for n, _ in dims)
    copy = _cuda.cuda().device_array(tuple(x.shape), dtype=x.dtype, stream=stream)
    _launch_cuda(
        _device_words(x, shape, tuple(s for _, s in dims)),
        _device_words(copy, shape, _c_strides(shape, x.dtype.itemsize)),
        stream,
    )
    return copy


def _permute_copy_cuda(call, x, src_shape: tuple[int, ...], axes: tuple[int, ...], out) -> None:
    """out = x viewed as the 5-d `src_shape`, transposed by `axes` (all Numba device views); one gather."""
    stream = call.stream
    x = _contiguous(call.op, x, stream)
    strides = _c_strides(src_shape, x.dtype.itemsize)
    shape = tuple(src_shape[a] for a in axes)
    src = _device_words(x, shape, tuple(strides[a] for a in axes))
    _launch_cuda(src, _device_words(out, shape, _c_strides(shape, out.dtype.itemsize)), stream)


LAUNCHERS: dict[tuple[str, str], Callable] = {
    ("permute_copy", "cpu"): _permute_copy,
    ("permute_copy", "cuda"): _permute_copy_cuda,
}


def launch(call, src_shape: tuple[int, ...], axes: tuple[int, ...], out) -> None:
    """out = the call's x viewed as the 5-d `src_shape`, transposed by `axes`."""
    LAUNCHERS[("permute_copy", call.backend)](call, call.x, src_shape, axes, out)
