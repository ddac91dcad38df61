"""Host arrays of other libraries (torch CPU tensors, anything with a CPU `__dlpack__`): viewed without a copy,
results of the caller's kind, `out=` filled in place."""

import numpy as np
import pytest

import numbaconv

import reference as ref
from helpers import assert_close, rand


class HostCapsule:
    """A minimal DLPack CPU array from a library without `from_dlpack` (results come back as NumPy)."""

    def __init__(self, a):
        self.a = a
        self.shape, self.ndim, self.dtype = a.shape, a.ndim, a.dtype

    def __dlpack__(self, **kwargs):
        return self.a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()


def test_dlpack_host_array_without_from_dlpack_gives_numpy():
    x, w = rand((1, 2, 6, 6), np.float32, 1), rand((3, 2, 3, 3), np.float32, 2)
    got = numbaconv.conv2d(HostCapsule(x), HostCapsule(w), padding=1)
    assert type(got) is np.ndarray
    assert_close(got, ref.conv(x, w, pads=1), np.float32)


def test_dlpack_host_out_is_written_in_place():
    x, w = rand((1, 2, 5, 5), np.float64, 3), rand((4, 2, 3, 3), np.float64, 4)
    out = np.full((1, 4, 3, 3), np.nan)
    assert numbaconv.conv2d(x, w, out=HostCapsule(out)).a is out
    assert_close(out, ref.conv(x, w), np.float64)


def test_torch_cpu_tensors_in_torch_out():
    torch = pytest.importorskip("torch")
    x, w, b = rand((2, 3, 7, 8), np.float32, 5), rand((4, 3, 3, 3), np.float32, 6), rand((4,), np.float32, 7)
    got = numbaconv.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), padding=1, activation="relu")
    assert isinstance(got, torch.Tensor) and got.device.type == "cpu" and got.dtype == torch.float32
    assert_close(got.numpy(), ref.conv(x, w, b, pads=1, act="relu"), np.float32)
    expect = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), padding=1)
    assert_close(got.numpy(), torch.relu(expect).double().numpy(), np.float32)


def test_torch_cpu_input_is_not_copied_and_out_is_the_callers_tensor():
    torch = pytest.importorskip("torch")
    x = torch.from_numpy(rand((1, 2, 6, 6), np.float64, 8))
    out = torch.full((1, 2, 3, 3), float("nan"), dtype=torch.float64)
    ptr = out.data_ptr()
    got = numbaconv.max_pool2d(x, 2, out=out)
    assert got is out and out.data_ptr() == ptr
    expect = torch.nn.functional.max_pool2d(x, 2)
    assert torch.equal(out, expect)


def test_torch_cpu_pool_indices_and_unbatched():
    torch = pytest.importorskip("torch")
    x = torch.from_numpy(rand((3, 6, 6), np.float32, 9))  # unbatched (C, H, W)
    values, indices = numbaconv.max_pool2d(x, 2, return_indices=True)
    expect_v, expect_i = torch.nn.functional.max_pool2d(x, 2, return_indices=True)
    assert isinstance(values, torch.Tensor) and isinstance(indices, torch.Tensor)
    assert torch.equal(values, expect_v) and torch.equal(indices, expect_i)
    back = numbaconv.max_unpool2d(values, indices, 2)
    assert torch.equal(back, torch.nn.functional.max_unpool2d(expect_v, expect_i, 2))


def test_torch_cpu_mixed_with_numpy_takes_the_kind_of_x():
    torch = pytest.importorskip("torch")
    x, w = rand((1, 2, 5, 5), np.float32, 10), rand((2, 1, 3, 3), np.float32, 11)
    assert type(numbaconv.depthwise_conv2d(x, torch.from_numpy(w))) is np.ndarray
    assert isinstance(numbaconv.depthwise_conv2d(torch.from_numpy(x), w), torch.Tensor)


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda torch: torch.ones(2, 2, 3, 3, requires_grad=True), r"conv2d: weight .*cannot be viewed as a NumPy"),
        (lambda torch: torch.ones(2, 2, 3, 3, dtype=torch.bfloat16), r"conv2d: weight .*cannot be viewed as a NumPy"),
    ],
)
def test_torch_cpu_tensors_numpy_cannot_view_are_a_clear_error(make, pattern):
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=pattern):
        numbaconv.conv2d(torch.ones(1, 2, 5, 5), make(torch))


def test_torch_cpu_and_numpy_results_agree_for_separable_and_transpose():
    torch = pytest.importorskip("torch")
    x, dw, pw = rand((1, 4, 6, 6), np.float32, 12), rand((4, 1, 3, 3), np.float32, 13), rand((5, 4), np.float32, 14)
    t = [torch.from_numpy(a) for a in (x, dw, pw)]
    got = numbaconv.separable_conv2d(*t, padding=1)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_array_equal(got.numpy(), numbaconv.separable_conv2d(x, dw, pw, padding=1))
    wt = rand((4, 2, 3, 3), np.float32, 15)
    got = numbaconv.conv_transpose2d(t[0], torch.from_numpy(wt), stride=2)
    expect = torch.nn.functional.conv_transpose2d(t[0], torch.from_numpy(wt), stride=2)
    assert_close(got.numpy(), expect.double().numpy(), np.float32)
