"""Shuffles and separable filters on the CUDA backend, against tests/reference.py (tiny shapes, small blocks)."""

import numpy as np
import pytest

import numbaconv
import reference as ref
from helpers import assert_close, rand, to_channels_first, to_channels_last
from numbaconv._algorithms import applicable_algorithms
from test_shuffle import LAST, SEP_IDS, SEPARABLE_CASES, SHUFFLE_CASES, separable_expected, shuffle_expected, values

pytestmark = [pytest.mark.cuda, pytest.mark.usefixtures("small_blocks")]


def host(a):
    assert hasattr(a, "copy_to_host")  # a device array in, a device array out
    return a.copy_to_host()


# ---- channel_shuffle, pixel_shuffle, pixel_unshuffle ----

@pytest.mark.parametrize("shape,groups,channels_last,dtype", [
    ((1, 6, 5), 3, False, np.float32),
    ((1, 4, 2, 3), 2, True, np.complex128),  # two 8-byte words per element
    ((3, 6), 2, False, np.bool_),
    ((1, 8, 2, 1, 2), 4, True, np.float16),
    ((2, 4, 1, 2, 1, 2), 2, False, np.int16),  # any number of dims with layout=None
    ((1, 4, 3), 2, False, ">f8"),  # non-native byte order: the bytes move untouched
])
def test_cuda_channel_shuffle_matches_reference(shape, groups, channels_last, dtype, dev):
    x = values(shape, dtype)
    want = ref.channel_shuffle(x, groups)
    if channels_last:
        got = to_channels_first(host(numbaconv.channel_shuffle(dev(to_channels_last(x)), groups,
                                                               layout=LAST[len(shape) - 2])))
    else:
        got = host(numbaconv.channel_shuffle(dev(x), groups))
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, want)


def test_cuda_channel_shuffle_strided_input_out_stream_and_empty(dev):
    from numba import cuda
    x = values((2, 8, 6), np.float64)
    strided = dev(x)[:, ::2, 1::2]  # copied to a contiguous device array first: the 5-d view needs one
    out = cuda.device_array((2, 4, 3), np.float64)
    assert numbaconv.channel_shuffle(strided, 2, out=out, stream=cuda.default_stream()) is out
    np.testing.assert_array_equal(out.copy_to_host(), ref.channel_shuffle(x[:, ::2, 1::2], 2))
    bits = np.array([[0x7FC00001, 0x7FC00002, 1, 2]], np.uint32).view(np.float32)  # NaNs with payloads
    np.testing.assert_array_equal(host(numbaconv.channel_shuffle(dev(bits), 2)).view(np.uint32),
                                  [[0x7FC00001, 1, 0x7FC00002, 2]])
    assert numbaconv.channel_shuffle(dev(np.empty((0, 4, 3))), 2).shape == (0, 4, 3)


@pytest.mark.parametrize("shape,factor,layout", [
    ((1, 8, 3, 2), 2, "NCHW"), ((1, 8, 3, 2), 2, "NHWC"), ((1, 12, 2, 2), (3, 2), "NCHW"),
    ((2, 1, 4, 2, 2), 2, "NHWC"),  # leading batch dims
])
def test_cuda_pixel_shuffle_and_unshuffle_match_reference(shape, factor, layout, dev):
    rh, rw = (factor, factor) if np.isscalar(factor) else factor
    x = values(shape, np.float32)
    up = ref.pixel_shuffle(x, rh, rw)
    if layout == "NHWC":
        last, first = (lambda a: np.ascontiguousarray(np.moveaxis(a, -3, -1))), (lambda a: np.moveaxis(a, -1, -3))
    else:
        last = first = lambda a: a  # noqa: E731
    got = first(host(numbaconv.pixel_shuffle(dev(last(x)), factor, layout=layout)))
    np.testing.assert_array_equal(got, up)
    down = first(host(numbaconv.pixel_unshuffle(dev(last(up)), factor, layout=layout)))
    np.testing.assert_array_equal(down, ref.pixel_unshuffle(up, rh, rw))
    np.testing.assert_array_equal(down, x)


