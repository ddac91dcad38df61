"""CPU max and average pooling on 5-D arrays.

Channels-first kernels take x (N, C, D, H, W) and give each (n, c) plane to one thread, which pools
separably: every input row along W, then those partial rows along H, then along D. The H and D passes
fold whole contiguous rows; along W, outputs in [w_lo, w_hi) (whose taps are all in bounds) come from a
contiguous fold over the taps at stride 1 that is then subsampled, so every hot loop has unit stride.
Channels-last kernels take x (N, D, H, W, C) and fold a C vector per tap, parallel over output rows.
1-D and 2-D pooling arrive with leading spatial dims of size 1. Padding, stride and dilation live in the
index tables `md, mh, mw` ((out, kernel) input indices, -1 = padding), which the public API has checked give
every window at least one input element per dim.

Max pooling follows torch exactly: taps are scanned in (kd, kh, kw) order, a tap replaces the running
maximum when it is larger or NaN (`beats`, kernels/_rules.py), and the running maximum starts at `lowest`
(-inf, or the integer minimum) with the index of the window's first in-bounds tap. Folding rows, then
columns, then slices visits the taps in that same order (a fold over a concatenation is the fold of the
folds), so the separable passes pick the same winner, ties and NaNs included.
"""

import numpy as np
from numba import prange

from ._jit import inline, kernel, serial_kernel
from ._rules import beats, cpu_walk


@inline
def _first_tap(table, o):
    k = 0
    while table[o, k] < 0:
        k += 1
    return table[o, k]


@inline
def _max_edge(src, mw, ow, low, base):
    """Maximum of row `src` over the in-bounds W taps of output ow, and its plane index."""
    b = low
    a = _first_tap(mw, ow)
    for kw in range(mw.shape[1]):
        ix = mw[ow, kw]
        if ix >= 0:
            v = src[ix]
            take = beats(v, b)
            b = v if take else b
            a = ix if take else a
    return b, base + a


@inline
def _max_row_w(src, mw, w_lo, w_hi, stride_w, dilation_w, pad_w, low, base, tmp, tmp_tap, best, arg):
    """best[ow], arg[ow] = maximum of row `src` over the W taps of output ow, and its plane index."""
    for ow in range(w_lo):
        best[ow], arg[ow] = _max_edge(src, mw, ow, low, base)
    for ow in range(w_hi, mw.shape[0]):
        best[ow], arg[ow] = _max_edge(src, mw, ow, low, base)
    k_w = mw.shape[1]
    # The interior fold of _sum_row_w written again: this one is NaN-aware and tracks the winning tap.
    if w_hi > w_lo:
        span = (w_hi - w_lo - 1) * stride_w + 1
        start = w_lo * stride_w - pad_w
        first = src[start:]
        for i in range(span):
            tmp[i] = first[i]
            tmp_tap[i] = 0
        for kw in range(1, k_w):
            tap = src[start + kw * dilation_w :]
            kw32 = np.int32(kw)
            for i in range(span):
                v = tap[i]
                take = beats(v, tmp[i])
                tmp[i] = v if take else tmp[i]
                tmp_tap[i] = kw32 if take else tmp_tap[i]
        for j in range(w_hi - w_lo):
            i = j * stride_w
            best[w_lo + j] = tmp[i]
            arg[w_lo + j] = base + start + i + tmp_tap[i] * dilation_w


@inline
def _max_rows(values, table, o, low, best, win):
    """best = running maximum over the rows `values[table[o, k]]` (k in scan order); win = the winning row.

    The winner is tracked as a 32-bit row number, not a 64-bit plane index: that keeps the fold as cheap
    as a plain maximum; the caller looks the index up once per output.
    """
    first = np.int32(_first_tap(table, o))
    for i in range(best.shape[0]):
        best[i] = low
        win[i] = first
    for k in range(table.shape[1]):
        r = table[o, k]
        if r < 0:
            continue
        row = values[r]
        r32 = np.int32(r)
        for i in range(best.shape[0]):
            v = row[i]
            take = beats(v, best[i])
            best[i] = v if take else best[i]
            win[i] = r32 if take else win[i]


