"""Which kernel runs a convolution, a transpose convolution or a resize-conv: the algorithm names a user may pass
per backend, the pure `auto` rules, and `select`, which turns (params, algorithm, backend) into the concrete
kernel that runs (the name the launch tables in numbaconv/_launch_conv.py and _launch_transpose.py key on, and
the name tuning and the bench report)."""

from __future__ import annotations

import math

from ._params import ConvParams
from ._params_transpose import ConvTransposeParams, ResizeConvParams

CONV_ALGORITHMS = {
    "cpu": ("direct", "gemm", "depthwise", "pointwise", "fft", "winograd", "winograd_f2"),
    "cuda": ("direct", "gemm", "depthwise"),
}

# Below this many multiply-adds per output, BLAS call overhead per (image, group, tile) beats its speed.
# ResNeXt g32 3x3 (4 outputs per group) ran as fast as gemm as direct (python -m numbaconv bench).
GEMM_MIN_REDUCTION = 32
# FFT (scipy.signal.fftconvolve) pays off for big kernels on few channels; its temporary holds
# C_out/g * C_in/g full-size planes, hence the channel bound.
FFT_MIN_TAPS = 225
FFT_MAX_CHANNEL_PAIRS = 16
GEMM_MIN_OUT_PER_GROUP = 2
# Winograd (3x3, stride 1, channels-first): F(4x4) from 8x8 outputs up, F(2x2) on smaller ones, measured
# against gemm and the plane kernel by scripts/algorithm_crossover.py (table in docs/performance.md).
WINOGRAD_MIN_CHANNELS = 8
WINOGRAD_F4_MIN_SIZE = 8
# Transformed weights (36 or 16 points x C_out x C_in/groups) live for the whole call: auto keeps them under
# this, so that a call's extra memory stays within the output size + 64 MiB.
WINOGRAD_MAX_WEIGHT_BYTES = 32 << 20
# The CPU "direct" and "depthwise" algorithms run the plane kernel (kernels/conv.py conv_plane_cpu) for 1-D and
# 2-D channels-first stride-1 convs with at most PLANE_MAX_CHANNELS input channels per group: it makes C_in/g
# passes over an L1 accumulator per kernel row, so auto prefers it only up to PLANE_MAX_REDUCTION multiply-adds
# per output; it beat gemm and Winograd on the grouped, few-channel and 5x5 rows of
# scripts/algorithm_crossover.py, and lost to Winograd from 32 channels per group.
PLANE_MAX_CHANNELS = 16
PLANE_MAX_REDUCTION = 256
WINOGRAD_F2_MIN_SIZE = 4
# Algorithms whose rounding error is not local to each output's own window: Winograd F(4x4)'s transforms spread
# 3e-2 of a large input's magnitude over the outputs of its 6x6 tile, FFT 1e-3 over the whole plane (a 1e6 spot
# in unit data, measured); a direct sum and F(2x2) keep it at 1e-7. "auto" never picks them; "fast" does.
NONLOCAL_ERROR = ("fft", "winograd")


def applicable_algorithms(params: ConvParams, backend: str = "cpu") -> tuple[str, ...]:
    """Every algorithm of `backend` that can compute this convolution."""
    names = ["direct", "gemm"]
    if params.is_depthwise:
        names.append("depthwise")
    if params.is_pointwise and backend == "cpu":
        names.append("pointwise")
    if backend == "cpu" and fft_applies(params):
        names.append("fft")
    if backend == "cpu" and winograd_applies(params):
        names += ["winograd", "winograd_f2"]
    return tuple(names)


def plane_applies(params: ConvParams) -> bool:
    """Whether the CPU "direct" and "depthwise" algorithms run the plane kernel: 1-D or 2-D, channels-first,
    stride 1, at most PLANE_MAX_CHANNELS input channels per group, tables that read the input itself."""
    return (
        params.nd <= 2
        and not params.channels_last
        and all(s == 1 for s in params.stride)
        and params.in_per_group <= PLANE_MAX_CHANNELS
        and params.reads_input_itself
    )


def winograd_applies(params: ConvParams) -> bool:
    """Winograd F(2x2, 3x3) covers 2-D 3x3 kernels at stride 1, dilation 1, zero padding (any amount)."""
    return (
        params.nd == 2
        and params.kernel == (3, 3)
        and params.stride == (1, 1)
        and params.dilation == (1, 1)
        and params.padding_mode == "zeros"
        and params.reads_input_itself
    )


