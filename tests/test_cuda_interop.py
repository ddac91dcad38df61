"""CuPy and torch interop on a real GPU: same array kind out, zero-copy out=, the caller's stream.

The CUDA simulator has no __cuda_array_interface__, so these skip there (and wherever CuPy or a CUDA torch is
missing); scripts/gpu_check.sh runs them on a GPU.
"""

import numpy as np
import pytest

import numbaconv
import reference as ref
from helpers import assert_close, rand

pytestmark = pytest.mark.cuda


@pytest.fixture
def cupy():
    from numba import config
    if config.ENABLE_CUDASIM:
        pytest.skip("the CUDA simulator has no __cuda_array_interface__")
    return pytest.importorskip("cupy")


@pytest.fixture
def torch_cuda():
    from numba import config
    if config.ENABLE_CUDASIM:
        pytest.skip("the CUDA simulator has no __cuda_array_interface__")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device")
    return torch


def test_cupy_in_cupy_out(cupy):
    x, w, b = rand((2, 3, 9, 10), np.float32, 1), rand((4, 3, 3, 3), np.float32, 2), rand((4,), np.float32, 3)
    got = numbaconv.conv2d(cupy.asarray(x), cupy.asarray(w), cupy.asarray(b), padding=1, activation="relu")
    assert isinstance(got, cupy.ndarray)
    assert_close(cupy.asnumpy(got), ref.conv(x, w, b, pads=1, act="relu"), np.float32)


def test_cupy_out_is_filled_in_place(cupy):
    x, w = rand((1, 4, 8, 8), np.float32, 4), rand((8, 1, 3, 3), np.float32, 5)
    out = cupy.full((1, 8, 8, 8), cupy.nan, dtype=cupy.float32)
    ptr = out.data.ptr
    assert numbaconv.depthwise_conv2d(cupy.asarray(x), cupy.asarray(w), padding=1, out=out) is out
    assert out.data.ptr == ptr
    assert_close(cupy.asnumpy(out), ref.conv(x, w, pads=1, groups=4), np.float32)


def test_cupy_current_stream_is_used(cupy):
    x, w = rand((2, 8, 16, 16), np.float32, 6), rand((8, 8, 3, 3), np.float32, 7)
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        xd, wd = cupy.asarray(x), cupy.asarray(w)
        got = numbaconv.conv2d(xd, wd, padding=1)
        total = got.sum()  # queued on the same stream, after the kernel
    stream.synchronize()
    assert_close(cupy.asnumpy(got), ref.conv(x, w, pads=1), np.float32)
    assert abs(float(total) - float(ref.conv(x, w, pads=1).sum())) < 1e-2 * np.abs(ref.conv(x, w, pads=1)).sum()


def test_cupy_float16(cupy):
    x, w = rand((1, 3, 8, 8), np.float16, 8), rand((4, 3, 3, 3), np.float16, 9)
    got = numbaconv.conv2d(cupy.asarray(x), cupy.asarray(w), padding=1)
    assert got.dtype == cupy.float16
    assert_close(cupy.asnumpy(got), ref.conv(x, w, pads=1), np.float16)


def test_mixing_cupy_and_numpy_is_a_type_error(cupy):
    with pytest.raises(TypeError, match=r"conv2d: weight is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.conv2d(cupy.ones((1, 1, 4, 4), cupy.float32), np.ones((1, 1, 3, 3), np.float32))


def test_torch_cuda_in_torch_out(torch_cuda):
    torch = torch_cuda
    x, w = rand((2, 3, 9, 10), np.float32, 10), rand((4, 3, 3, 3), np.float32, 11)
    got = numbaconv.conv2d(torch.from_numpy(x).cuda(), torch.from_numpy(w).cuda(), stride=2, padding="same")
    assert isinstance(got, torch.Tensor) and got.is_cuda
    pads = [ref.same_pads(9, 3, 2, 1), ref.same_pads(10, 3, 2, 1)]
    assert_close(got.cpu().numpy(), ref.conv(x, w, stride=2, pads=pads), np.float32)
