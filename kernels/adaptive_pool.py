"""CPU adaptive pooling of channels-first data: each output folds its box of the input in one pass.

Output (od, oh, ow) of plane (n, c) pools the box bd[od] x bh[oh] x bw[ow] of x (N, C, D, H, W), each table row
a [start, end) pair (torch's windows, built by the public API; never empty). The box is a stack of contiguous
row pieces, so every inner loop reads a 0-based slice at unit stride, and nothing is allocated: global pooling
(one output per plane) reads each plane once. 1-D and 2-D pooling arrive with leading spatial dims of size 1.

Max pooling is the pooling kernels' rule (kernels/pool.py): elements in (d, h, w) order, one replaces the
running maximum when it is larger or NaN (`beats`), starting from `lowest` with the index of the box's first
element; so NaN propagates with the index of the last NaN, and the first of equal maxima wins, as torch.
Channels-last data and CUDA arrays run the pooling kernels on the same windows as (out, kernel) index tables.
"""

from numba import prange

from ._jit import inline, kernel
from ._rules import beats


@inline
def _row_sum(row, acc):
    for i in range(row.shape[0]):
        acc += row[i]
    return acc


@inline
def _row_max(row, base, best, arg):
    """The running (maximum, plane index) after the elements of `row`, whose first has plane index `base`."""
    for i in range(row.shape[0]):
        v = row[i]
        if beats(v, best):
            best = v
            arg = base + i
    return best, arg


@kernel
def adaptive_pool_cf(x, bd, bh, bw, lowest, average, want_idx, out, idx):
    """out = the mean (`average`) or the maximum of each output's box, and idx (`want_idx`) the maximum's flat
    index in its (n, c) plane; parallel over output rows (n, c, od, oh)."""
    n_batch, chans, o_d, o_h, o_w = out.shape
    in_h, in_w = x.shape[3], x.shape[4]
    for t in prange(n_batch * chans * o_d * o_h):
        oh = t % o_h
        od = (t // o_h) % o_d
        c = (t // (o_h * o_d)) % chans
        n = t // (o_h * o_d * chans)
        plane = x[n, c]
        z0, z1, y0, y1 = bd[od, 0], bd[od, 1], bh[oh, 0], bh[oh, 1]
        for ow in range(o_w):
            x0, x1 = bw[ow, 0], bw[ow, 1]
            if average:
                acc = out.dtype.type(0)
                for iz in range(z0, z1):
                    for iy in range(y0, y1):
                        acc = _row_sum(plane[iz, iy, x0:x1], acc)
                out[n, c, od, oh, ow] = acc / out.dtype.type((z1 - z0) * (y1 - y0) * (x1 - x0))
            else:
                best, arg = lowest[0], (z0 * in_h + y0) * in_w + x0
                for iz in range(z0, z1):
                    for iy in range(y0, y1):
                        best, arg = _row_max(plane[iz, iy, x0:x1], (iz * in_h + iy) * in_w + x0, best, arg)
                out[n, c, od, oh, ow] = best
                if want_idx:
                    idx[n, c, od, oh, ow] = arg
