"""Unbatched input, as torch takes it since 1.11: x of shape (C, *spatial) (channels-last: (*spatial, C)) gives
the batch-of-one result without its batch axis, `out=` of that shape included."""

import numpy as np
import pytest

import numbaconv as nc

import reference as ref
from helpers import assert_close, rand, to_backend, to_host

W2 = rand((5, 4, 3, 3), np.float32, 1)

# (name, op on x, spatial dims): every op whose input has a batch axis that torch lets the caller leave out
OPS = [
    ("conv1d", lambda x, t=lambda a: a, **kw: nc.conv1d(x, t(W2[:, :, 1]), padding=1, **kw), 1),
    ("conv2d", lambda x, t=lambda a: a, **kw: nc.conv2d(x, t(W2), padding=1, stride=(1, 2), **kw), 2),
    ("conv3d", lambda x, t=lambda a: a, **kw: nc.conv3d(x, t(np.stack([W2] * 2, axis=2)), **kw), 3),
    (
        "depthwise_conv2d",
        lambda x, t=lambda a: a, **kw: nc.depthwise_conv2d(x, t(rand((8, 1, 3, 3), np.float32, 2)), **kw),
        2,
    ),
    (
        "pointwise_conv2d",
        lambda x, t=lambda a: a, **kw: nc.pointwise_conv2d(x, t(rand((3, 4), np.float32, 3)), **kw),
        2,
    ),
    (
        "separable_conv2d",
        lambda x, t=lambda a: a, **kw: nc.separable_conv2d(x, t(W2[:4, :1]), t(rand((6, 4), np.float32, 4)), **kw),
        2,
    ),
    (
        "spatially_separable_conv2d",
        lambda x, t=lambda a: a, **kw: nc.spatially_separable_conv2d(x, t(W2[:4, :, 0]), t(W2[:, :, 1]), **kw),
        2,
    ),
    ("shuffle_conv2d", lambda x, t=lambda a: a, **kw: nc.shuffle_conv2d(x, t(W2[:4, :2]), groups=2, **kw), 2),
    ("resize_conv2d", lambda x, t=lambda a: a, **kw: nc.resize_conv2d(x, t(W2), padding=1, **kw), 2),
    ("conv_transpose1d", lambda x, t=lambda a: a, **kw: nc.conv_transpose1d(x, t(W2[:4, :, 0]), stride=2, **kw), 1),
    ("conv_transpose2d", lambda x, t=lambda a: a, **kw: nc.conv_transpose2d(x, t(W2[:4]), stride=2, **kw), 2),
    ("max_pool1d", lambda x, t=lambda a: a, **kw: nc.max_pool1d(x, 2, **kw), 1),
    ("max_pool2d", lambda x, t=lambda a: a, **kw: nc.max_pool2d(x, 3, 2, padding=1, **kw), 2),
    ("max_pool3d", lambda x, t=lambda a: a, **kw: nc.max_pool3d(x, 2, **kw), 3),
    ("avg_pool2d", lambda x, t=lambda a: a, **kw: nc.avg_pool2d(x, 2, ceil_mode=True, **kw), 2),
    ("unpool2d", lambda x, t=lambda a: a, **kw: nc.unpool2d(x, 2, **kw), 2),
    ("pixel_shuffle", lambda x, t=lambda a: a, **kw: nc.pixel_shuffle(x, 2, **kw), 2),  # any leading dims
    ("pixel_unshuffle", lambda x, t=lambda a: a, **kw: nc.pixel_unshuffle(x, 2, **kw), 2),
]
SHAPES = {1: (4, 8), 2: (4, 6, 8), 3: (4, 4, 6, 8)}
CUDA_SHAPES = {1: (4, 4), 2: (4, 4, 4), 3: (4, 2, 4, 4)}  # the simulator runs each thread in Python
LAST = {1: "NWC", 2: "NHWC", 3: "NDHWC"}
CHANNELS_LAST_OPS = {"conv2d", "depthwise_conv2d", "max_pool2d", "avg_pool2d", "conv_transpose2d", "pixel_shuffle"}


def _to_last(a):
    return np.moveaxis(a, 0, -1)


@pytest.mark.parametrize("name,op,nd", OPS, ids=[o[0] for o in OPS])
def test_unbatched_input_gives_the_batch_of_one_result_without_its_batch_axis(backend, name, op, nd):
    x = rand((SHAPES if backend == "cpu" else CUDA_SHAPES)[nd], np.float32, 5)
    want = op(x[None])[0]  # the batched CPU result (checked against tests/reference.py by each op's own tests)

    def move(a):
        return to_backend(backend, np.ascontiguousarray(a))

    got = to_host(backend, op(move(x), move))
    assert got.shape == want.shape
    assert_close(got, want, np.float32)
    out = move(np.full(want.shape, np.nan, np.float32))
    assert op(move(x), move, out=out) is out
    assert_close(to_host(backend, out), want, np.float32)


@pytest.mark.parametrize("name,op,nd", [o for o in OPS if o[0] in CHANNELS_LAST_OPS], ids=sorted(CHANNELS_LAST_OPS))
def test_unbatched_channels_last(name, op, nd):
    x = rand(SHAPES[nd], np.float32, 6)
    want = op(x[None])[0]
    got = op(np.ascontiguousarray(_to_last(x)), layout=LAST[nd])
    assert_close(np.moveaxis(got, -1, 0), want, np.float32)


def test_unbatched_conv_matches_reference():
    x = rand((4, 6, 8), np.float64, 7)
    assert_close(nc.conv2d(x, W2, padding=1), ref.conv(x[None], W2, pads=1)[0], np.float64)


def test_unbatched_max_pool_indices_and_max_unpool(backend):
    x = rand((3, 6, 8), np.float32, 8)
    values, indices = nc.max_pool2d(x, 2, return_indices=True)
    assert values.shape == indices.shape == (3, 3, 4)
    batched_values, batched_indices = nc.max_pool2d(x[None], 2, return_indices=True)
    np.testing.assert_array_equal(values, batched_values[0])
    np.testing.assert_array_equal(indices, batched_indices[0])
    got = to_host(backend, nc.max_unpool2d(to_backend(backend, values), to_backend(backend, indices), 2))
    np.testing.assert_array_equal(got, nc.max_unpool2d(batched_values, batched_indices, 2)[0])
    out = (np.empty((3, 3, 4), np.float32), np.empty((3, 3, 4), np.int64))
    got_values, got_indices = nc.max_pool2d(x, 2, return_indices=True, out=out)
    assert got_values is out[0] and got_indices is out[1]
    np.testing.assert_array_equal(got_indices, indices)


def test_unbatched_out_of_the_batched_shape_is_refused():
    x = rand((4, 6, 8), np.float32, 9)
    with pytest.raises(ValueError, match=r"conv2d: out.shape=\(1, 5, 6, 8\) must equal the result shape \(5, 6, 8\)"):
        nc.conv2d(x, W2, padding=1, out=np.empty((1, 5, 6, 8), np.float32))


def test_interpolate_keeps_torch_reading_of_three_dims_as_a_batched_1d_signal():
    x = rand((2, 3, 5), np.float32, 10)
    assert nc.interpolate(x, scale_factor=2).shape == (2, 3, 10)
