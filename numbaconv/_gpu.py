"""What every CUDA launcher shares: device copies of the index tables, the bias zeros and the activation
constants, each made once per geometry and device (`_cuda.device_cache`), and the residual argument."""

from __future__ import annotations

import numpy as np

from . import _cuda


def index_dtype(limit: int) -> np.dtype:
    """int32 tables where every entry fits (half the bytes), else int64."""
    return np.dtype(np.int32 if limit < 2**31 else np.int64)


@_cuda.device_cache(maxsize=256)
def device_index_maps(params):
    """The (out, kernel) index tables of `params` (any params object with `index_maps()`) on the current device
    (copied synchronously, once per geometry and device)."""
    return tuple(_cuda.to_device(m.astype(index_dtype(m.max(initial=0) + 1)), 0) for m in params.index_maps())


def epilogue_args(params, bias, compute: np.dtype):
    """Bias (zeros when None) and the activation constants on the device, in the compute dtype: cached, so a
    call makes no host-to-device copy of its own."""
    if bias is None:
        bias = device_zeros(params.out_channels, compute.name)
    return bias, device_constant((params.negative_slope, 0, 1, 6), compute.name)


def epilogue_tail(params, consts, out5, residual) -> tuple:
    """The conv kernels' trailing arguments: groups, activation code and constants, the (N, C, D, H, W) output,
    and the residual's view when there is one. numba-cuda cannot pass None to a kernel; a kernel's
    `residual=None` left out compiles to the kernel without the residual add (kernels/conv_cuda.py)."""
    head = (params.groups, params.activation_code, consts, out5)
    return head if residual is None else (*head, _cuda.view5(residual, params.nd, params.channels_last))


@_cuda.device_cache(maxsize=64)
def device_zeros(n: int, dtype: str):
    return _cuda.to_device(np.zeros(n, dtype), 0)


@_cuda.device_cache(maxsize=256)
def device_constant(values: tuple, dtype: str):
    """A small read-only device array, copied once per (values, dtype, device)."""
    return _cuda.to_device(np.array(values, dtype), 0)
