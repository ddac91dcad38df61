"""Transpose convolution and resize-conv on the CUDA backend, against tests/reference.py (tiny shapes, small blocks)."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import numbaconv
import reference as ref
from helpers import assert_close, rand, to_channels_first, to_channels_last
from test_conv_transpose import CASES, CONV_T, IDS, LAYOUT_LAST, RESIZE_CASES, Case, expected, resize_expected

pytestmark = [pytest.mark.cuda, pytest.mark.usefixtures("small_blocks")]
# The CPU cases with batch 1: the simulator runs every thread in Python, so the outputs are kept few.
CUDA_CASES = [Case(c.name, (1,) + c.x[1:], c.w, c.kw) for c in CASES]
RESIZE_CUDA = [(name, (1,) + xs[1:], ws, kw) for name, xs, ws, kw in RESIZE_CASES]
ACTIVATIONS = ["relu", "relu6", "leaky_relu", "sigmoid", "tanh", None]


def bias_for(case, dtype, seed=3):
    return rand((case.w[1] * case.kw.get("groups", 1),), dtype, seed)


@pytest.mark.parametrize("algorithm", ["auto", "direct"])
@pytest.mark.parametrize("case", CUDA_CASES, ids=IDS)
def test_cuda_conv_transpose_matches_reference(case, algorithm, dev):
    x, w, b = rand(case.x, np.float32, 1), rand(case.w, np.float32, 2), bias_for(case, np.float32)
    got = CONV_T[case.nd](dev(x), dev(w), dev(b), algorithm=algorithm, **case.kw)
    assert hasattr(got, "copy_to_host")  # a device array in, a device array out
    assert got.dtype == np.float32
    assert_close(got.copy_to_host(), expected(case, x, w, b), np.float32)


@pytest.mark.parametrize("i,case", list(enumerate(CUDA_CASES)), ids=IDS)
def test_cuda_conv_transpose_channels_last_activation_float64(i, case, dev):
    x, w, b = 3 * rand(case.x, np.float64, 4), rand(case.w, np.float64, 5), bias_for(case, np.float64, 6)
    act = ACTIVATIONS[i % len(ACTIVATIONS)]
    got = CONV_T[case.nd](dev(to_channels_last(x)), dev(w), dev(b), layout=LAYOUT_LAST[case.nd], activation=act,
                          negative_slope=0.2, **case.kw)
    want = expected(case, x, w, b, activation=act, negative_slope=0.2)
    assert_close(to_channels_first(got.copy_to_host()), want)


@pytest.mark.parametrize("layout", ["first", "last"])
@pytest.mark.parametrize("case", [CUDA_CASES[2], CUDA_CASES[3], CUDA_CASES[12]], ids=lambda c: c.name)
def test_cuda_float16_accumulates_in_float32(case, layout, dev):
    x, w, b = rand(case.x, np.float16, 7), rand(case.w, np.float16, 8), bias_for(case, np.float16, 9)
    if layout == "last":
        got = CONV_T[case.nd](dev(to_channels_last(x)), dev(w), dev(b), layout=LAYOUT_LAST[case.nd], **case.kw)
        host = to_channels_first(got.copy_to_host())
    else:
        host = CONV_T[case.nd](dev(x), dev(w), dev(b), **case.kw).copy_to_host()
    assert host.dtype == np.float16
    assert_close(host, expected(case, x, w, b), np.float16)


def test_cuda_out_output_size_and_stream(dev):
    from numba import cuda
    x, w = rand((1, 2, 4, 5), np.float32, 10), rand((2, 3, 3, 3), np.float32, 11)
    want = ref.conv_transpose(x, w, stride=2, pads=1, output_padding=(1, 0))
    out = cuda.device_array((1, 3, 8, 9), np.float32)
    got = numbaconv.conv_transpose2d(dev(x), dev(w), stride=2, padding=1, output_size=(8, 9), out=out,
                                     stream=cuda.stream())
    assert got is out
    assert_close(out.copy_to_host(), want, np.float32)
    half = cuda.device_array((1, 3, 8, 9), np.float16)
    assert numbaconv.conv_transpose2d(dev(x.astype(np.float16)), dev(w), stride=2, padding=1, output_padding=(1, 0),
                                      out=half) is half
    assert_close(half.copy_to_host(), ref.conv_transpose(x.astype(np.float16), w, stride=2, pads=1,
                                                         output_padding=(1, 0)), np.float16)


@settings(deadline=None, max_examples=20)
@given(size=st.integers(1, 5), kernel=st.integers(1, 4), stride=st.integers(1, 4), dilation=st.integers(1, 3),
       pads=st.tuples(st.integers(0, 3), st.integers(0, 3)), groups=st.sampled_from([1, 2]), data=st.data())
def test_cuda_random_1d_geometry_matches_reference(size, kernel, stride, dilation, pads, groups, data):
    """Strides beyond the kernel (outputs no tap reaches), crops beyond the edge, every output_padding."""
    from numba import cuda
    output_padding = data.draw(st.integers(0, max(stride, dilation) - 1))
    assume((size - 1) * stride - sum(pads) + dilation * (kernel - 1) + output_padding + 1 >= 1)
    x, w, b = rand((1, 2, size), np.float64, 40), rand((2, 2, kernel), np.float64, 41), rand((2 * groups,),
                                                                                             np.float64, 42)
    got = numbaconv.conv_transpose1d(cuda.to_device(x), cuda.to_device(w), cuda.to_device(b), stride=stride,
                                     dilation=dilation, padding=(pads,), output_padding=output_padding, groups=groups)
    assert_close(got.copy_to_host(), ref.conv_transpose(x, w, b, stride=stride, pads=[pads],
                                                        output_padding=output_padding, dilation=dilation,
                                                        groups=groups))


# ---- resize_conv2d: conv's CUDA kernels over the resize index tables ----

@pytest.mark.parametrize("name,xs,ws,kw", RESIZE_CUDA, ids=[c[0] for c in RESIZE_CUDA])
def test_cuda_resize_conv2d_matches_reference(name, xs, ws, kw, dev):
    x, w, b = rand(xs, np.float64, 30), rand(ws, np.float64, 31), rand(ws[:1], np.float64, 32)
    got = numbaconv.resize_conv2d(dev(x), dev(w), dev(b), algorithm="direct", **kw)
    assert hasattr(got, "copy_to_host")
    assert_close(got.copy_to_host(), resize_expected(x, w, b, kw))


@pytest.mark.parametrize("algorithm,xs,ws,kw", [
    ("gemm", (1, 2, 2, 3), (3, 2, 3, 2), dict(scale_factor=(2, 1), padding=((1, 0), (0, 1)))),
    ("depthwise", (1, 2, 3, 2), (4, 1, 3, 3), dict(groups=2, padding_mode="reflect", stride=(1, 2))),
    ("auto", (1, 2, 3, 2), (2, 2, 3, 3), dict(padding_mode="circular")),
])
def test_cuda_resize_conv2d_algorithms(algorithm, xs, ws, kw, dev):
    x, w, b = rand(xs, np.float32, 33), rand(ws, np.float32, 34), rand(ws[:1], np.float32, 35)
    got = numbaconv.resize_conv2d(dev(x), dev(w), dev(b), algorithm=algorithm, **kw)
    assert_close(got.copy_to_host(), resize_expected(x, w, b, kw), np.float32)


def test_cuda_resize_conv2d_nhwc_float16_activation_and_out(dev):
    from numba import cuda
    x, w, b = rand((1, 3, 3, 2), np.float16, 36), rand((4, 3, 3, 3), np.float16, 37), rand((4,), np.float16, 38)
    kw = dict(scale_factor=(2, 3), activation="leaky_relu", negative_slope=0.3, stride=(2, 1))
    want = resize_expected(x, w, b, kw)
    out = cuda.device_array(to_channels_last(want).shape, np.float16)
    got = numbaconv.resize_conv2d(dev(to_channels_last(x)), dev(w), dev(b), layout="NHWC", out=out,
                                  algorithm="direct", **kw)
    assert got is out
    assert_close(to_channels_first(out.copy_to_host()), want, np.float16)


def test_cuda_errors_and_mixing(dev):
    from numba import cuda
    x, w = rand((1, 4, 5, 5), np.float32), rand((4, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match=r"conv_transpose2d: algorithm='gemm' is unknown; valid CUDA algorithms: "
                                         r"'auto', 'direct'$"):
        numbaconv.conv_transpose2d(dev(x), dev(w), algorithm="gemm")
    with pytest.raises(TypeError, match=r"conv_transpose2d: weight is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.conv_transpose2d(dev(x), w)
    with pytest.raises(ValueError, match=r"conv_transpose2d: out.shape=\(1, 2, 7, 6\) must equal the result shape "
                                         r"\(1, 2, 7, 7\)"):
        numbaconv.conv_transpose2d(dev(x), dev(w), out=cuda.device_array((1, 2, 7, 6), np.float32))
    with pytest.raises(ValueError, match=r"conv_transpose2d: out overlaps x"):
        d = dev(np.zeros((1, 4, 5, 5), np.float32))
        numbaconv.conv_transpose2d(d, dev(np.ones((4, 1, 1, 1), np.float32)), groups=4, out=d)
    with pytest.raises(ValueError, match=r"resize_conv2d: algorithm='pointwise' is unknown; valid CUDA algorithms: "
                                         r"'auto', 'direct', 'gemm', 'depthwise'"):
        numbaconv.resize_conv2d(dev(x), dev(np.ones((2, 4, 3, 3), np.float32)), algorithm="pointwise")
    with pytest.raises(ValueError, match=r"resize_conv2d: algorithm='depthwise' does not apply to this convolution"):
        numbaconv.resize_conv2d(dev(x), dev(np.ones((2, 4, 3, 3), np.float32)), algorithm="depthwise")
    with pytest.raises(TypeError, match=r"resize_conv2d: x is a host \(NumPy\) array but out is a CUDA array"):
        numbaconv.resize_conv2d(x, np.ones((2, 4, 3, 3), np.float32), out=cuda.device_array((1, 2, 10, 10)))
