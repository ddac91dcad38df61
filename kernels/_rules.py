"""Rules that CPU and CUDA kernels share, each written once as a plain-Python body.

A body is compiled twice, as kernels/_epilogue.py does it: inlined into the CPU kernels (`inline(body)`, the
names without `_body` below) and as a CUDA device function (`device(body)`, kernels/_device.py). The CUDA
simulator cannot call an @njit function from a @cuda.jit kernel, and importing a CPU kernel must not load
numba.cuda, so the bodies themselves import neither.
"""

from ._jit import inline


def beats_body(v, best):
    """Max pooling: tap value `v` replaces the running maximum `best` when it is larger or NaN.

    `v != v` is NaN: a NaN always takes over, so NaN propagates, and the last NaN's index wins (as torch).
    Bitwise `|`, not `or`: the CPU kernels fold whole rows with it, and a branch-free test vectorises.
    """
    return (v > best) | (v != v)


def keeps_body(v, current):
    """Max unpooling: input value `v` replaces the value `current` already at its output position when it is
    larger, or NaN over a number (NaN counts as largest, as in max pooling); of equal values the first stays."""
    return v > current or (v != v and current == current)


def unravel_body(t, chans, o_d, o_h, o_w, channels_last):
    """(n, c, od, oh, ow) of flat item `t` of an (N, C, D, H, W) grid: W fastest (channels-first), or C fastest
    (channels-last), so that neighbouring threads touch neighbouring memory in either layout. n is not
    bounded: it is what is left of `t`, so a 3-d position p unravels as (0, 0, pd, ph, pw) with chans = 1."""
    r = t // chans if channels_last else t
    ow = r % o_w
    r = r // o_w
    oh = r % o_h
    r = r // o_h
    od = r % o_d
    r = r // o_d
    if channels_last:
        return r, t % chans, od, oh, ow
    return r // chans, r % chans, od, oh, ow


def interpolate_at_body(x, n, c, od, oh, ow, md, wd, mh, wh, mw, ww, zero):
    """Output (od, oh, ow) of plane (n, c) of a separable interpolation: the sum over D taps of wd * (the sum over
    H taps of wh * (the sum over W taps of ww * x)), nested as torch's CPU kernels sum, from per-dim (out, taps)
    index and weight tables (a dim that is not there has one tap of weight 1). Every tap is read, zero weights
    too, so a NaN or infinite input poisons its neighbours as in torch. A tap of index -1 is skipped: the
    transposed tables of the gradients (numbaconv/_launch_grad_pool.py) end their shorter rows with it.
    `zero` sets the accumulator dtype."""
    acc_d = zero
    for a in range(md.shape[1]):
        iz = md[od, a]
        if iz < 0:
            continue
        acc_h = zero
        for b in range(mh.shape[1]):
            iy = mh[oh, b]
            if iy < 0:
                continue
            acc_w = zero
            for k in range(mw.shape[1]):
                ix = mw[ow, k]
                if ix >= 0:
                    acc_w += ww[ow, k] * x[n, c, iz, iy, ix]
            acc_h += wh[oh, b] * acc_w
        acc_d += wd[od, a] * acc_h
    return acc_d


def walk_taps(body, padded=None):
    """The walk over a window, as a plain-Python body: `state = body(state, args, kd, kh, kw, iz, iy, ix)` for each
    in-bounds tap of output (od, oh, ow), iz = md[od, kd], iy = mh[oh, kh], ix = mw[ow, kw] ((out, kernel) index
    tables, -1 = padding), in (kd, kh, kw) order; the walk returns the last state. Padded taps are skipped, or
    with `padded` folded by `state = padded(state, args, kd, kh, kw)` (a convolution adds 0 * weight there, so
    that a NaN or infinite weight poisons the output as torch's zero-padded sum does).

    `args` is a tuple of what the body reads; `state` what it folds: a scalar or a tuple of scalars on CUDA. CPU
    bodies update C vectors passed in `args` and fold None: an array threaded through `state` cost up to 2x
    (refcounting on every call). Compile with `cpu_walk` or `_device.device_walk`.
    """

    def walk(md, mh, mw, od, oh, ow, state, args):
        for kd in range(md.shape[1]):
            iz = md[od, kd]
            if iz < 0:
                continue
            for kh in range(mh.shape[1]):
                iy = mh[oh, kh]
                if iy < 0:
                    continue
                for kw in range(mw.shape[1]):
                    ix = mw[ow, kw]
                    if ix >= 0:
                        state = body(state, args, kd, kh, kw, iz, iy, ix)
        return state

    def walk_all(md, mh, mw, od, oh, ow, state, args):
        for kd in range(md.shape[1]):
            iz = md[od, kd]
            for kh in range(mh.shape[1]):
                iy = mh[oh, kh]
                for kw in range(mw.shape[1]):
                    ix = mw[ow, kw]
                    if iz >= 0 and iy >= 0 and ix >= 0:
                        state = body(state, args, kd, kh, kw, iz, iy, ix)
                    else:
                        state = padded(state, args, kd, kh, kw)
        return state

    return walk if padded is None else walk_all


def cpu_walk(body):
    """`walk_taps(body)` for the CPU, inlined with its body into the kernels that call it."""
    return inline(walk_taps(inline(body)))


beats = inline(beats_body)
keeps = inline(keeps_body)
interpolate_at = inline(interpolate_at_body)
