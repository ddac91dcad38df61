"""One call object per public call: every step between an op's arguments and its kernels that is not the op's
own math.

An op builds a `Call` from its named arrays, `out` and `stream`; the call finds the backend (a TypeError for a
mix of host and device arrays), turns CUDA arrays into zero-copy Numba views, settles the storage and compute
dtypes, checks `out=`, allocates the result of the caller's array kind and copies a float16 result back from
its float32 working array. Op modules then read: call -> params -> select -> run (CuPy's
``cupyx/scipy/ndimage/_filters_core.py::_call_kernel`` is the model: one place allocates and casts).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np

from ._arrays import (
    KINDS,
    STORAGE_DTYPES,
    as_compute,
    backend_of,
    check_out,
    check_real,
    host_like,
    host_view,
    result_dtypes,
)

# Array arguments an op may leave out (None); every other named array is required.
OPTIONAL = frozenset({"bias", "depthwise_bias", "residual", "output"})


class Call:
    """The arrays of one call as its backend's kernels see them, with its dtypes, stream and result.

    `arrays` are the op's named input arrays (the first is the one whose kind and device the result takes;
    None entries are optional arguments left out); `outs` are the named `out=` arrays (None: allocate).
    """

    def __init__(self, op: str, arrays: dict[str, Any], *, outs: dict[str, Any] | None = None, stream=None):
        outs = outs or {}
        self.op = op
        for name, a in arrays.items():
            if a is None and name not in OPTIONAL:
                raise TypeError(f"{op}: {name} must be {KINDS}, got None")
        self.backend = backend_of(op, **arrays, **outs)
        self.like = next(iter(arrays.values()))
        self.user_outs = dict(outs)
        if self.backend == "cpu" and stream is not None:
            raise ValueError(f"{op}: stream={stream!r} applies to CUDA arrays only; these are NumPy arrays")
        self._stream_arg = stream
        self.arrays = {name: self._view(name, a) for name, a in arrays.items()}
        self.outs = {name: self._view(name, a) for name, a in outs.items()}
        self.storage: np.dtype = np.dtype(self.arrays[next(iter(arrays))].dtype)
        self.compute: np.dtype = self.storage
        self.batch_added = False

    @property
    def is_cuda(self) -> bool:
        return self.backend == "cuda"

    def unbatched(self, nd: int, *names: str, result: bool = True) -> Call:
        """Torch's unbatched input: an x of `nd` + 1 dims, ``(C, *spatial)`` (``(*spatial, C)`` channels-last),
        runs as a batch of one. x, the inputs `names` that carry the batch with it (max_unpool's indices) and
        every `out=` get a leading axis of 1 (views); the results come back without it, an `out=` as passed.
        `result=False`: the result has no batch axis to drop (a weight or bias gradient), `out=` stays as it is."""
        if self.x.ndim != nd + 1:
            return self
        for name in (next(iter(self.arrays)), *names):
            self.arrays[name] = self._lead(self.arrays[name])
        if result:
            self.batch_added = True
            self.outs = {name: self._lead(a) for name, a in self.outs.items()}
        return self

    def _lead(self, a):
        if a is None or not self.is_cuda:
            return None if a is None else a[None]
        from . import _cuda

        return _cuda.with_batch_axis(a)

    def _view(self, name: str, a):
        """`a` as the kernels see it: NumPy (a zero-copy view of a torch CPU tensor), or a Numba device view."""
        if a is None:
            return a
        if self.backend == "cpu":
            return host_view(self.op, name, a)
        from . import _cuda

        return _cuda.to_numba(a)

    def __getitem__(self, name: str):
        """Input `name` as the kernels of this backend see it (NumPy as passed, CUDA as a Numba view)."""
        return self.arrays[name]

    @property
    def x(self):
        return self.arrays[next(iter(self.arrays))]

    @property
    def out(self):
        """The `out=` array as the kernels see it (None when the result is to be allocated)."""
        return self.outs.get("out")

    # ---- dtypes ----

    def _native(self) -> None:
        """Host arrays of non-native byte order (big-endian data read from a file) as native copies, for the ops
        that compute with their values; the result has the native dtype. (Shuffles and unpooling move bytes and
        keep the byte order.)"""
        for name, a in self.arrays.items():
            if isinstance(a, np.ndarray) and not a.dtype.isnative:
                self.arrays[name] = a.astype(a.dtype.newbyteorder("="))

    def float_result(self, dtype=None) -> Call:
        """Convolution and averaging: the result has x's dtype (or `dtype=` / a float `out=` for integer input);
        float16 is computed in float32."""
        self._native()
        self.storage, self.compute = result_dtypes(self.op, self.x, dtype, self.out)
        return self

    def max_result(self) -> Call:
        """Max pooling and unpooling: integers as they are, float16 compared in float32 (exactly)."""
        self._native()
        x = self.x
        if x.dtype.kind in "iu":
            self.storage = self.compute = np.dtype(x.dtype)
        elif x.dtype in STORAGE_DTYPES:
            self.storage = np.dtype(x.dtype)
            self.compute = np.dtype(np.float32) if x.dtype == np.float16 else self.storage
        else:
            raise TypeError(
                f"{self.op}: input dtype {x.dtype} is not supported; use float16, float32, float64 or an integer dtype"
            )
        return self

    def real(self, *names: str) -> Call:
        """Weights and biases: a real integer or float dtype (cast to the compute dtype by `compute_input`)."""
        for name in names:
            if self.arrays.get(name) is not None:
                check_real(self.op, name, self.arrays[name])
        return self

    # ---- inputs ----

    def compute_input(self, name: str):
        """Input `name` for the kernels: on the CPU C-contiguous in the compute dtype (copied only when it must
        be); on CUDA the view as it is (the CUDA kernels read any storage dtype and convert as they load)."""
        a = self.arrays[name]
        if a is None or self.is_cuda:
            return a
        return np.ascontiguousarray(as_compute(a, self.compute))

    def bias(self, name: str | None, channels: int, params_op: str | None = None):
        """Bias `name` checked against (channels,): on the CPU in the compute dtype (zeros when None, or when
        `name` is None: no bias); on CUDA the view or None (the CUDA launchers use their cached device zeros)."""
        a = None if name is None else self.arrays.get(name)
        if name is not None and a is not None:
            check_real(self.op, name, a)
            if tuple(a.shape) != (channels,):
                raise ValueError(
                    f"{params_op or self.op}: {name}.shape={tuple(a.shape)} must be (out_channels,) = ({channels},)"
                )
        if self.is_cuda:
            return a
        if a is None:
            return np.zeros(channels, self.compute)
        return np.ascontiguousarray(as_compute(a, self.compute))

    def residual(self, shape: tuple[int, ...]):
        """The `residual=` input (None when there is none), checked against the result's `shape`: exactly that
        shape (in the result's layout, unbatched when the result is) and a float dtype. On the CPU in the compute
        dtype (a copy only when its dtype differs; any strides), on CUDA the view (the kernels convert as they
        load). `check_out` rejects an `out=` that overlaps it, as any input."""
        a = self.arrays.get("residual")
        if a is None:
            return None
        if a.dtype not in STORAGE_DTYPES:
            raise TypeError(
                f"{self.op}: residual dtype {a.dtype} is not supported; use a float dtype "
                f"({', '.join(map(str, STORAGE_DTYPES))})"
            )
        got, want = tuple(a.shape), tuple(shape)
        if self.batch_added:  # the caller's residual and result shapes
            got, want = got[1:], want[1:]
        if got != want:
            raise ValueError(f"{self.op}: residual.shape={got} must equal the result shape {want}")
        return a if self.is_cuda else as_compute(a, self.compute)

    # ---- outputs ----

    def check_out(self, shape: tuple[int, ...], dtype=None, name: str = "out", against: dict | None = None) -> None:
        """`out=` (or the named output) is exactly the result's shape and dtype, C-contiguous, writeable and
        shares no memory with any input (or with the arrays in `against`)."""
        out = self.outs.get(name)
        if out is None:
            return
        if self.batch_added:  # the caller's out= and shape, as the caller sees them
            out, shape = out[0], tuple(shape)[1:]
        inputs = self.arrays if against is None else against
        check_out(self.op, out, tuple(shape), np.dtype(dtype or self.storage), inputs, self.backend)

    @cached_property
    def stream(self):
        """The CUDA stream to launch on: `stream=`, else CuPy's / torch's current stream (None on the CPU)."""
        if not self.is_cuda:
            return None
        from . import _cuda

        return _cuda.stream_for(self.like, self._stream_arg)

    def empty(self, shape: tuple[int, ...], dtype) -> Any:
        """A new array of this backend in the kernels' view (a NumPy array, or a Numba device array)."""
        if self.is_cuda:
            from . import _cuda

            return _cuda.cuda().device_array(tuple(shape), dtype=np.dtype(dtype), stream=self.stream)
        return self._host_empty(tuple(shape), dtype)

    def scratch(self, shape: tuple[int, ...]) -> Any:
        """A throw-away array the kernels can fill as they fill the result (for timing candidates): the compute
        dtype on the CPU, the storage dtype on CUDA."""
        return self.empty(shape, self.storage if self.is_cuda else self.compute)

    def result(self, shape: tuple[int, ...], dtype=None, name: str = "out") -> tuple[Any, Any]:
        """(what the caller gets, what the kernel fills) for the output `name`: the caller's `out=` or a new
        array of the caller's kind; on the CPU the kernel fills a compute-dtype array when the storage dtype
        differs (float16), which `finish` copies back."""
        dtype = np.dtype(dtype or self.storage)
        shape = tuple(shape)
        if self.is_cuda:
            from . import _cuda

            if self.outs.get(name) is not None:
                return self.outs[name], self.outs[name]
            result = _cuda.allocate(self.like, shape, dtype, self.stream)
            return result, _cuda.to_numba(result)
        result = self.outs.get(name)
        if result is None:
            result = self._host_empty(shape, dtype)
        work = self.compute if dtype == self.storage else dtype
        target = result if work == dtype else self._host_empty(shape, work)
        return result, target

    def _host_empty(self, shape: tuple[int, ...], dtype) -> np.ndarray:
        """np.empty, with a result too big to allocate reported as the op's ValueError (an argument such as a
        huge padding or scale factor asked for it), not NumPy's MemoryError."""
        try:
            return np.empty(shape, dtype=dtype)
        except (MemoryError, ValueError):
            size = math.prod(shape) * np.dtype(dtype).itemsize
            raise ValueError(
                f"{self.op}: the result of shape {tuple(shape)} ({size / 2**30:.3g} GiB of {np.dtype(dtype)}) cannot "
                f"be allocated; check the arguments that set its size (padding, dilation, scale factors)"
            ) from None

    def finish(self, result, target, name: str = "out"):
        """The caller's result, with a working array's values copied (and rounded) into it: the caller's own
        `out=` object when there is one, without the batch axis `unbatched` added."""
        if target is not result and isinstance(result, np.ndarray):
            np.copyto(result, target, casting="unsafe")
        user = self.user_outs.get(name)
        if user is not None:
            return user
        return host_like(self.like, result[0] if self.batch_added else result)

    def run(self, shape: tuple[int, ...], fill: Callable[[Any], object], dtype=None):
        """The result of `fill(target)` into a new (or the caller's) output of `shape`; an empty output runs no
        kernel."""
        result, target = self.result(shape, dtype)
        if math.prod(shape):
            fill(target)
        return self.finish(result, target)

    @classmethod
    def weighted(cls, op: str, x, weight, bias, out, dtype, stream, residual=None) -> Call:
        """The call of a convolution-like op: x, weight, an optional bias and an optional residual, a float result
        (`dtype=` for integer input), a real weight."""
        arrays = {"x": x, "weight": weight, "bias": bias, "residual": residual}
        call = cls(op, arrays, outs={"out": out}, stream=stream)
        return call.float_result(dtype).real("weight")
