"""CPU unpooling, nearest upsampling and linear / cubic interpolation.

Nearest upsampling, bed-of-nails unpooling and nearest interpolation are one gather: each output element
copies the input element named by per-dim source tables (-1 = a zero). They move bits without arithmetic,
so the public API passes any dtype viewed as an unsigned integer of its size (bool and float16 included),
and channels-last data as a vector of bytes per pixel.

Linear and cubic interpolation sum a few weighted taps per output from per-dim index and weight tables
(`interpolate_at`, kernels/_rules.py, shared with CUDA), each output written once.

Max unpooling is a scatter by nature; each (n, c) plane belongs to one thread, which scans its inputs in
order, so no two threads write one element and the result is deterministic; of inputs sent to one output,
the largest value stays (`keeps`, kernels/_rules.py).
"""

import numpy as np
from numba import prange

from ._jit import inline, kernel
from ._rules import interpolate_at, keeps


@kernel
def gather_cf(x, md, mh, mw, out):
    """out[n, c, od, oh, ow] = x[n, c, md[od], mh[oh], mw[ow]] (0 where a table holds -1); x (N, C, D, H, W)."""
    n_batch, chans, o_d, o_h, o_w = out.shape
    zero = out.dtype.type(0)
    for t in prange(n_batch * chans * o_d * o_h):
        oh = t % o_h
        od = (t // o_h) % o_d
        c = (t // (o_h * o_d)) % chans
        n = t // (o_h * o_d * chans)
        dst = out[n, c, od, oh]
        iz, iy = md[od], mh[oh]
        if iz < 0 or iy < 0:
            for ow in range(o_w):
                dst[ow] = zero
            continue
        row = x[n, c, iz, iy]
        for ow in range(o_w):
            ix = mw[ow]
            dst[ow] = row[ix] if ix >= 0 else zero


@kernel
def gather_pixels(x, md, mh, mw, out):
    """out[n, od, oh, ow, :] = x[n, md[od], mh[oh], mw[ow], :] (zeros where a table holds -1).

    x (N, D, H, W, B): the channel vector of each pixel as B bytes, so one compiled kernel serves every
    dtype of channels-last data.
    """
    n_batch, o_d, o_h, o_w, width = out.shape
    for t in prange(n_batch * o_d * o_h):
        oh = t % o_h
        od = (t // o_h) % o_d
        n = t // (o_h * o_d)
        iz, iy = md[od], mh[oh]
        for ow in range(o_w):
            ix = mw[ow]
            dst = out[n, od, oh, ow]
            if iz < 0 or iy < 0 or ix < 0:
                for b in range(width):
                    dst[b] = 0
            else:
                src = x[n, iz, iy, ix]
                for b in range(width):
                    dst[b] = src[b]


@kernel
def interpolate_cpu(x, md, wd, mh, wh, mw, ww, channels_last, out):
    """out[n, c, od, oh, ow] = the separable weighted sum of x's taps (`interpolate_at`); x, out (N, C, D, H, W),
    for channels-last data strided views of (N, D, H, W, C) memory.

    A thread owns an output row: channels-first, the W row of one (n, c); channels-last, the pixels of one
    (n, od, oh) with the channels innermost, so that either way it walks its output in memory order.
    """
    n_batch, chans, o_d, o_h, o_w = out.shape
    planes = 1 if channels_last else chans  # (n, c) pairs a row belongs to, per image
    zero = out.dtype.type(0)
    for t in prange(n_batch * planes * o_d * o_h):
        oh = t % o_h
        od = (t // o_h) % o_d
        r = t // (o_h * o_d)
        n = r // planes
        c_lo = r % planes
        c_hi = chans if channels_last else c_lo + 1
        for ow in range(o_w):
            for c in range(c_lo, c_hi):
                out[n, c, od, oh, ow] = interpolate_at(x, n, c, od, oh, ow, md, wd, mh, wh, mw, ww, zero)


@inline
def _scatter_plane(src, pos, dst, zero):
    """One channels-first plane: zeros, then src[p] at pos[p] in order of p, the largest value staying."""
    seen = np.zeros(dst.shape[0], dtype=np.bool_)
    for q in range(dst.shape[0]):
        dst[q] = zero
    for p in range(src.shape[0]):
        j = pos[p]
        v = src[p]
        if not seen[j] or keeps(v, dst[j]):
            dst[j] = v
            seen[j] = True


@kernel
def max_unpool_planes(x, idx, block, out):
    """out[b, idx[b, p, c], c] = x[b, p, c] for every plane (b, c), zeros elsewhere.

    x, idx (B, P, C), out (B, Q, C): channels-first data arrives as (N * C, P, 1), channels-last as (N, P, C).
    A thread owns `block` neighbouring channels of one b, so in channels-last data it touches each cache
    line once. A duplicate index keeps the largest value. Indices were checked to lie in [0, Q).
    """
    n_batch, p_in, chans = x.shape
    q_out = out.shape[1]
    n_blocks = (chans + block - 1) // block
    zero = out.dtype.type(0)
    for t in prange(n_batch * n_blocks):
        b = t // n_blocks
        c0 = (t % n_blocks) * block
        width = min(block, chans - c0)
        if chans == 1:  # a channels-first plane: flat rows, no channel arithmetic
            _scatter_plane(x[b].reshape(p_in), idx[b].reshape(p_in), out[b].reshape(q_out), zero)
            continue
        src, pos, dst = x[b], idx[b], out[b]
        seen = np.zeros((q_out, width), dtype=np.bool_)
        for q in range(q_out):
            for k in range(width):
                dst[q, c0 + k] = zero
        for p in range(p_in):
            for k in range(width):
                c = c0 + k
                j = pos[p, c]
                v = src[p, c]
                if not seen[j, k] or keeps(v, dst[j, c]):
                    dst[j, c] = v
                    seen[j, k] = True
