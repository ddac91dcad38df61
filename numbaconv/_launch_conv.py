"""The convolution family's launchers, CPU and CUDA, in one table keyed by (kernel, backend).

`numbaconv._algorithms.select` names the kernel; `launch` runs it. A CPU launcher gets C-contiguous arrays in
the compute dtype (bias never None; the residual, laid out as `out`, in the compute dtype with any strides, or
None) and fills `out` in the caller's layout; a CUDA launcher gets Numba views of the caller's arrays in their
storage dtype (bias and residual may be None) and launches on the call's stream. Depthwise, pointwise,
separable, shuffled and resize convs all come here: they are convolutions with other params.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from . import _cpu
from ._params import ConvParams

# ---- CPU ----


def _views(params: ConvParams, x, weight, residual, out):
    """(x, weight, residual, out) as (N, C, D, H, W) views (no residual: None); the weight made contiguous (a
    view when it is)."""
    nd, cl = params.nd, params.channels_last
    w5 = np.ascontiguousarray(weight[(slice(None), slice(None)) + (None,) * (3 - nd)])
    r5 = None if residual is None else _cpu.to5d(residual, nd, cl)
    return _cpu.to5d(x, nd, cl), w5, r5, _cpu.to5d(out, nd, cl)


def _depth0(a):
    """A 5-D view's (N, C, H, W) plane of depth 0 (None stays None)."""
    return None if a is None else a[:, :, 0]


def _epilogue(params: ConvParams, residual, out) -> tuple[np.ndarray | None, int, np.ndarray]:
    """The kernels' last arguments before `out`: (residual, activation code, activation constants)."""
    return residual, params.activation_code, _cpu.activation_consts(params, out.dtype)


def _gather(launcher: Callable) -> Callable:
    """A launcher whose kernel skips taps on zero padding: when a weight is NaN or infinite and there is zero
    padding, the GEMM path (which multiplies the padding's zeros, as torch does: 0 * NaN = NaN) runs instead."""

    @functools.wraps(launcher)
    def run(params, x, weight, bias, residual, out, call) -> None:
        padded = params.padding_mode == "zeros" and any(lo or hi for lo, hi in params.padding)
        if padded and not np.isfinite(weight).all():
            return _gemm(params, x, weight, bias, residual, out, call)
        return launcher(params, x, weight, bias, residual, out, call)

    return run


@_gather
def _row(params, x, weight, bias, residual, out, call) -> None:
    """The direct gather over output rows (kernels/conv.py conv_direct_cpu): any geometry, either layout."""
    from .kernels import conv as k

    x5, w5, r5, out5 = _views(params, x, weight, residual, out)
    chunk = _cpu.row_chunk(math.prod(out5.shape[:4]))
    k.conv_direct_cpu(
        x5,
        w5,
        bias,
        *_cpu.index_maps(params),
        *params.row_interior(),
        params.groups,
        chunk,
        *_epilogue(params, r5, out),
        out5,
    )


@_gather
def _depthwise_row(params, x, weight, bias, residual, out, call) -> None:
    """One input channel per output, 1-D and 2-D (kernels/conv.py conv_depthwise2d_cpu)."""
    from .kernels import conv as k

    x5, w5, r5, out5 = _views(params, x, weight, residual, out)
    _, mh, mw = _cpu.index_maps(params)
    chunk = _cpu.row_chunk(math.prod(out5.shape[:4]))
    k.conv_depthwise2d_cpu(
        x5[:, :, 0],
        w5[:, :, 0],
        bias,
        mh,
        mw,
        *params.row_interior(),
        chunk,
        *_epilogue(params, _depth0(r5), out),
        out5[:, :, 0],
    )


@_gather
def _depthwise_row3d(params, x, weight, bias, residual, out, call) -> None:
    """One input channel per output, 3-D (kernels/conv.py conv_depthwise_cpu)."""
    from .kernels import conv as k

    x5, w5, r5, out5 = _views(params, x, weight, residual, out)
    chunk = _cpu.row_chunk(math.prod(out5.shape[:4]))
    k.conv_depthwise_cpu(
        x5, w5, bias, *_cpu.index_maps(params), *params.row_interior(), chunk, *_epilogue(params, r5, out), out5
    )


