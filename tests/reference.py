"""Slow, obviously correct NumPy versions of every numbaconv op, channels-first, float64.

Written from the definitions (np.pad, sliding windows, einsum), sharing no code with numbaconv, so the
tests compare two independent derivations.
"""

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

NUMPY_PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def same_pads(size, kernel, stride, dilation, lower=False):
    """SAME padding written from its definition: the smallest total padding giving ceil(size / stride)."""
    out = -(-size // stride)
    extent = dilation * (kernel - 1) + 1
    total = max(0, (out - 1) * stride + extent - size)
    small, large = total // 2, total - total // 2
    return (large, small) if lower else (small, large)


def activation(y, name, negative_slope=0.01):
    if name is None:
        return y
    if name == "relu":
        return np.maximum(y, 0)
    if name == "relu6":
        return np.clip(y, 0, 6)
    if name == "leaky_relu":
        return np.where(y >= 0, y, negative_slope * y)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-y))
    if name == "tanh":
        return np.tanh(y)
    raise ValueError(name)


def conv(
    x,
    w,
    bias=None,
    stride=1,
    pads=0,
    dilation=1,
    groups=1,
    padding_mode="zeros",
    flip=False,
    act=None,
    negative_slope=0.01,
    residual=None,
):
    """N-d cross-correlation (or convolution with flip=True) of x (N, C, *S) with w (O, C/g, *K), plus bias, plus
    `residual` (an array of the result's shape), then the activation `act`.

    `pads` is an int or a list of (lo, hi) pairs per spatial dim.
    """
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd = x.ndim - 2
    stride = (stride,) * nd if np.isscalar(stride) else tuple(stride)
    dilation = (dilation,) * nd if np.isscalar(dilation) else tuple(dilation)
    pads = [(pads, pads)] * nd if np.isscalar(pads) else [tuple(p) for p in pads]
    if flip:
        w = w[(slice(None), slice(None)) + (slice(None, None, -1),) * nd]
    xp = np.pad(x, [(0, 0), (0, 0)] + pads, mode=NUMPY_PAD_MODE[padding_mode])
    kernel = w.shape[2:]
    extent = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    # windows: (N, C, *out_positions_stride1, *extent) -> take every dilation-th tap, every stride-th output
    win = sliding_window_view(xp, extent, axis=tuple(range(2, 2 + nd)))
    win = win[
        (slice(None), slice(None))
        + tuple(slice(None, None, s) for s in stride)
        + tuple(slice(None, None, d) for d in dilation)
    ]
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    outs = []
    letters = "defg"[:nd]
    for g in range(groups):
        wg = w[g * og : (g + 1) * og]
        xg = win[:, g * cg : (g + 1) * cg]
        spatial = "".join("pqrs"[:nd])
        outs.append(np.einsum(f"nc{spatial}{letters},oc{letters}->no{spatial}", xg, wg))
    y = np.concatenate(outs, axis=1)
    return _epilogue(y, bias, residual, act, negative_slope)


def _epilogue(y, bias, residual, act, negative_slope):
    """act(y + bias (per channel) + residual), in float64."""
    if bias is not None:
        y = y + np.asarray(bias, np.float64).reshape((1, -1) + (1,) * (y.ndim - 2))
    if residual is not None:
        y = y + np.asarray(residual, np.float64)
    return activation(y, act, negative_slope)


# ---- transpose convolution and resize-conv (numbaconv/conv_transpose.py) ----


