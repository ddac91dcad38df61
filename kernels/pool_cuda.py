"""CUDA max and average pooling on 5-D (N, C, D, H, W) device views, the CPU's index tables.

Gathers with one thread per output (grid-stride); channels-last data arrives as a strided view of the same
5-D shape, and its threads are numbered channel-fastest so that neighbouring threads read neighbouring
memory in either layout. Padding, stride, dilation and ceil_mode live in the (out, kernel) tables `md, mh,
mw` (-1 = padding; see numbaconv._params.index_map), which the public API has checked give every window at
least one input element.

Max pooling is the CPU's (and torch's) rule: taps in (kd, kh, kw) order, a tap replaces the running maximum
when it is larger or NaN, starting from the lowest value with the index of the window's first in-bounds tap.
Factories are cached per compute dtype: any storage dtype is read and converted (float16 compares and sums in
float32; integers pool as they are), with no converted copy of the input.
"""

import functools

import numpy as np

from numbaconv import _cuda

# A module global, not a closure variable: the CUDA simulator swaps module globals that are numba.cuda.
cuda = _cuda.cuda()


@cuda.jit(device=True)
def output_coords(t, chans, o_d, o_h, o_w, channels_last):
    """(n, c, od, oh, ow) of thread item t: W fastest for channels-first data, C fastest for channels-last."""
    if channels_last:
        c = t % chans
        r = t // chans
        ow = r % o_w
        r = r // o_w
        oh = r % o_h
        r = r // o_h
        od = r % o_d
        n = r // o_d
    else:
        ow = t % o_w
        r = t // o_w
        oh = r % o_h
        r = r // o_h
        od = r % o_d
        r = r // o_d
        c = r % chans
        n = r // chans
    return n, c, od, oh, ow


@functools.cache
def max_pool_cuda(acc_name: str):
    """out (and idx, when want_idx) = the maximum of each window and its flat position in the (n, c) plane."""
    acc_t = np.dtype(acc_name).type
    low = acc_t(-np.inf) if np.dtype(acc_name).kind == "f" else acc_t(np.iinfo(acc_t).min)

    @cuda.jit
    def kernel(x, md, mh, mw, channels_last, want_idx, out, idx):
        n_batch, chans, o_d, o_h, o_w = out.shape
        in_h, in_w = x.shape[3], x.shape[4]
        k_d, k_h, k_w = md.shape[1], mh.shape[1], mw.shape[1]
        total = n_batch * chans * o_d * o_h * o_w
        for t in range(cuda.grid(1), total, cuda.gridsize(1)):
            n, c, od, oh, ow = output_coords(t, chans, o_d, o_h, o_w, channels_last)
            best = low
            arg = -1
            for kd in range(k_d):
                iz = md[od, kd]
                if iz < 0:
                    continue
                for kh in range(k_h):
                    iy = mh[oh, kh]
                    if iy < 0:
                        continue
                    for kw in range(k_w):
                        ix = mw[ow, kw]
                        if ix < 0:
                            continue
                        v = acc_t(x[n, c, iz, iy, ix])
                        pos = (iz * in_h + iy) * in_w + ix
                        if arg < 0:
                            arg = pos
                        # `v != v` is NaN: a NaN always takes over, so NaN propagates with the last NaN's index.
                        if v > best or v != v:
                            best = v
                            arg = pos
            out[n, c, od, oh, ow] = best
            if want_idx:
                idx[n, c, od, oh, ow] = arg

    return kernel


@functools.cache
def avg_pool_cuda(acc_name: str):
    """out = the sum of each window's in-bounds taps / div_d[od] * div_h[oh] * div_w[ow] (per-dim tap counts,
    or divisor_override * 1 * 1), as the CPU kernels."""
    acc_t = np.dtype(acc_name).type

    @cuda.jit
    def kernel(x, md, mh, mw, div_d, div_h, div_w, channels_last, out):
        n_batch, chans, o_d, o_h, o_w = out.shape
        k_d, k_h, k_w = md.shape[1], mh.shape[1], mw.shape[1]
        total = n_batch * chans * o_d * o_h * o_w
        for t in range(cuda.grid(1), total, cuda.gridsize(1)):
            n, c, od, oh, ow = output_coords(t, chans, o_d, o_h, o_w, channels_last)
            acc = acc_t(0)
            for kd in range(k_d):
                iz = md[od, kd]
                if iz < 0:
                    continue
                for kh in range(k_h):
                    iy = mh[oh, kh]
                    if iy < 0:
                        continue
                    for kw in range(k_w):
                        ix = mw[ow, kw]
                        if ix >= 0:
                            acc += acc_t(x[n, c, iz, iy, ix])
            out[n, c, od, oh, ow] = acc / (div_d[od] * div_h[oh] * div_w[ow])

    return kernel
