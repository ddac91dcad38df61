"""CUDA max and average pooling on 5-D (N, C, D, H, W) device views, the CPU's index tables.

Gathers with one thread per output on a 3-D grid (`each_output`, kernels/_grid_cuda.py: uint32 coordinates, no
64-bit division); channels-last data arrives as a strided view of the same 5-D shape, and its threads are
numbered channel-fastest so that neighbouring threads read neighbouring memory in either layout (one kernel per
layout). Padding, stride, dilation and ceil_mode live in the (out, kernel) tables `md, mh, mw` (-1 = padding;
built by the public API's params), which the public API has checked give every window at least one input element.

Max pooling is the CPU's (and torch's) rule: taps in (kd, kh, kw) order, a tap replaces the running maximum
when it is larger or NaN (`beats`), starting from the lowest value with the index of the window's first
in-bounds tap. Factories are cached per compute dtype and layout: any storage dtype is read and converted
(float16 compares and sums in float32; integers pool as they are), with no converted copy of the input.
"""

import functools

import numpy as np

from ._cuda_target import cuda
from ._device import device, device_walk
from ._grid_cuda import each_output, u32
from ._rules import beats_body

beats = device(beats_body)


def _max_tap(state, args, kd, kh, kw, iz, iy, ix):
    """(best, arg) = the running maximum and its plane index, updated by input element (iz, iy, ix); the first
    tap sets the index. The launcher has checked that a plane has fewer than 2**31 elements."""
    best, arg = state
    x, n, c, acc_t = args
    iz, iy, ix = u32(iz), u32(iy), u32(ix)  # in-bounds taps only: non-negative
    v = acc_t(x[n, c, iz, iy, ix])
    pos = np.int64(u32(u32(u32(u32(iz * u32(x.shape[3])) + iy) * u32(x.shape[4])) + ix))
    if beats(v, best):
        return v, pos
    return best, (pos if arg < 0 else arg)


def _sum_tap(acc, args, kd, kh, kw, iz, iy, ix):
    """acc += input element (iz, iy, ix)."""
    x, n, c, acc_t = args
    return acc + acc_t(x[n, c, u32(iz), u32(iy), u32(ix)])


@functools.cache
def max_pool_cuda(acc_name: str, channels_last: bool):
    """out (and idx, when want_idx) = the maximum of each window and its flat position in the (n, c) plane."""
    acc_t = np.dtype(acc_name).type
    low = acc_t(-np.inf) if np.dtype(acc_name).kind == "f" else acc_t(np.iinfo(acc_t).min)
    window = device_walk(_max_tap)

    @cuda.jit(device=True)
    def one(args, n, c, od, oh, ow):
        x, md, mh, mw, want_idx, out, idx = args
        best, arg = window(md, mh, mw, od, oh, ow, (low, np.int64(-1)), (x, n, c, acc_t))
        out[n, c, od, oh, ow] = best
        if want_idx:
            idx[n, c, od, oh, ow] = arg

    walk = each_output(one, channels_last)

    @cuda.jit
    def kernel(x, md, mh, mw, want_idx, out, idx):
        walk(out.shape, (x, md, mh, mw, want_idx, out, idx))

    return kernel


@functools.cache
def avg_pool_cuda(acc_name: str, channels_last: bool):
    """out = the sum of each window's in-bounds taps / div_d[od] * div_h[oh] * div_w[ow] (per-dim tap counts,
    or divisor_override * 1 * 1), as the CPU kernels."""
    acc_t = np.dtype(acc_name).type
    window = device_walk(_sum_tap)

    @cuda.jit(device=True)
    def one(args, n, c, od, oh, ow):
        x, md, mh, mw, div_d, div_h, div_w, out = args
        acc = window(md, mh, mw, od, oh, ow, acc_t(0), (x, n, c, acc_t))
        out[n, c, od, oh, ow] = acc / (div_d[od] * div_h[oh] * div_w[ow])

    walk = each_output(one, channels_last)

    @cuda.jit
    def kernel(x, md, mh, mw, div_d, div_h, div_w, out):
        walk(out.shape, (x, md, mh, mw, div_d, div_h, div_w, out))

    return kernel
