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


# One thread that spins on the global nanosecond timer: a stream kept busy for a known wall time.
SPIN = r"""
extern "C" __global__ void spin(unsigned long long ns) {
    unsigned long long start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now)); } while (now - start < ns);
}
"""


def test_cupy_current_stream_is_used(cupy):
    """The kernel is queued on CuPy's current stream, behind the work already there, without waiting for it.

    The current stream is a non-blocking stream that first spins for a second and then copies the real input over
    a NaN-filled one. Queued on that stream, our kernel runs after the copy and reads the real input. Launched on
    the legacy default stream (which does not wait for non-blocking streams) or on any other stream, it runs during
    the spin and reads NaNs: the comparison fails. Had the call synchronised the stream (or the device) instead,
    it would return only after the spin: the stream must still be busy when the call returns.
    """
    x, w = rand((2, 8, 16, 16), np.float32, 6), rand((8, 8, 3, 3), np.float32, 7)
    want = ref.conv(x, w, pads=1)
    source, wd = cupy.asarray(x), cupy.asarray(w)
    numbaconv.conv2d(source, wd, padding=1)  # compile and fill every cache before the timed part
    spin = cupy.RawKernel(SPIN, "spin")
    xd = cupy.full(x.shape, cupy.nan, dtype=cupy.float32)
    cupy.cuda.Device().synchronize()
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        spin((1,), (1,), (np.uint64(1_000_000_000),))
        xd[...] = source  # on `stream`, after the spin
        got = numbaconv.conv2d(xd, wd, padding=1)
        busy = not stream.done
        total = got.sum()  # queued on the same stream, after the kernel
    stream.synchronize()
    assert busy, "conv2d waited for the caller's stream instead of queueing on it"
    assert_close(cupy.asnumpy(got), want, np.float32)
    assert abs(float(total) - float(want.sum())) < 1e-2 * np.abs(want).sum()


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


def test_dask_arrays_of_cupy_chunks_run_the_cuda_kernels(cupy):
    """numbaconv.dask over CuPy chunks: CuPy meta and results, equal to the in-memory CPU call (values at float32
    tolerance, max-pool indices exactly)."""
    da = pytest.importorskip("dask.array")
    import numbaconv.dask as ndask

    x, w = rand((2, 3, 20, 20), np.float32, 6), rand((4, 3, 3, 3), np.float32, 7)
    xd = da.from_array(cupy.asarray(x), chunks=(1, 3, 8, 8), asarray=False)
    y = ndask.conv2d(xd, cupy.asarray(w), padding=1, padding_mode="reflect")
    assert isinstance(y._meta, cupy.ndarray)
    got = y.compute(scheduler="synchronous")
    assert isinstance(got, cupy.ndarray)
    assert_close(cupy.asnumpy(got), numbaconv.conv2d(x, w, padding=1, padding_mode="reflect"), np.float32)
    values, indices = ndask.max_pool2d(xd, 3, stride=2, padding=1, return_indices=True)
    want_values, want_indices = numbaconv.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    np.testing.assert_array_equal(cupy.asnumpy(values.compute(scheduler="synchronous")), want_values)
    np.testing.assert_array_equal(cupy.asnumpy(indices.compute(scheduler="synchronous")), want_indices)
    wt = rand((3, 2, 4, 4), np.float32, 8)
    t = ndask.conv_transpose2d(xd, cupy.asarray(wt), stride=2, padding=1).compute(scheduler="synchronous")
    assert_close(cupy.asnumpy(t), numbaconv.conv_transpose2d(x, wt, stride=2, padding=1), np.float32)