def test_cuda_pixel_out_and_strided_input(dev):
    from numba import cuda
    x = values((1, 8, 2, 6), np.int64)
    out = cuda.device_array((1, 2, 4, 6), np.int64)
    assert numbaconv.pixel_shuffle(dev(x)[:, :, :, ::2], 2, out=out) is out
    np.testing.assert_array_equal(out.copy_to_host(), ref.pixel_shuffle(x[:, :, :, ::2], 2, 2))
    out = cuda.device_array((1, 32, 1, 3), np.int64)
    assert numbaconv.pixel_unshuffle(dev(x), 2, out=out) is out
    np.testing.assert_array_equal(out.copy_to_host(), ref.pixel_unshuffle(x, 2, 2))


def test_cuda_shuffle_errors_before_any_work(dev):
    from numba import cuda
    x = dev(values((1, 4, 2, 2), np.float32))
    with pytest.raises(TypeError, match=r"channel_shuffle: out is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.channel_shuffle(x, 2, out=np.empty((1, 4, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"channel_shuffle: groups=3 must divide the number of channels 4"):
        numbaconv.channel_shuffle(x, 3)
    with pytest.raises(ValueError, match=r"channel_shuffle: out overlaps x"):
        numbaconv.channel_shuffle(x, 2, out=x)
    with pytest.raises(TypeError, match=r"pixel_shuffle: out.dtype=float64 must equal the result dtype float32"):
        numbaconv.pixel_shuffle(x, 2, out=cuda.device_array((1, 1, 4, 4), np.float64))
    with pytest.raises(ValueError, match=r"pixel_unshuffle: out.shape=\(1, 4, 1, 1\) must equal the result shape "
                                         r"\(1, 16, 1, 1\)"):
        numbaconv.pixel_unshuffle(x, 2, out=cuda.device_array((1, 4, 1, 1), np.float32))
    with pytest.raises(ValueError, match=r"pixel_shuffle: out must be C-contiguous"):
        numbaconv.pixel_shuffle(x, 2, out=cuda.device_array((1, 1, 4, 8), np.float32)[:, :, :, ::2])
    # Six strided axes that no merge reduces to five: the gather kernel's view cannot hold them.
    six = dev(np.zeros((4,) * 6, np.float32))[(slice(None, None, 2),) * 6]
    with pytest.raises(NotImplementedError, match=r"channel_shuffle: a non-contiguous CUDA input with more than 5 "
                                                  r"independent strided axes \(shape \(2, 2, 2, 2, 2, 2\)"):
        numbaconv.channel_shuffle(six, 2)


# ---- shuffle_conv2d ----

# The CPU cases with batch 1 and fewer pixels: the simulator runs every thread in Python.
CUDA_SHUFFLE_CASES = [(name, (1, xs[1], 5, 6), ws, kw) for name, xs, ws, kw in SHUFFLE_CASES]


def shuffle_cases():
    for name, xs, ws, kw in CUDA_SHUFFLE_CASES:
        one_group = numbaconv.conv_params("t", 2, (xs[0], xs[1] // kw["groups"], *xs[2:]),
                                          (ws[0] // kw["groups"], *ws[1:]), **{**kw, "groups": 1})
        for algorithm in applicable_algorithms(one_group, "cuda"):
            yield pytest.param(xs, ws, kw, algorithm, id=f"{name}-{algorithm}")


@pytest.mark.parametrize("xs,ws,kw,algorithm", list(shuffle_cases()))
def test_cuda_shuffle_conv2d_every_algorithm(xs, ws, kw, algorithm, dev):
    x, w, b = rand(xs, np.float32, 1), rand(ws, np.float32, 2), rand(ws[:1], np.float32, 3)
    got = numbaconv.shuffle_conv2d(dev(x), dev(w), dev(b), algorithm=algorithm, **kw)
    assert got.dtype == np.float32
    assert_close(host(got), shuffle_expected(x, w, b, kw), np.float32)


@pytest.mark.parametrize("case", [CUDA_SHUFFLE_CASES[0], CUDA_SHUFFLE_CASES[2]], ids=lambda c: c[0])
def test_cuda_shuffle_conv2d_channels_last_activation_padding_mode(case, dev):
    name, xs, ws, kw = case
    x, w, b = rand(xs, np.float64, 4), rand(ws, np.float64, 5), rand(ws[:1], np.float64, 6)
    options = dict(activation="leaky_relu", negative_slope=0.2, padding_mode="circular")
    got = numbaconv.shuffle_conv2d(dev(to_channels_last(x)), dev(w), dev(b), layout="NHWC", **kw, **options)
    assert_close(to_channels_first(host(got)), shuffle_expected(x, w, b, kw, **options))


def test_cuda_shuffle_conv2d_float16_integer_input_out_and_errors(dev):
    from numba import cuda
    name, xs, ws, kw = CUDA_SHUFFLE_CASES[1]
    x, w = rand(xs, np.float16, 7), rand(ws, np.float16, 8)
    got = numbaconv.shuffle_conv2d(dev(x), dev(w), **kw)
    assert got.dtype == np.float16
    assert_close(host(got), shuffle_expected(x, w, None, kw), np.float16)
    xi = np.random.default_rng(9).integers(-5, 5, xs).astype(np.int16)
    out = cuda.device_array((1, 12, 5, 6), np.float64)
    assert numbaconv.shuffle_conv2d(dev(xi), dev(w), groups=4, out=out) is out
    assert_close(out.copy_to_host(), shuffle_expected(xi, w, None, kw))
    with pytest.raises(TypeError, match=r"shuffle_conv2d: weight is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.shuffle_conv2d(dev(x), w, groups=4)
    with pytest.raises(ValueError, match=r"shuffle_conv2d: algorithm='pointwise' is unknown; valid CUDA algorithms"):
        numbaconv.shuffle_conv2d(dev(x), dev(w), groups=4, algorithm="pointwise")
    with pytest.raises(ValueError, match=r"shuffle_conv2d: out overlaps x"):
        d = dev(np.zeros((1, 4, 5, 6), np.float32))
        numbaconv.shuffle_conv2d(d, dev(np.ones((4, 2, 1, 1), np.float32)), groups=2, out=d)


# ---- spatially_separable_conv2d, factorize_separable ----

CUDA_SEPARABLE_CASES = [(name, (1,) + xs[1:], cs, rs, kw) for name, xs, cs, rs, kw in SEPARABLE_CASES]


@pytest.mark.parametrize("name,xs,cs,rs,kw", CUDA_SEPARABLE_CASES, ids=SEP_IDS)
def test_cuda_spatially_separable_matches_two_reference_convs(name, xs, cs, rs, kw, dev):
    x, col, row, b = rand(xs, np.float32, 10), rand(cs, np.float32, 11), rand(rs, np.float32, 12), \
        rand(rs[:1], np.float32, 13)
    got = numbaconv.spatially_separable_conv2d(dev(x), dev(col), dev(row), dev(b), **kw)
    assert got.dtype == np.float32
    assert_close(host(got), separable_expected(xs, cs, rs, kw, x, col, row, b), np.float32)


def test_cuda_spatially_separable_channels_last_padding_mode_float16_and_out(dev):
    from numba import cuda
    name, xs, cs, rs, kw = CUDA_SEPARABLE_CASES[1]
    x, col, row = rand(xs, np.float64, 14), rand(cs, np.float64, 15), rand(rs, np.float64, 16)
    options = dict(padding_mode="reflect", flip=True, activation="tanh")
    got = numbaconv.spatially_separable_conv2d(dev(to_channels_last(x)), dev(col), dev(row), layout="NHWC", **kw,
                                               **options)
    assert_close(to_channels_first(host(got)), separable_expected(xs, cs, rs, kw, x, col, row, **options))
    half = [a.astype(np.float16) for a in (x, col, row)]
    got = numbaconv.spatially_separable_conv2d(*map(dev, half), **kw)
    assert got.dtype == np.float16
    assert_close(host(got), separable_expected(xs, cs, rs, kw, *half), np.float16)
    out = cuda.device_array((1, 3, 7, 9), np.float64)
    assert numbaconv.spatially_separable_conv2d(dev(x), dev(col), dev(row), out=out, **kw) is out
    assert_close(out.copy_to_host(), separable_expected(xs, cs, rs, kw, x, col, row))
    with pytest.raises(TypeError, match=r"spatially_separable_conv2d: row_weight is a host \(NumPy\) array but x is "
                                        r"a CUDA array"):
        numbaconv.spatially_separable_conv2d(dev(x), dev(col), row, **kw)


def test_cuda_factorize_separable_is_a_host_function(dev):
    with pytest.raises(TypeError, match=r"factorize_separable: weight is a CUDA array \((FakeCUDAArray|DeviceNDArray)"
                                        r"\); factorize_separable is a host function that takes NumPy"):
        numbaconv.factorize_separable(dev(np.eye(3)))
