"""What every op test shares: the comparison helper with dtype tolerances, array makers, the shape-case record,
the reference padding rule, and the backend runner that moves channels-first host arrays to the CPU or CUDA
backend (in either layout) and brings the results back as channels-first NumPy arrays."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import reference as ref

# (rtol, atol as a fraction of the reference's largest magnitude) per result dtype.
TOLERANCES = {np.float16: (1e-2, 2e-3), np.float32: (1e-4, 1e-5), np.float64: (1e-9, 1e-12)}
# The channels-last layout name per number of spatial dims (0: channel_shuffle's 2-d input).
LAYOUT_LAST = {0: "NC", 1: "NWC", 2: "NHWC", 3: "NDHWC"}
LAYOUTS = ["first", "last"]
# Hypothesis settings for property tests that take the `backend` fixture: it is set up once per test, not per
# example, which is what the tests want (the small-blocks patch stays on for every example).
BACKEND_SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


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


# ---- shape cases ----


@dataclass(frozen=True)
class Case:
    """A named shape case: input shape `x` (N, C, *spatial), weight shape `w` (None where the op has none) and
    the op's keyword arguments `kw`."""

    name: str
    x: tuple
    w: tuple | None = None
    kw: dict = field(default_factory=dict)

    @property
    def nd(self):
        return len(self.x) - 2

    def on(self, backend):
        """The case sized for `backend` (see `sized`)."""
        return replace(self, x=sized(self.x, backend))


def sized(shape, backend):
    """An (N, C, *spatial) shape for `backend`: batch 1 on CUDA, where the simulator runs every thread in Python."""
    return (1, *shape[1:]) if backend == "cuda" else tuple(shape)


def ids(cases):
    return [c.name for c in cases]


def reference_pads(spatial, kernel, padding=0, stride=1, dilation=1):
    """Per-dim (lo, hi) pads of a forward op (conv, pool) over input `spatial`, padding strings resolved by the
    reference's own definitions; ints, per-dim ints and per-dim pairs pass through as pairs."""
    nd = len(spatial)
    kernel, stride, dilation = (tuple(int(v) for v in np.broadcast_to(a, (nd,))) for a in (kernel, stride, dilation))
    if isinstance(padding, str):
        if padding in ("same", "same_lower"):
            return [
                ref.same_pads(n, k, s, d, padding == "same_lower")
                for n, k, s, d in zip(spatial, kernel, stride, dilation)
            ]
        if padding == "full":
            return [(d * (k - 1),) * 2 for k, d in zip(kernel, dilation)]
        assert padding == "valid", padding
        return [(0, 0)] * nd
    if np.isscalar(padding):
        return [(padding, padding)] * nd
    return [(p, p) if np.isscalar(p) else tuple(p) for p in padding]


# ---- backends ----


def over_backends(argnames, cpu, cuda=()):
    """A parametrize mark over `backend` (through the fixture, so CUDA gets its small blocks) and `argnames`:
    each row of `cpu` on the CPU, each row of `cuda` on CUDA (marked `cuda`). For tests whose CUDA matrix is a
    subset of the CPU one; tests with one matrix for both take the `backend` fixture as it is."""

    def param(backend, row):
        row = row if isinstance(row, tuple) else (row,)
        marks = [pytest.mark.cuda] if backend == "cuda" else []
        return pytest.param(backend, *row, marks=marks, id="-".join([backend] + [_id(v) for v in row]))

    params = [param("cpu", row) for row in cpu] + [param("cuda", row) for row in cuda]
    return pytest.mark.parametrize(f"backend,{argnames}", params, indirect=["backend"])


def _id(value):
    if isinstance(value, Case):
        return value.name
    if isinstance(value, tuple) and value and isinstance(value[0], str):  # a (name, ...) case
        return value[0]
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name
    return str(value)


def to_backend(backend, a, channels_last=False):
    """A channels-first host array on `backend`: NumPy as it is on "cpu", a Numba device array on "cuda";
    optionally moved to channels-last first."""
    if channels_last:
        a = to_channels_last(a)
    if backend == "cpu":
        return a
    from numba import cuda

    return cuda.to_device(np.ascontiguousarray(a))


def full(backend, shape, value, dtype):
    """An array of `value` on `backend` (an `out=` argument whose every element the op must overwrite)."""
    return to_backend(backend, np.full(shape, value, dtype))


def to_host(backend, a, channels_last=False):
    """A result of `backend` as a host NumPy array, channels-first (a tuple stays a tuple): the same array kind
    came back (NumPy from the CPU, a device array from CUDA)."""
    if isinstance(a, tuple):
        return tuple(to_host(backend, b, channels_last) for b in a)
    if backend == "cpu":
        assert isinstance(a, np.ndarray), f"the CPU backend returned {type(a).__name__}, not a NumPy array"
    else:
        assert hasattr(a, "copy_to_host"), f"the CUDA backend returned {type(a).__name__}, not a device array"
        a = a.copy_to_host()
    return to_channels_first(a) if channels_last else a


def run(backend, op, x, *args, layout="first", layout_args=1, **kw):
    """`op(x, *args, **kw)` on `backend` with channels-first host arrays: the first `layout_args` positional
    arrays (x, and e.g. max_unpool's indices) go in `layout` ("first" or "last"), every other array as it is;
    the results come back channels-first on the host."""
    last = layout == "last"
    assert layout in LAYOUTS, layout
    positional = [x, *args]
    moved = [
        to_backend(backend, a, last and i < layout_args) if isinstance(a, np.ndarray) else a
        for i, a in enumerate(positional)
    ]
    kw = {k: to_backend(backend, v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    if last:
        kw["layout"] = LAYOUT_LAST[x.ndim - 2]
    return to_host(backend, op(*moved, **kw), last)


# ---- torch (for the tests that compare with torch autograd) ----


def torch_padded(torch, xt, pads, mode):
    """x padded as torch's Conv modules pad it (F.pad, last dim first)."""
    flat = [v for pair in reversed(pads) for v in pair]
    torch_mode = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}[mode]
    return torch.nn.functional.pad(xt, flat, mode=torch_mode)


def torch_activation(torch, y, activation):
    f = torch.nn.functional
    table = {
        None: lambda v: v,
        "relu": f.relu,
        "relu6": f.relu6,
        "leaky_relu": lambda v: f.leaky_relu(v, 0.2),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
    }
    return table[activation](y)
