"""Slow, obviously correct NumPy versions of every numbaconv op, channels-first, float64.

Written from the definitions (np.pad, sliding windows, einsum), sharing no code with numbaconv, so the
tests compare two independent derivations.
"""

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


def conv(x, w, bias=None, stride=1, pads=0, dilation=1, groups=1, padding_mode="zeros", flip=False,
         act=None, negative_slope=0.01):
    """N-d cross-correlation (or convolution with flip=True) of x (N, C, *S) with w (O, C/g, *K).

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
    win = win[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)
              + tuple(slice(None, None, d) for d in dilation)]
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    outs = []
    letters = "defg"[:nd]
    for g in range(groups):
        wg = w[g * og:(g + 1) * og]
        xg = win[:, g * cg:(g + 1) * cg]
        spatial = "".join("pqrs"[:nd])
        outs.append(np.einsum(f"nc{spatial}{letters},oc{letters}->no{spatial}", xg, wg))
    y = np.concatenate(outs, axis=1)
    if bias is not None:
        y = y + np.asarray(bias, np.float64).reshape((1, -1) + (1,) * nd)
    return activation(y, act, negative_slope)


# ---- transpose convolution and resize-conv (numbaconv/conv_transpose.py) ----


# ---- pooling (numbaconv/pool.py) ----


# ---- unpooling and upsampling (numbaconv/unpool.py) ----


# ---- shuffles and separable filters (numbaconv/shuffle.py) ----
