"""Benchmark cases (named real-network shapes) and `python -m numbaconv bench`.

One registry serves the asv suite (asv_bench/benchmarks) and the command, which times numbaconv against torch
(if installed), SciPy and the NumPy way interleaved in one process and prints ratios: on a shared, noisy
machine absolute times drift, ratios hold.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import numbaconv as nc
from numbaconv._algorithms import select


@dataclass(frozen=True)
class Case:
    """One benchmark: a family, the op's arguments, and how much work it is."""

    name: str
    family: str
    make: Callable[[], dict]
    """Builds arrays and calls: {"numbaconv": fn, "torch": fn(torch) or None, "scipy": fn or None, ...}."""
    tags: tuple[str, ...] = field(default=())


def _rng():
    return np.random.default_rng(0)


def _arr(shape, dtype=np.float32):
    return _rng().standard_normal(shape).astype(dtype)


def _torch_conv(torch, x, w, channels_last=False, transpose=False, **kw):
    import torch.nn.functional as F

    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    if channels_last:
        tx, tw = tx.contiguous(memory_format=torch.channels_last), tw.contiguous(memory_format=torch.channels_last)
    op = F.conv_transpose2d if transpose else F.conv2d
    return lambda: op(tx, tw, **kw)


def conv_case(name, x_shape, w_shape, *, dtype=np.float32, tags=(), channels_last=False, algorithm="auto", **kw):
    """A conv2d case; with channels_last numbaconv runs on NHWC data (compare with the torch_cl column);
    `algorithm` is numbaconv's only ("fast": the opt-in to Winograd F(4x4) and FFT)."""

    def make():
        x, w = _arr(x_shape, dtype), _arr(w_shape, dtype)
        params = nc.conv_params("conv2d", 2, x_shape, w_shape, **kw)
        kernel = select(
            nc.conv_params("conv2d", 2, (x_shape[0], *x_shape[2:], x_shape[1]), w_shape, layout="NHWC", **kw)
            if channels_last
            else params,
            algorithm,
        )
        nbytes = (x.size + w.size + math.prod(params.out_shape)) * x.itemsize
        if channels_last:
            x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
            ours = lambda: nc.conv2d(x_nhwc, w, layout="NHWC", algorithm=algorithm, **kw)
        else:
            ours = lambda: nc.conv2d(x, w, algorithm=algorithm, **kw)
        return dict(
            numbaconv=ours,
            torch=lambda torch: _torch_conv(torch, x, w, **kw),
            torch_cl=lambda torch: _torch_conv(torch, x, w, channels_last=True, **kw),
            flops=params.flops,
            bytes=nbytes,
            kernel=kernel,
        )

    family = (
        "depthwise"
        if w_shape[1] == 1 and kw.get("groups", 1) > 1
        else ("grouped" if kw.get("groups", 1) > 1 else ("pointwise" if w_shape[2:] == (1, 1) else "dense"))
    )
    return Case(name, family, make, tags)


