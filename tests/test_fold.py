"""fold_batch_norm: conv (or transpose conv) then inference-mode batch norm equals one conv with folded weights."""

import numpy as np
import pytest

import numbaconv

import reference as ref
from helpers import assert_close, rand


def batch_norm(y, mean, var, gamma, beta, eps):
    """Inference-mode batch normalisation over axis 1 of y (N, C, *spatial), written out."""
    shape = (1, -1) + (1,) * (y.ndim - 2)
    g = np.ones_like(mean) if gamma is None else gamma
    b = np.zeros_like(mean) if beta is None else beta
    return (y - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * g.reshape(shape) + b.reshape(shape)


def stats(c, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(c), rng.uniform(0.5, 2.0, c), rng.standard_normal(c), rng.standard_normal(c)


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_folded_conv_equals_conv_then_batch_norm(groups, with_bias, affine):
    x, w = rand((2, 4, 7, 6), np.float64, 1), rand((6, 4 // groups, 3, 3), np.float64, 2)
    b = rand((6,), np.float64, 3) if with_bias else None
    mean, var, gamma, beta = stats(6, 4)
    gamma, beta = (gamma, beta) if affine else (None, None)
    want = batch_norm(ref.conv(x, w, b, pads=1, groups=groups), mean, var, gamma, beta, 1e-3)
    before = [a.copy() for a in (w, mean, var)]
    w2, b2 = numbaconv.fold_batch_norm(w, b, mean, var, gamma, beta, eps=1e-3)
    assert_close(numbaconv.conv2d(x, w2, b2, padding=1, groups=groups), want, np.float64)
    for a, old in zip((w, mean, var), before):
        np.testing.assert_array_equal(a, old)  # new arrays; the inputs are left alone


@pytest.mark.parametrize("groups", [1, 2])
def test_folded_transpose_conv_equals_transpose_conv_then_batch_norm(groups):
    x, w, b = rand((1, 4, 5, 5), np.float64, 5), rand((4, 3, 3, 3), np.float64, 6), rand((3 * groups,), np.float64, 7)
    mean, var, gamma, beta = stats(3 * groups, 8)
    y = numbaconv.conv_transpose2d(x, w, b, stride=2, groups=groups, algorithm="direct")
    want = batch_norm(y, mean, var, gamma, beta, 1e-5)
    w2, b2 = numbaconv.fold_batch_norm(w, b, mean, var, gamma, beta, transpose=True, groups=groups)
    assert w2.shape == w.shape
    assert_close(numbaconv.conv_transpose2d(x, w2, b2, stride=2, groups=groups, algorithm="direct"), want, np.float64)


def test_matches_torch_fuse_conv_bn_weights():
    torch = pytest.importorskip("torch")
    from torch.nn.utils.fusion import fuse_conv_bn_weights

    w, b = rand((6, 4, 3, 3), np.float32, 9), rand((6,), np.float32, 10)
    mean, var, gamma, beta = (a.astype(np.float32) for a in stats(6, 11))
    tw, tb = fuse_conv_bn_weights(
        *(torch.from_numpy(a) for a in (w, b, mean, var)), 1e-5, *map(torch.from_numpy, (gamma, beta))
    )
    w2, b2 = numbaconv.fold_batch_norm(w, b, mean, var, gamma, beta)
    np.testing.assert_allclose(w2, tw.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(b2, tb.detach().numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "call,err,match",
    [
        (lambda: numbaconv.fold_batch_norm([1.0], None, np.zeros(1), np.ones(1)), TypeError, r"weight must be a NumPy"),
        (
            lambda: numbaconv.fold_batch_norm(np.ones((2, 1, 3)), None, np.zeros(3), np.ones(2)),
            ValueError,
            r"fold_batch_norm: mean.shape=\(3,\) must be \(C_out,\) = \(2,\)",
        ),
        (
            lambda: numbaconv.fold_batch_norm(
                np.ones((3, 2, 3)), None, np.zeros(4), np.ones(4), transpose=True, groups=2
            ),
            ValueError,
            r"fold_batch_norm: groups=2 must divide weight.shape\[0\]=3",
        ),
        (
            lambda: numbaconv.fold_batch_norm(np.ones((2, 1)), None, np.zeros(2), np.ones(2)),
            ValueError,
            r"weight must have at least 3 dims",
        ),
        (
            lambda: numbaconv.fold_batch_norm(np.ones((2, 1, 3)), None, np.zeros(2), np.ones(2), transpose=1),
            TypeError,
            r"transpose=1 must be a bool",
        ),
    ],
)
def test_errors(call, err, match):
    with pytest.raises(err, match=match):
        call()
