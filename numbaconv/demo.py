"""`python -m numbaconv demo`: every op family on a real image, checked, timed, and drawn.

The image is matplotlib's sample RGB photograph (the `demo` extra ships it; nothing is downloaded). Without
matplotlib a generated RGB test card is used, the numeric part still runs, and no gallery is drawn.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import numbaconv

SOBEL_X = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], np.float32)
SOBEL_Y = np.ascontiguousarray(SOBEL_X.T)
# An asymmetric kernel (neither K == flip(K) nor K == -flip(K)), so correlation and convolution differ in more
# than sign: the top-left 2x2 block minus the centre, an emboss. Convolution reads it flipped (the bottom-right
# block minus the centre), so its relief faces the other way.
EMBOSS = np.zeros((5, 5), np.float32)
EMBOSS[:2, :2], EMBOSS[2, 2] = 1, -4
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
RED_MINUS_GREEN = np.array([1, -1, 0], np.float32)


def load_image() -> tuple[np.ndarray, str]:
    """An RGB float32 photograph ``(H, W, 3)`` in [0, 1], and where it came from."""
    try:
        from matplotlib import cbook
        from matplotlib.image import imread
    except ImportError:
        return generated_image(), "generated test card (install matplotlib for the photograph)"
    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)  # a path: imread reads the JPEG by name
    return np.asarray(imread(path), np.float32) / 255.0, "matplotlib sample grace_hopper.jpg"


def luminance(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` RGB to ``(H, W)`` grey (ITU-R BT.601 weights)."""
    return np.ascontiguousarray(rgb @ LUMA)


def generated_image(size: int = 512) -> np.ndarray:
    """An RGB test card ``(size, size, 3)`` in [0, 1]: yellow and blue rings, a red square and gradients, so
    there are edges in every direction and edges that only a colour channel sees."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    rings = 0.5 + 0.5 * np.sin(40 * np.hypot(yy - 0.5, xx - 0.5))
    square = ((abs(yy - 0.3) < 0.15) & (abs(xx - 0.7) < 0.15)).astype(np.float32)
    red = 0.5 * rings + 0.4 * square + 0.1 * xx
    green = 0.5 * rings * (1 - square) + 0.1 * yy
    blue = 0.5 * (1 - rings) * (1 - square) + 0.3 * xx
    return np.stack([red, green, blue], axis=-1).astype(np.float32)


def numpy_conv2d(x, w, padding=0, dilation=1, groups=1):
    """The NumPy way (padded copy, sliding windows, einsum), used as the check and as the baseline time."""
    x = np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    kh, kw = w.shape[2:]
    win = sliding_window_view(x, (dilation * (kh - 1) + 1, dilation * (kw - 1) + 1), axis=(2, 3))
    win = win[..., ::dilation, ::dilation]
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    return np.concatenate(
        [
            np.einsum("nchwij,ocij->nohw", win[:, g * cg : (g + 1) * cg], w[g * og : (g + 1) * og], optimize=True)
            for g in range(groups)
        ],
        axis=1,
    )


def numpy_conv_transpose2d(x, w, stride, padding):
    """The NumPy way: scatter-add every tap's contribution into the full output, then crop."""
    n, _, h, wd = x.shape
    kh, kw = w.shape[2:]
    full = np.zeros((n, w.shape[1], (h - 1) * stride + kh, (wd - 1) * stride + kw), np.float32)
    for i in range(kh):
        for j in range(kw):
            full[:, :, i : i + (h - 1) * stride + 1 : stride, j : j + (wd - 1) * stride + 1 : stride] += np.einsum(
                "nchw,co->nohw", x, w[:, :, i, j], optimize=True
            )
    return full[:, :, padding : full.shape[2] - padding, padding : full.shape[3] - padding]


