"""Launching the CUDA transpose-convolution kernel: 5-D device views, cached tap tables, launch shape."""

from __future__ import annotations

import functools

import numpy as np

from . import _cuda
from ._gpu import epilogue_args
from ._params_transpose import ConvTransposeParams


@functools.lru_cache(maxsize=256)
def device_tap_tables(params: ConvTransposeParams):
    """The packed (tap, input) tables on the device, once per geometry (copied synchronously)."""
    return tuple(_cuda.to_device(t.astype(np.int32 if t.max() < 2 ** 31 else np.int64), 0)
                 for t in params.tap_tables())


def conv_transpose_direct(params: ConvTransposeParams, x, weight, bias, out, compute: np.dtype, stream) -> None:
    """Fill device array `out` (caller's layout, storage dtype) with the transpose convolution; all Numba views."""
    from .kernels import conv_transpose_cuda as k

    nd, cl = params.nd, params.channels_last
    x5, out5, w5 = _cuda.view5(x, nd, cl), _cuda.view5(out, nd, cl), _cuda.view5(weight, nd, False)
    taps_d, taps_h, taps_w = device_tap_tables(params)
    bias, consts = epilogue_args(params, bias, compute)
    total = int(np.prod(out5.shape))
    k.conv_transpose_direct_cuda(compute.name)[_cuda.launch_1d(total) + (stream,)](
        x5, w5, bias, taps_d, taps_h, taps_w, params.groups, params.activation_code, consts, out5)
