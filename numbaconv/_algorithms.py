"""Which kernel runs a convolution: the table of names per backend and a pure choice function."""

from __future__ import annotations

import math

from ._params import ConvParams

CONV_ALGORITHMS = {"cpu": ("direct", "gemm", "depthwise", "pointwise"), "cuda": ("direct", "gemm", "depthwise")}

# Below this many multiply-adds per output, BLAS call overhead per (image, group, tile) beats its speed.
# ResNeXt g32 3x3 (4 outputs per group) ran as fast as gemm as direct (python -m numbaconv bench).
GEMM_MIN_REDUCTION = 32
GEMM_MIN_OUT_PER_GROUP = 2


def applicable_algorithms(params: ConvParams, backend: str = "cpu") -> tuple[str, ...]:
    """Every algorithm of `backend` that can compute this convolution."""
    names = ["direct", "gemm"]
    if params.is_depthwise:
        names.append("depthwise")
    if params.is_pointwise and backend == "cpu":
        names.append("pointwise")
    return tuple(names)


def select_algorithm(params: ConvParams, backend: str = "cpu") -> str:
    """The algorithm `algorithm="auto"` runs: a pure function of the params and the backend."""
    if params.is_depthwise:
        return "depthwise"
    if backend == "cuda":  # the implicit GEMM tiles any reduction; pointwise is its 1x1 case
        return "gemm" if params.out_per_group >= 4 else "direct"
    if params.is_pointwise:
        return "pointwise"
    reduction = params.in_per_group * math.prod(params.kernel)
    if reduction >= GEMM_MIN_REDUCTION and params.out_per_group >= GEMM_MIN_OUT_PER_GROUP:
        return "gemm"
    return "direct"


def resolve_algorithm(params: ConvParams, algorithm: str, backend: str = "cpu") -> str:
    """`algorithm` checked against what applies (a ValueError listing the valid names), or the auto choice."""
    if algorithm == "auto":
        return select_algorithm(params, backend)
    valid = applicable_algorithms(params, backend)
    if algorithm not in CONV_ALGORITHMS[backend]:
        raise ValueError(f"{params.op}: algorithm={algorithm!r} is unknown; valid {backend.upper()} algorithms: "
                         f"'auto', {', '.join(map(repr, CONV_ALGORITHMS[backend]))}")
    if algorithm not in valid:
        raise ValueError(f"{params.op}: algorithm={algorithm!r} does not apply to this convolution; valid here: "
                         f"'auto', {', '.join(map(repr, valid))}")
    return algorithm
