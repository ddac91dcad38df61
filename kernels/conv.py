"""CPU convolution kernels on 5-D arrays: x (N, C, D, H, W), weight (C_out, C_in/groups, KD, KH, KW).

1-D and 2-D convolutions arrive with leading spatial dims of size 1, so one kernel serves all three.
Padding modes and `flip` live in the index tables `md, mh, mw` (shape (out, kernel): the input index read by
tap k of output o, -1 = zero): the kernels never build a padded copy. Every kernel is a gather that writes
each element of `out` exactly once. `residual` is an array laid out as `out` (added before the activation) or
None (kernels/_epilogue.py).
"""

import numpy as np
from numba import prange

from ._epilogue import activate, add_residual, residual_at
from ._jit import inline, kernel, serial_kernel
from ._rules import cpu_walk


@inline
def _accumulate_row(x, w, md, mh, mw, n, c, o, cw, od, oh, w_lo, w_hi, step, acc):
    """acc += one output row's taps over input channel c (weight channel cw), before bias and activation.

    Along W the outputs in [w_lo, w_hi) read in-bounds inputs at `ow * stride + offset`: that stretch runs
    without table look-ups; only the edges use the table. `step` is None for stride 1 (a unit-stride view
    that vectorises) or the stride: callers branch once per row, since a stride test inside the tap loop
    halved the speed of the whole kernel (measured on MobileNet depthwise shapes).
    """
    k_d, k_h, k_w = w.shape[2], w.shape[3], w.shape[4]
    # Written out, as in conv_transpose.py, not walk_taps: a walk's args tuple per row cost 5-10% (measured).
    for kd in range(k_d):
        iz = md[od, kd]
        if iz < 0:
            continue
        for kh in range(k_h):
            iy = mh[oh, kh]
            if iy < 0:
                continue
            row = x[n, c, iz, iy]
            for kw in range(k_w):
                _tap_row(row, w[o, cw, kd, kh, kw], mw, kw, w_lo, w_hi, step, acc)


@inline
def _tap_row(row, wv, mw, kw, w_lo, w_hi, step, acc):
    """acc += wv * the input row read by tap kw: table look-ups at the edges, a plain strided stretch (a view
    that vectorises) for the outputs [w_lo, w_hi) in between."""
    o_w = acc.shape[0]
    for ow in range(w_lo):
        ix = mw[ow, kw]
        if ix >= 0:
            acc[ow] += wv * row[ix]
    src = row[mw[min(w_lo, o_w - 1), kw] :: step]
    dst = acc[w_lo:w_hi]
    for j in range(w_hi - w_lo):
        dst[j] += wv * src[j]
    for ow in range(w_hi, o_w):
        ix = mw[ow, kw]
        if ix >= 0:
            acc[ow] += wv * row[ix]


@inline
def _store_row(acc, b, res, act, consts, dst):
    """dst = activation(acc + b + res) (res: the residual row, or None); the plain feature map skips the
    per-element activation switch."""
    if act == 0:
        for ow in range(acc.shape[0]):
            dst[ow] = add_residual(acc[ow] + b, res, ow)
    else:
        for ow in range(acc.shape[0]):
            dst[ow] = activate(add_residual(acc[ow] + b, res, ow), act, consts)


@inline
def _accumulate_channel(x, w, md, mh, mw, n, c, o, cw, od, oh, w_lo, w_hi, stride_w, acc):
    """_accumulate_row with the stride test made once per row and channel (see there)."""
    if stride_w == 1:
        _accumulate_row(x, w, md, mh, mw, n, c, o, cw, od, oh, w_lo, w_hi, None, acc)
    else:
        _accumulate_row(x, w, md, mh, mw, n, c, o, cw, od, oh, w_lo, w_hi, stride_w, acc)


