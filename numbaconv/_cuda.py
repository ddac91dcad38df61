"""The one module that touches CUDA: every CUDA import of numbaconv goes through here.

numba-cuda today (`from numba import cuda`); moving to another CUDA target is a change to this file. Nothing
here runs at import: importing numbaconv without numba-cuda, or without a GPU, works, and the CPU path never
loads it. Device arrays of any kind (CuPy, Numba, torch, anything with `__cuda_array_interface__`) are seen by
the kernels as zero-copy Numba views; results are allocated with the caller's library.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

# Launch shape; tests shrink these so that many blocks and ragged edges run.
THREADS_1D = 256
GEMM_TILE = 16
GRID_MAX = 65535  # blocks per grid dim of `launch_cells` (the hardware's y and z limit); the kernels grid-stride
MAX_ELEMENTS = 2**31  # the 3-D-grid kernels' uint32 coordinates, + a grid stride, must not wrap (check_elements)


@functools.cache
def cuda():
    """numba.cuda, or a NotImplementedError that says how to get it."""
    try:
        from numba import cuda as numba_cuda
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise NotImplementedError(
            f"numbaconv: CUDA arrays need the `cuda` extra: pip install 'numbaconv[cuda]' ({exc})"
        ) from None
    return numba_cuda


def device_id() -> int:
    """The id of the current CUDA device (the key of every cache that holds device memory)."""
    if is_simulator():
        return 0
    return int(cuda().get_current_device().id)


def device_cache(maxsize: int = 256) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`functools.lru_cache` for functions that return device memory: keyed by the current device too, so a
    call on a second GPU never gets memory allocated on the first (as CuPy's memoize(for_each_device=True))."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.lru_cache(maxsize=maxsize)
        def on_device(device: int, *args):
            return fn(*args)

        @functools.wraps(fn)
        def cached(*args):
            return on_device(device_id(), *args)

        cached.cache_clear = on_device.cache_clear  # type: ignore[attr-defined]
        cached.cache_info = on_device.cache_info  # type: ignore[attr-defined]
        return cached

    return wrap


def is_simulator() -> bool:
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def _library(a) -> str:
    return type(a).__module__.split(".")[0]


def is_numba_device_array(a) -> bool:
    return _library(a) in ("numba", "numba_cuda") and hasattr(a, "copy_to_host")


def to_numba(a):
    """A zero-copy Numba device-array view of any CUDA array (None stays None)."""
    if a is None or is_numba_device_array(a):
        return a
    cu = cuda()
    if not cu.is_available():
        raise RuntimeError(
            f"numbaconv: got a CUDA array ({type(a).__qualname__}) but Numba finds no usable CUDA device or driver"
        )
    if hasattr(a, "__cuda_array_interface__"):
        return cu.as_cuda_array(a, sync=False)
    import cupy  # a DLPack-only CUDA array: CuPy imports it zero-copy

    return cu.as_cuda_array(cupy.from_dlpack(a), sync=False)


def restride(a, shape: tuple[int, ...], strides: tuple[int, ...]):
    """A view of device array `a` with new shape and byte strides (no copy)."""
    if is_simulator():
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

        return FakeCUDAArray(np.lib.stride_tricks.as_strided(a._ary, shape, strides))
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

    return DeviceNDArray(shape, strides, a.dtype, stream=a.stream, gpu_data=a.gpu_data)


def view5(a, nd: int, channels_last: bool):
    """(N, C, D, H, W) view of an (N, C, *spatial) or (N, *spatial, C) device array."""
    shape, strides = list(a.shape), list(a.strides)
    if channels_last:
        shape.insert(1, shape.pop())
        strides.insert(1, strides.pop())
    pad = 3 - nd
    return restride(a, tuple(shape[:2] + [1] * pad + shape[2:]), tuple(strides[:2] + [0] * pad + strides[2:]))


def is_c_contiguous(a) -> bool:
    return bool(a.is_c_contiguous())


def may_overlap(a, b) -> bool:
    """Whether two device arrays' memory ranges intersect."""
    if is_simulator():
        return np.may_share_memory(a._ary, b._ary)

    def span(v):
        start = v.__cuda_array_interface__["data"][0]
        extent = sum((n - 1) * abs(s) for n, s in zip(v.shape, v.strides, strict=False)) + v.dtype.itemsize
        return start, start + extent

    (a0, a1), (b0, b1) = span(a), span(b)
    return a0 < b1 and b0 < a1