def conv_transpose(
    x,
    w,
    bias=None,
    stride=1,
    pads=0,
    output_padding=0,
    dilation=1,
    groups=1,
    act=None,
    negative_slope=0.01,
    residual=None,
):
    """N-d transpose convolution of x (N, C_in, *S) with w (C_in, C_out/g, *K), from its definition, plus bias and
    `residual`, then the activation.

    Every input pixel scatters its group's filters, scaled by its value, into the full output at
    i * stride + k * dilation; output_padding lengthens the end; then `pads` ((lo, hi) per dim, or an int)
    is cropped from each side.
    """
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd = x.ndim - 2
    stride = (stride,) * nd if np.isscalar(stride) else tuple(stride)
    dilation = (dilation,) * nd if np.isscalar(dilation) else tuple(dilation)
    output_padding = (output_padding,) * nd if np.isscalar(output_padding) else tuple(output_padding)
    pads = [(pads, pads)] * nd if np.isscalar(pads) else [tuple(p) for p in pads]
    kernel = w.shape[2:]
    full = [
        (n - 1) * s + d * (k - 1) + 1 + q
        for n, k, s, d, q in zip(x.shape[2:], kernel, stride, dilation, output_padding)
    ]
    cg, og = x.shape[1] // groups, w.shape[1]
    y = np.zeros((x.shape[0], og * groups, *full))
    for i in np.ndindex(*x.shape[2:]):
        for k in np.ndindex(*kernel):
            at = tuple(a * s + b * d for a, b, s, d in zip(i, k, stride, dilation))
            for g in range(groups):
                xs = x[(slice(None), slice(g * cg, (g + 1) * cg)) + i]
                ws = w[(slice(g * cg, (g + 1) * cg), slice(None)) + k]
                y[(slice(None), slice(g * og, (g + 1) * og)) + at] += xs @ ws
    y = y[(slice(None), slice(None)) + tuple(slice(lo, n - hi) for (lo, hi), n in zip(pads, full))]
    return _epilogue(y, bias, residual, act, negative_slope)


def resize_conv(x, w, bias=None, scale=2, mode="nearest", align_corners=False, **conv_options):
    """conv (above) of x upsampled by `scale` (an int or one per spatial dim): every pixel repeated `scale` times
    ("nearest"), or interpolated ("bilinear": `interpolate`'s "linear", "bicubic": its "cubic")."""
    return conv(upsample(x, scale, mode, align_corners), w, bias, **conv_options)


def upsample(x, scale=2, mode="nearest", align_corners=False):
    """resize_conv's upsampling of x by the integer `scale`."""
    x = np.asarray(x, np.float64)
    scale = (scale,) * (x.ndim - 2) if np.isscalar(scale) else tuple(scale)
    if mode == "nearest":
        for axis, s in enumerate(scale, start=2):
            x = np.repeat(x, s, axis=axis)
        return x
    size = [n * s for n, s in zip(x.shape[2:], scale)]
    return interpolate(x, size, {"bilinear": "linear", "bicubic": "cubic"}[mode], align_corners, scale)


# ---- pooling (numbaconv/pool.py) ----


def _per_dim(value, nd):
    return (value,) * nd if np.isscalar(value) else tuple(value)


def _pad_pairs(pads, nd):
    """An int, per-dim ints, or per-dim (lo, hi) pairs, as per-dim (lo, hi) pairs."""
    if np.isscalar(pads):
        return [(pads, pads)] * nd
    return [tuple(p) if isinstance(p, (tuple, list)) else (p, p) for p in pads]


def pool_out_size(size, kernel, stride, pad, dilation, ceil_mode):
    """torch's pooling size: floor (ceil) division; a ceil_mode window starting in the right padding is dropped."""
    lo, hi = pad
    span = size + lo + hi - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + lo:
        out -= 1
    return out


