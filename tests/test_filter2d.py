"""filter2d: images (H, W) / (H, W, C) and 2-d kernels, checked against SciPy's own image filters."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import ndimage, signal

import numbaconv

from helpers import BACKEND_SETTINGS, assert_close, rand, to_backend, to_host

# numbaconv's padding_mode -> scipy.ndimage's mode of the same border.
SCIPY_MODES = {"zeros": "constant", "reflect": "mirror", "replicate": "nearest", "circular": "wrap"}


def scipy_filter(image, kernel, padding_mode, flip):
    """SciPy per channel: ndimage.correlate (flip: convolve) with the border of `padding_mode`."""
    fn = ndimage.convolve if flip else ndimage.correlate
    if image.ndim == 2:
        return fn(image, kernel, mode=SCIPY_MODES[padding_mode])
    return np.stack([fn(image[..., c], kernel, mode=SCIPY_MODES[padding_mode]) for c in range(image.shape[2])], -1)


@pytest.mark.parametrize("padding_mode", list(SCIPY_MODES))
@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("kernel_shape", [(3, 3), (2, 4), (1, 5), (4, 1)])
@pytest.mark.parametrize("image_shape", [(7, 9), (6, 8, 3)])
def test_same_mode_is_scipy_ndimage(backend, image_shape, kernel_shape, flip, padding_mode):
    image, kernel = rand(image_shape, np.float64, 1), rand(kernel_shape, np.float64, 2)
    got = numbaconv.filter2d(to_backend(backend, image), kernel, padding_mode=padding_mode, flip=flip)
    assert_close(to_host(backend, got), scipy_filter(image, kernel, padding_mode, flip))


@pytest.mark.parametrize("mode", ["valid", "full"])
@pytest.mark.parametrize("kernel_shape", [(3, 3), (2, 4)])
def test_valid_and_full_are_scipy_signal(backend, mode, kernel_shape):
    image, kernel = rand((6, 7), np.float32, 3), rand(kernel_shape, np.float32, 4)
    got = numbaconv.filter2d(to_backend(backend, image), kernel, mode=mode)
    assert_close(to_host(backend, got), signal.correlate2d(image.astype(np.float64), kernel, mode=mode), np.float32)
    got = numbaconv.filter2d(to_backend(backend, image), kernel, mode=mode, flip=True)
    assert_close(to_host(backend, got), signal.convolve2d(image.astype(np.float64), kernel, mode=mode), np.float32)


@pytest.mark.parametrize("image_shape", [(6, 7), (6, 7, 2)])
def test_a_kernel_bank_adds_a_trailing_axis(backend, image_shape):
    image, bank = rand(image_shape, np.float32, 5), rand((3, 3, 3), np.float32, 6)
    got = to_host(backend, numbaconv.filter2d(to_backend(backend, image), bank, padding_mode="reflect"))
    assert got.shape == (*image_shape, 3)
    for k in range(3):
        assert_close(got[..., k], scipy_filter(image.astype(np.float64), bank[k], "reflect", False), np.float32)


@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 99))
@BACKEND_SETTINGS
def test_filtering_each_channel_alone_is_filtering_the_colour_image(backend, k_h, k_w, seed):
    image, kernel = rand((5, 6, 3), np.float32, seed), rand((k_h, k_w), np.float32, seed + 1)
    whole = to_host(backend, numbaconv.filter2d(to_backend(backend, image), kernel))
    for c in range(3):
        alone = to_host(backend, numbaconv.filter2d(to_backend(backend, np.ascontiguousarray(image[..., c])), kernel))
        np.testing.assert_array_equal(whole[..., c], alone)


def test_integer_images_need_a_dtype_and_torch_tensors_come_back_as_torch():
    image = np.arange(20, dtype=np.uint8).reshape(4, 5)
    kernel = np.ones((3, 3))
    got = numbaconv.filter2d(image, kernel, dtype=np.float32)
    assert got.dtype == np.float32
    assert_close(got, ndimage.correlate(image.astype(np.float64), kernel, mode="constant"), np.float32)
    with pytest.raises(TypeError, match=r"integer input \(uint8\) needs an explicit accumulate dtype"):
        numbaconv.filter2d(image, kernel)


def test_torch_cpu_image_comes_back_as_torch():
    torch = pytest.importorskip("torch")
    image = rand((5, 6, 3), np.float32, 7)
    got = numbaconv.filter2d(torch.from_numpy(image), np.ones((3, 3), np.float32))
    assert isinstance(got, torch.Tensor) and got.shape == (5, 6, 3)


@pytest.mark.parametrize(
    "call, exc, pattern",
    [
        (
            lambda: numbaconv.filter2d(np.zeros((1, 4, 4, 1)), np.ones((3, 3))),
            ValueError,
            r"filter2d: image must be \(H, W\) or \(H, W, C\), got 4-d",
        ),
        (
            lambda: numbaconv.filter2d(np.zeros((4, 4)), np.ones(3)),
            ValueError,
            r"filter2d: kernels must be one kernel \(kH, kW\) or a bank",
        ),
        (
            lambda: numbaconv.filter2d(np.zeros((4, 4)), np.ones((0, 3))),
            ValueError,
            r"filter2d: kernels must be .*got shape \(0, 3\)",
        ),
        (
            lambda: numbaconv.filter2d(np.zeros((4, 4)), np.ones((3, 3)), mode="nearest"),
            ValueError,
            r"filter2d: mode='nearest' is not one of 'same', 'valid', 'full'",
        ),
        (
            lambda: numbaconv.filter2d(np.zeros((4, 4)), np.ones((3, 3), bool)),
            TypeError,
            r"filter2d: kernels dtype bool is not supported",
        ),
        (lambda: numbaconv.filter2d(np.zeros((2, 2)), np.ones((3, 3)), mode="valid"), ValueError, r"filter2d: "),
        (lambda: numbaconv.filter2d([[1.0]], np.ones((1, 1))), TypeError, r"filter2d: image must be a NumPy array"),
    ],
)
def test_errors(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