def stream_for(like, stream=None):
    """The stream to launch on: `stream` if given (a Numba stream, or anything with `.ptr` / an int handle);
    else CuPy's or torch's current stream for their arrays, so nothing is synchronised behind their back."""
    cu = cuda()
    if is_simulator():
        return cu.default_stream()
    if stream is not None:
        if hasattr(stream, "handle") and _library(stream) in ("numba", "numba_cuda"):
            return stream
        ptr = getattr(stream, "ptr", getattr(stream, "cuda_stream", stream))
        return cu.external_stream(int(ptr))
    lib = _library(like)
    if lib == "cupy":
        import cupy

        return cu.external_stream(cupy.cuda.get_current_stream().ptr)
    if lib == "torch":
        import torch

        return cu.external_stream(torch.cuda.current_stream(like.device).cuda_stream)
    return cu.default_stream()


def with_batch_axis(a):
    """A Numba device-array view of the Numba device array `a` with a leading axis of 1 (Numba's own indexing
    takes no None)."""
    from numba import config

    if config.ENABLE_CUDASIM:  # the simulator's arrays index as NumPy does
        return a[None]
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

    lead = a.strides[0] * a.shape[0] if a.ndim else a.dtype.itemsize
    return DeviceNDArray((1, *a.shape), (lead, *a.strides), a.dtype, stream=a.stream, gpu_data=a.gpu_data)


def reshape(a, shape: tuple[int, ...]):
    """A C-contiguous CUDA array of any kind reshaped as a view of the same kind (the CUDA simulator's
    reshape returns a host array, so its arrays are re-wrapped)."""
    if is_numba_device_array(a) and is_simulator():
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

        return FakeCUDAArray(a._ary.reshape(shape))
    return a.reshape(shape)


def allocate(like, shape: tuple[int, ...], dtype: np.dtype, stream):
    """A new device array of the caller's kind (CuPy in, CuPy out; torch in, torch out; else Numba)."""
    lib = _library(like)
    if lib == "cupy":
        import cupy

        return cupy.empty(shape, dtype=dtype)
    if lib == "torch":
        import torch

        return torch.empty(shape, dtype=getattr(torch, np.dtype(dtype).name), device=like.device)
    return cuda().device_array(shape, dtype=dtype, stream=stream)


def to_device(host: np.ndarray, stream):
    return cuda().to_device(np.ascontiguousarray(host), stream=stream)


def launch_1d(total: int) -> tuple[int, int]:
    """(blocks, threads) for a grid-stride loop over `total` items."""
    threads = THREADS_1D
    return max(1, min(-(-total // threads), 65535 * 8)), threads


def launch_cells(shape5: tuple[int, ...], channels_last: bool) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(blocks, threads) of the 3-D grid over a 5-D (N, C, D, H, W) output (kernels/_grid_cuda.py): x = W and
    y = H channels-first, x = C and y = W channels-last, z the rest; a block is THREADS_1D threads, as wide in x
    as the row allows (a power of two), the rest in y."""
    n, c, d, h, w = shape5
    fast, mid, slow = (c, w, n * d * h) if channels_last else (w, h, n * c * d)
    bx = min(THREADS_1D, 1 << max(0, fast - 1).bit_length())
    by = max(1, min(THREADS_1D // bx, 1 << max(0, mid - 1).bit_length()))
    blocks = tuple(max(1, min(-(-size // step), GRID_MAX)) for size, step in ((fast, bx), (mid, by), (slow, 1)))
    return blocks, (bx, by, 1)  # type: ignore[return-value]


def check_elements(op: str, **arrays) -> None:
    """NotImplementedError unless the 3-D-grid kernels' uint32 coordinates fit every array: fewer than
    MAX_ELEMENTS elements per sample (a plane position, a max-pool index) and fewer than MAX_ELEMENTS rows (the
    batch times every axis but the last: a bound on the grid's y and z coordinates). Any total size passes."""
    for name, a in arrays.items():
        shape = tuple(int(s) for s in a.shape)
        if max(math.prod(shape[1:]), math.prod(shape[:-1])) >= MAX_ELEMENTS:
            raise NotImplementedError(
                f"{op}: {name} of shape {shape} is too large for the CUDA kernel's 32-bit indices: a sample must "
                f"have fewer than 2**31 elements, and the batch times every axis but the last fewer than 2**31 "
                f"(split the batch)"
            )


def reinterpret(a, dtype, shape: tuple[int, ...], strides: tuple[int, ...]):
    """A view of device array `a`'s memory from its first element as `dtype`, with new shape and byte strides
    (no copy): how the byte-moving shuffle kernels see any element type as unsigned words. `a` is not empty."""
    if is_simulator():
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

        first = a._ary[(slice(0, 1),) * a.ndim].reshape(1).view(np.uint8).view(dtype)
        return FakeCUDAArray(np.lib.stride_tricks.as_strided(first, shape, strides))
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

    return DeviceNDArray(shape, strides, dtype, stream=a.stream, gpu_data=a.gpu_data)
