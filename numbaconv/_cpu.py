"""Launching the CPU kernels: 5-D views, workspaces and BLAS calls. Imports Numba only when first used."""

from __future__ import annotations

import math
import threading

import numpy as np

from ._algorithms import plane_applies
from ._params import ConvParams

# Upper bound on the im2col / GEMM-result workspace of the dense path, per tile of output rows.
WORKSPACE_BYTES = 8 << 20


_workspaces = threading.local()


def workspace(name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A scratch array kept per thread between calls (at most WORKSPACE_BYTES-sized for im2col tiles).

    A fresh multi-megabyte np.empty on every call is mapped from the OS and page-faults on first touch, which
    cost about 1.5 ms of an 11 ms ResNet 3x3 conv (measured); reusing the pages removes that.
    """
    key = (name, np.dtype(dtype).str)
    cache = _workspaces.__dict__
    need = math.prod(shape)
    buf = cache.get(key)
    if buf is None or buf.size < need:
        buf = cache[key] = np.empty(need, dtype=dtype)
    return buf[:need].reshape(shape)


def to5d(a: np.ndarray, nd: int, channels_last: bool) -> np.ndarray:
    """View of an (N, C, *spatial) or (N, *spatial, C) array as (N, C, D, H, W); never a copy."""
    if channels_last:
        a = np.moveaxis(a, -1, 1)
    return a[(slice(None), slice(None)) + (None,) * (3 - nd)]


def activation_consts(params: ConvParams, dtype: np.dtype) -> np.ndarray:
    """(negative_slope, 0, 1, 6) in the compute dtype, as kernels/_epilogue.py expects."""
    return np.array([params.alpha, 0, 1, 6], dtype=dtype)


def row_chunk(rows: int) -> int:
    """Output rows per parallel task of the row kernels: about 8 tasks per thread, at most 256 rows each."""
    import numba
    return min(rows // (8 * numba.get_num_threads()) + 1, 256)


def _rows_per_tile(params: ConvParams, reduction: int, itemsize: int) -> int:
    o_w = params.out_spatial[-1]
    per_row = (reduction + params.out_per_group) * o_w * itemsize
    rows = math.prod(params.out_spatial[:-1])
    return max(1, min(rows, WORKSPACE_BYTES // per_row))


def conv(params: ConvParams, algorithm: str, x: np.ndarray, weight: np.ndarray, bias: np.ndarray,
         out: np.ndarray) -> None:
    """Fill `out` (in the caller's layout) with the convolution described by `params`.

    x, weight, bias and out are already in the compute dtype; weight is channels-first.
    """
    from .kernels import conv as k

    nd, cl = params.nd, params.channels_last
    x5, out5 = to5d(x, nd, cl), to5d(out, nd, cl)
    w5 = np.ascontiguousarray(weight[(slice(None), slice(None)) + (None,) * (3 - nd)])
    md, mh, mw = params.index_maps()
    act, consts = params.activation_code, activation_consts(params, out.dtype)
    chunk = row_chunk(math.prod(out5.shape[:4]))
    if algorithm in ("depthwise", "direct") and plane_applies(params):
        _conv_plane(params, x5[:, :, 0], w5[:, :, 0], bias, act, consts, out5[:, :, 0])
    elif algorithm == "direct":
        k.conv_direct_cpu(x5, w5, bias, md, mh, mw, *params.row_interior(), params.groups, chunk, act,
                          consts, out5)
    elif algorithm == "depthwise" and nd <= 2 and cl and params.out_channels == params.in_channels:
        x4, o4 = (x[:, None], out[:, None]) if nd == 1 else (x, out)  # NHWC as stored: channels contiguous
        w_t = np.ascontiguousarray(w5[:, 0, 0].transpose(1, 2, 0))
        k.conv_depthwise_nhwc_cpu(x4, w_t, bias, mh, mw, row_chunk(o4.shape[0] * o4.shape[1]), act, consts, o4)
    elif algorithm == "depthwise" and nd <= 2:
        k.conv_depthwise2d_cpu(x5[:, :, 0], w5[:, :, 0], bias, mh, mw, *params.row_interior(), chunk, act,
                               consts, out5[:, :, 0])
    elif algorithm == "depthwise":
        k.conv_depthwise_cpu(x5, w5, bias, md, mh, mw, *params.row_interior(), chunk, act, consts, out5)
    elif algorithm == "fft":
        _conv_fft(params, x5, w5, bias, act, consts, out5)
    elif algorithm in ("winograd", "winograd_f2"):
        _conv_winograd(params, 4 if algorithm == "winograd" else 2, x5, w5, bias, act, consts, out5)
    else:
        _conv_gemm(params, algorithm == "pointwise", x5, w5, bias, md, mh, mw, act, consts, out5)


# Accumulator band of the plane kernel: about a third of L1, so that the per-tap passes of big kernels (49 for
# 7x7) stay in L1 (whole 1024^2 planes ran 6x slower than the row kernel, measured).
PLANE_BAND_BYTES = 16 << 10
def _conv_plane(params, x4, w4, bias, act, consts, out4) -> None:
    """Stride-1 channels-first conv through padded planes (kernels/conv.py conv_plane_cpu): the padded plane's
    row and column maps come from the same index_map as every other kernel's tables, with one tap; flip
    reverses the weights instead of the maps."""
    from ._params import index_map
    from .kernels import conv as k

    (in_h, in_w), (o_h, o_w) = x4.shape[2:], out4.shape[2:]
    (pad_top, _), (pad_left, _) = ((0, 0),) * (2 - params.nd) + params.padding
    (k_h, k_w), (d_h, d_w) = w4.shape[2:], ((1,) * (2 - params.nd) + params.dilation)
    rows = index_map(in_h, o_h + d_h * (k_h - 1), 1, 1, 1, pad_top, params.padding_mode)[:, 0]
    cols = index_map(in_w, o_w + d_w * (k_w - 1), 1, 1, 1, pad_left, params.padding_mode)[:, 0]
    if params.flip:
        w4 = np.ascontiguousarray(w4[:, :, ::-1, ::-1])
    band = max(1, min(o_h, PLANE_BAND_BYTES // (cols.shape[0] * x4.itemsize)))
    k.conv_plane_cpu(x4, w4, bias, rows, cols, pad_left, d_h, d_w, band, act, consts, out4)


def _conv_fft(params, x5, w5, bias, act, consts, out5) -> None:
    """Correlation as FFT convolution with the flipped kernel (scipy.signal.fftconvolve), per image and group,
    cropped to the padded window; bias and activation through the same epilogue kernel. (scipy's overlap-add
    oaconvolve measured 1.3x slower than fftconvolve on a 1024^2 image with a 31^2 kernel here.)"""
    from scipy import signal

    from .kernels import conv as k

    spatial = (slice(None), slice(None)) + (slice(None, None, -1),) * 3
    kernel = w5 if params.flip else w5[spatial]
    # Full correlation index j holds output o at j = o - pad_lo + kernel - 1.
    crop = tuple(slice(kn - 1 - lo, kn - 1 - lo + o) for kn, (lo, _), o in zip(
        w5.shape[2:], ((0, 0),) * (3 - params.nd) + params.padding, out5.shape[2:]))
    c_group, o_group = params.in_per_group, params.out_per_group
    for n in range(params.batch):
        for g in range(params.groups):
            c0, o0 = g * c_group, g * o_group
            full = signal.fftconvolve(x5[n, c0:c0 + c_group][None], kernel[o0:o0 + o_group], mode="full",
                                      axes=(-3, -2, -1))
            acc = np.ascontiguousarray(full.sum(axis=1)[(slice(None),) + crop], dtype=out5.dtype)
            k.epilogue_cpu(acc.reshape(o_group, -1), bias, n, o0, 0, act, consts, out5)


def _winograd_kernels(tile: int):
    """(points, weight, input and output transform kernels) of Winograd F(tile x tile, 3x3), tile 2 or 4."""
    from .kernels import winograd as k

    if tile == 2:
        return 16, k.winograd_weights_f23, k.winograd_input_f23, k.winograd_output_f23
    return 36, k.winograd_weights_f43, k.winograd_input_f43, k.winograd_output_f43


def winograd_weights(w4: np.ndarray, tile: int = 4) -> np.ndarray:
    """U = G g G^T for every (C_out, C_in/groups) 3x3 kernel, as (points, C_out, C_in/groups) in w4's dtype."""
    points, transform, _, _ = _winograd_kernels(tile)
    kernels = w4.shape[0] * w4.shape[1]
    u = skewed_rows(points, kernels, w4.dtype, "winograd_u")
    transform(np.ascontiguousarray(w4).reshape(kernels, 9), u)
    return u[:, :kernels].reshape(points, *w4.shape[:2])


def skewed_rows(rows: int, cols: int, dtype, name: str | None = None) -> np.ndarray:
    """A C-contiguous (rows, stride) array, stride >= cols, whose rows start 64 bytes past a multiple of 4 KiB
    from each other (a workspace when `name` is given). Kernels that stream through many rows at once (the
    Winograd transforms: 9 to 36) need it: with row sizes a multiple of 4 KiB, as most CNN shapes give, every
    stream fell in the same L1 set and the transforms ran 3x (input) to 50x (weights) slower (measured)."""
    itemsize = np.dtype(dtype).itemsize
    stride = cols + 64 // itemsize
    stride += (-stride * itemsize) % 4096 // itemsize + 64 // itemsize
    return workspace(name, (rows, stride), dtype) if name else np.empty((rows, stride), dtype)


def _planes(name: str, points: int, chans: int, tiles: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Winograd's `points` planes of (chans, tiles): the skewed (points, stride) array for the transform
    kernels and its (points, chans, tiles) view for the GEMMs."""
    flat = skewed_rows(points, chans * tiles, dtype, name)
    itemsize = flat.itemsize
    return flat, np.lib.stride_tricks.as_strided(flat, (points, chans, tiles),
                                                 (flat.strides[0], tiles * itemsize, itemsize))


def _conv_winograd(params, tile, x5, w5, bias, act, consts, out5) -> None:
    """3x3 stride-1 2-D conv as Winograd F(tile x tile, 3x3), tile 4 (algorithm "winograd") or 2
    ("winograd_f2"): per bounded chunk of tile rows, the input transform, one batched BLAS GEMM per transform
    point (over groups), and the output transform with the epilogue. F(4x4, 3x3) does 4x fewer multiplies than
    im2col + GEMM, F(2x2, 3x3) 2.25x, at the price of the transforms' memory passes."""
    points, _, transform_in, transform_out = _winograd_kernels(tile)
    x4, out4, w4 = x5[:, :, 0], out5[:, :, 0], w5[:, :, 0]
    if params.flip:
        w4 = w4[:, :, ::-1, ::-1]
    groups, c_group, o_group = params.groups, params.in_per_group, params.out_per_group
    u = winograd_weights(w4, tile).reshape(points, groups, o_group, c_group)
    o_h, o_w = out4.shape[2:]
    tiles_h, tiles_w = -(-o_h // tile), -(-o_w // tile)
    pad_top, pad_left = params.padding[0][0], params.padding[1][0]
    rows = params.batch * tiles_h
    per_row = points * (params.in_channels + params.out_channels) * tiles_w * x5.itemsize
    chunk = max(1, min(rows, WORKSPACE_BYTES // per_row))
    for r0 in range(0, rows, chunk):
        r1 = min(rows, r0 + chunk)
        tiles = (r1 - r0) * tiles_w
        v_flat, v = _planes("winograd_v", points, params.in_channels, tiles, x5.dtype)
        m_flat, m = _planes("winograd_m", points, params.out_channels, tiles, x5.dtype)
        transform_in(x4, pad_top, pad_left, tiles_h, tiles_w, r0, r1, v_flat)
        np.matmul(u, v.reshape(points, groups, c_group, tiles), out=m.reshape(points, groups, o_group, tiles))
        transform_out(m_flat, bias, tiles_h, tiles_w, r0, r1, act, consts, out4)


def _conv_gemm(params, pointwise, x5, w5, bias, md, mh, mw, act, consts, out5) -> None:
    """Dense path: per image, group and bounded tile of output rows, im2col (or a view) then one BLAS GEMM."""
    from .kernels import conv as k

    c_group, o_group = params.in_per_group, params.out_per_group
    taps = math.prod(w5.shape[2:])
    reduction = c_group * taps
    w2 = w5.reshape(params.out_channels, reduction)
    o_w = params.out_spatial[-1]
    n_rows = math.prod(params.out_spatial[:-1])
    tile = _rows_per_tile(params, reduction, x5.itemsize)
    col = None if pointwise else workspace("col", (reduction, tile * o_w), x5.dtype)
    interior = params.row_interior()
    acc = workspace("acc", (o_group, tile * o_w), x5.dtype)
    spatial_first = params.channels_last  # NHWC pointwise: GEMM as (pixels, C) @ (C, C_out), no transpose copy
    if pointwise and spatial_first:
        acc_t = workspace("acc_t", (tile * o_w, o_group), x5.dtype)
    for n in range(params.batch):
        for g in range(params.groups):
            c0, o0 = g * c_group, g * o_group
            wg = w2[o0:o0 + o_group]
            for row0 in range(0, n_rows, tile):
                rows = min(tile, n_rows - row0)
                p0, p1 = row0 * o_w, (row0 + rows) * o_w
                if pointwise and spatial_first:
                    pixels = x5[n, c0:c0 + c_group].reshape(c_group, -1)[:, p0:p1]  # strided view, no copy
                    res_t = acc_t[:p1 - p0]
                    np.matmul(pixels.T, wg.T, out=res_t)
                    res = res_t.T
                elif pointwise:
                    res = acc[:, :p1 - p0]
                    np.matmul(wg, x5[n, c0:c0 + c_group].reshape(c_group, -1)[:, p0:p1], out=res)
                else:
                    cols = col[:, :p1 - p0]
                    k.im2col_cpu(x5, n, c0, md, mh, mw, *w5.shape[2:], *interior, row0, cols)
                    res = acc[:, :p1 - p0]
                    np.matmul(wg, cols, out=res)
                k.epilogue_cpu(res, bias, n, o0, row0, act, consts, out5)
