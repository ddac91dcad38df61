"""CPU gradients of max pooling and max unpooling, and the check of max pooling's saved indices.

The other pooling, unpooling and interpolation gradients are linear gathers: the interpolation kernels
(kernels/unpool.py) run them on transposed tap tables. Max pooling's gradient depends on the saved indices, so
it has its own gather: input element (iz, iy, ix) of plane (n, c) sums grad_output over the outputs whose window
covers it (per-dim tables `td, th, tw`: (in, most covering outputs), ascending, -1 after the last) and whose
index names it. Outputs are visited in C order, the order in which torch's backward adds them up; the indices are
only compared, never used as addresses, so no value of them reads out of bounds. Max unpooling's gradient reads
grad_output at each index (checked to lie in the plane beforehand).

Arrays are 5-D (N, C, D, H, W), channels-last data as strided views of (N, D, H, W, C) memory; a thread owns a
row (channels-first the W row of one (n, c), channels-last the pixels of one (n, d, h), channels innermost), so it
writes its output in memory order. Each body below is plain Python, compiled here inlined and as a CUDA device
function by kernels/grad_pool_cuda.py.
"""

from numba import prange

from ._jit import inline, kernel
from ._rules import cpu_walk


def max_grad_tap_body(acc, args, a, b, k, od, oh, ow):
    """A step of max pooling's gradient at one input (`walk_taps`, kernels/_rules.py, over the tables of the outputs
    covering it): acc += g at covering output (od, oh, ow) if its index is the input's flat plane position."""
    g, idx, n, c, pos = args
    if idx[n, c, od, oh, ow] == pos:
        return acc + g[n, c, od, oh, ow]
    return acc


def unpooled_at_body(g, idx, n, c, pd, ph, pw):
    """Gradient of max_unpool's input (pd, ph, pw) of plane (n, c): g at its index (flat in g's plane)."""
    q = idx[n, c, pd, ph, pw]
    o_h, o_w = g.shape[3], g.shape[4]
    r = q // o_w
    return g[n, c, r // o_h, r % o_h, q % o_w]


def first_stray_body(idx, n, c, md, mh, mw, in_h, in_w, plane):
    """The first flat output position of plane (n, c) whose index is not a tap of its own window (or lies outside
    [0, plane)), or -1. `md, mh, mw` are the pooling's (out, kernel) index tables (-1 = padding); the index is
    compared with the flat positions of the window's taps, without branching on the data (64-bit divisions and
    short-circuit tests, mispredicted on random maxima, made this check cost as much as the gradient itself)."""
    o_d, o_h, o_w = idx.shape[2], idx.shape[3], idx.shape[4]
    for od in range(o_d):
        for oh in range(o_h):
            for ow in range(o_w):
                p = idx[n, c, od, oh, ow]
                ok = False
                if p >= 0 and p < plane:
                    for a in range(md.shape[1]):
                        for b in range(mh.shape[1]):
                            rest = p - (md[od, a] * in_h + mh[oh, b]) * in_w  # the W position p needs
                            inside = (md[od, a] >= 0) & (mh[oh, b] >= 0) & (rest >= 0)
                            for k in range(mw.shape[1]):
                                ok = ok | (inside & (mw[ow, k] == rest))
                if not ok:
                    return (od * o_h + oh) * o_w + ow
    return -1


max_grad_walk = cpu_walk(max_grad_tap_body)
unpooled_at = inline(unpooled_at_body)
first_stray = inline(first_stray_body)


@inline
def _row(t, chans, o_d, o_h, channels_last):
    """(n, first channel, channel stop, d, h) of row `t` of a 5-d output (see the module docstring)."""
    planes = 1 if channels_last else chans
    oh = t % o_h
    od = (t // o_h) % o_d
    r = t // (o_h * o_d)
    c_lo = r % planes
    return r // planes, c_lo, chans if channels_last else c_lo + 1, od, oh


@kernel
def max_pool_grad_cpu(g, idx, td, th, tw, channels_last, out):
    """out = the gradient of max pooling w.r.t. its input (`max_grad_tap_body` over the covering outputs); g and
    idx have the pooling's output shape."""
    n_batch, chans, i_d, i_h, i_w = out.shape
    zero = out.dtype.type(0)
    rows = n_batch * (1 if channels_last else chans) * i_d * i_h
    for t in prange(rows):
        n, c_lo, c_hi, iz, iy = _row(t, chans, i_d, i_h, channels_last)
        for ix in range(i_w):
            pos = (iz * i_h + iy) * i_w + ix
            for c in range(c_lo, c_hi):
                out[n, c, iz, iy, ix] = max_grad_walk(td, th, tw, iz, iy, ix, zero, (g, idx, n, c, pos))


@kernel
def max_unpool_grad_cpu(g, idx, channels_last, out):
    """out = g at the indices (`unpooled_at`); idx and out of max_unpool's input shape, g of its output's."""
    n_batch, chans, p_d, p_h, p_w = out.shape
    rows = n_batch * (1 if channels_last else chans) * p_d * p_h
    for t in prange(rows):
        n, c_lo, c_hi, pd, ph = _row(t, chans, p_d, p_h, channels_last)
        for pw in range(p_w):
            for c in range(c_lo, c_hi):
                out[n, c, pd, ph, pw] = unpooled_at(g, idx, n, c, pd, ph, pw)


@kernel
def first_stray_cpu(idx, md, mh, mw, in_h, in_w, plane, firsts):
    """firsts[n, c] = `first_stray` of plane (n, c), parallel over the planes."""
    chans = idx.shape[1]
    for t in prange(idx.shape[0] * chans):
        n = t // chans
        c = t % chans
        firsts[n, c] = first_stray(idx, n, c, md, mh, mw, in_h, in_w, plane)
