"""CPU transpose-convolution kernels on 5-D arrays: x (N, C_in, D, H, W), weight (C_in, C_out/groups, KD, KH, KW).

Both kernels are gathers over output rows: output ``o`` reads the inputs ``(o + pad_lo - k * dilation) / stride``
that are whole and in range, so each output is written once by one thread, with no atomics and a
deterministic sum order. Along D and H those inputs come from the tables ``md, mh`` ((out, kernel), -1 = none);
along W from ``runs_w`` (per tap: first slot, first input, count). A row accumulates phase-major (output ``ow``
in slot ``(ow % stride_w) * ceil(OW / stride_w) + ow // stride_w``), where each tap's outputs are consecutive:
the inner loop is a unit-stride multiply-add over 0-based slices, which LLVM vectorises for every stride.
`residual` is an array laid out as `out` (added before the activation) or None (kernels/_epilogue.py).
"""

import numpy as np
from numba import prange

from ._epilogue import activate, add_residual, residual_at
from ._jit import inline, kernel, serial_kernel


@inline
def _store_row(acc, b, res, stride_w, act, consts, dst):
    """dst[ow] = activation(acc[phase-major slot of ow] + b + res[ow]) (res: the residual row, or None)."""
    o_w = dst.shape[0]
    per_phase = acc.shape[0] // stride_w
    for phase in range(min(stride_w, o_w)):
        src = acc[phase * per_phase :]
        for q in range((o_w - phase + stride_w - 1) // stride_w):
            ow = phase + q * stride_w
            dst[ow] = activate(add_residual(src[q] + b, res, ow), act, consts)


@kernel
def conv_transpose_direct_cpu(x, w, bias, md, mh, runs_w, stride_w, groups, residual, act, consts, out):
    """General transpose convolution (any groups, stride, dilation, crop); parallel over output rows."""
    n_batch, c_out, o_d, o_h, o_w = out.shape
    c_group = x.shape[1] // groups
    out_per_group = w.shape[1]
    k_d, k_h, k_w = w.shape[2], w.shape[3], w.shape[4]
    per_phase = (o_w + stride_w - 1) // stride_w
    for t in prange(n_batch * c_out * o_d * o_h):
        oh = t % o_h
        od = (t // o_h) % o_d
        o = (t // (o_h * o_d)) % c_out
        n = t // (o_h * o_d * c_out)
        g = o // out_per_group
        oo = o - g * out_per_group
        c0 = g * c_group
        acc = np.zeros(stride_w * per_phase, dtype=out.dtype)
        # The (kd, kh) walk of conv.py written out: a shared walk's args tuple per row cost 1-4% (measured).
        for kd in range(k_d):
            iz = md[od, kd]
            if iz < 0:
                continue
            for kh in range(k_h):
                iy = mh[oh, kh]
                if iy < 0:
                    continue
                for c in range(c_group):
                    row = x[n, c0 + c, iz, iy]
                    for kw in range(k_w):
                        count = runs_w[kw, 2]
                        wv = w[c0 + c, oo, kd, kh, kw]
                        dst = acc[runs_w[kw, 0] :]
                        src = row[runs_w[kw, 1] :]
                        for j in range(count):
                            dst[j] += wv * src[j]
        _store_row(acc, bias[o], residual_at(residual, (n, o, od, oh)), stride_w, act, consts, out[n, o, od, oh])


@serial_kernel
def col2im_transpose_cpu(
    cols, bias, n0, o0, md, mh, runs_w, stride_w, in_h, in_w, k_d, k_h, k_w, residual, act, consts, out
):
    """out[n0 + b, g * C_out/groups + o0 + i] from GEMM tiles cols[b, g, (i, kd, kh, kw), input pixel].

    Gathers, per output row, the columns of the taps that land on it. Serial: the BLAS call that filled
    `cols` owns the cores (its spinning threads slow a parallel loop here far more than this loop costs).
    """
    n_img, groups, rows = cols.shape[0], cols.shape[1], cols.shape[2]
    o_d, o_h, o_w = out.shape[2], out.shape[3], out.shape[4]
    taps = k_d * k_h * k_w
    n_chan = rows // taps
    out_per_group = out.shape[1] // groups
    per_phase = (o_w + stride_w - 1) // stride_w
    acc = np.empty(stride_w * per_phase, dtype=out.dtype)
    for t in range(n_img * groups * n_chan * o_d * o_h):
        oh = t % o_h
        od = (t // o_h) % o_d
        i = (t // (o_h * o_d)) % n_chan
        g = (t // (o_h * o_d * n_chan)) % groups
        b = t // (o_h * o_d * n_chan * groups)
        acc[:] = 0
        # Written out as above: through a shared walk these short rows ran 4% slower (measured).
        for kd in range(k_d):
            iz = md[od, kd]
            if iz < 0:
                continue
            for kh in range(k_h):
                iy = mh[oh, kh]
                if iy < 0:
                    continue
                r0 = ((i * k_d + kd) * k_h + kh) * k_w
                p0 = (iz * in_h + iy) * in_w
                for kw in range(k_w):
                    count = runs_w[kw, 2]
                    dst = acc[runs_w[kw, 0] :]
                    src = cols[b, g, r0 + kw, p0 + runs_w[kw, 1] :]
                    for j in range(count):
                        dst[j] += src[j]
        o = g * out_per_group + o0 + i
        at = (n0 + b, o, od, oh)
        _store_row(acc, bias[o], residual_at(residual, at), stride_w, act, consts, out[at])