@inline
def _conv_rows(x, w, bias, md, mh, mw, w_lo, w_hi, stride_w, groups, depthwise, chunk, residual, act, consts, out):
    """The direct kernels' body: tasks of `chunk` output rows in parallel, each with one accumulator row
    (allocating one per output row cost more than the row itself). `depthwise` (a constant per kernel) drops
    the channel loop of one-channel groups: running it once per row cost 1.3x (measured, 8 x 128 x 56 x 56)."""
    n_batch, c_out, o_d, o_h, o_w = out.shape
    c_group = w.shape[1]
    out_per_group = c_out // groups
    rows = n_batch * c_out * o_d * o_h
    for task in prange((rows + chunk - 1) // chunk):
        acc = np.empty(o_w, dtype=out.dtype)
        for t in range(task * chunk, min(rows, (task + 1) * chunk)):
            oh = t % o_h
            od = (t // o_h) % o_d
            o = (t // (o_h * o_d)) % c_out
            n = t // (o_h * o_d * c_out)
            c0 = (o // out_per_group) * c_group
            acc[:] = 0
            if depthwise:
                _accumulate_channel(x, w, md, mh, mw, n, c0, o, 0, od, oh, w_lo, w_hi, stride_w, acc)
            else:
                for cw in range(c_group):
                    _accumulate_channel(x, w, md, mh, mw, n, c0 + cw, o, cw, od, oh, w_lo, w_hi, stride_w, acc)
            _store_row(acc, bias[o], residual_at(residual, (n, o, od, oh)), act, consts, out[n, o, od, oh])


@kernel
def conv_direct_cpu(x, w, bias, md, mh, mw, w_lo, w_hi, stride_w, groups, chunk, residual, act, consts, out):
    """General direct convolution (any groups, dilation, padding mode); parallel over tasks of `chunk` output
    rows."""
    _conv_rows(x, w, bias, md, mh, mw, w_lo, w_hi, stride_w, groups, False, chunk, residual, act, consts, out)


@kernel
def conv_depthwise_cpu(x, w, bias, md, mh, mw, w_lo, w_hi, stride_w, chunk, residual, act, consts, out):
    """One input channel per output channel (groups == C_in, any channel multiplier); parallel over tasks of
    `chunk` output rows."""
    _conv_rows(x, w, bias, md, mh, mw, w_lo, w_hi, stride_w, x.shape[1], True, chunk, residual, act, consts, out)


@inline
def _depthwise_row2d(x, w, mh, mw, n, c, o, oh, w_lo, w_hi, step, acc):
    """acc = one output row of a 2-D depthwise conv (the 4-D twin of _accumulate_row)."""
    acc[:] = 0
    for kh in range(w.shape[2]):
        iy = mh[oh, kh]
        if iy < 0:
            continue
        row = x[n, c, iy]
        for kw in range(w.shape[3]):
            _tap_row(row, w[o, 0, kh, kw], mw, kw, w_lo, w_hi, step, acc)


@kernel
def conv_depthwise2d_cpu(x, w, bias, mh, mw, w_lo, w_hi, stride_w, chunk, residual, act, consts, out):
    """2-D depthwise convolution on 4-D (N, C, H, W) arrays, parallel over tasks of `chunk` output rows.

    The 5-D kernel's depth loop and depth index cost about a third on MobileNet shapes (measured), so the
    common 2-D case has this twin with one fewer dimension.
    """
    n_batch, c_out, o_h, o_w = out.shape
    multiplier = c_out // x.shape[1]
    rows = n_batch * c_out * o_h
    for task in prange((rows + chunk - 1) // chunk):
        acc = np.empty(o_w, dtype=out.dtype)
        for t in range(task * chunk, min(rows, (task + 1) * chunk)):
            oh = t % o_h
            o = (t // o_h) % c_out
            n = t // (o_h * c_out)
            if stride_w == 1:
                _depthwise_row2d(x, w, mh, mw, n, o // multiplier, o, oh, w_lo, w_hi, None, acc)
            else:
                _depthwise_row2d(x, w, mh, mw, n, o // multiplier, o, oh, w_lo, w_hi, stride_w, acc)
            _store_row(acc, bias[o], residual_at(residual, (n, o, oh)), act, consts, out[n, o, oh])


@inline
def _plane_taps_3x3(plane, w, p_w, dil_h, dil_w, add, acc):
    """acc = (acc if add else 0) + the nine taps of a 3x3 kernel over a padded plane in one pass (acc is loaded
    and stored once, not nine times). Undilated columns get constant offsets: with runtime ones LLVM did not
    vectorise (10x)."""
    w00, w01, w02 = w[0, 0], w[0, 1], w[0, 2]
    w10, w11, w12 = w[1, 0], w[1, 1], w[1, 2]
    w20, w21, w22 = w[2, 0], w[2, 1], w[2, 2]
    r0 = plane
    r1 = plane[dil_h * p_w :]
    r2 = plane[2 * dil_h * p_w :]
    if not add:
        acc[:] = 0
    if dil_w == 1:
        for i in range(acc.shape[0]):
            acc[i] += (
                w00 * r0[i]
                + w01 * r0[i + 1]
                + w02 * r0[i + 2]
                + w10 * r1[i]
                + w11 * r1[i + 1]
                + w12 * r1[i + 2]
                + w20 * r2[i]
                + w21 * r2[i + 1]
                + w22 * r2[i + 2]
            )
        return
    d1, d2 = dil_w, 2 * dil_w
    for i in range(acc.shape[0]):
        acc[i] += (
            w00 * r0[i]
            + w01 * r0[i + d1]
            + w02 * r0[i + d2]
            + w10 * r1[i]
            + w11 * r1[i + d1]
            + w12 * r1[i + d2]
            + w20 * r2[i]
            + w21 * r2[i + d1]
            + w22 * r2[i + d2]
        )


@kernel
def conv_plane_cpu(x, w, bias, rows, cols, left, dil_h, dil_w, band, residual, act, consts, out):
    """Stride-1 2-D convolution with few input channels per group (depthwise: one) on (N, C, H, W) arrays,
    parallel over bands of `band` output rows of each (image, group).

    Each band's input rows of the group's channels are copied once into padded scratch planes (`rows` / `cols`
    give the input row / column of every padded row / column, -1 = zero: any padding mode; padded columns
    [left, left + W) are input columns 0..W-1, copied as a block), so that in padded-width coordinates every
    tap is one multiply-add over the whole flattened band: long vector loops instead of K_h * K_w short ones per
    output row (the row kernel's loop overhead dominated on MobileNet's 56-wide rows), and a 3x3 kernel is one
    pass per input channel. The launcher sizes bands so the accumulator stays in L1 (a 1024-wide image gets
    bands of 8 rows; a 56-wide plane is one band). Columns past o_w of each flattened row are never stored.
    """
    n_batch, c_out, o_h, o_w = out.shape
    chans, in_w = x.shape[1], x.shape[3]
    c_group = w.shape[1]
    groups = chans // c_group
    o_group = c_out // groups
    k_h, k_w = w.shape[2], w.shape[3]
    p_w = cols.shape[0]
    halo = dil_h * (k_h - 1)
    bands = (o_h + band - 1) // band
    zero = out.dtype.type(0)
    for task in prange(n_batch * groups * bands):
        n = task // (groups * bands)
        g = (task // bands) % groups
        oh0 = (task % bands) * band
        oh1 = min(o_h, oh0 + band)
        span = (oh1 - oh0 - 1) * p_w + o_w
        size = (oh1 - oh0 + halo) * p_w
        planes = np.empty(c_group * size, dtype=out.dtype)
        acc = np.empty(span, dtype=out.dtype)
        for ci in range(c_group):
            c = g * c_group + ci
            for r in range(oh1 - oh0 + halo):
                iy = rows[oh0 + r]
                dst = planes[ci * size + r * p_w : ci * size + (r + 1) * p_w]
                if iy < 0:
                    dst[:] = 0
                    continue
                src = x[n, c, iy]
                for j in range(left):
                    dst[j] = src[cols[j]] if cols[j] >= 0 else zero
                inner = dst[left : left + in_w]
                for j in range(in_w):
                    inner[j] = src[j]
                for j in range(left + in_w, p_w):
                    dst[j] = src[cols[j]] if cols[j] >= 0 else zero
        for m in range(o_group):
            o = g * o_group + m
            if k_h == 3 and k_w == 3:
                for ci in range(c_group):
                    _plane_taps_3x3(planes[ci * size :], w[o, ci], p_w, dil_h, dil_w, ci > 0, acc)
            else:
                acc[:] = 0
                for ci in range(c_group):
                    for kh in range(k_h):
                        for kw in range(k_w):
                            wv = w[o, ci, kh, kw]
                            shifted = planes[ci * size + kh * dil_h * p_w + kw * dil_w :]
                            for i in range(span):
                                acc[i] += wv * shifted[i]
            b = bias[o]
            for oh in range(oh0, oh1):
                row = acc[(oh - oh0) * p_w : (oh - oh0) * p_w + o_w]
                _store_row(row, b, residual_at(residual, (n, o, oh)), act, consts, out[n, o, oh])


def _pixel_tap(state, args, kd, kh, kw, iz, iy, ix):
    """acc (a C vector) += the channel weights of tap (kh, kw) times input pixel (iy, ix); a 2-D window, so
    kd = iz = 0."""
    acc, x, w_t, n = args
    src = x[n, iy, ix]
    wk = w_t[kh, kw]
    for c in range(acc.shape[0]):
        acc[c] += wk[c] * src[c]
    return state


_pixel_window = cpu_walk(_pixel_tap)


@kernel
def conv_depthwise_nhwc_cpu(x, w_t, bias, mh, mw, chunk, residual, act, consts, out):
    """Channels-last 2-D depthwise convolution, multiplier 1: x (N, H, W, C), w_t (kH, kW, C), out (N, oH, oW, C).

    Each output pixel is a sum of kH * kW contiguous channel vectors, so the inner loop runs over C at unit
    stride (the channels-first kernels would see NHWC data with a stride of C). Parallel over output rows.
    """
    n_batch, o_h, o_w, channels = out.shape
    md = np.zeros((1, 1), dtype=mh.dtype)  # the depth table of a 2-D window
    rows = n_batch * o_h
    for task in prange((rows + chunk - 1) // chunk):
        acc = np.empty(channels, dtype=out.dtype)
        for t in range(task * chunk, min(rows, (task + 1) * chunk)):
            oh = t % o_h
            n = t // o_h
            for ow in range(o_w):
                acc[:] = 0
                _pixel_window(md, mh, mw, 0, oh, ow, None, (acc, x, w_t, n))
                dst, res = out[n, oh, ow], residual_at(residual, (n, oh, ow))
                if act == 0:
                    for c in range(channels):
                        dst[c] = add_residual(acc[c] + bias[c], res, c)
                else:
                    for c in range(channels):
                        dst[c] = activate(add_residual(acc[c] + bias[c], res, c), act, consts)


@inline
def _im2col_rows(x, n, c0, md, mh, mw, kernel_d, kernel_h, kernel_w, w_lo, w_hi, step, row0, col):
    o_h, o_w = mh.shape[0], mw.shape[0]
    taps = kernel_d * kernel_h * kernel_w
    n_rows = col.shape[1] // o_w
    zero = col.dtype.type(0)
    first = min(w_lo, o_w - 1)
    for r in range(col.shape[0]):
        c = r // taps
        kd = (r // (kernel_h * kernel_w)) % kernel_d
        kh = (r // kernel_w) % kernel_h
        kw = r % kernel_w
        start = mw[first, kw]
        for i in range(n_rows):
            orow = row0 + i
            iz = md[orow // o_h, kd]
            iy = mh[orow % o_h, kh]
            dst = col[r, i * o_w : (i + 1) * o_w]
            if iz < 0 or iy < 0:
                dst[:] = zero
                continue
            src = x[n, c0 + c, iz, iy]
            for ow in range(w_lo):
                ix = mw[ow, kw]
                dst[ow] = src[ix] if ix >= 0 else zero
            inner, seg = dst[w_lo:w_hi], src[start::step]
            for j in range(w_hi - w_lo):
                inner[j] = seg[j]
            for ow in range(w_hi, o_w):
                ix = mw[ow, kw]
                dst[ow] = src[ix] if ix >= 0 else zero


@serial_kernel
def im2col_cpu(x, n, c0, md, mh, mw, kernel_d, kernel_h, kernel_w, w_lo, w_hi, stride_w, row0, col):
    """Fill col[(c, kd, kh, kw), (r - row0) * OW + ow] for output rows r = (od, oh) from row0 on.

    Channels c0 .. c0 + col.shape[0] / K of image n; a bounded tile of output rows, so the workspace
    stays cache-sized whatever the image size. Outputs [w_lo, w_hi) of a row read in-bounds inputs at
    `ow * stride_w + offset`: a plain (vectorised for stride 1) copy; only the edges look the table up.
    Serial on purpose: the GEMM that follows is a threaded BLAS call, and a Numba thread pool spinning
    beside OpenBLAS's made the dense path 5-15x slower here.
    """
    if stride_w == 1:
        _im2col_rows(x, n, c0, md, mh, mw, kernel_d, kernel_h, kernel_w, w_lo, w_hi, None, row0, col)
    else:
        _im2col_rows(x, n, c0, md, mh, mw, kernel_d, kernel_h, kernel_w, w_lo, w_hi, stride_w, row0, col)


@serial_kernel
def epilogue_cpu(acc, bias, n, o0, row0, residual, act, consts, out):
    """out[n, o0 + i, rows from row0] = activation(acc[i, :] + bias[o0 + i] + residual there) for a GEMM result
    tile."""
    o_h, o_w = out.shape[3], out.shape[4]
    n_rows = acc.shape[1] // o_w
    for t in range(acc.shape[0] * n_rows):
        i = t // n_rows
        r = t % n_rows
        orow = row0 + r
        b = bias[o0 + i]
        src = acc[i, r * o_w : (r + 1) * o_w]
        at = (n, o0 + i, orow // o_h, orow % o_h)
        dst, res = out[at], residual_at(residual, at)
        for ow in range(o_w):
            dst[ow] = activate(add_residual(src[ow] + b, res, ow), act, consts)


@serial_kernel
def max_abs_cpu(a):
    """The largest |value| of a 5-D array (any strides), inf if any value is NaN or infinite; 0.0 when empty."""
    top = 0.0
    d0, d1, d2, d3, d4 = a.shape
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                for i3 in range(d3):
                    row = a[i0, i1, i2, i3]
                    for i4 in range(d4):
                        v = abs(np.float64(row[i4]))
                        if not v <= top:  # larger, or NaN
                            top = v if v == v else np.inf
    return top