def pool_windows(a, kernel, stride, pads, dilation, ceil_mode, fill, beyond_fill):
    """Every pooling window of a (N, C, *S) as (N, C, *out, taps), the taps in (d, h, w) scan order.

    `a` is padded with `fill` by `pads`, and with `beyond_fill` past the right padding, where a ceil_mode
    window may hang over.
    """
    nd = a.ndim - 2
    kernel, dilation = _per_dim(kernel, nd), _per_dim(dilation, nd)
    stride = kernel if stride is None else _per_dim(stride, nd)
    pads = _pad_pairs(pads, nd)
    outs = [
        pool_out_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip(a.shape[2:], kernel, stride, pads, dilation)
    ]
    extents = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    beyond = [
        max(0, (o - 1) * s + e - (n + lo + hi))
        for o, s, e, n, (lo, hi) in zip(outs, stride, extents, a.shape[2:], pads)
    ]
    a = np.pad(a, [(0, 0), (0, 0)] + [tuple(p) for p in pads], constant_values=fill)
    a = np.pad(a, [(0, 0), (0, 0)] + [(0, b) for b in beyond], constant_values=beyond_fill)
    win = sliding_window_view(a, extents, axis=tuple(range(2, 2 + nd)))
    win = win[
        (slice(None), slice(None))
        + tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(outs, stride))
        + tuple(slice(None, None, d) for d in dilation)
    ]
    return win.reshape(win.shape[: 2 + nd] + (-1,))


def max_pool(x, kernel, stride=None, pads=0, dilation=1, ceil_mode=False):
    """(values, indices) of max pooling with padding that never wins, by torch's rules.

    A window holding a NaN gives NaN and the index of its last NaN; otherwise the first (in scan order)
    in-bounds maximum. Indices are flat positions within each (n, c) plane. Values in float64.
    """
    x = np.asarray(x, np.float64)
    args = (kernel, stride, pads, dilation, ceil_mode)
    plane = np.broadcast_to(np.arange(np.prod(x.shape[2:])).reshape(x.shape[2:]), x.shape)
    vals = pool_windows(x, *args, -np.inf, -np.inf)
    pos = pool_windows(plane, *args, -1, -1)
    nan = np.isnan(vals)
    has_nan = nan.any(axis=-1)
    last_nan = vals.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
    best = np.where(nan, -np.inf, vals).max(axis=-1)
    first_best = np.argmax((pos >= 0) & (vals == best[..., None]), axis=-1)
    winner = np.where(has_nan, last_nan, first_best)
    return np.where(has_nan, np.nan, best), np.take_along_axis(pos, winner[..., None], axis=-1)[..., 0]


def avg_pool(
    x, kernel, stride=None, pads=0, dilation=1, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    """Window sums over the (dilated) taps / the number of taps in the input (and padding), or the override."""
    x = np.asarray(x, np.float64)
    args = (kernel, stride, pads, dilation, ceil_mode)
    sums = pool_windows(x, *args, 0.0, 0.0).sum(axis=-1)
    if divisor_override is not None:
        return sums / divisor_override
    ones = np.ones((1, 1) + x.shape[2:])
    counted = pool_windows(ones, *args, 1.0 if count_include_pad else 0.0, 0.0).sum(axis=-1)
    return sums / counted


def adaptive_pool(x, out_spatial, mode):
    """torch's adaptive pooling, one window at a time: along a dim of size n pooled to m, output o reads input
    [floor(o * n / m), ceil((o + 1) * n / m)). mode "avg": the window's mean; mode "max": (values, indices) with
    max_pool's rules (a NaN gives NaN and its last index, else the first maximum in scan order), indices flat
    within each (n, c) plane. Values in float64."""
    x = np.asarray(x, np.float64)
    spatial = x.shape[2:]
    windows = [
        [range(math.floor(o * n / m), math.ceil((o + 1) * n / m)) for o in range(m)]
        for n, m in zip(spatial, out_spatial)
    ]
    values = np.empty(x.shape[:2] + tuple(out_spatial))
    indices = np.empty(values.shape, np.int64)
    for n, c in np.ndindex(*x.shape[:2]):
        for out_pos in np.ndindex(*out_spatial):
            taps = list(itertools.product(*(windows[d][o] for d, o in enumerate(out_pos))))  # (d, h, w) order
            vals = np.array([x[(n, c) + tap] for tap in taps])
            flat = [int(np.ravel_multi_index(tap, spatial)) for tap in taps]
            if mode == "avg":
                values[(n, c) + out_pos] = vals.sum() / len(taps)
                continue
            nan = np.flatnonzero(np.isnan(vals))
            j = nan[-1] if nan.size else int(np.argmax(vals))  # argmax: the first of equal maxima
            values[(n, c) + out_pos], indices[(n, c) + out_pos] = vals[j], flat[j]
    return values if mode == "avg" else (values, indices)


# ---- unpooling and upsampling (numbaconv/unpool.py) ----


def max_unpool(x, indices, out_spatial):
    """Zeros, then out[n, c].flat[indices[n, c].flat[p]] = x[n, c].flat[p] in order of p.

    Where indices repeat, the largest value stays (NaN counts as largest; the first of equal values stays).
    """
    x = np.asarray(x)
    n_batch, chans = x.shape[:2]
    out = np.zeros((n_batch, chans, int(np.prod(out_spatial))), x.dtype)
    for n in range(n_batch):
        for c in range(chans):
            seen = set()
            for v, j in zip(x[n, c].ravel(), indices[n, c].ravel()):
                cur = out[n, c, j]
                if j not in seen or v > cur or (np.isnan(v) and not np.isnan(cur)):
                    out[n, c, j] = v
                    seen.add(j)
    return out.reshape((n_batch, chans) + tuple(out_spatial))


def unpool(x, scale, mode="nearest"):
    """np.repeat along each spatial dim ("nearest"), or each value at the start of its cell ("bed_of_nails")."""
    x = np.asarray(x)
    nd = x.ndim - 2
    scale = _per_dim(scale, nd)
    if mode == "nearest":
        for axis, s in enumerate(scale):
            x = np.repeat(x, s, axis=2 + axis)
        return x
    out = np.zeros(x.shape[:2] + tuple(n * s for n, s in zip(x.shape[2:], scale)), x.dtype)
    out[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in scale)] = x
    return out


