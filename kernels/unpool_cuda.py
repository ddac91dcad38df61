"""CUDA unpooling, nearest upsampling and linear / cubic interpolation on 5-D (N, C, D, H, W) device views.

Nearest upsampling, bed-of-nails unpooling and nearest interpolation are the CPU's gather (kernels/unpool.py):
each output copies the input element named by per-dim source tables (-1 = a zero), one thread per output.
The launcher passes any dtype as unsigned words of its size, so one compiled kernel per word size serves
every dtype, bit for bit.

Linear and cubic interpolation are the CPU's weighted sums (`interpolate_at`, kernels/_rules.py), one thread per
output, on the same index and weight tables.

Max unpooling is a scatter by nature. Done race-free and deterministically in three passes: every output's
`win` (the input position it takes its value from) is set to -1; one thread per (n, c) plane scans that
plane's inputs in order and keeps, per output, the input with the largest value (NaN largest, the first of
equal values: `keeps`, kernels/_rules.py), as the CPU; then a gather with one thread per output copies x at
`win` (zero where -1). The indices were checked to lie in the plane before any of this runs, by
`first_outside_cuda`.
"""

import functools

import numpy as np

from ._cuda_target import cuda
from ._device import device
from ._rules import interpolate_at_body, keeps_body, unravel_body

interpolate_at = device(interpolate_at_body)
keeps = device(keeps_body)
unravel = device(unravel_body)


@cuda.jit
def gather_cuda(x, md, mh, mw, channels_last, out):
    """out[n, c, od, oh, ow] = x[n, c, md[od], mh[oh], mw[ow]] (0 where a table holds -1)."""
    n_batch, chans, o_d, o_h, o_w = out.shape
    total = n_batch * chans * o_d * o_h * o_w
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        n, c, od, oh, ow = unravel(t, chans, o_d, o_h, o_w, channels_last)
        iz, iy, ix = md[od], mh[oh], mw[ow]
        if iz < 0 or iy < 0 or ix < 0:
            out[n, c, od, oh, ow] = 0
        else:
            out[n, c, od, oh, ow] = x[n, c, iz, iy, ix]


@functools.cache
def interpolate_cuda(acc_name: str):
    """out[n, c, od, oh, ow] = the separable weighted sum of x's taps, summed in the compute dtype `acc_name` (the
    weights' dtype; float16 input is read and converted as it is multiplied)."""
    acc_t = np.dtype(acc_name).type

    @cuda.jit
    def kernel(x, md, wd, mh, wh, mw, ww, channels_last, out):
        n_batch, chans, o_d, o_h, o_w = out.shape
        total = n_batch * chans * o_d * o_h * o_w
        for t in range(cuda.grid(1), total, cuda.gridsize(1)):
            n, c, od, oh, ow = unravel(t, chans, o_d, o_h, o_w, channels_last)
            out[n, c, od, oh, ow] = interpolate_at(x, n, c, od, oh, ow, md, wd, mh, wh, mw, ww, acc_t(0))

    return kernel


@functools.cache
def first_outside_cuda(threads: int):
    """partial[block] = the smallest C-order position t of a 5-d `idx` with idx[t] outside [0, plane), or
    idx.size if none: a block-wide tree reduction in shared memory, no atomics."""
    half = 1
    while 2 * half < threads:
        half *= 2

    @cuda.jit
    def kernel(idx, plane, partial):
        d0, d1, d2, d3, d4 = idx.shape
        total = d0 * d1 * d2 * d3 * d4
        first = total
        for t in range(cuda.grid(1), total, cuda.gridsize(1)):
            i0, i1, i2, i3, i4 = unravel(t, d1, d2, d3, d4, False)
            j = idx[i0, i1, i2, i3, i4]
            if j < 0 or j >= plane:
                first = t  # a thread's items ascend: its first hit is its smallest
                break
        best = cuda.shared.array(threads, np.int64)
        tid = cuda.threadIdx.x
        best[tid] = first
        cuda.syncthreads()
        step = half
        while step > 0:
            if tid < step and tid + step < threads and best[tid + step] < best[tid]:
                best[tid] = best[tid + step]
            cuda.syncthreads()
            step //= 2
        if tid == 0:
            partial[cuda.blockIdx.x] = best[0]

    return kernel


@cuda.jit
def fill_cuda(a, value):
    """a[...] = value for a 5-d `a`, one thread per element."""
    d0, d1, d2, d3, d4 = a.shape
    total = d0 * d1 * d2 * d3 * d4
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        i0, i1, i2, i3, i4 = unravel(t, d1, d2, d3, d4, False)
        a[i0, i1, i2, i3, i4] = value


@functools.cache
def max_unpool_scan_cuda(acc_name: str):
    """win[n, c, q] = the input p of plane (n, c) that output q keeps: inputs scanned in order, the largest
    value staying (NaN counts as largest; ties keep the first). One thread per plane, channel-fastest."""
    acc_t = np.dtype(acc_name).type

    @cuda.jit
    def kernel(x, idx, win):
        n_batch, chans, i_d, i_h, i_w = x.shape
        o_d, o_h, o_w = win.shape[2], win.shape[3], win.shape[4]
        p_total = i_d * i_h * i_w
        for t in range(cuda.grid(1), n_batch * chans, cuda.gridsize(1)):
            c = t % chans
            n = t // chans
            for p in range(p_total):
                _, _, pd, ph, pw = unravel(p, 1, i_d, i_h, i_w, False)
                # int64 first: Numba types mixed uint64 / int64 arithmetic as float64.
                _, _, qd, qh, qw = unravel(np.int64(idx[n, c, pd, ph, pw]), 1, o_d, o_h, o_w, False)
                w = win[n, c, qd, qh, qw]
                take = w < 0
                if not take:
                    _, _, wd, wh, ww = unravel(w, 1, i_d, i_h, i_w, False)
                    take = keeps(acc_t(x[n, c, pd, ph, pw]), acc_t(x[n, c, wd, wh, ww]))
                if take:
                    win[n, c, qd, qh, qw] = p

    return kernel


@cuda.jit
def max_unpool_gather_cuda(x, win, channels_last, out):
    """out[n, c, q] = x[n, c, win[n, c, q]] (0 where win is -1); x and out of one dtype, copied exactly."""
    n_batch, chans, o_d, o_h, o_w = out.shape
    i_d, i_h, i_w = x.shape[2], x.shape[3], x.shape[4]
    total = n_batch * chans * o_d * o_h * o_w
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        n, c, od, oh, ow = unravel(t, chans, o_d, o_h, o_w, channels_last)
        w = win[n, c, od, oh, ow]
        if w < 0:
            out[n, c, od, oh, ow] = 0
        else:
            _, _, wd, wh, ww = unravel(w, 1, i_d, i_h, i_w, False)
            out[n, c, od, oh, ow] = x[n, c, wd, wh, ww]