@serial_kernel
def _max_plane(x, md, mh, mw, w_lo, w_hi, stride_w, dilation_w, pad_w, low, want_idx, out, idx):
    """Max pooling of one (D, H, W) plane into `out` (and `idx`), separably along W, H, then D."""
    o_d, o_h, o_w = out.shape
    in_d, in_h, in_w = x.shape
    span = max(w_hi - w_lo - 1, 0) * stride_w + 1
    tmp = np.empty(span, dtype=out.dtype)
    tmp_tap = np.empty(span, dtype=np.int32)
    row_best = np.empty((in_d, in_h, o_w), dtype=out.dtype)
    row_arg = np.empty((in_d, in_h, o_w), dtype=np.int64)
    for iz in range(in_d):
        for iy in range(in_h):
            _max_row_w(
                x[iz, iy],
                mw,
                w_lo,
                w_hi,
                stride_w,
                dilation_w,
                pad_w,
                low,
                (iz * in_h + iy) * in_w,
                tmp,
                tmp_tap,
                row_best[iz, iy],
                row_arg[iz, iy],
            )
    col_best = np.empty((o_h, in_d, o_w), dtype=out.dtype)
    col_arg = np.empty((o_h, in_d, o_w), dtype=np.int64)
    win = np.empty(o_w, dtype=np.int32)
    for iz in range(in_d):
        for oh in range(o_h):
            _max_rows(row_best[iz], mh, oh, low, col_best[oh, iz], win)
            args, dst = row_arg[iz], col_arg[oh, iz]
            for ow in range(o_w):
                dst[ow] = args[win[ow], ow]
    for od in range(o_d):
        for oh in range(o_h):
            _max_rows(col_best[oh], md, od, low, out[od, oh], win)
            if want_idx:
                args, dst = col_arg[oh], idx[od, oh]
                for ow in range(o_w):
                    dst[ow] = args[win[ow], ow]


@kernel
def max_pool_cf(x, md, mh, mw, w_lo, w_hi, stride_w, dilation_w, pad_w, lowest, want_idx, out, idx):
    """Channels-first max pooling, parallel over (n, c) planes."""
    n_batch, chans = out.shape[0], out.shape[1]
    for t in prange(n_batch * chans):
        n = t // chans
        c = t % chans
        plane_idx = idx[n, c] if want_idx else idx[0, 0]
        _max_plane(
            x[n, c], md, mh, mw, w_lo, w_hi, stride_w, dilation_w, pad_w, lowest[0], want_idx, out[n, c], plane_idx
        )


def _max_tap_cl(state, args, kd, kh, kw, iz, iy, ix):
    """best, arg (C vectors) = the running maxima and their plane indices, updated by input pixel (iz, iy, ix)."""
    best, arg, x, n = args
    src = x[n, iz, iy, ix]
    pos = (iz * x.shape[2] + iy) * x.shape[3] + ix
    for c in range(best.shape[0]):
        v = src[c]
        take = beats(v, best[c])
        best[c] = v if take else best[c]
        arg[c] = pos if take else arg[c]
    return state


_max_window_cl = cpu_walk(_max_tap_cl)