def fft_applies(params: ConvParams) -> bool:
    """FFT correlation covers stride 1, dilation 1, zero padding of at most kernel - 1 on each side."""
    return (
        params.padding_mode == "zeros"
        and params.reads_input_itself
        and all(s == 1 for s in params.stride)
        and all(d == 1 for d in params.dilation)
        and all(max(p) <= k - 1 for p, k in zip(params.padding, params.kernel, strict=False))
    )


def select_algorithm(params: ConvParams, backend: str = "cpu", fast: bool = False) -> str:
    """The algorithm `algorithm="auto"` runs (with `fast`, `algorithm="fast"`, which may also pick the algorithms
    of NONLOCAL_ERROR): a pure function of the params and the backend."""
    if (
        fast
        and backend == "cpu"
        and math.prod(params.kernel) >= FFT_MIN_TAPS
        and fft_applies(params)
        and params.in_per_group * params.out_per_group <= FFT_MAX_CHANNEL_PAIRS
    ):
        return "fft"
    if params.is_depthwise:
        return "depthwise"
    if backend == "cuda":  # the implicit GEMM tiles any reduction; pointwise is its 1x1 case
        return "gemm" if params.out_per_group >= 4 else "direct"
    if params.is_pointwise:
        return "pointwise"
    if plane_applies(params) and params.in_per_group * math.prod(params.kernel) <= PLANE_MAX_REDUCTION:
        return "direct"
    if (
        winograd_applies(params)
        and not params.channels_last
        and params.in_per_group >= WINOGRAD_MIN_CHANNELS
        and params.out_per_group >= WINOGRAD_MIN_CHANNELS
    ):
        weights = params.out_channels * params.in_per_group * 4  # bytes per transform point, float32
        if fast and min(params.out_spatial) >= WINOGRAD_F4_MIN_SIZE and 36 * weights <= WINOGRAD_MAX_WEIGHT_BYTES:
            return "winograd"
        if min(params.out_spatial) >= WINOGRAD_F2_MIN_SIZE and 16 * weights <= WINOGRAD_MAX_WEIGHT_BYTES:
            return "winograd_f2"
    reduction = params.in_per_group * math.prod(params.kernel)
    if reduction >= GEMM_MIN_REDUCTION and params.out_per_group >= GEMM_MIN_OUT_PER_GROUP:
        return "gemm"
    return "direct"


def resolve_algorithm(params: ConvParams, algorithm: str, backend: str = "cpu", tunable: bool = True) -> str:
    """`algorithm` checked against what applies (a ValueError listing the valid names), or the auto choice.
    `tunable` says whether the caller is the convolution family, which also takes "fast" and "tune"
    (numbaconv.tuning); resize_conv2d takes neither."""
    if algorithm == "auto" or (algorithm == "fast" and tunable):
        return select_algorithm(params, backend, fast=algorithm == "fast")
    valid = applicable_algorithms(params, backend)
    extra = "'auto', 'fast', 'tune'" if tunable else "'auto'"
    if algorithm not in CONV_ALGORITHMS[backend]:
        raise ValueError(
            f"{params.op}: algorithm={algorithm!r} is unknown; valid {backend.upper()} algorithms: "
            f"{extra}, {', '.join(map(repr, CONV_ALGORITHMS[backend]))}"
        )
    if algorithm not in valid:
        raise ValueError(
            f"{params.op}: algorithm={algorithm!r} does not apply to this convolution; valid here: "
            f"{extra}, {', '.join(map(repr, valid))}"
        )
    return algorithm


# ---- concrete kernels ----


# CPU kernels behind each algorithm name (kernels/conv.py, kernels/winograd.py, numbaconv/_launch_conv.py):
# "plane" (stride-1 channels-first conv through padded planes), "row" (the direct row gather),
# "depthwise_row" / "depthwise_row3d" (its one-channel twins), "depthwise_nhwc" (channels-last multiplier 1),
# "pointwise" (BLAS on the input), "gemm" (im2col + BLAS), "fft", "winograd", "winograd_f2". On CUDA:
# "direct" (one thread per output; depthwise is its groups == C_in case) and "gemm" (implicit GEMM).
def kernel_for(params: ConvParams, algorithm: str, backend: str = "cpu") -> str:
    """The kernel that runs `algorithm` (already checked to apply) for these params on `backend`."""
    if backend == "cuda":
        return "gemm" if algorithm == "gemm" else "direct"
    if algorithm in ("direct", "depthwise") and plane_applies(params):
        return "plane"
    if algorithm == "direct":
        return "row"
    if algorithm == "depthwise":
        if params.nd <= 2 and params.channels_last and params.out_channels == params.in_channels:
            return "depthwise_nhwc"
        return "depthwise_row" if params.nd <= 2 else "depthwise_row3d"
    return algorithm