@_gather
def _depthwise_nhwc(params, x, weight, bias, residual, out, call) -> None:
    """Channels-last depthwise with multiplier 1: contiguous channel vectors as stored (no 5-D view)."""
    from .kernels import conv as k

    _, mh, mw = _cpu.index_maps(params)
    x4, r4, o4 = x, residual, out
    if params.nd == 1:  # (N, W, C) as (N, 1, W, C)
        x4, o4 = x[:, None], out[:, None]
        r4 = None if residual is None else residual[:, None]
    w_t = np.ascontiguousarray(weight[:, 0].reshape(weight.shape[0], -1, weight.shape[-1]).transpose(1, 2, 0))
    k.conv_depthwise_nhwc_cpu(
        x4, w_t, bias, mh, mw, _cpu.row_chunk(o4.shape[0] * o4.shape[1]), *_epilogue(params, r4, out), o4
    )


def _plane(params, x, weight, bias, residual, out, call) -> None:
    x5, w5, r5, out5 = _views(params, x, weight, residual, out)
    _conv_plane(params, x5[:, :, 0], w5[:, :, 0], bias, *_epilogue(params, _depth0(r5), out), out5[:, :, 0])


# Torch's non-finite semantics. Winograd mixes every input of a tile, FFT every input of a plane, into each
# output of it: a NaN or Inf spreads past the windows that hold it (and takes the wrong class), and finite data
# near the top of the range overflows where a direct sum does not. So they run only on data that is finite with
# max|x| * max|w| * C_in/groups * growth below the dtype's largest value (one pass over x and w); other data
# takes the GEMM path, a direct sum. WINOGRAD_GROWTH bounds F(4x4)'s transforms: input rows of B^T sum to at
# most 10 in |.|, output rows of A^T to 19, the weight transform's to 1, so 10^2 * 19^2 < 2^16.
WINOGRAD_GROWTH = 1 << 16


def _fft_growth(params) -> float:
    """A bound on |FFT intermediates| / (max|x| max|w| C_in/groups): a transformed plane is at most the sum of
    its |inputs|, a transformed kernel of its |taps|, and the inverse transform sums over the full-size plane
    before it scales."""
    full = math.prod(s + k - 1 for s, k in zip(params.in_spatial, params.kernel, strict=True))
    return float(math.prod(params.in_spatial)) * math.prod(params.kernel) * full


def _transform_safe(params, x5, w5, growth: float) -> bool:
    from .kernels import conv as k

    bound = k.max_abs_cpu(x5) * k.max_abs_cpu(w5) * params.in_per_group * growth
    return bool(bound < float(np.finfo(x5.dtype).max))  # False for inf and NaN


def _transform(compute: Callable, growth: Callable) -> Callable:
    """A transform algorithm's launcher: `compute(params, x5, w5, bias, r5, act, consts, out5)` on data that
    `_transform_safe` passes with `growth(params)`, the GEMM path on any other data."""

    def run(params, x, weight, bias, residual, out, call) -> None:
        x5, w5, r5, out5 = _views(params, x, weight, residual, out)
        if not _transform_safe(params, x5, w5, growth(params)):
            return _gemm(params, x, weight, bias, residual, out, call)
        compute(params, x5, w5, bias, *_epilogue(params, r5, out), out5)

    return run


def _gemm(params, x, weight, bias, residual, out, call) -> None:
    x5, w5, r5, out5 = _views(params, x, weight, residual, out)
    _conv_gemm(params, False, x5, w5, bias, *_epilogue(params, r5, out), out5)


def _pointwise(params, x, weight, bias, residual, out, call) -> None:
    x5, w5, r5, out5 = _views(params, x, weight, residual, out)
    _conv_gemm(params, True, x5, w5, bias, *_epilogue(params, r5, out), out5)


