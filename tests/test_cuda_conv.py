"""The convolution family on the CUDA backend, against tests/reference.py (tiny shapes, small blocks)."""

import numpy as np
import pytest

import numbaconv
import reference as ref
from helpers import assert_close, rand, to_channels_first, to_channels_last
from numbaconv._algorithms import applicable_algorithms
from test_conv import CASES, CONV, LAYOUT_LAST, Case, expected

pytestmark = [pytest.mark.cuda, pytest.mark.usefixtures("small_blocks")]
# The CPU cases with batch 1: the simulator runs every thread in Python, so the outputs are kept few.
CUDA_CASES = [Case(c.name, (1,) + c.x[1:], c.w, c.kw) for c in CASES]


def cuda_cases():
    for case in CUDA_CASES:
        names = applicable_algorithms(numbaconv.conv_params("t", case.nd, case.x, case.w, **case.kw), "cuda")
        for name in names:
            yield pytest.param(case, name, id=f"{case.name}-{name}")


@pytest.mark.parametrize("case,algorithm", list(cuda_cases()))
def test_cuda_conv_matches_reference(case, algorithm, dev, dtype=np.float32):
    x, w, b = rand(case.x, dtype, 1), rand(case.w, dtype, 2), rand(case.w[:1], dtype, 3)
    got = CONV[case.nd](dev(x), dev(w), dev(b), algorithm=algorithm, **case.kw)
    assert hasattr(got, "copy_to_host")  # a device array in, a device array out
    assert_close(got.copy_to_host(), expected(case, x, w, b), dtype)


@pytest.mark.parametrize("case", [CUDA_CASES[0], CUDA_CASES[2], CUDA_CASES[8]], ids=lambda c: c.name)
def test_cuda_conv_auto_float64(case, dev):
    test_cuda_conv_matches_reference(case, "auto", dev, np.float64)


@pytest.mark.parametrize("case", [CUDA_CASES[3], CUDA_CASES[6], CUDA_CASES[12]], ids=lambda c: c.name)
def test_cuda_conv_channels_last_padding_modes_flip_activation(case, dev):
    x, w, b = rand(case.x, np.float64, 4), rand(case.w, np.float64, 5), rand(case.w[:1], np.float64, 6)
    for padding_mode, flip, act in [("circular", True, "relu"), ("replicate", False, "tanh"),
                                    ("zeros", True, "leaky_relu")]:
        got = CONV[case.nd](dev(to_channels_last(x)), dev(w), dev(b), layout=LAYOUT_LAST[case.nd],
                            padding_mode=padding_mode, flip=flip, activation=act, **case.kw)
        want = expected(case, x, w, b, padding_mode=padding_mode, flip=flip, activation=act)
        assert_close(to_channels_first(got.copy_to_host()), want)


def test_cuda_float16_accumulates_in_float32(dev):
    case = CUDA_CASES[2]
    x, w = rand(case.x, np.float16, 7), rand(case.w, np.float16, 8)
    got = numbaconv.conv2d(dev(x), dev(w), **case.kw)
    assert got.dtype == np.float16
    assert_close(got.copy_to_host(), expected(case, x, w), np.float16)


def test_cuda_depthwise_pointwise_separable_and_out(dev):
    x = rand((2, 3, 7, 8), np.float32, 9)
    dw, pw = rand((6, 1, 3, 3), np.float32, 10), rand((5, 6), np.float32, 11)
    got = numbaconv.separable_conv2d(dev(x), dev(dw), dev(pw), padding=1)
    want = ref.conv(ref.conv(x, dw, pads=1, groups=3), pw[:, :, None, None])
    assert_close(got.copy_to_host(), want, np.float32)
    from numba import cuda
    out = cuda.device_array((2, 5, 7, 8), np.float32)
    mid = numbaconv.depthwise_conv2d(dev(x), dev(dw), padding=1)
    assert numbaconv.pointwise_conv2d(mid, dev(pw), out=out) is out
    assert_close(out.copy_to_host(), want, np.float32)


def test_cuda_errors_and_mixing(dev):
    x, w = rand((1, 2, 5, 5), np.float32), rand((2, 2, 3, 3), np.float32)
    with pytest.raises(TypeError, match=r"conv2d: weight is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.conv2d(dev(x), w)
    with pytest.raises(ValueError, match=r"conv2d: algorithm='pointwise' is unknown; valid CUDA algorithms"):
        numbaconv.conv2d(dev(x), dev(w), algorithm="pointwise")
    with pytest.raises(ValueError, match=r"conv2d: out overlaps x"):
        d = dev(np.zeros((1, 2, 5, 5), np.float32))
        numbaconv.conv2d(d, dev(np.ones((2, 2, 1, 1), np.float32)), out=d)
    from numba import cuda
    with pytest.raises(ValueError, match=r"conv2d: out.shape=\(1, 2, 4, 4\) must equal the result shape"):
        numbaconv.conv2d(dev(x), dev(w), out=cuda.device_array((1, 2, 4, 4), np.float32))


def test_cuda_tune_times_the_cuda_algorithms_once(dev):
    from numbaconv import tuning
    tuning.clear()
    case = CUDA_CASES[2]
    x, w = rand(case.x, np.float32, 21), rand(case.w, np.float32, 22)
    got = numbaconv.conv2d(dev(x), dev(w), algorithm="tune", **case.kw)
    assert_close(got.copy_to_host(), expected(case, x, w), np.float32)
    (key, entry), = tuning.choices().items()
    assert key.startswith("cuda|float32|") and set(entry["seconds"]) == {"direct", "gemm"}
    tuning.clear()