def numpy_max_pool2x2(x):
    """The NumPy way for 2x2 stride-2 pooling: reshape, max, and argmax turned into flat plane indices."""
    n, c, h, w = x.shape
    blocks = x[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(n, c, h // 2, w // 2, 4)
    arg = blocks.argmax(axis=-1)
    rows = np.arange(h // 2)[:, None] * 2 + arg // 2
    cols = np.arange(w // 2)[None, :] * 2 + arg % 2
    return blocks.max(axis=-1), (rows * w + cols).astype(np.int64)


def numpy_max_unpool(values, indices, shape):
    out = np.zeros(shape[:2] + (shape[2] * shape[3],), values.dtype)
    np.put_along_axis(out, indices.reshape(shape[:2] + (-1,)), values.reshape(shape[:2] + (-1,)), axis=2)
    return out.reshape(shape)


@dataclass
class Step:
    name: str
    run: Callable[[], np.ndarray]
    baseline: Callable[[], np.ndarray]
    flops: int
    """2 x multiply-adds; 0 for ops that have none (pooling, unpooling): their GFLOP/s cell is left blank."""
    result: np.ndarray | None = None


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _progress(items: list, desc: str, label: Callable[[Any], str] = str) -> Iterator:
    """Yield `items` with a tqdm bar (the `demo` extra), or without tqdm a printed `desc: i/n label` counter."""
    try:
        from tqdm import tqdm
    except ImportError:
        for i, item in enumerate(items, 1):
            print(f"{desc}: {i}/{len(items)} {label(item)}", flush=True)
            yield item
        return
    with tqdm(items, desc=desc, unit="op") as bar:
        for item in bar:
            bar.set_postfix_str(label(item))
            yield item


def format_row(name: str, err: float, t_nc: float, t_np: float, flops: int, ok: bool) -> str:
    """One line of the timing table; the GFLOP/s cell is "—" for an op without multiply-adds."""
    rate = f"{flops / t_nc / 1e9:>8.1f}" if flops else f"{'—':>8}"
    return f"{name:<30} {err:>10.1e} {t_nc * 1e3:>9.2f}ms {t_np * 1e3:>9.2f}ms {t_np / t_nc:>8.1f}x {rate}" + (
        "" if ok else "  MISMATCH"
    )


def channel_weights() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Filters that show how depthwise, dense and separable convs treat the colour channels of an RGB image.

    depthwise ``(6, 1, 3, 3)``: Sobel x and y on R, G and B apart (outputs 2c, 2c+1 read channel c);
    dense ``(3, 3, 3, 3)``: every filter reads all three channels: luminance Sobel x and y, and a blurred red
    minus green (an opponent-colour filter); separable: the depthwise Sobels, then a pointwise ``(2, 6)`` mix
    into the Sobel x and y of red minus green (edges that only colour shows)."""
    edges = np.tile(np.stack([SOBEL_X, SOBEL_Y])[:, None], (3, 1, 1, 1))
    blur = np.full((3, 3), 1 / 9, np.float32)
    dense = np.stack(
        [
            LUMA[:, None, None] * SOBEL_X,
            LUMA[:, None, None] * SOBEL_Y,
            RED_MINUS_GREEN[:, None, None] * blur,
        ]
    )
    mix = np.kron(RED_MINUS_GREEN, np.eye(2, dtype=np.float32))
    return edges.astype(np.float32), dense.astype(np.float32), mix.astype(np.float32)


def build_steps(rgb: np.ndarray) -> dict[str, Step]:
    """The checked and timed ops on an ``(H, W, 3)`` RGB image; nothing runs until a step's `run` is called."""
    rng = np.random.default_rng(0)
    x1 = luminance(rgb)[None, None]
    x3 = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])
    emboss, sobel = EMBOSS[None, None], SOBEL_X[None, None]
    feats = np.ascontiguousarray(
        np.repeat(x1, 32, axis=1)[:, :, ::2, ::2] * rng.uniform(0.5, 1.5, (1, 32, 1, 1))
    ).astype(np.float32)
    edges, dense, mix = channel_weights()
    up = rng.standard_normal((32, 16, 4, 4)).astype(np.float32) / 10
    pooled, indices = numpy_max_pool2x2(feats)
    c = numbaconv.conv_params

    def separable_numpy():
        return np.einsum("oc,nchw->nohw", mix, numpy_conv2d(x3, edges, padding=1, groups=3), optimize=True)

    steps = [
        Step(
            "asymmetric 5x5 correlation",
            lambda: numbaconv.conv2d(x1, emboss, padding=2),
            lambda: numpy_conv2d(x1, emboss, padding=2),
            c("", 2, x1.shape, emboss.shape, padding=2).flops,
        ),
        Step(
            "asymmetric 5x5 convolution",
            lambda: numbaconv.conv2d(x1, emboss, padding=2, flip=True),
            lambda: numpy_conv2d(x1, emboss[..., ::-1, ::-1], padding=2),
            c("", 2, x1.shape, emboss.shape, padding=2).flops,
        ),
        Step(
            "dilated Sobel 3x3 (d=4)",
            lambda: numbaconv.conv2d(x1, sobel, padding=4, dilation=4),
            lambda: numpy_conv2d(x1, sobel, padding=4, dilation=4),
            c("", 2, x1.shape, sobel.shape, padding=4, dilation=4).flops,
        ),
        Step(
            "depthwise 3x3, RGB -> 6 ch",
            lambda: numbaconv.depthwise_conv2d(x3, edges, padding=1),
            lambda: numpy_conv2d(x3, edges, padding=1, groups=3),
            c("", 2, x3.shape, edges.shape, padding=1, groups=3).flops,
        ),
        Step(
            "dense 3x3, RGB -> 3 ch",
            lambda: numbaconv.conv2d(x3, dense, padding=1),
            lambda: numpy_conv2d(x3, dense, padding=1),
            c("", 2, x3.shape, dense.shape, padding=1).flops,
        ),
        Step(
            "separable 3x3, RGB -> 6 -> 2",
            lambda: numbaconv.separable_conv2d(x3, edges, mix, padding=1),
            separable_numpy,
            c("", 2, x3.shape, edges.shape, padding=1, groups=3).flops
            + c("", 2, (1, 6) + x3.shape[2:], mix.shape + (1, 1)).flops,
        ),
        Step(
            "transpose 4x4 s2, 32 -> 16 ch",
            lambda: numbaconv.conv_transpose2d(feats, up, stride=2, padding=1),
            lambda: numpy_conv_transpose2d(feats, up, stride=2, padding=1),
            2 * feats.size * up.shape[1] * 16,
        ),
        Step(
            "max-pool 2x2 + indices, 32 ch",
            lambda: numbaconv.max_pool2d(feats, 2, return_indices=True)[0],
            lambda: numpy_max_pool2x2(feats)[0],
            0,
        ),
        Step(
            "max-unpool 2x2, 32 ch",
            lambda: numbaconv.max_unpool2d(pooled, indices, 2),
            lambda: numpy_max_unpool(pooled, indices, feats.shape),
            0,
        ),
        Step(
            "nearest unpool x2, 32 ch",
            lambda: numbaconv.unpool2d(feats, 2),
            lambda: feats.repeat(2, axis=2).repeat(2, axis=3),
            0,
        ),
    ]
    return {s.name: s for s in steps}


def receptive_field_demo(size: int = 41) -> list[tuple[int, np.ndarray]]:
    """Impulse response of stacks of 3x3 convs with dilation 1, 2, 4: the receptive field made visible."""
    delta = np.zeros((1, 1, size, size), np.float32)
    delta[0, 0, size // 2, size // 2] = 1
    ones = np.ones((1, 1, 3, 3), np.float32)
    maps, y = [], delta
    for d in (1, 2, 4):
        y = numbaconv.conv2d(y, ones, padding=d, dilation=d)
        maps.append((d, y[0, 0].copy()))
    return maps


def upsampling_demo(img: np.ndarray) -> dict:
    """Checkerboards made visible: transpose conv k3 s2 vs k4 s2 vs resize-conv, each with its tap-overlap map;
    and max-pool -> max-unpool, nearest and bed-of-nails unpooling of the same pooled image."""
    from .analysis import transpose_overlap

    x = np.ascontiguousarray(img[None, None, ::3, ::3])
    box3, box4 = np.ones((1, 1, 3, 3), np.float32), np.ones((1, 1, 4, 4), np.float32) / 4
    results = {
        "transpose conv k3 s2": (
            numbaconv.conv_transpose2d(x, box3, stride=2, padding=1, output_padding=1),
            transpose_overlap((3, 3), 2).counts,
        ),
        "transpose conv k4 s2": (
            numbaconv.conv_transpose2d(x, box4, stride=2, padding=1),
            transpose_overlap((4, 4), 2).counts,
        ),
        "resize-conv x2, 3x3": (numbaconv.resize_conv2d(x, box3 / 9 * 4, scale_factor=2), np.full((2, 2), 9)),
    }
    checks = {
        "transpose conv k3 s2": numpy_conv_transpose2d(x, box3, 2, 1),
        "transpose conv k4 s2": numpy_conv_transpose2d(x, box4, 2, 1),
        "resize-conv x2, 3x3": numpy_conv2d(x.repeat(2, axis=2).repeat(2, axis=3), box3 / 9 * 4, padding=1),
    }
    pooled, idx = numbaconv.max_pool2d(x, 2, return_indices=True)
    unpooled = {
        "max-pool 2x2": pooled,
        "max-unpool": numbaconv.max_unpool2d(pooled, idx, 2, output_size=x.shape[2:]),
        "nearest unpool": numbaconv.unpool2d(pooled, 2, mode="nearest"),
        "bed-of-nails unpool": numbaconv.unpool2d(pooled, 2, mode="bed_of_nails"),
    }
    errors = {
        name: float(
            np.max(np.abs(results[name][0][..., : checks[name].shape[2], : checks[name].shape[3]] - checks[name]))
        )
        for name in checks
    }
    ref_pool, ref_idx = numpy_max_pool2x2(x)
    errors["max-pool 2x2 (values, indices)"] = float(np.max(np.abs(pooled - ref_pool))) + float(
        np.count_nonzero(idx != ref_idx)
    )
    errors["max-unpool keeps the maxima"] = float(
        np.max(np.abs(unpooled["max-unpool"] - numpy_max_unpool(ref_pool, ref_idx, x.shape)))
    )
    return {"transpose": results, "unpool": unpooled, "errors": errors}


def receptive_field_table() -> str:
    """A small VGG-style network's receptive fields, as the analysis helper prints them."""
    from .analysis import receptive_field

    layers = [
        dict(name="conv1 3x3", kernel_size=3, padding=1),
        dict(name="conv2 3x3", kernel_size=3, padding=1),
        dict(name="pool1 2x2", kernel_size=2, kind="pool"),
        dict(name="conv3 3x3", kernel_size=3, padding=1),
        dict(name="conv4 3x3 d2", kernel_size=3, padding=2, dilation=2),
        dict(name="pool2 2x2", kernel_size=2, kind="pool"),
        dict(name="conv5 3x3", kernel_size=3, padding=1),
    ]
    return str(receptive_field(layers))


def cost_table(c_in=32, c_out=64, k=3, hw=(256, 256)) -> list[tuple[str, int, int]]:
    """Parameters and multiply-adds of a dense layer and its depthwise-separable equivalent."""
    shape = (1, c_in) + hw
    dense = numbaconv.conv_params("", 2, shape, (c_out, c_in, k, k), padding="same")
    depth = numbaconv.conv_params("", 2, shape, (c_in, 1, k, k), padding="same", groups=c_in)
    point = numbaconv.conv_params("", 2, (1, c_in) + hw, (c_out, c_in, 1, 1))
    return [
        ("dense", c_out * c_in * k * k, dense.macs),
        ("depthwise + pointwise", c_in * k * k + c_out * c_in, depth.macs + point.macs),
    ]


def check_and_time(steps: dict[str, Step], repeat: int) -> tuple[list[str], int]:
    """Compare each step's (already computed) result with its NumPy baseline and time both, with a progress
    display; the table's rows, and how many results did not match."""
    failures, rows = 0, []
    for step in _progress(list(steps.values()), f"timing (best of {repeat})", lambda s: s.name):
        want = step.baseline()
        assert step.result is not None  # set by the first (compiling) run
        err = float(np.max(np.abs(step.result - want)))
        ok = err <= 1e-4 * max(1.0, float(np.max(np.abs(want))))
        failures += not ok
        t_nc, t_np = _best(step.run, repeat), _best(step.baseline, max(1, repeat // 2))
        rows.append(format_row(step.name, err, t_nc, t_np, step.flops, ok))
    return rows, failures


def run_demo(outdir: str = "numbaconv_demo_output", repeat: int = 5) -> int:
    rgb, source = load_image()
    grey = luminance(rgb)
    print(f"image: {source}, {rgb.shape[0]}x{rgb.shape[1]} RGB")
    steps = build_steps(rgb)
    for step in _progress(list(steps.values()), "compiling kernels (first call)", lambda s: s.name):
        step.result = step.run()
    rows, failures = check_and_time(steps, repeat)
    print(f"\n{'op':<30} {'max |err|':>10} {'numbaconv':>11} {'NumPy way':>11} {'speed-up':>9} {'GFLOP/s':>8}")
    print("\n".join(rows))
    print(
        "\n(best of repeated runs in one process after warm-up; the NumPy way = padded copy + sliding windows + einsum;"
        "\n GFLOP/s counts multiply-adds, so ops without any show —)"
    )
    corr, conv = (steps[name].result for name in ("asymmetric 5x5 correlation", "asymmetric 5x5 convolution"))
    assert corr is not None and conv is not None  # set by the first (compiling) run above
    odd = numbaconv.conv2d(grey[None, None], (EMBOSS - EMBOSS[::-1, ::-1])[None, None], padding=2)
    same = bool(np.allclose(corr - conv, odd, atol=1e-5))
    failures += not same
    print(f"\ncorrelation - convolution == correlation with K - flip(K), K asymmetric: {same}")
    maps = receptive_field_demo()
    print(
        "receptive field of stacked 3x3 convs with dilation 1, 2, 4: "
        + ", ".join(f"{int((m > 0).any(axis=0).sum())} px after d={d}" for d, m in maps)
    )
    print("\ncost of a 3x3 layer, 32 -> 64 channels at 256x256:")
    costs = cost_table()
    for name, params, macs in costs:
        print(f"  {name:<22} {params:>7} parameters {macs / 1e6:>8.1f} M multiply-adds")
    print(f"  saving: {costs[0][2] / costs[1][2]:.1f}x fewer multiply-adds")
    ups = upsampling_demo(grey)
    print("\nupsampling and unpooling, checked against NumPy (max |err|):")
    for name, err in ups["errors"].items():
        ok = err <= 1e-4
        failures += not ok
        print(f"  {name:<34} {err:.1e}" + ("" if ok else "  MISMATCH"))
    print("  taps landing on each output pixel of a 2x2 period (uneven = checkerboard):")
    for name, (_, counts) in ups["transpose"].items():
        print(f"  {name:<34} {counts.tolist()}")
    print("\nreceptive field of a small network:")
    print(receptive_field_table())
    path = draw_gallery(gallery_panels(rgb, steps, maps, ups), outdir)
    print(f"\ngallery: {path}" if path else "\ngallery: skipped (pip install 'numbaconv[demo]' for matplotlib)")
    if failures:
        print(f"{failures} result(s) did not match the NumPy reference")
    return 1 if failures else 0


@dataclass
class Panel:
    """One picture of the gallery, as data: built without matplotlib (so tests can check it), drawn by
    `draw_gallery`."""

    title: str
    data: np.ndarray
    """A 2-D map, or an ``(H, W, 3)`` RGB image in [0, 1]."""
    cmap: str | tuple[str, ...] = "gray"
    """A matplotlib colour map name, or the colours of a made-up one (low to high)."""
    vmin: float | None = None
    vmax: float | None = None
    colorbar: bool = False
    levels: int = 0
    """> 0: integer data 0..levels-1 drawn in a discrete map of that many colours, each cell's value written."""
    annotate: bool = False
    """Write each cell's value on it (small maps: counts, kernels); always so when `levels` is set."""
    mark: tuple[int, int, int, int] | None = None
    """(row, col, height, width) of a window outlined on the map: the one a zoomed panel beside it shows."""


GREEN_WHITE_RED = ("tab:green", "white", "tab:red")


def _limit(*arrays: np.ndarray, q: float = 99.5) -> float:
    """A robust symmetric colour limit: the q-th percentile of |values| (a few extremes would wash out the rest)."""
    return float(np.percentile(np.abs(np.concatenate([a.ravel() for a in arrays])), q)) or 1.0


def _diverging(title: str, data: np.ndarray, lim: float, cmap: str | tuple[str, ...] = "RdBu_r", **kw) -> Panel:
    """A signed map: colours centred at zero (white), symmetric limits, a colour bar."""
    return Panel(title, data, cmap, -lim, lim, colorbar=True, **kw)


def zoom_box(energy: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """The ``size x size`` window (on a grid of size/4) where `energy` sums highest, as (row, col, size, size)."""
    size = min(size, *energy.shape)
    total = np.pad(np.cumsum(np.cumsum(energy, axis=0, dtype=np.float64), axis=1), ((1, 0), (1, 0)))
    step = max(1, size // 4)
    r = np.arange(0, energy.shape[0] - size + 1, step)[:, None]
    c = np.arange(0, energy.shape[1] - size + 1, step)[None, :]
    sums = total[r + size, c + size] - total[r, c + size] - total[r + size, c] + total[r, c]
    i, j = np.unravel_index(np.argmax(sums), sums.shape)
    return int(r[i, 0]), int(c[0, j]), size, size


def flip_panels(corr: np.ndarray, conv: np.ndarray) -> list[Panel]:
    """Cross-correlation and true convolution with the asymmetric EMBOSS kernel and their difference, on one
    symmetric scale centred at zero; then the two kernels as the op reads them, and the three maps zoomed into
    the window where the difference is largest (outlined on the full maps)."""
    diff = corr - conv
    lim = _limit(corr, conv, q=99)
    m = EMBOSS.shape[0]  # away from the border, where the zero padding makes edges of its own
    r, c, h, w = zoom_box(np.abs(diff[m:-m, m:-m]), max(16, min(diff.shape) // 8))
    r, c = r + m, c + m
    box = r, c, h, w
    maps = [
        ("cross-correlation with K", "\nreads K as drawn: top-left block − centre", corr),
        ("true convolution (flip=True)", "\nreads K flipped: bottom-right block − centre", conv),
        ("correlation − convolution", "\n= correlation with K − flip(K)", diff),
    ]
    gap = np.full((EMBOSS.shape[0], 1), np.nan, np.float32)
    kernels = np.concatenate([EMBOSS, gap, EMBOSS[::-1, ::-1]], axis=1)
    return (
        [_diverging(name + note, data, lim, mark=box) for name, note, data in maps]
        + [Panel("K (correlation)   |   flip(K) (convolution)", kernels, "RdBu_r", -4.0, 4.0, annotate=True)]
        + [_diverging(f"{name} (zoom on the box)", data[r : r + h, c : c + w], lim) for name, _, data in maps]
    )


def channel_panels(depthwise: np.ndarray, dense: np.ndarray, separable: np.ndarray) -> list[Panel]:
    """The ``(6, H, W)``, ``(3, H, W)`` and ``(2, H, W)`` results of `channel_weights`' filters as pictures:
    per-channel edge strength as RGB, luminance edges, red minus green, and colour-only edges."""
    colour_edges = np.hypot(depthwise[0::2], depthwise[1::2])
    luma_edges = np.hypot(dense[0], dense[1])
    chroma_edges = np.hypot(separable[0], separable[1])
    rgb = np.clip(colour_edges / _limit(colour_edges, q=98), 0, 1).transpose(1, 2, 0)
    return [
        Panel("depthwise: Sobel on R, G, B apart\n(colour edges, channels kept apart)", rgb),
        Panel(
            "dense: each filter mixes R, G, B\nout 0, 1: luminance edges",
            luma_edges,
            vmin=0,
            vmax=_limit(luma_edges, q=98),
        ),
        _diverging(
            "dense: out 2 = blur(R − G)\nopponent colour (red +, green −)", dense[2], _limit(dense[2]), GREEN_WHITE_RED
        ),
        Panel(
            "separable: Sobel per channel, then\npointwise R − G: red/green colour edges",
            chroma_edges,
            vmin=0,
            vmax=_limit(chroma_edges, q=98),
        ),
    ]


def overlap_panels(transpose: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[Panel]:
    """Each upsampling's result (a crop) and its taps-per-pixel counts tiled over 3x3 stride periods, on one
    discrete integer scale shared by all, with a colour bar: uneven counts (a checkerboard) vs uniform ones."""
    levels = 1 + max(int(counts.max()) for _, counts in transpose.values())
    panels = []
    for name, (result, counts) in transpose.items():
        kind = "uniform" if np.all(counts == counts.flat[0]) else "uneven: checkerboard"
        tiled = np.tile(counts, (3, 3))
        panels += [
            Panel(f"{name} (crop)", result[0, 0, 60:124, 60:124]),
            Panel(
                f"{name}: taps per pixel\n({kind})", tiled, "viridis", -0.5, levels - 0.5, colorbar=True, levels=levels
            ),
        ]
    return panels


def gallery_panels(rgb: np.ndarray, steps: dict[str, Step], maps: list, ups: dict) -> list[Panel]:
    def result(name: str) -> np.ndarray:
        out = steps[name].result
        assert out is not None  # set by the first (compiling) run
        return out[0]

    dilated = result("dilated Sobel 3x3 (d=4)")[0]
    panels = [Panel("input (RGB)", rgb)]
    panels += flip_panels(result("asymmetric 5x5 correlation")[0], result("asymmetric 5x5 convolution")[0])
    panels.append(_diverging("dilated Sobel x (d=4)", dilated, _limit(dilated)))
    panels += [Panel(f"receptive field after d={d}", m, "magma", colorbar=True) for d, m in maps]
    panels += channel_panels(
        result("depthwise 3x3, RGB -> 6 ch"), result("dense 3x3, RGB -> 3 ch"), result("separable 3x3, RGB -> 6 -> 2")
    )
    panels += overlap_panels(ups["transpose"])
    panels += [
        Panel(f"{name} (crop)", a[0, 0, 30:62, 30:62] if name != "max-pool 2x2" else a[0, 0, 15:31, 15:31])
        for name, a in ups["unpool"].items()
    ]
    return panels


def draw_gallery(panels: list[Panel], outdir: str, cols: int = 4) -> str | None:
    """Draw `panels` into ``outdir/gallery.png``; None (nothing drawn) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # headless-safe
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    os.makedirs(outdir, exist_ok=True)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.9 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, panel in zip(axes.ravel(), panels, strict=False):
        _draw_panel(fig, ax, panel)
    fig.suptitle("numbaconv demo: convolution, channels, upsampling and unpooling", fontsize=14)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    path = os.path.abspath(os.path.join(outdir, "gallery.png"))
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def _draw_panel(fig, ax, p: Panel) -> None:
    import matplotlib
    from matplotlib.colors import LinearSegmentedColormap

    cmap = (
        LinearSegmentedColormap.from_list("made-up", p.cmap)
        if isinstance(p.cmap, tuple)
        else matplotlib.colormaps[p.cmap]
    )
    cmap = cmap.resampled(p.levels) if p.levels else cmap
    im = ax.imshow(p.data, cmap=cmap, vmin=p.vmin, vmax=p.vmax, interpolation="nearest")
    ax.set_title(p.title, fontsize=9)
    if p.colorbar:
        bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
        bar.ax.tick_params(labelsize=7)
        if p.levels:
            bar.set_ticks(range(p.levels))
    if p.levels or p.annotate:
        for (i, j), v in np.ndenumerate(p.data):
            if np.isfinite(v):
                dark = v < p.levels / 2 if p.levels else abs(v) > 0.6 * max(abs(p.vmin or 0), abs(p.vmax or 1))
                ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=8, color="white" if dark else "black")
    if p.mark is not None:
        from matplotlib.patches import Rectangle

        r, c, h, w = p.mark
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), w, h, fill=False, edgecolor="black", linewidth=1))
