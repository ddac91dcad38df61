"""Which kernel runs a convolution: the table of names per backend and a pure choice function."""

from __future__ import annotations

import math

from ._params import ConvParams

CPU_CONV_ALGORITHMS = ("direct", "gemm", "depthwise", "pointwise")

# Below this many multiply-adds per output, BLAS call overhead per (image, group, tile) beats its speed.
GEMM_MIN_REDUCTION = 32
GEMM_MIN_OUT_PER_GROUP = 8


def applicable_algorithms(params: ConvParams) -> tuple[str, ...]:
    """Every CPU algorithm that can compute this convolution."""
    names = ["direct", "gemm"]
    if params.is_depthwise:
        names.append("depthwise")
    if params.is_pointwise:
        names.append("pointwise")
    return tuple(names)


def select_algorithm(params: ConvParams) -> str:
    """The algorithm `algorithm="auto"` runs: a pure function of the params."""
    if params.is_depthwise:
        return "depthwise"
    if params.is_pointwise:
        return "pointwise"
    reduction = params.in_per_group * math.prod(params.kernel)
    if reduction >= GEMM_MIN_REDUCTION and params.out_per_group >= GEMM_MIN_OUT_PER_GROUP:
        return "gemm"
    return "direct"


def resolve_algorithm(params: ConvParams, algorithm: str) -> str:
    """`algorithm` checked against what applies (a ValueError listing the valid names), or the auto choice."""
    if algorithm == "auto":
        return select_algorithm(params)
    valid = applicable_algorithms(params)
    if algorithm not in CPU_CONV_ALGORITHMS:
        raise ValueError(f"{params.op}: algorithm={algorithm!r} is unknown; valid CPU algorithms: 'auto', "
                         f"{', '.join(map(repr, CPU_CONV_ALGORITHMS))}")
    if algorithm not in valid:
        raise ValueError(f"{params.op}: algorithm={algorithm!r} does not apply to this convolution; valid here: "
                         f"'auto', {', '.join(map(repr, valid))}")
    return algorithm
