"""The transpose-convolution launchers, CPU and CUDA, in one table keyed by (kernel, backend).

`numbaconv._algorithms.select_transpose` names the kernel. A CPU launcher gets C-contiguous arrays in the compute
dtype (bias never None; the residual, laid out as `out`, in the compute dtype with any strides, or None); a CUDA
launcher gets Numba views of the caller's arrays (bias and residual may be None) and launches on the call's
stream. Every kernel is a gather that writes each output once, so results are deterministic.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from . import _cpu, _cuda, _gpu
from ._params import pad3
from ._params_transpose import ConvTransposeParams


@functools.lru_cache(maxsize=256)
def _tables(params: ConvTransposeParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(D table, H table, W runs) of the CPU kernels, once per geometry (at most 256 kept)."""
    md, mh, _ = params.index_maps()
    return md, mh, params.runs_w()


def _residual5(params: ConvTransposeParams, residual):
    """The residual as the (N, C, D, H, W) view the CPU kernels take (None stays None)."""
    return None if residual is None else _cpu.to5d(residual, params.nd, params.channels_last)


def _direct(params: ConvTransposeParams, x, weight, bias, residual, out, call) -> None:
    """The gather over output rows (kernels/conv_transpose.py conv_transpose_direct_cpu)."""
    from .kernels import conv_transpose as k

    nd, cl = params.nd, params.channels_last
    md, mh, runs = _tables(params)
    act, consts = params.activation_code, _cpu.activation_consts(params, out.dtype)
    w5 = weight[(slice(None), slice(None)) + (None,) * (3 - nd)]
    k.conv_transpose_direct_cpu(
        _cpu.to5d(x, nd, cl),
        w5,
        bias,
        md,
        mh,
        runs,
        params.stride[-1],
        params.groups,
        _residual5(params, residual),
        act,
        consts,
        _cpu.to5d(out, nd, cl),
    )


def _gemm(params: ConvTransposeParams, x, weight, bias, residual, out, call) -> None:
    """BLAS into a column buffer per block, then the col2im gather (kernels/conv_transpose.py)."""
    from .kernels import conv_transpose as k

    nd, cl = params.nd, params.channels_last
    out5, r5 = _cpu.to5d(out, nd, cl), _residual5(params, residual)
    md, mh, runs = _tables(params)
    stride_w = params.stride[-1]
    act, consts = params.activation_code, _cpu.activation_consts(params, out.dtype)
    # GEMM: cols[n, g, (o, k), pixel] = sum_c weight[c, o, k] * x[n, c, pixel] per group, then a col2im
    # gather. Blocks of whole images (or of output channels, for a large image) bound the column buffer; one
    # batched BLAS call per block keeps the cores with BLAS.
    groups, c_group, o_group = params.groups, params.in_per_group, params.out_per_group
    taps, pixels = math.prod(params.kernel), math.prod(params.in_spatial)
    wt = np.ascontiguousarray(weight.reshape(groups, c_group, o_group * taps).transpose(0, 2, 1))
    if cl:  # (C, pixels) as a strided view: BLAS takes it through its leading dimension, no copy
        xm = x.reshape(params.batch, pixels, groups, c_group).transpose(0, 2, 3, 1)
    else:
        xm = x.reshape(params.batch, groups, c_group, pixels)
    per_channel = taps * pixels * x.itemsize
    chunk = max(1, min(o_group, _cpu.WORKSPACE_BYTES // (groups * per_channel)))
    per_image = params.out_channels * per_channel
    images = max(1, min(params.batch, _cpu.WORKSPACE_BYTES // per_image)) if chunk == o_group else 1
    buf = np.empty(images * groups * chunk * taps * pixels, dtype=x.dtype)
    _, in_h, in_w = pad3(params.in_spatial, 1)
    k_d, k_h, k_w = pad3(params.kernel, 1)
    for n0 in range(0, params.batch, images):
        nb = min(images, params.batch - n0)
        for oc0 in range(0, o_group, chunk):
            m = min(chunk, o_group - oc0)
            res = buf[: nb * groups * m * taps * pixels].reshape(nb, groups, m * taps, pixels)  # C-contiguous
            np.matmul(wt[None, :, oc0 * taps : (oc0 + m) * taps], xm[n0 : n0 + nb], out=res)
            k.col2im_transpose_cpu(
                res, bias, n0, oc0, md, mh, runs, stride_w, in_h, in_w, k_d, k_h, k_w, r5, act, consts, out5
            )


@_cuda.device_cache(maxsize=256)
def device_tap_tables(params: ConvTransposeParams):
    """The packed (tap, input) tables on the device, once per geometry and device (copied synchronously)."""
    return tuple(_cuda.to_device(t.astype(_gpu.index_dtype(t.max() + 1)), 0) for t in params.tap_tables())


def _direct_cuda(params: ConvTransposeParams, x, weight, bias, residual, out, call) -> None:
    """One thread per output, walking the packed tap tables."""
    from .kernels import conv_transpose_cuda as k

    nd, cl = params.nd, params.channels_last
    x5, out5, w5 = _cuda.view5(x, nd, cl), _cuda.view5(out, nd, cl), _cuda.view5(weight, nd, False)
    bias, consts = _gpu.epilogue_args(params, bias, call.compute)
    k.conv_transpose_direct_cuda(call.compute.name)[_cuda.launch_1d(math.prod(out5.shape)) + (call.stream,)](
        x5, w5, bias, *device_tap_tables(params), *_gpu.epilogue_tail(params, consts, out5, residual)
    )


LAUNCHERS: dict[tuple[str, str], Callable] = {
    ("direct", "cpu"): _direct,
    ("gemm", "cpu"): _gemm,
    ("direct", "cuda"): _direct_cuda,
}


def launch(call, params: ConvTransposeParams, kernel: str, x, weight, bias, out, residual=None) -> None:
    """Fill `out` with the transpose convolution `params` by `kernel` on the call's backend, `residual` (laid out
    as `out`, or None) added before the activation."""
    LAUNCHERS[(kernel, call.backend)](params, x, weight, bias, residual, out, call)