def select(params: ConvParams, algorithm: str = "auto", backend: str = "cpu") -> str:
    """The kernel a convolution runs: `algorithm` checked (a ValueError listing the valid names) or the auto
    choice, turned into its concrete kernel. "tune" passes through (numbaconv.tuning picks among
    `tuning_candidates`)."""
    if algorithm == "tune":
        return "tune"
    return kernel_for(params, resolve_algorithm(params, algorithm, backend), backend)


def tuning_candidates(params: ConvParams, backend: str = "cpu") -> tuple[str, ...]:
    """The distinct kernels of every applicable algorithm, in the order `applicable_algorithms` lists them."""
    return tuple(dict.fromkeys(kernel_for(params, name, backend) for name in applicable_algorithms(params, backend)))


# ---- transpose convolution and resize-conv ----

# CUDA has one transpose kernel: a gather with one thread per output.
TRANSPOSE_ALGORITHMS = {"cpu": ("direct", "gemm"), "cuda": ("direct",)}
# The transpose GEMM path pays a BLAS call and a column buffer per (image, group, channel chunk): worth it once
# each input pixel meets enough channels and each column has enough rows.
GEMM_MIN_IN_PER_GROUP = 8
GEMM_MIN_ROWS = 32
# resize_conv2d on the CPU has conv's two kernels that read through index tables, so the same two names; on CUDA
# every conv kernel reads through them, so it takes conv's CUDA names and rule.
RESIZE_CPU_ALGORITHMS = ("direct", "gemm")


def select_transpose_algorithm(params: ConvTransposeParams, backend: str = "cpu") -> str:
    """The algorithm ``algorithm="auto"`` runs for a transpose convolution: a pure function of the params."""
    if backend == "cuda":
        return "direct"
    rows = params.out_per_group * math.prod(params.kernel)
    if params.in_per_group >= GEMM_MIN_IN_PER_GROUP and rows >= GEMM_MIN_ROWS:
        return "gemm"
    return "direct"


def select_resize_algorithm(params: ResizeConvParams) -> str:
    """conv's rule for its direct and GEMM paths (the only two CPU kernels that read through index tables)."""
    reduction = params.in_per_group * math.prod(params.kernel)
    if reduction >= GEMM_MIN_REDUCTION and params.out_per_group >= GEMM_MIN_OUT_PER_GROUP:
        return "gemm"
    return "direct"


def _named(op: str, algorithm, backend: str, names: tuple[str, ...]) -> str:
    if algorithm not in names:
        raise ValueError(
            f"{op}: algorithm={algorithm!r} is unknown; valid {backend.upper()} algorithms: 'auto', "
            f"{', '.join(map(repr, names))}"
        )
    return algorithm


def select_transpose(params: ConvTransposeParams, algorithm: str = "auto", backend: str = "cpu") -> str:
    """The transpose kernel that runs ("direct": the output gather; "gemm": BLAS into columns, then col2im)."""
    if algorithm == "auto":
        return select_transpose_algorithm(params, backend)
    return _named(params.op, algorithm, backend, TRANSPOSE_ALGORITHMS[backend])


def resize_algorithm(params: ResizeConvParams, algorithm: str = "auto", backend: str = "cpu") -> str:
    """The algorithm a resize-conv runs, `algorithm` checked: on the CPU "direct" or "gemm"; on CUDA conv's names
    and rule."""
    if backend == "cuda":
        return resolve_algorithm(params, algorithm, backend, tunable=False)
    if algorithm == "auto":
        return select_resize_algorithm(params)
    return _named(params.op, algorithm, backend, RESIZE_CPU_ALGORITHMS)


def select_resize(params: ResizeConvParams, algorithm: str = "auto", backend: str = "cpu") -> str:
    """The conv kernel a resize-conv runs: on the CPU "row" or "gemm" (no plane, Winograd or FFT: those read the
    input itself, not the upsampling tables); on CUDA conv's kernels and rule."""
    return kernel_for(params, resize_algorithm(params, algorithm, backend), backend)