def interpolate_nearest(x, out_spatial, scale_factor=None, exact=False):
    """torch's nearest / nearest-exact resize, one spatial axis at a time, with its float32 index formulas.

    scale = float32(1 / scale_factor) if given, else float32(in) / float32(out);
    nearest: src = floor(float32(dst) * scale); nearest-exact: src = floor(float32((dst + 0.5) * scale));
    both clamped to in - 1.
    """
    x = np.asarray(x)
    nd = x.ndim - 2
    factors = None if scale_factor is None else _per_dim(scale_factor, nd)
    for axis in range(nd):
        size, out = x.shape[2 + axis], out_spatial[axis]
        scale = np.float32(1.0 / factors[axis]) if factors else np.float32(size) / np.float32(out)
        src = []
        for dst in range(out):
            pos = np.float32((dst + 0.5) * float(scale)) if exact else np.float32(dst) * scale
            src.append(min(int(np.floor(pos)), size - 1))
        x = np.take(x, src, axis=2 + axis)
    return x


def keys_cubic(d, a=-0.75):
    """Keys' cubic convolution kernel at distance d (the textbook piecewise form)."""
    d = abs(d)
    if d <= 1:
        return (a + 2) * d**3 - (a + 3) * d**2 + 1
    if d < 2:
        return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    return 0.0


def interpolation_matrix(size, out, mode, align_corners=False, scale_factor=None):
    """(out, size) matrix whose row dst holds the weights of the input pixels that output dst reads, from torch's
    formulas in float64:

    scale = (size - 1) / (out - 1) with align_corners (0 for one output), else 1 / scale_factor if given, else
    size / out; src = dst * scale with align_corners, else (dst + 0.5) * scale - 0.5.
    linear: src raised to 0, then the two pixels around it weighted by 1 - t and t (t = src - floor(src)), the
    upper one clamped to the last pixel; torch's CPU kernels copy a dim whose out == size whatever the scale.
    cubic: the four pixels floor(src) - 1 .. floor(src) + 2 weighted by keys_cubic of their distance to src,
    each clamped into the image (so a border pixel gathers the weights of the pixels beyond it).
    """
    m = np.zeros((out, size))
    for dst in range(out):
        if align_corners:
            src = dst * ((size - 1) / (out - 1) if out > 1 else 0.0)
        else:
            scale = 1 / scale_factor if scale_factor is not None else size / out
            src = (dst + 0.5) * scale - 0.5
        if mode == "cubic":
            i = int(np.floor(src))
            for j in range(i - 1, i + 3):
                m[dst, min(max(j, 0), size - 1)] += keys_cubic(src - j)
        elif out == size:
            m[dst, dst] = 1.0
        else:
            src = max(src, 0.0)
            i = min(int(np.floor(src)), size - 1)
            t = src - i
            m[dst, i] += 1 - t
            m[dst, min(i + 1, size - 1)] += t
    return m


