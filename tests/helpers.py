"""The one comparison helper every op test goes through, and small array makers."""

import numpy as np

# (rtol, atol as a fraction of the reference's largest magnitude) per result dtype.
TOLERANCES = {np.float16: (1e-2, 2e-3), np.float32: (1e-4, 1e-5), np.float64: (1e-9, 1e-12)}


def assert_close(actual, expected, dtype=None):
    """`actual` equals the float64 `expected` to the precision of `dtype` (default: actual's dtype)."""
    actual = np.asarray(actual)
    dtype = np.dtype(dtype or actual.dtype).type
    assert actual.shape == np.shape(expected), f"shape {actual.shape} != {np.shape(expected)}"
    rtol, atol = TOLERANCES[dtype]
    scale = float(np.max(np.abs(expected), initial=1.0))
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=rtol, atol=atol * scale)


def rand(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def to_channels_last(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def to_channels_first(a):
    return np.moveaxis(a, -1, 1)
