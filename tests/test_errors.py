"""Bad input to the convolution family: a clear ValueError/TypeError before any kernel runs."""

import numpy as np
import pytest

import numbaconv

X = np.zeros((2, 4, 8, 8), np.float32)
W = np.zeros((6, 4, 3, 3), np.float32)


class FakeCudaArray:
    """Stands in for a CuPy array: only the interface matters to dispatch."""

    __cuda_array_interface__ = {"shape": (2, 4, 8, 8), "typestr": "<f4", "data": (0, False), "version": 3}
    shape, ndim, dtype = (2, 4, 8, 8), 4, np.dtype(np.float32)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (
            lambda: numbaconv.conv2d(X[0, 0], W),
            ValueError,
            r"conv2d: input must be 4-d \(NCHW\) or 3-d unbatched, got 2-d",
        ),
        (lambda: numbaconv.conv2d(X, W[0]), ValueError, r"conv2d: weight must be 4-d"),
        (lambda: numbaconv.conv1d(X, W), ValueError, r"conv1d: input must be 3-d"),
        (
            lambda: numbaconv.conv2d(X, np.zeros((6, 3, 3, 3), np.float32)),
            ValueError,
            r"conv2d: weight.shape\[1\]=3 must equal in_channels / groups = 4 / 1 = 4",
        ),
        (lambda: numbaconv.conv2d(X, W, groups=3), ValueError, r"conv2d: groups=3 must divide in_channels=4"),
        (
            lambda: numbaconv.conv2d(X, np.zeros((5, 2, 3, 3)), groups=2),
            ValueError,
            r"conv2d: groups=2 must divide out_channels=5",
        ),
        (lambda: numbaconv.conv2d(X, W, groups=0), ValueError, r"conv2d: groups=0 must be a positive integer"),
        (lambda: numbaconv.conv2d(X, W, groups=1.5), ValueError, r"conv2d: groups=1.5 must be a positive integer"),
        (lambda: numbaconv.conv2d(X, W, stride=0), ValueError, r"conv2d: stride=0 must be positive"),
        (lambda: numbaconv.conv2d(X, W, stride=(1, -2)), ValueError, r"conv2d: stride=\(1, -2\) must be positive"),
        (
            lambda: numbaconv.conv2d(X, W, stride=(1, 2, 3)),
            ValueError,
            r"conv2d: stride=\(1, 2, 3\) must be an int or a sequence of 2 ints",
        ),
        (lambda: numbaconv.conv2d(X, W, stride=1.0), TypeError, r"conv2d: stride=1.0 must be an int"),
        (lambda: numbaconv.conv2d(X, W, dilation=0), ValueError, r"conv2d: dilation=0 must be positive"),
        (
            lambda: numbaconv.conv2d(X, np.zeros((6, 4, 0, 3), np.float32)),
            ValueError,
            r"conv2d: kernel size \(0, 3\) \(weight.shape\[2:\]\) must be positive",
        ),
        (lambda: numbaconv.conv2d(X, W, padding=-1), ValueError, r"conv2d: padding=-1 must be >= 0"),
        (
            lambda: numbaconv.conv2d(X, W, padding=((1, -1), (0, 0))),
            ValueError,
            r"conv2d: padding=\(\(1, -1\), \(0, 0\)\) must be non-negative",
        ),
        (
            lambda: numbaconv.conv2d(X, W, padding="SAME"),
            ValueError,
            r"conv2d: padding='SAME' is not one of 'valid', 'same', 'same_lower', 'full'",
        ),
        (
            lambda: numbaconv.conv2d(X, W, padding=[(1, 2, 3), (0, 0)]),
            TypeError,
            r"conv2d: padding=.* must be an int, 2 ints, 2 \(lo, hi\) pairs",
        ),
        (
            lambda: numbaconv.conv2d(X, W, padding_mode="mirror"),
            ValueError,
            r"conv2d: padding_mode='mirror' is not one of 'zeros', 'reflect', 'replicate', 'circular'",
        ),
        (
            lambda: numbaconv.conv2d(X, W, padding=8, padding_mode="reflect"),
            ValueError,
            r"conv2d: reflect padding \(8, 8\) along spatial dim 0 must be smaller than the input size 8",
        ),
        (
            lambda: numbaconv.conv2d(X, W, activation="gelu"),
            ValueError,
            r"conv2d: activation='gelu' is not one of None, 'relu', 'relu6', 'leaky_relu', 'sigmoid', 'tanh'",
        ),
        (
            lambda: numbaconv.conv2d(X, W, negative_slope="a"),
            TypeError,
            r"conv2d: negative_slope='a' must be a real number",
        ),
        (
            lambda: numbaconv.conv2d(X, W, layout="CHWN"),
            ValueError,
            r"conv2d: layout='CHWN' must be 'NCHW' or 'NHWC' for 2-d input",
        ),
        (
            lambda: numbaconv.conv2d(X, W, algorithm="im2win"),
            ValueError,
            r"conv2d: algorithm='im2win' is unknown; valid CPU algorithms: 'auto', 'fast', 'tune', 'direct', 'gemm', 'depthwise', "
            r"'pointwise', 'fft', 'winograd', 'winograd_f2'$",
        ),
        (
            lambda: numbaconv.conv2d(X, W, stride=2, algorithm="winograd"),
            ValueError,
            r"conv2d: algorithm='winograd' does not apply to this convolution; valid here: 'auto', 'fast', 'tune', 'direct', 'gemm'$",
        ),
        (
            lambda: numbaconv.conv2d(X, W, stride=2, algorithm="fft"),
            ValueError,
            r"conv2d: algorithm='fft' does not apply to this convolution; valid here: 'auto', 'fast', 'tune', 'direct', 'gemm'$",
        ),
        (
            lambda: numbaconv.conv2d(X, W, algorithm="depthwise"),
            ValueError,
            r"conv2d: algorithm='depthwise' does not apply to this convolution; valid here: 'auto', 'fast', 'tune', 'direct', 'gemm', "
            r"'fft', 'winograd', 'winograd_f2'$",
        ),
        (
            lambda: numbaconv.conv2d(X, np.zeros((6, 4, 9, 3), np.float32)),
            ValueError,
            r"conv2d: output size 0 < 1 along spatial dim 0: out = floor\(\(in \+ pad_lo \+ pad_hi - dilation \* "
            r"\(kernel - 1\) - 1\) / stride\) \+ 1 with in=8, pad=\(0, 0\), dilation=1, kernel=9, stride=1",
        ),
        (
            lambda: numbaconv.conv2d(X, W, dilation=4),
            ValueError,
            r"conv2d: output size 0 < 1 along spatial dim 0: .* dilation=4, kernel=3",
        ),
        (
            lambda: numbaconv.conv2d(X, W, np.zeros(5, np.float32)),
            ValueError,
            r"conv2d: bias.shape=\(5,\) must be \(out_channels,\) = \(6,\)",
        ),
        (
            lambda: numbaconv.conv2d(X.astype(np.complex64), W),
            TypeError,
            r"conv2d: input dtype complex64 is not supported; use one of float16, float32, float64",
        ),
        (lambda: numbaconv.conv2d(X.astype(object), W), TypeError, r"conv2d: input dtype object is not supported"),
        (lambda: numbaconv.conv2d(X.astype(bool), W), TypeError, r"conv2d: input dtype bool is not supported"),
        (
            lambda: numbaconv.conv2d(X.astype(np.int32), W),
            TypeError,
            r"conv2d: integer input \(int32\) needs an explicit accumulate dtype: pass dtype=np.float32",
        ),
        (
            lambda: numbaconv.conv2d(X, W, dtype=np.int16),
            TypeError,
            r"conv2d: dtype=int16 is not supported; use one of float16, float32, float64",
        ),
        (lambda: numbaconv.conv2d(X, W, dtype="nonsense"), TypeError, r"conv2d: dtype='nonsense' is not a NumPy dtype"),
        (lambda: numbaconv.conv2d(X, W.astype(bool)), TypeError, r"conv2d: weight dtype bool is not supported"),
        (lambda: numbaconv.conv2d(X, W, np.zeros(6, complex)), TypeError, r"conv2d: bias dtype complex128"),
        (
            lambda: numbaconv.conv2d(X.tolist(), W),
            TypeError,
            r"conv2d: x must be a NumPy array, a CPU array with __dlpack__ \(torch, JAX\) or a CUDA array \(CuPy, Numba, torch\), got builtins.list",
        ),
        (
            lambda: numbaconv.conv2d(X, 3.0),
            TypeError,
            r"conv2d: weight must be a NumPy array, a CPU array with __dlpack__",
        ),
        (
            lambda: numbaconv.conv2d(FakeCudaArray(), W),
            TypeError,
            r"conv2d: weight is a host \(NumPy\) array but x is a CUDA array \(FakeCudaArray\)",
        ),
        (
            lambda: numbaconv.conv2d(X, W, out=np.zeros((2, 6, 6, 5), np.float32)),
            ValueError,
            r"conv2d: out.shape=\(2, 6, 6, 5\) must equal the result shape \(2, 6, 6, 6\)",
        ),
        (
            lambda: numbaconv.conv2d(X, W, out=np.zeros((2, 6, 6, 6), np.float64)),
            TypeError,
            r"conv2d: out.dtype=float64 must equal the result dtype float32",
        ),
        (
            lambda: numbaconv.conv2d(X, W, dtype=np.float32, out=np.zeros((2, 6, 6, 6), np.float64)),
            TypeError,
            r"conv2d: out.dtype=float64 must equal dtype=float32",
        ),
        (
            lambda: numbaconv.conv2d(X, W, out=np.zeros((2, 6, 6, 12), np.float32)[..., ::2]),
            ValueError,
            r"conv2d: out must be C-contiguous",
        ),
        (lambda: numbaconv.conv2d(X, W, out=[0]), TypeError, r"conv2d: out must be a NumPy array"),
        (
            lambda: numbaconv.depthwise_conv2d(X, np.zeros((8, 2, 3, 3), np.float32)),
            ValueError,
            r"depthwise_conv2d: weight.shape\[1\]=2 must be 1",
        ),
        (
            lambda: numbaconv.depthwise_conv2d(X, np.zeros((6, 1, 3, 3), np.float32)),
            ValueError,
            r"depthwise_conv2d: groups=4 must divide out_channels=6",
        ),
        (
            lambda: numbaconv.pointwise_conv2d(X, np.zeros((6, 4, 3, 3), np.float32)),
            ValueError,
            r"pointwise_conv2d: weight.shape=\(6, 4, 3, 3\) must be \(C_out, C_in\) or \(C_out, C_in, 1, 1\)",
        ),
        (
            lambda: numbaconv.separable_conv2d(X, np.zeros((4, 1, 3, 3)), np.zeros((6, 5))),
            ValueError,
            r"separable_conv2d: weight.shape\[1\]=5 must equal in_channels / groups = 4 / 1 = 4",
        ),
        (
            lambda: numbaconv.separable_conv2d(X, np.zeros((4, 2, 3, 3)), np.zeros((6, 4))),
            ValueError,
            r"separable_conv2d: depthwise_weight.shape\[1\]=2 must be 1",
        ),
        (lambda: numbaconv.conv_output_shape((1, 3, 8), (2, 3, 3, 3)), ValueError, r"conv1d: weight must be 3-d"),
        (
            lambda: numbaconv.conv_output_shape((3, 8), (2, 3, 3)),
            ValueError,
            r"conv_output_shape: input_shape=\(3, 8\) must have 3, 4 or 5 dims",
        ),
    ],
)
def test_bad_input_raises_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_out_overlapping_an_input_is_rejected():
    x = np.ones((1, 4, 8, 8), np.float32)
    w = np.ones((4, 4, 1, 1), np.float32)
    with pytest.raises(ValueError, match=r"conv2d: out overlaps x; pass a separate output array"):
        numbaconv.conv2d(x, w, out=x)
    buf = np.zeros(2 * 4 * 8 * 8 + 64, np.float32)
    with pytest.raises(ValueError, match=r"conv2d: out overlaps x"):
        numbaconv.conv2d(
            buf[64:].reshape(2, 4, 8, 8), np.ones((4, 4, 1, 1), np.float32), out=buf[:-64].reshape(2, 4, 8, 8)
        )


