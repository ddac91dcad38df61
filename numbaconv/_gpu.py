"""Launching the CUDA kernels: 5-D device views, cached index tables, launch shapes, streams."""

from __future__ import annotations

import functools

import numpy as np

from . import _cuda
from ._params import ConvParams


@functools.lru_cache(maxsize=256)
def device_index_maps(params: ConvParams):
    """The (out, kernel) index tables on the device, once per geometry (copied synchronously)."""
    return tuple(_cuda.to_device(m.astype(np.int32 if m.size and m.max() < 2 ** 31 else np.int64), 0)
                 for m in params.index_maps())


def epilogue_args(params: ConvParams, bias, compute: np.dtype):
    """Bias (zeros when None) and the activation constants on the device, in the compute dtype: cached, so a
    call makes no host-to-device copy of its own."""
    if bias is None:
        bias = _device_zeros(params.out_channels, compute.name)
    return bias, _device_constant((params.alpha, 0, 1, 6), compute.name)


@functools.lru_cache(maxsize=64)
def _device_zeros(n: int, dtype: str):
    return _cuda.to_device(np.zeros(n, dtype), 0)


@functools.lru_cache(maxsize=256)
def _device_constant(values: tuple, dtype: str):
    """A small read-only device array, copied once per (values, dtype)."""
    return _cuda.to_device(np.array(values, dtype), 0)


def conv(params: ConvParams, algorithm: str, x, weight, bias, out, compute: np.dtype, stream) -> None:
    """Fill device array `out` (caller's layout, storage dtype) with the convolution; all args Numba views."""
    from .kernels import conv_cuda as k

    nd, cl = params.nd, params.channels_last
    x5, out5, w5 = _cuda.view5(x, nd, cl), _cuda.view5(out, nd, cl), _cuda.view5(weight, nd, False)
    md, mh, mw = device_index_maps(params)
    bias, consts = epilogue_args(params, bias, compute)
    act, acc = params.activation_code, compute.name
    total = int(np.prod(out5.shape))
    if algorithm in ("direct", "depthwise"):  # depthwise is the direct gather with groups == C_in
        k.conv_direct_cuda(acc)[_cuda.launch_1d(total) + (stream,)](
            x5, w5, bias, md, mh, mw, params.groups, act, consts, out5)
    else:
        tile = _cuda.GEMM_TILE
        pixels = int(np.prod(params.out_spatial))
        grid = (-(-pixels // tile), -(-params.out_per_group // tile), params.batch * params.groups)
        k.conv_gemm_cuda(acc, tile)[grid, (tile, tile), stream](
            x5, w5, bias, md, mh, mw, params.groups, act, consts, out5)