def interpolate(x, out_spatial, mode, align_corners=False, scale_factor=None):
    """linear / bilinear / trilinear ("linear") or bicubic ("cubic") resize of (N, C, *spatial) x in float64: the
    interpolation matrix of each spatial dim applied along it in turn (the weights are separable).
    `scale_factor` (one or per dim) is the factor torch uses for the scale, None where it uses in / out."""
    x = np.asarray(x, np.float64)
    nd = x.ndim - 2
    factors = (None,) * nd if scale_factor is None else _per_dim(scale_factor, nd)
    for axis in range(nd):
        m = interpolation_matrix(x.shape[2 + axis], out_spatial[axis], mode, align_corners, factors[axis])
        x = np.moveaxis(np.tensordot(m, np.moveaxis(x, 2 + axis, 0), axes=1), 0, 2 + axis)
    return x


# ---- shuffles and separable filters (numbaconv/shuffle.py) ----


def channel_shuffle(x, groups, axis=1):
    """ShuffleNet's definition: view channels as (groups, C / groups), swap the two, flatten back."""
    x = np.moveaxis(np.asarray(x), axis, 1)
    n, c = x.shape[:2]
    y = x.reshape(n, groups, c // groups, *x.shape[2:]).swapaxes(1, 2).reshape(x.shape)
    return np.moveaxis(y, 1, axis)


def pixel_shuffle(x, rh, rw):
    """(*, C * rh * rw, H, W) -> (*, C, H * rh, W * rw): channel c * rh * rw + i * rw + j fills offset (i, j)."""
    *lead, c_in, h, w = x.shape
    c = c_in // (rh * rw)
    y = np.empty((*lead, c, h * rh, w * rw), x.dtype)
    for ch in range(c):
        for i in range(rh):
            for j in range(rw):
                y[..., ch, i::rh, j::rw] = x[..., ch * rh * rw + i * rw + j, :, :]
    return y


def pixel_unshuffle(x, rh, rw):
    """(*, C, H * rh, W * rw) -> (*, C * rh * rw, H, W): offset (i, j) of each cell goes to its own channel."""
    *lead, c, h, w = x.shape
    y = np.empty((*lead, c * rh * rw, h // rh, w // rw), x.dtype)
    for ch in range(c):
        for i in range(rh):
            for j in range(rw):
                y[..., ch * rh * rw + i * rw + j, :, :] = x[..., ch, i::rh, j::rw]
    return y


def shuffle_conv(x, w, bias=None, groups=1, **conv_options):
    """Grouped convolution, then the channel shuffle, as two separate steps."""
    return channel_shuffle(conv(x, w, bias, groups=groups, **conv_options), groups)


def spatially_separable_conv(
    x,
    column,
    row,
    bias=None,
    stride=(1, 1),
    pads=((0, 0), (0, 0)),
    dilation=(1, 1),
    groups=1,
    padding_mode="zeros",
    flip=False,
    act=None,
    negative_slope=0.01,
):
    """Column pass (kH x 1, the H parts of the geometry) then row pass (1 x kW, the W parts); 4-d weights."""
    mid = conv(
        x,
        column,
        stride=(stride[0], 1),
        pads=[pads[0], (0, 0)],
        dilation=(dilation[0], 1),
        groups=groups,
        padding_mode=padding_mode,
        flip=flip,
    )
    return conv(
        mid,
        row,
        bias,
        stride=(1, stride[1]),
        pads=[(0, 0), pads[1]],
        dilation=(1, dilation[1]),
        groups=groups,
        padding_mode=padding_mode,
        flip=flip,
        act=act,
        negative_slope=negative_slope,
    )


# ---- gradients (numbaconv/grad.py) ----


def activation_derivative(y, name, negative_slope=0.01):
    """The activation's derivative as a function of its output y, at torch's choices for the kinks: relu and
    relu6 count their flat ends (0, and 6) as flat, leaky_relu takes the slope at 0."""
    y = np.asarray(y, np.float64)
    if name is None:
        return np.ones_like(y)
    if name == "relu":
        return (y > 0).astype(np.float64)
    if name == "relu6":
        return ((y > 0) & (y < 6)).astype(np.float64)
    if name == "leaky_relu":
        return np.where(y > 0, 1.0, negative_slope)
    if name == "sigmoid":
        return y * (1 - y)
    if name == "tanh":
        return 1 - y * y
    raise ValueError(name)


def conv_grads(x, w, gy, stride=1, pads=0, dilation=1, groups=1, padding_mode="zeros", flip=False):
    """(grad_input, grad_weight) of `conv` (no bias, no activation) from the definition, by loops: output pixel p
    reads padded position p * stride + k * dilation through tap k, so gy[p] * w[k] flows to that padded position
    and gy[p] * xpad[position] to w[k]; the padded input's gradient then goes to the input pixel that np.pad copied
    into each padded position (found by padding an array of pixel numbers the same way)."""
    x, w, gy = (np.asarray(a, np.float64) for a in (x, w, gy))
    nd = x.ndim - 2
    stride, dilation = _per_dim(stride, nd), _per_dim(dilation, nd)
    pads = _pad_pairs(pads, nd)
    if flip:
        w = w[(slice(None), slice(None)) + (slice(None, None, -1),) * nd]
    mode = NUMPY_PAD_MODE[padding_mode]
    xp = np.pad(x, [(0, 0), (0, 0)] + pads, mode=mode)
    spatial = x.shape[2:]
    numbers = np.arange(math.prod(spatial)).reshape(spatial)
    if mode == "constant":
        source = np.pad(numbers, pads, mode="constant", constant_values=-1)
    else:
        source = np.pad(numbers, pads, mode=mode)
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    gxp, gw = np.zeros_like(xp), np.zeros_like(w)
    for p in np.ndindex(*gy.shape[2:]):
        for k in np.ndindex(*w.shape[2:]):
            q = tuple(a * s + b * d for a, b, s, d in zip(p, k, stride, dilation))
            for g in range(groups):
                cs, os = slice(g * cg, (g + 1) * cg), slice(g * og, (g + 1) * og)
                g_out = gy[(slice(None), os) + p]  # (N, og)
                gw[(os, slice(None)) + k] += g_out.T @ xp[(slice(None), cs) + q]
                gxp[(slice(None), cs) + q] += g_out @ w[(os, slice(None)) + k]
    gx = np.zeros(x.shape[:2] + (numbers.size,))
    for q in np.ndindex(*source.shape):
        if source[q] >= 0:
            gx[:, :, source[q]] += gxp[(slice(None), slice(None)) + q]
    if flip:
        gw = gw[(slice(None), slice(None)) + (slice(None, None, -1),) * nd]
    return gx.reshape(x.shape), gw


def conv_transpose_grads(x, w, gy, stride=1, pads=0, output_padding=0, dilation=1, groups=1):
    """(grad_input, grad_weight) of `conv_transpose` (no bias, no activation) from the definition: input pixel i
    reaches full-output position i * stride + k * dilation through tap k; gy is that full output's gradient after
    the crop (zero where cropped), so gx[i] sums w[k] * gy_full[position] and gw[k] sums x[i] * gy_full[position]."""
    x, w, gy = (np.asarray(a, np.float64) for a in (x, w, gy))
    nd = x.ndim - 2
    stride, dilation = _per_dim(stride, nd), _per_dim(dilation, nd)
    output_padding = _per_dim(output_padding, nd)
    pads = _pad_pairs(pads, nd)
    full = [
        (n - 1) * s + d * (k - 1) + 1 + q
        for n, k, s, d, q in zip(x.shape[2:], w.shape[2:], stride, dilation, output_padding)
    ]
    gy_full = np.zeros(gy.shape[:2] + tuple(full))
    gy_full[(slice(None), slice(None)) + tuple(slice(lo, n - hi) for (lo, hi), n in zip(pads, full))] = gy
    cg, og = x.shape[1] // groups, w.shape[1]
    gx, gw = np.zeros_like(x), np.zeros_like(w)
    for i in np.ndindex(*x.shape[2:]):
        for k in np.ndindex(*w.shape[2:]):
            at = tuple(a * s + b * d for a, b, s, d in zip(i, k, stride, dilation))
            for g in range(groups):
                cs, os = slice(g * cg, (g + 1) * cg), slice(g * og, (g + 1) * og)
                g_full = gy_full[(slice(None), os) + at]  # (N, og)
                gx[(slice(None), cs) + i] += g_full @ w[(cs, slice(None)) + k].T
                gw[(cs, slice(None)) + k] += x[(slice(None), cs) + i].T @ g_full
    return gx, gw


# ---- gradients w.r.t. the input (numbaconv/grad.py) ----


def linear_input(forward, input_shape, grad_output):
    """The gradient w.r.t. the input of a linear op that treats every (n, c) plane alike (pooling, unpooling,
    interpolation): J^T g, with row i of the plane's Jacobian J the op's output on basis plane i (all the basis
    planes pooled at once, as one batch)."""
    input_shape = tuple(input_shape)
    size = int(np.prod(input_shape[2:]))
    basis = np.eye(size).reshape((size, 1) + input_shape[2:])
    jacobian = np.asarray(forward(basis), np.float64).reshape(size, -1)
    planes = np.asarray(grad_output, np.float64).reshape(int(np.prod(input_shape[:2])), -1)
    return (planes @ jacobian.T).reshape(input_shape)


def max_pool_input(input_shape, grad_output, indices):
    """torch's rule: zeros, then grad_input[n, c].flat[indices[n, c].flat[o]] += grad_output[n, c].flat[o] in
    order of o (overlapping windows that chose one maximum add up)."""
    n_batch, chans = input_shape[:2]
    grad = np.zeros((n_batch, chans, int(np.prod(input_shape[2:]))))
    for n in range(n_batch):
        for c in range(chans):
            for j, g in zip(indices[n, c].ravel(), np.asarray(grad_output[n, c], np.float64).ravel()):
                grad[n, c, j] += g
    return grad.reshape(input_shape)


def max_unpool_input(grad_output, indices):
    """grad_x[n, c].flat[p] = grad_output[n, c].flat[indices[n, c].flat[p]]: each input gets the gradient at its
    index, duplicates each the same one (torch's backward)."""
    n_batch, chans = indices.shape[:2]
    planes = np.asarray(grad_output, np.float64).reshape(n_batch, chans, -1)
    flat = indices.reshape(n_batch, chans, -1)
    return np.take_along_axis(planes, flat, axis=2).reshape(indices.shape)


# ---- gradients of the two-step convolutions: each step's reference gradient above, chained ----


def separable_grads(
    x,
    dw,
    pw,
    gy,
    bias=None,
    depthwise_bias=None,
    stride=1,
    pads=0,
    dilation=1,
    padding_mode="zeros",
    depthwise_act=None,
    act=None,
    negative_slope=0.01,
):
    """(gx, g_depthwise, g_pointwise, g_bias, g_depthwise_bias) of act(conv(m, pw) + bias) with
    m = depthwise_act(conv(x, dw, depthwise_bias, groups=C)): each derivative read at the forward's own values."""
    x = np.asarray(x, np.float64)
    depthwise = dict(stride=stride, pads=pads, dilation=dilation, groups=x.shape[1], padding_mode=padding_mode)
    mid = conv(x, dw, depthwise_bias, **depthwise, act=depthwise_act, negative_slope=negative_slope)
    pw4 = np.reshape(pw, (pw.shape[0], -1, 1, 1))
    y = conv(mid, pw4, bias, act=act, negative_slope=negative_slope)
    g = gy * activation_derivative(y, act, negative_slope)
    g_mid, g_pw = conv_grads(mid, pw4, g)
    g_mid = g_mid * activation_derivative(mid, depthwise_act, negative_slope)
    gx, g_dw = conv_grads(x, dw, g_mid, **depthwise)
    return gx, g_dw, g_pw.reshape(np.shape(pw)), g.sum(axis=(0, 2, 3)), g_mid.sum(axis=(0, 2, 3))


def spatially_separable_grads(
    x,
    column,
    row,
    gy,
    bias=None,
    stride=(1, 1),
    pads=((0, 0), (0, 0)),
    dilation=(1, 1),
    groups=1,
    padding_mode="zeros",
    flip=False,
    act=None,
    negative_slope=0.01,
):
    """(gx, g_column, g_row, g_bias) of spatially_separable_conv (4-d weights): the row pass's gradients at the
    column pass's output, then the column pass's."""
    common = dict(groups=groups, padding_mode=padding_mode, flip=flip)
    col_pass = dict(stride=(stride[0], 1), pads=[pads[0], (0, 0)], dilation=(dilation[0], 1), **common)
    row_pass = dict(stride=(1, stride[1]), pads=[(0, 0), pads[1]], dilation=(1, dilation[1]), **common)
    mid = conv(x, column, **col_pass)
    y = conv(mid, row, bias, **row_pass, act=act, negative_slope=negative_slope)
    g = gy * activation_derivative(y, act, negative_slope)
    g_mid, g_row = conv_grads(mid, row, g, **row_pass)
    gx, g_col = conv_grads(x, column, g_mid, **col_pass)
    return gx, g_col, g_row, g.sum(axis=(0, 2, 3))


def shuffle_conv_grads(x, w, gy, bias=None, groups=1, act=None, negative_slope=0.01, **geometry):
    """(gx, gw, g_bias) of shuffle_conv: output channel k is the conv's channel order[k], so the conv's output
    gradient is gy put back at those channels."""
    y = shuffle_conv(x, w, bias, groups, act=act, negative_slope=negative_slope, **geometry)
    g = gy * activation_derivative(y, act, negative_slope)
    order = channel_shuffle(np.arange(w.shape[0])[None], groups)[0]
    g_conv = np.empty_like(g)
    g_conv[:, order] = g
    gx, gw = conv_grads(x, w, g_conv, groups=groups, **geometry)
    return gx, gw, g_conv.sum(axis=(0, 2, 3))


def resize_conv_grads(
    x, w, gy, bias=None, scale=2, mode="nearest", align_corners=False, act=None, negative_slope=0.01, **geometry
):
    """(gx, gw, g_bias) of resize_conv: the conv's gradients at the upsampled image, then the upsampling's
    (linear) gradient."""
    up = upsample(x, scale, mode, align_corners)
    y = conv(up, w, bias, act=act, negative_slope=negative_slope, **geometry)
    g = gy * activation_derivative(y, act, negative_slope)
    g_up, gw = conv_grads(up, w, g, **geometry)
    gx = linear_input(lambda a: upsample(a, scale, mode, align_corners), np.shape(x), g_up)
    return gx, gw, g.sum(axis=(0, 2, 3))
