"""CUDA unpooling, nearest upsampling and linear / cubic interpolation on 5-D (N, C, D, H, W) device views.

Nearest upsampling, bed-of-nails unpooling and nearest interpolation are the CPU's gather (kernels/unpool.py):
each output copies the input element named by per-dim source tables (-1 = a zero), one thread per output on a
3-D grid (`each_output`, kernels/_grid_cuda.py: uint32 coordinates, no 64-bit division; one kernel per layout).
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
from ._grid_cuda import each_output, start, u32, unravel3
from ._rules import interpolate_at_body, keeps_body, unravel_body

interpolate_at = device(interpolate_at_body)
keeps = device(keeps_body)
unravel = device(unravel_body)


def _gather_one(args, n, c, od, oh, ow):
    """out[n, c, od, oh, ow] = x[n, c, md[od], mh[oh], mw[ow]] (0 where a table holds -1)."""
    x, md, mh, mw, out = args
    iz, iy, ix = md[od], mh[oh], mw[ow]
    if iz < 0 or iy < 0 or ix < 0:
        out[n, c, od, oh, ow] = 0
    else:
        out[n, c, od, oh, ow] = x[n, c, u32(iz), u32(iy), u32(ix)]


@functools.cache
def gather_cuda(channels_last: bool):
    """The nearest / bed-of-nails gather of one layout."""
    walk = each_output(device(_gather_one), channels_last)

    @cuda.jit
    def kernel(x, md, mh, mw, out):
        walk(out.shape, (x, md, mh, mw, out))

    return kernel


@functools.cache
def interpolate_cuda(acc_name: str, channels_last: bool):
    """out[n, c, od, oh, ow] = the separable weighted sum of x's taps, summed in the compute dtype `acc_name` (the
    weights' dtype; float16 input is read and converted as it is multiplied)."""
    acc_t = np.dtype(acc_name).type

    @cuda.jit(device=True)
    def one(args, n, c, od, oh, ow):
        x, md, wd, mh, wh, mw, ww, out = args
        out[n, c, od, oh, ow] = interpolate_at(x, n, c, od, oh, ow, md, wd, mh, wh, mw, ww, acc_t(0))

    walk = each_output(one, channels_last)

    @cuda.jit
    def kernel(x, md, wd, mh, wh, mw, ww, out):
        walk(out.shape, (x, md, wd, mh, wh, mw, ww, out))

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


def _fill_one(args, n, c, od, oh, ow):
    a, value = args
    a[n, c, od, oh, ow] = value


@functools.cache
def fill_cuda(channels_last: bool):
    """a[...] = value for a 5-d `a` of one layout, one thread per element."""
    walk = each_output(device(_fill_one), channels_last)

    @cuda.jit
    def kernel(a, value):
        walk(a.shape, (a, value))

    return kernel


@functools.cache
def max_unpool_scan_cuda(acc_name: str):
    """win[n, c, q] = the input p of plane (n, c) that output q keeps: inputs scanned in order, the largest
    value staying (NaN counts as largest; ties keep the first). One thread per plane, channel-fastest; uint32
    positions (the indices were checked to lie in the plane, and the launcher that planes are under 2**31)."""
    acc_t = np.dtype(acc_name).type

    @cuda.jit
    def kernel(x, idx, win):
        chans, i_d, i_h, i_w = u32(x.shape[1]), u32(x.shape[2]), u32(x.shape[3]), u32(x.shape[4])
        o_d, o_h, o_w = u32(win.shape[2]), u32(win.shape[3]), u32(win.shape[4])
        planes = u32(u32(x.shape[0]) * chans)
        p_total = u32(u32(i_d * i_h) * i_w)
        t = start(cuda.blockIdx.x, cuda.blockDim.x, cuda.threadIdx.x)
        while t < planes:
            c = u32(t % chans)
            n = u32(t // chans)
            p = u32(0)
            while p < p_total:
                pd, ph, pw = unravel3(p, i_d, i_h, i_w)
                qd, qh, qw = unravel3(u32(idx[n, c, pd, ph, pw]), o_d, o_h, o_w)
                w = win[n, c, qd, qh, qw]
                take = w < 0
                if not take:
                    wd, wh, ww = unravel3(u32(w), i_d, i_h, i_w)
                    take = keeps(acc_t(x[n, c, pd, ph, pw]), acc_t(x[n, c, wd, wh, ww]))
                if take:
                    win[n, c, qd, qh, qw] = p
                p = u32(p + 1)
            t = u32(t + u32(u32(cuda.gridDim.x) * u32(cuda.blockDim.x)))

    return kernel


def _max_unpool_one(args, n, c, od, oh, ow):
    """out[n, c, q] = x[n, c, win[n, c, q]] (0 where win is -1); x and out of one dtype, copied exactly."""
    x, win, out = args
    w = win[n, c, od, oh, ow]
    if w < 0:
        out[n, c, od, oh, ow] = 0
    else:
        wd, wh, ww = unravel3(u32(w), u32(x.shape[2]), u32(x.shape[3]), u32(x.shape[4]))
        out[n, c, od, oh, ow] = x[n, c, wd, wh, ww]


@functools.cache
def max_unpool_gather_cuda(channels_last: bool):
    """The last pass of max unpooling, of one layout."""
    walk = each_output(device(_max_unpool_one), channels_last)

    @cuda.jit
    def kernel(x, win, out):
        walk(out.shape, (x, win, out))

    return kernel