def separable_case(name, x_shape, c_out, k=3, tags=()):
    def make():
        c = x_shape[1]
        x, dw, pw = _arr(x_shape), _arr((c, 1, k, k)), _arr((c_out, c))
        dwp = nc.conv_params("c", 2, x_shape, (c, 1, k, k), padding=k // 2, groups=c)
        pwp = nc.conv_params("c", 2, dwp.out_shape, (c_out, c, 1, 1))

        def torch_fn(torch, channels_last=False):
            import torch.nn.functional as F

            tx, tdw, tpw = torch.from_numpy(x), torch.from_numpy(dw), torch.from_numpy(pw[:, :, None, None].copy())
            if channels_last:
                tx = tx.contiguous(memory_format=torch.channels_last)
                tdw, tpw = (t.contiguous(memory_format=torch.channels_last) for t in (tdw, tpw))
            return lambda: F.conv2d(F.conv2d(tx, tdw, padding=k // 2, groups=c), tpw)

        return dict(
            numbaconv=lambda: nc.separable_conv2d(x, dw, pw, padding=k // 2),
            torch=torch_fn,
            torch_cl=lambda torch: torch_fn(torch, True),
            flops=dwp.flops + pwp.flops,
            bytes=(x.size + 2 * math.prod(dwp.out_shape) + math.prod(pwp.out_shape)) * 4,
        )

    return Case(name, "separable", make, tags)


def transpose_case(name, x_shape, w_shape, tags=(), **kw):
    def make():
        x, w = _arr(x_shape), _arr(w_shape)
        shape = nc.conv_transpose_output_shape(x_shape, w_shape, **kw)
        flops = 2 * x.size * w_shape[1] * math.prod(w_shape[2:])
        return dict(
            numbaconv=lambda: nc.conv_transpose2d(x, w, **kw),
            torch=lambda torch: _torch_conv(torch, x, w, transpose=True, **kw),
            torch_cl=lambda torch: _torch_conv(torch, x, w, channels_last=True, transpose=True, **kw),
            flops=flops,
            bytes=(x.size + w.size + math.prod(shape)) * 4,
        )

    return Case(name, "transpose", make, tags)


def pool_case(name, x_shape, kind, tags=(), **kw):
    def make():
        x = _arr(x_shape)
        out_shape = nc.pool_output_shape(x_shape, kw["kernel_size"], kw.get("stride"), kw.get("padding", 0))
        idx = kw.get("return_indices", False)
        nbytes = (x.size + math.prod(out_shape) * (3 if idx else 1)) * 4

        def torch_fn(torch, channels_last=False):
            import torch.nn.functional as F

            tx = torch.from_numpy(x)
            if channels_last:
                tx = tx.contiguous(memory_format=torch.channels_last)
            op = F.max_pool2d if kind == "max" else F.avg_pool2d
            return lambda: op(tx, **kw)

        op = nc.max_pool2d if kind == "max" else nc.avg_pool2d
        return dict(
            numbaconv=lambda: op(x, **kw),
            torch=torch_fn,
            torch_cl=lambda torch: torch_fn(torch, True),
            flops=0,
            bytes=nbytes,
        )

    return Case(name, "pool", make, tags)


def unpool_case(name, x_shape, mode, tags=()):
    def make():
        x = _arr(x_shape)
        out_bytes = x.size * 4 * 4
        if mode == "max":
            values, indices = nc.max_pool2d(
                _arr((x_shape[0], x_shape[1], 2 * x_shape[2], 2 * x_shape[3])), 2, return_indices=True
            )

            def torch_fn(torch):
                import torch.nn.functional as F

                tv, ti = torch.from_numpy(values), torch.from_numpy(indices)
                return lambda: F.max_unpool2d(tv, ti, 2)

            return dict(
                numbaconv=lambda: nc.max_unpool2d(values, indices, 2),
                torch=torch_fn,
                flops=0,
                bytes=values.size * 12 + out_bytes,
            )

        def torch_fn(torch):
            import torch.nn.functional as F

            tx = torch.from_numpy(x)
            if mode == "nearest":
                return lambda: F.interpolate(tx, scale_factor=2, mode="nearest")
            return None

        return dict(
            numbaconv=lambda: nc.unpool2d(x, 2, mode=mode),
            torch=torch_fn,
            numpy=(lambda: x.repeat(2, axis=2).repeat(2, axis=3)) if mode == "nearest" else None,
            flops=0,
            bytes=x.size * 4 + out_bytes,
        )

    return Case(name, "unpool", make, tags)


def image_case(name, size, k, tags=(), algorithm="auto"):
    """Single-channel image filtering: the SciPy comparison (ndimage.correlate; fftconvolve for big kernels)."""

    def make():
        import scipy.ndimage
        import scipy.signal

        img, kern = _arr((size, size)), _arr((k, k))
        x, w = img[None, None], kern[None, None]
        calls = dict(
            numbaconv=lambda: nc.conv2d(x, w, padding="same", algorithm=algorithm),
            scipy=lambda: scipy.ndimage.correlate(img, kern, mode="constant"),
            torch=lambda torch: _torch_conv(torch, x, w, padding=k // 2),
            flops=2 * size * size * k * k,
            bytes=2 * img.nbytes,
            kernel=select(nc.conv_params("conv2d", 2, x.shape, w.shape, padding="same"), algorithm),
        )
        if k >= 15:
            calls["scipy_fft"] = lambda: scipy.signal.fftconvolve(img, kern[::-1, ::-1], mode="same")
        return calls

    return Case(name, "image", make, tags)


# ---- backward: numbaconv.grad against torch autograd's backward of the same layer ----


def _torch_backward(torch, forward, leaves, gy):
    """torch autograd's backward of `forward(*tensors)` at the NumPy `leaves`: the forward runs once here, and each
    timed call is ``torch.autograd.grad(y, leaves, grad_output, retain_graph=True)`` (the backward alone)."""
    tensors = [torch.from_numpy(a).requires_grad_() for a in leaves]
    y = forward(*tensors)
    t_gy = torch.from_numpy(gy)
    return lambda: torch.autograd.grad(y, tensors, t_gy, retain_graph=True)


def conv_backward_case(name, x_shape, w_shape, *, transpose=False, tags=(), **kw):
    """conv2d's (or conv_transpose2d's) input, weight and bias gradients in one call (numbaconv.grad's `_backward`)
    against torch's backward of F.conv2d (F.conv_transpose2d) with a bias. GFLOP/s counts the input and the weight
    gradients, each the forward's multiply-adds."""

    def make():
        from . import _grad_conv
        from ._algorithms import select_transpose
        from ._params_transpose import conv_transpose_params

        x, w = _arr(x_shape), _arr(w_shape)
        if transpose:
            params = conv_transpose_params("conv_transpose2d", 2, x_shape, w_shape, **kw)
            b = _arr((params.out_channels,))
            adjoint = _grad_conv.transpose_adjoint(params)
            kernel = f"input: conv {select(adjoint, 'auto')}"
            flops = 2 * 2 * x.size * w_shape[1] * math.prod(w_shape[2:])
            ours = nc.grad.conv_transpose2d_backward
        else:
            params = nc.conv_params("conv2d", 2, x_shape, w_shape, **kw)
            b = _arr((params.out_channels,))
            kernel = f"input: transpose {select_transpose(_grad_conv.conv_adjoint(params), 'auto')}"
            flops = 2 * params.flops
            ours = nc.grad.conv2d_backward
        gy = _arr(params.out_shape)

        def torch_fn(torch):
            op = torch.nn.functional.conv_transpose2d if transpose else torch.nn.functional.conv2d
            return _torch_backward(torch, lambda tx, tw, tb: op(tx, tw, tb, **kw), (x, w, b), gy)

        return dict(
            numbaconv=lambda: ours(x, w, gy, **kw),
            torch=torch_fn,
            flops=flops,
            bytes=(2 * (x.size + w.size) + gy.size) * 4,
            kernel=kernel + ", weight: im2col + BLAS",
        )

    return Case(name, "backward", make, ("backward", *tags))


def pool_backward_case(name, x_shape, kind, kernel_size, tags=()):
    """max_pool2d's input gradient from the saved indices, or avg_pool2d's, against torch's backward of
    F.max_pool2d (which saves its indices) / F.avg_pool2d."""

    def make():
        x = _arr(x_shape)
        if kind == "max":
            y, indices = nc.max_pool2d(x, kernel_size, return_indices=True)
            ours = lambda: nc.grad.max_pool2d_input(x.shape, gy, indices, kernel_size)
        else:
            y = nc.avg_pool2d(x, kernel_size)
            ours = lambda: nc.grad.avg_pool2d_input(x.shape, gy, kernel_size)
        gy = _arr(y.shape)

        def torch_fn(torch):
            op = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
            return _torch_backward(torch, lambda tx: op(tx, kernel_size), (x,), gy)

        return dict(
            numbaconv=ours,
            torch=torch_fn,
            flops=0,
            bytes=(2 * x.size + gy.size * (3 if kind == "max" else 1)) * 4,
            kernel="",
        )

    return Case(name, "backward", make, ("backward", *tags))


CASES = {
    c.name: c
    for c in [
        conv_case("resnet50_stem_7x7_s2", (4, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3),
        conv_case("resnet_3x3_64ch_56", (4, 64, 56, 56), (64, 64, 3, 3), padding=1),
        conv_case("resnet_3x3_64ch_56_fast", (4, 64, 56, 56), (64, 64, 3, 3), padding=1, algorithm="fast"),
        conv_case("resnet_1x1_256to64_56", (4, 256, 56, 56), (64, 256, 1, 1)),
        conv_case("resnet_1x1_64to256_56", (4, 64, 56, 56), (256, 64, 1, 1)),
        conv_case("vgg16_3x3_128ch_112", (1, 128, 112, 112), (128, 128, 3, 3), padding=1),
        conv_case("vgg16_3x3_128ch_112_fast", (1, 128, 112, 112), (128, 128, 3, 3), padding=1, algorithm="fast"),
        conv_case("resnet_3x3_s2_128ch_28", (4, 128, 56, 56), (128, 128, 3, 3), stride=2, padding=1),
        conv_case("deeplab_3x3_d2_256ch_33", (2, 256, 33, 33), (256, 256, 3, 3), padding=2, dilation=2),
        conv_case("deeplab_3x3_d4_256ch_33", (2, 256, 33, 33), (256, 256, 3, 3), padding=4, dilation=4),
        conv_case("mobilenetv2_dw_s1_144ch_56", (4, 144, 56, 56), (144, 1, 3, 3), padding=1, groups=144),
        conv_case("mobilenetv2_dw_s2_144ch_56", (4, 144, 56, 56), (144, 1, 3, 3), stride=2, padding=1, groups=144),
        conv_case(
            "mobilenetv2_dw_s1_144ch_56_nhwc",
            (4, 144, 56, 56),
            (144, 1, 3, 3),
            padding=1,
            groups=144,
            channels_last=True,
            tags=("channels_last",),
        ),
        conv_case("mobilenetv2_pw_144to24_56", (4, 144, 56, 56), (24, 144, 1, 1)),
        separable_case("mobilenetv1_sep_64to128_112", (4, 64, 112, 112), 128),
        conv_case("shufflenet_1x1_g3_240ch_28", (4, 240, 28, 28), (240, 80, 1, 1), groups=3),
        conv_case("shufflenet_1x1_g8_384ch_28", (4, 384, 28, 28), (384, 48, 1, 1), groups=8),
        conv_case("resnext_3x3_g32_128ch_56", (4, 128, 56, 56), (128, 4, 3, 3), padding=1, groups=32),
        transpose_case("dcgan_tconv_4x4_s2_512to256_4", (16, 512, 4, 4), (512, 256, 4, 4), stride=2, padding=1),
        transpose_case("unet_tconv_2x2_s2_128to64_64", (2, 128, 64, 64), (128, 64, 2, 2), stride=2),
        transpose_case(
            "linknet_tconv_3x3_s2_64to32_56", (4, 64, 56, 56), (64, 32, 3, 3), stride=2, padding=1, output_padding=1
        ),
        pool_case("segnet_maxpool_2x2_idx_64ch_224", (4, 64, 224, 224), "max", kernel_size=2, return_indices=True),
        pool_case("resnet_maxpool_3x3_s2_64ch_112", (4, 64, 112, 112), "max", kernel_size=3, stride=2, padding=1),
        pool_case("avgpool_2x2_256ch_56", (4, 256, 56, 56), "avg", kernel_size=2),
        unpool_case("segnet_maxunpool_2x2_64ch_112", (4, 64, 112, 112), "max"),
        unpool_case("unpool_nearest_x2_64ch_56", (4, 64, 56, 56), "nearest"),
        unpool_case("unpool_bed_of_nails_x2_64ch_56", (4, 64, 56, 56), "bed_of_nails"),
        conv_case("latency_n1_resnet_3x3_64ch_56", (1, 64, 56, 56), (64, 64, 3, 3), padding=1, tags=("latency",)),
        conv_case(
            "latency_n1_mobilenet_dw_144ch_56",
            (1, 144, 56, 56),
            (144, 1, 3, 3),
            padding=1,
            groups=144,
            tags=("latency",),
        ),
        conv_case(
            "f64_resnet_3x3_64ch_56", (2, 64, 56, 56), (64, 64, 3, 3), padding=1, dtype=np.float64, tags=("float64",)
        ),
        conv_case(
            "f64_mobilenet_dw_144ch_56",
            (2, 144, 56, 56),
            (144, 1, 3, 3),
            padding=1,
            groups=144,
            dtype=np.float64,
            tags=("float64",),
        ),
        image_case("image_1024_3x3", 1024, 3),
        image_case("image_1024_7x7", 1024, 7),
        image_case("image_1024_31x31", 1024, 31),
        image_case("image_1024_31x31_fast", 1024, 31, algorithm="fast"),
        conv_backward_case("bwd_resnet_3x3_64ch_56", (4, 64, 56, 56), (64, 64, 3, 3), padding=1),
        conv_backward_case("bwd_mobilenetv2_dw_s1_144ch_56", (4, 144, 56, 56), (144, 1, 3, 3), padding=1, groups=144),
        conv_backward_case(
            "bwd_linknet_tconv_3x3_s2_64to32_56",
            (4, 64, 56, 56),
            (64, 32, 3, 3),
            transpose=True,
            stride=2,
            padding=1,
            output_padding=1,
        ),
        pool_backward_case("bwd_segnet_maxpool_2x2_idx_64ch_224", (4, 64, 224, 224), "max", 2),
        pool_backward_case("bwd_avgpool_2x2_256ch_56", (4, 256, 56, 56), "avg", 2),
    ]
}


def best_time(fn, repeat: int, min_time: float = 0.05) -> float:
    """Best of `repeat` timings, each averaging enough calls to last `min_time` seconds."""
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-6)
    number = max(1, int(min_time / once))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def run_bench(compare=("torch", "scipy", "numpy"), only=None, repeat=5, threads=2) -> list[dict]:
    """Time every case (or those whose name contains `only`), interleaving numbaconv and the baselines."""
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    torch: Any = None  # the torch module when it takes part
    if "torch" in compare:
        try:
            torch = importlib.import_module("torch")
            torch.set_num_threads(threads)
        except ImportError:
            print("torch is not installed: no torch comparison (pip install torch)")
    cases = [c for c in CASES.values() if not only or any(o in c.name for o in only.split(","))]
    try:
        from tqdm import tqdm

        progress = tqdm(cases, unit="case")
    except ImportError:
        progress = cases
    rows = []
    for case in progress:
        calls = case.make()
        fns = {"numbaconv": calls["numbaconv"]}
        if torch is not None and calls.get("torch"):
            fns["torch"] = calls["torch"](torch)
            if calls.get("torch_cl"):
                fns["torch_cl"] = calls["torch_cl"](torch)
        for key in ("scipy", "scipy_fft", "numpy"):
            if key.split("_")[0] in compare and calls.get(key):
                fns[key] = calls[key]
        fns = {k: f for k, f in fns.items() if f is not None}
        for fn in fns.values():  # warm-up: compiles, and torch picks its algorithms
            fn()
        times = {k: float("inf") for k in fns}
        for _ in range(repeat):  # interleaved, so drift hits every contender alike
            for k, fn in fns.items():
                times[k] = min(times[k], best_time(fn, 1))
        rows.append(
            dict(
                case=case.name,
                family=case.family,
                tags=case.tags,
                flops=calls["flops"],
                bytes=calls["bytes"],
                times=times,
                kernel=calls.get("kernel", ""),
            )
        )
    return rows


def print_table(rows: list[dict]) -> None:
    others = sorted({k for r in rows for k in r["times"]} - {"numbaconv"})
    head = (
        f"{'case':<38} {'numbaconv':>10} "
        + " ".join(f"{'/' + k:>10}" for k in others)
        + f" {'GFLOP/s':>8} {'GB/s':>6}  kernel"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        t = r["times"]["numbaconv"]
        cells = " ".join(f"{t / r['times'][k]:>10.2f}" if k in r["times"] else f"{'':>10}" for k in others)
        gflops = f"{r['flops'] / t / 1e9:>8.1f}" if r["flops"] else f"{'':>8}"
        print(f"{r['case']:<38} {t * 1e3:>8.2f}ms {cells} {gflops} {r['bytes'] / t / 1e9:>6.1f}  {r.get('kernel', '')}")
    print(
        "\nratio columns = numbaconv time / that library's time (below 1 means numbaconv is faster); "
        "torch_cl = torch with channels_last tensors; kernel = the CPU kernel the case ran (convolutions; "
        "algorithm='auto', or 'fast' for *_fast cases); bwd_* rows: numbaconv.grad against "
        "torch.autograd.grad(y, leaves, grad_output, retain_graph=True), the forward run once outside the timing"
    )
    for k in others:
        ratios = [r["times"]["numbaconv"] / r["times"][k] for r in rows if k in r["times"]]
        if ratios:
            print(
                f"geometric mean vs {k}: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f} "
                f"over {len(ratios)} cases"
            )