# Accumulator band of the plane kernel: about a third of L1, so that the per-tap passes of big kernels (49 for
# 7x7) stay in L1 (whole 1024^2 planes ran 6x slower than the row kernel, measured).
PLANE_BAND_BYTES = 16 << 10


def _conv_plane(params, x4, w4, bias, r4, act, consts, out4) -> None:
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
    k.conv_plane_cpu(x4, w4, bias, rows, cols, pad_left, d_h, d_w, band, r4, act, consts, out4)


def _conv_fft(params, x5, w5, bias, r5, act, consts, out5) -> None:
    """Correlation as FFT convolution with the flipped kernel (scipy.signal.fftconvolve), per image and group,
    cropped to the padded window; bias and activation through the same epilogue kernel. (scipy's overlap-add
    oaconvolve measured 1.3x slower than fftconvolve on a 1024^2 image with a 31^2 kernel here.)"""
    from scipy import signal

    from .kernels import conv as k

    spatial = (slice(None), slice(None)) + (slice(None, None, -1),) * 3
    kernel = w5 if params.flip else w5[spatial]
    # Full correlation index j holds output o at j = o - pad_lo + kernel - 1.
    crop = tuple(
        slice(kn - 1 - lo, kn - 1 - lo + o)
        for kn, (lo, _), o in zip(
            w5.shape[2:], ((0, 0),) * (3 - params.nd) + params.padding, out5.shape[2:], strict=False
        )
    )
    c_group, o_group = params.in_per_group, params.out_per_group
    for n in range(params.batch):
        for g in range(params.groups):
            c0, o0 = g * c_group, g * o_group
            full = signal.fftconvolve(
                x5[n, c0 : c0 + c_group][None], kernel[o0 : o0 + o_group], mode="full", axes=(-3, -2, -1)
            )
            acc = np.ascontiguousarray(full.sum(axis=1)[(slice(None),) + crop], dtype=out5.dtype)
            k.epilogue_cpu(acc.reshape(o_group, -1), bias, n, o0, 0, r5, act, consts, out5)


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
    u = _cpu.skewed_rows(points, kernels, w4.dtype, "winograd_u")
    transform(np.ascontiguousarray(w4).reshape(kernels, 9), u)
    return u[:, :kernels].reshape(points, *w4.shape[:2])