@kernel
def max_pool_cl(x, md, mh, mw, lowest, want_idx, out, idx):
    """Channels-last max pooling, parallel over output rows (n, od, oh); each tap updates a C vector."""
    n_batch, o_d, o_h, o_w, chans = out.shape
    in_h, in_w = x.shape[2], x.shape[3]
    low = lowest[0]
    for t in prange(n_batch * o_d * o_h):
        oh = t % o_h
        od = (t // o_h) % o_d
        n = t // (o_h * o_d)
        arg = np.empty(chans, dtype=np.int64)
        plane0 = (_first_tap(md, od) * in_h + _first_tap(mh, oh)) * in_w
        for ow in range(o_w):
            best = out[n, od, oh, ow]
            first = plane0 + _first_tap(mw, ow)
            for c in range(chans):
                best[c] = low
                arg[c] = first
            _max_window_cl(md, mh, mw, od, oh, ow, None, (best, arg, x, n))
            if want_idx:
                dst = idx[n, od, oh, ow]
                for c in range(chans):
                    dst[c] = arg[c]


@inline
def _sum_edge(src, mw, ow, total):
    for kw in range(mw.shape[1]):
        ix = mw[ow, kw]
        if ix >= 0:
            total += src[ix]
    return total


@inline
def _sum_row_w(src, mw, w_lo, w_hi, stride_w, dilation_w, pad_w, tmp, acc):
    """acc[ow] = sum of row `src` over the in-bounds W taps of output ow."""
    for ow in range(w_lo):
        acc[ow] = _sum_edge(src, mw, ow, acc.dtype.type(0))
    for ow in range(w_hi, mw.shape[0]):
        acc[ow] = _sum_edge(src, mw, ow, acc.dtype.type(0))
    k_w = mw.shape[1]
    # The interior fold of _max_row_w written again as a plain sum (no NaN rule, no winning tap).
    if w_hi > w_lo:
        span = (w_hi - w_lo - 1) * stride_w + 1
        start = w_lo * stride_w - pad_w
        first = src[start:]
        for i in range(span):
            tmp[i] = first[i]
        for kw in range(1, k_w):
            tap = src[start + kw * dilation_w :]
            for i in range(span):
                tmp[i] += tap[i]
        for j in range(w_hi - w_lo):
            acc[w_lo + j] = tmp[j * stride_w]


@inline
def _sum_rows(rows, table, o, acc):
    """acc = sum of the rows `rows[table[o, k]]` over the in-bounds taps k."""
    for i in range(acc.shape[0]):
        acc[i] = 0
    for k in range(table.shape[1]):
        r = table[o, k]
        if r < 0:
            continue
        row = rows[r]
        for i in range(acc.shape[0]):
            acc[i] += row[i]


@serial_kernel
def _avg_plane(x, md, mh, mw, w_lo, w_hi, stride_w, dilation_w, pad_w, div_d, div_h, div_w, out):
    """Average pooling of one (D, H, W) plane into `out`: separable sums along W, H and D / the divisor."""
    o_d, o_h, o_w = out.shape
    in_d, in_h = x.shape[0], x.shape[1]
    span = max(w_hi - w_lo - 1, 0) * stride_w + 1
    tmp = np.empty(span, dtype=out.dtype)
    row_sum = np.empty((in_d, in_h, o_w), dtype=out.dtype)
    for iz in range(in_d):
        for iy in range(in_h):
            _sum_row_w(x[iz, iy], mw, w_lo, w_hi, stride_w, dilation_w, pad_w, tmp, row_sum[iz, iy])
    col_sum = np.empty((o_h, in_d, o_w), dtype=out.dtype)
    for iz in range(in_d):
        for oh in range(o_h):
            _sum_rows(row_sum[iz], mh, oh, col_sum[oh, iz])
    for od in range(o_d):
        for oh in range(o_h):
            dst = out[od, oh]
            _sum_rows(col_sum[oh], md, od, dst)
            div_dh = div_d[od] * div_h[oh]
            for ow in range(o_w):
                dst[ow] = dst[ow] / (div_dh * div_w[ow])


@kernel
def avg_pool_cf(x, md, mh, mw, w_lo, w_hi, stride_w, dilation_w, pad_w, div_d, div_h, div_w, out):
    """Channels-first average pooling, parallel over (n, c) planes.

    The divisor is div_d[od] * div_h[oh] * div_w[ow]: per-dim tap counts (count_include_pad or not), or
    divisor_override * 1 * 1.
    """
    n_batch, chans = out.shape[0], out.shape[1]
    for t in prange(n_batch * chans):
        n = t // chans
        c = t % chans
        _avg_plane(x[n, c], md, mh, mw, w_lo, w_hi, stride_w, dilation_w, pad_w, div_d, div_h, div_w, out[n, c])


def _sum_tap_cl(state, args, kd, kh, kw, iz, iy, ix):
    """acc (a C vector) += input pixel (iz, iy, ix)."""
    acc, x, n = args
    src = x[n, iz, iy, ix]
    for c in range(acc.shape[0]):
        acc[c] += src[c]
    return state


_sum_window_cl = cpu_walk(_sum_tap_cl)


@kernel
def avg_pool_cl(x, md, mh, mw, div_d, div_h, div_w, out):
    """Channels-last average pooling, parallel over output rows (n, od, oh); each tap adds a C vector."""
    n_batch, o_d, o_h, o_w, chans = out.shape
    for t in prange(n_batch * o_d * o_h):
        oh = t % o_h
        od = (t // o_h) % o_d
        n = t // (o_h * o_d)
        div_dh = div_d[od] * div_h[oh]
        for ow in range(o_w):
            acc = out[n, od, oh, ow]
            for c in range(chans):
                acc[c] = 0
            _sum_window_cl(md, mh, mw, od, oh, ow, None, (acc, x, n))
            div = div_dh * div_w[ow]
            for c in range(chans):
                acc[c] = acc[c] / div
