"""Launching adaptive pooling: the channels-first CPU box kernel, or the pooling kernels on adaptive windows.

`select(params, op_kind, backend)` names the kernel, `launch(call, params, kernel, ...)` runs it into the target
arrays that `Call.run` / `Call.result` hand out. Channels-first data on the CPU runs kernels/adaptive_pool.py on
per-dim [start, end) tables cached per geometry: each output folds its box in one pass, with no temporary (the
pooling kernels' separable passes allocate per plane, which global pooling would pay on every plane).
Channels-last data and CUDA arrays run the pooling kernels themselves, through numbaconv/_launch_pool.py: they
walk (out, kernel) index tables, which AdaptivePoolParams builds from the same windows (-1 past a window's end),
and average pooling divides by the per-dim window lengths.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from ._launch_pool import CPU_CACHE_SIZE, as5d, frozen, indices5, lowest
from ._launch_pool import LAUNCHERS as POOL_LAUNCHERS
from ._launch_pool import select as pool_select
from ._params_pool import AdaptivePoolParams

OP_KINDS = ("max", "avg")


def select(params: AdaptivePoolParams, op_kind: str, backend: str) -> str:
    """The kernel (a key of LAUNCHERS with `backend`) for `op_kind` ("max" or "avg") on these params."""
    if op_kind not in OP_KINDS:
        raise ValueError(f"select: op_kind={op_kind!r} is not one of {', '.join(map(repr, OP_KINDS))}")
    if backend == "cpu" and not params.channels_last:
        return f"{op_kind}_box"
    return pool_select(params, op_kind, backend)


def launch(call, params: AdaptivePoolParams, kernel: str, *targets):
    """Run `kernel` of `call`'s backend on `params` into `targets` (the values, and for max the indices or None)."""
    return LAUNCHERS[kernel, call.backend](call, params, *targets)


@functools.lru_cache(maxsize=CPU_CACHE_SIZE)
def cpu_bounds(params: AdaptivePoolParams) -> tuple[np.ndarray, ...]:
    """The per-dim [start, end) tables of an adaptive pooling, once per geometry."""
    return tuple(frozen(b) for b in params.bounds())


def _box_cf(average: bool) -> Callable:
    """The channels-first CPU launcher of adaptive max (average=False) or average pooling."""

    def launch(call, params: AdaptivePoolParams, out: np.ndarray, indices=None) -> None:
        from .kernels import adaptive_pool as k

        k.adaptive_pool_cf(
            as5d(call.compute_input("x"), False),
            *cpu_bounds(params),
            lowest(out.dtype),
            average,
            indices is not None,
            as5d(out, False),
            indices5(indices, False),
        )

    return launch


def _whole_windows(pool_avg: Callable) -> Callable:
    """An average-pooling launcher run on adaptive windows: no padding to count, no divisor override."""

    def launch(call, params: AdaptivePoolParams, out) -> None:
        pool_avg(call, params, out, True, None)

    return launch


LAUNCHERS: dict[tuple[str, str], Callable] = {
    ("max_box", "cpu"): _box_cf(False),
    ("avg_box", "cpu"): _box_cf(True),
    ("max_cl", "cpu"): POOL_LAUNCHERS["max_cl", "cpu"],
    ("avg_cl", "cpu"): _whole_windows(POOL_LAUNCHERS["avg_cl", "cpu"]),
    ("max", "cuda"): POOL_LAUNCHERS["max", "cuda"],
    ("avg", "cuda"): _whole_windows(POOL_LAUNCHERS["avg", "cuda"]),
}