def _planes(name: str, points: int, chans: int, tiles: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Winograd's `points` planes of (chans, tiles): the skewed (points, stride) array for the transform
    kernels and its (points, chans, tiles) view for the GEMMs."""
    flat = _cpu.skewed_rows(points, chans * tiles, dtype, name)
    itemsize = flat.itemsize
    return flat, np.lib.stride_tricks.as_strided(
        flat, (points, chans, tiles), (flat.strides[0], tiles * itemsize, itemsize)
    )


def _conv_winograd(params, tile, x5, w5, bias, r5, act, consts, out5) -> None:
    """3x3 stride-1 2-D conv as Winograd F(tile x tile, 3x3), tile 4 (algorithm "winograd") or 2
    ("winograd_f2"): per bounded chunk of tile rows, the input transform, one batched BLAS GEMM per transform
    point (over groups), and the output transform with the epilogue. F(4x4, 3x3) does 4x fewer multiplies than
    im2col + GEMM, F(2x2, 3x3) 2.25x, at the price of the transforms' memory passes."""
    points, _, transform_in, transform_out = _winograd_kernels(tile)
    x4, r4, out4, w4 = x5[:, :, 0], _depth0(r5), out5[:, :, 0], w5[:, :, 0]
    if params.flip:
        w4 = w4[:, :, ::-1, ::-1]
    groups, c_group, o_group = params.groups, params.in_per_group, params.out_per_group
    u = winograd_weights(w4, tile).reshape(points, groups, o_group, c_group)
    o_h, o_w = out4.shape[2:]
    tiles_h, tiles_w = -(-o_h // tile), -(-o_w // tile)
    pad_top, pad_left = params.padding[0][0], params.padding[1][0]
    rows = params.batch * tiles_h
    per_row = points * (params.in_channels + params.out_channels) * tiles_w * x5.itemsize
    chunk = max(1, min(rows, _cpu.WORKSPACE_BYTES // per_row))
    for r0 in range(0, rows, chunk):
        r1 = min(rows, r0 + chunk)
        tiles = (r1 - r0) * tiles_w
        v_flat, v = _planes("winograd_v", points, params.in_channels, tiles, x5.dtype)
        m_flat, m = _planes("winograd_m", points, params.out_channels, tiles, x5.dtype)
        transform_in(x4, pad_top, pad_left, tiles_h, tiles_w, r0, r1, v_flat)
        np.matmul(u, v.reshape(points, groups, c_group, tiles), out=m.reshape(points, groups, o_group, tiles))
        transform_out(m_flat, bias, tiles_h, tiles_w, r0, r1, r4, act, consts, out4)


def _rows_per_tile(params: ConvParams, reduction: int, itemsize: int) -> int:
    o_w = params.out_spatial[-1]
    per_row = (reduction + params.out_per_group) * o_w * itemsize
    rows = math.prod(params.out_spatial[:-1])
    return max(1, min(rows, _cpu.WORKSPACE_BYTES // per_row))


def _conv_gemm(params, pointwise, x5, w5, bias, r5, act, consts, out5) -> None:
    """Dense path: per image, group and bounded tile of output rows, im2col (or a view) then one BLAS GEMM."""
    from .kernels import conv as k

    c_group, o_group = params.in_per_group, params.out_per_group
    taps = math.prod(w5.shape[2:])
    reduction = c_group * taps
    w2 = w5.reshape(params.out_channels, reduction)
    o_w = params.out_spatial[-1]
    n_rows = math.prod(params.out_spatial[:-1])
    tile = _rows_per_tile(params, reduction, x5.itemsize)
    col = None if pointwise else _cpu.workspace("col", (reduction, tile * o_w), x5.dtype)
    interior = params.row_interior()
    md, mh, mw = _cpu.index_maps(params)
    acc = _cpu.workspace("acc", (o_group, tile * o_w), x5.dtype)
    spatial_first = params.channels_last  # NHWC pointwise: GEMM as (pixels, C) @ (C, C_out), no transpose copy
    if pointwise and spatial_first:
        acc_t = _cpu.workspace("acc_t", (tile * o_w, o_group), x5.dtype)
    for n in range(params.batch):
        for g in range(params.groups):
            c0, o0 = g * c_group, g * o_group
            wg = w2[o0 : o0 + o_group]
            for row0 in range(0, n_rows, tile):
                rows = min(tile, n_rows - row0)
                p0, p1 = row0 * o_w, (row0 + rows) * o_w
                if pointwise and spatial_first:
                    pixels = x5[n, c0 : c0 + c_group].reshape(c_group, -1)[:, p0:p1]  # strided view, no copy
                    res_t = acc_t[: p1 - p0]
                    np.matmul(pixels.T, wg.T, out=res_t)
                    res = res_t.T
                elif pointwise:
                    res = acc[:, : p1 - p0]
                    np.matmul(wg, x5[n, c0 : c0 + c_group].reshape(c_group, -1)[:, p0:p1], out=res)
                else:
                    assert col is not None  # allocated above whenever the path is not pointwise
                    cols = col[:, : p1 - p0]
                    k.im2col_cpu(x5, n, c0, md, mh, mw, *w5.shape[2:], *interior, row0, cols)
                    res = acc[:, : p1 - p0]
                    np.matmul(wg, cols, out=res)
                k.epilogue_cpu(res, bias, n, o0, row0, r5, act, consts, out5)


# ---- CUDA ----


def _cuda_views(params: ConvParams, x, weight, out):
    from . import _cuda

    nd, cl = params.nd, params.channels_last
    return _cuda.view5(x, nd, cl), _cuda.view5(weight, nd, False), _cuda.view5(out, nd, cl)


def _direct_cuda(params, x, weight, bias, residual, out, call) -> None:
    """One thread per output (grid-stride); also depthwise (groups == C_in)."""
    from . import _cuda, _gpu
    from .kernels import conv_cuda as k

    x5, w5, out5 = _cuda_views(params, x, weight, out)
    bias, consts = _gpu.epilogue_args(params, bias, call.compute)
    k.conv_direct_cuda(call.compute.name)[_cuda.launch_1d(math.prod(out5.shape)) + (call.stream,)](
        x5, w5, bias, *_gpu.device_index_maps(params), *_gpu.epilogue_tail(params, consts, out5, residual)
    )


def _gemm_cuda(params, x, weight, bias, residual, out, call) -> None:
    """Implicit GEMM with shared-memory tiles of GEMM_TILE x GEMM_TILE."""
    from . import _cuda, _gpu
    from .kernels import conv_cuda as k

    x5, w5, out5 = _cuda_views(params, x, weight, out)
    bias, consts = _gpu.epilogue_args(params, bias, call.compute)
    tile = _cuda.GEMM_TILE
    grid = (-(-math.prod(params.out_spatial) // tile), -(-params.out_per_group // tile), params.batch * params.groups)
    k.conv_gemm_cuda(call.compute.name, tile)[grid, (tile, tile), call.stream](
        x5, w5, bias, *_gpu.device_index_maps(params), *_gpu.epilogue_tail(params, consts, out5, residual)
    )


LAUNCHERS: dict[tuple[str, str], Callable] = {
    ("plane", "cpu"): _plane,
    ("row", "cpu"): _row,
    ("depthwise_row", "cpu"): _depthwise_row,
    ("depthwise_row3d", "cpu"): _depthwise_row3d,
    ("depthwise_nhwc", "cpu"): _depthwise_nhwc,
    ("pointwise", "cpu"): _pointwise,
    ("gemm", "cpu"): _gemm,
    ("fft", "cpu"): _transform(_conv_fft, _fft_growth),
    ("winograd", "cpu"): _transform(lambda p, *arrays: _conv_winograd(p, 4, *arrays), lambda p: WINOGRAD_GROWTH),
    ("winograd_f2", "cpu"): _transform(lambda p, *arrays: _conv_winograd(p, 2, *arrays), lambda p: WINOGRAD_GROWTH),
    ("direct", "cuda"): _direct_cuda,
    ("gemm", "cuda"): _gemm_cuda,
}


def launch(call, params: ConvParams, kernel: str, x, weight, bias, out, residual=None) -> None:
    """Fill `out` with the convolution `params` by `kernel` on the call's backend (arrays as the kernels see them:
    `Call.compute_input` / `Call.bias` / `Call.residual` on the CPU, Numba views on CUDA), `residual` (laid out
    as `out`, or None) added before the activation. NumPy's floating-point warnings are off: a NaN or Inf the
    data carries into a BLAS product is a result, as in the kernels, not a warning."""
    with np.errstate(all="ignore"):
        LAUNCHERS[(kernel, call.backend)](params, x, weight, bias, residual, out, call)


def launch_shuffled(
    call, params: ConvParams, one_group: ConvParams, kernel: str, x, weight, bias, out, residual=None
) -> None:
    """A grouped conv written already channel-shuffled: one launch per group, on the group's channel slice of x
    and the strided views of `out` (and of the residual) holding channels gi, gi + groups, ...; every launcher
    takes any strides, so the shuffle costs no temporary."""
    g, c_group, o_group = params.groups, params.in_per_group, params.out_per_group
    lead = (slice(None),) * (params.nd + 1 if params.channels_last else 1)
    for gi in range(g):
        cs, os = slice(gi * c_group, (gi + 1) * c_group), slice(gi * o_group, (gi + 1) * o_group)
        shuffled = lead + (slice(gi, None, g),)
        launch(
            call,
            one_group,
            kernel,
            x[lead + (cs,)],
            weight[os],
            None if bias is None else bias[os],
            out[shuffled],
            None if residual is None else residual[shuffled],
        )