def test_read_only_out_is_rejected():
    out = np.zeros((2, 6, 6, 6), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match=r"conv2d: out is read-only"):
        numbaconv.conv2d(X, W, out=out)


def test_cuda_array_without_a_device_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"got a CUDA array \(FakeCudaArray\) but Numba finds no usable CUDA"):
        numbaconv.conv2d(FakeCudaArray(), FakeCudaArray())


def test_stream_with_numpy_arrays_is_rejected():
    with pytest.raises(ValueError, match=r"conv2d: stream=1 applies to CUDA arrays only"):
        numbaconv.conv2d(X, W, stream=1)


def test_no_kernel_runs_on_bad_input(monkeypatch):
    """Validation comes first: a bad `out` after good geometry must not start the kernel."""
    from numbaconv import _launch_conv

    def boom(*args, **kwargs):
        raise AssertionError("kernel launched")

    for key in list(_launch_conv.LAUNCHERS):
        monkeypatch.setitem(_launch_conv.LAUNCHERS, key, boom)
    with pytest.raises(TypeError):
        numbaconv.conv2d(X, W, out=np.zeros((2, 6, 6, 6), np.float64))
    with pytest.raises(ValueError):
        numbaconv.separable_conv2d(
            X, np.zeros((4, 1, 3, 3), np.float32), np.zeros((6, 4), np.float32), bias=np.zeros(7, np.float32)
        )


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: numbaconv.conv2d(X, W, flip="False"), r"conv2d: flip='False' must be a bool"),
        (
            lambda: numbaconv.spatially_separable_conv2d(X, np.ones((4, 4, 3)), np.ones((4, 4, 3)), flip=1),
            r"spatially_separable_conv2d \(column pass\): flip=1 must be a bool",
        ),
        (lambda: numbaconv.conv2d(None, W), r"conv2d: x must be a NumPy array, .* or a CUDA array .*got None"),
        (lambda: numbaconv.conv_transpose2d(X, None), r"conv_transpose2d: weight must be .*got None"),
        (lambda: numbaconv.max_pool2d(None, 2), r"max_pool2d: x must be .*got None"),
        (lambda: numbaconv.max_unpool2d(X, None, 2), r"max_unpool2d: indices must be .*got None"),
    ],
)
def test_required_arrays_and_flip_are_checked(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_big_endian_input_is_computed_in_native_byte_order():
    """Big-endian arrays (as read from some files) give the native-order result of the same values."""
    x = np.arange(32, dtype=np.float64).reshape(1, 2, 4, 4) - 10
    w = np.linspace(-1, 1, 18).reshape(1, 2, 3, 3)
    big = x.astype(">f8")
    np.testing.assert_array_equal(numbaconv.conv2d(big, w.astype(">f8"), padding=1), numbaconv.conv2d(x, w, padding=1))
    np.testing.assert_array_equal(
        numbaconv.max_pool2d(big.astype(">i4"), 2), numbaconv.max_pool2d(x.astype(np.int32), 2)
    )
    assert numbaconv.max_pool2d(big.astype(">i4"), 2).dtype == np.int32
    np.testing.assert_array_equal(
        numbaconv.avg_pool2d(big.astype(">f4"), 2), numbaconv.avg_pool2d(x.astype(np.float32), 2)
    )
    values, indices = numbaconv.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(
        numbaconv.max_unpool2d(values.astype(">f8"), indices.astype(">i2"), 2),
        numbaconv.max_unpool2d(values, indices, 2),
    )


@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda: numbaconv.conv2d(X, W, stride=2**63),
            r"conv2d: stride = 9223372036854775808 must be at most 2\*\*31 - 1",
        ),
        (lambda: numbaconv.conv2d(X, W, padding=2**40), r"conv2d: padding = 1099511627776 must be at most 2\*\*31 - 1"),
        (lambda: numbaconv.conv2d(X, W, padding=((0, 2**40), (0, 0))), r"conv2d: padding = 1099511627776 must be"),
        (lambda: numbaconv.conv2d(X, W, dilation=2**40), r"conv2d: dilation = 1099511627776 must be at most"),
        (lambda: numbaconv.max_pool2d(X, 2, stride=2**63), r"max_pool2d: stride = 9223372036854775808 must be"),
        (lambda: numbaconv.unpool2d(X, 2**40), r"unpool2d: scale_factor = 1099511627776 must be at most"),
        (
            lambda: numbaconv.interpolate(X, scale_factor=1e30),
            r"interpolate: output size floor\(8 \* 1e\+30\) along spatial dim 0 = \d+ must be at most 2\*\*31 - 1",
        ),
        (
            lambda: numbaconv.conv_transpose2d(X, np.ones((4, 2, 3, 3), np.float32), stride=2**30),
            r"conv_transpose2d: output size along spatial dim 0 = 7516192771 must be at most 2\*\*31 - 1",
        ),
        (
            lambda: numbaconv.conv2d(X, W, padding=2**29),
            r"conv2d: the result of shape \(2, 6, 1073741830, 1073741830\) \(.* GiB of float32\) cannot be allocated",
        ),
    ],
)
def test_huge_arguments_are_value_errors(call, match):
    """Sizes, steps and paddings past 2**31 - 1, and results too big to allocate, name the op and the argument."""
    with pytest.raises(ValueError, match=match):
        call()
