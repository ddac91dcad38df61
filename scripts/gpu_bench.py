"""Short GPU benchmark: numbaconv's CUDA kernels vs torch/cuDNN (TF32 off) and vs device copy bandwidth.

Run by scripts/gpu_check.sh on a machine with an NVIDIA GPU, CuPy and a CUDA torch. Every op is timed with CUDA
events in one process, warmed up first (compilation excluded), median of --repeat runs; ratios printed last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback

import cupy
import torch
import torch.nn.functional as F

import numbaconv

torch.backends.cudnn.allow_tf32 = False
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.benchmark = True


def cold(fn) -> float:
    """Wall seconds of a first call (compilation included), synchronised."""
    start = time.perf_counter()
    fn()
    cupy.cuda.Device().synchronize()
    torch.cuda.synchronize()
    return time.perf_counter() - start


def rel_error(ours, theirs) -> float:
    """||ours - theirs|| / ||theirs|| in float64 (every output: tuples compare element by element)."""
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    worst = 0.0
    for a, b in zip(ours, theirs, strict=False):
        a = cupy.asarray(a).astype(cupy.float64)
        b = cupy.asarray(b).astype(cupy.float64)
        if a.shape != b.shape:
            return float("inf")
        worst = max(worst, float(cupy.linalg.norm(a - b) / max(float(cupy.linalg.norm(b)), 1e-30)))
    return worst


def kernel_seconds(fn, repeat: int) -> float:
    """Median per call of the summed device time of every kernel fn() launches, read from CUPTI through
    torch.profiler: the GPU's own work, without the host-side gaps that event timing includes."""
    from torch.profiler import ProfilerActivity, profile

    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(repeat):
            fn()
        torch.cuda.synchronize()
    kernels = [
        e
        for e in prof.events()
        if e.device_type == torch.autograd.DeviceType.CUDA
        and "memcpy" not in e.name.lower()
        and "memset" not in e.name.lower()
    ]
    if not kernels:
        return float("nan")
    return sum(e.time_range.elapsed_us() for e in kernels) / 1e6 / repeat


def host_seconds(fn, repeat: int) -> float:
    """Median host wall time of one call, not synchronised (what the Python side and the launch cost)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        cupy.cuda.Device().synchronize()
    return statistics.median(times)


def timed(fn, repeat: int) -> float:
    """Median seconds of fn() over `repeat` runs, timed with CUDA events on the current stream."""
    fn()
    torch.cuda.synchronize()
    cupy.cuda.Device().synchronize()
    times = []
    for _ in range(repeat):
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop) / 1e3)
    return statistics.median(times)


def rand(*shape, dtype=cupy.float32):
    return cupy.random.standard_normal(shape, dtype=cupy.float32).astype(dtype)


def as_torch(a):
    return torch.as_tensor(a, device="cuda")


def cases():
    """(name, numbaconv call, torch call, FLOPs, bytes moved at least once)."""
    x = rand(32, 64, 56, 56)
    w = rand(64, 64, 3, 3)
    x1 = rand(1, 64, 56, 56)
    yield (
        "conv 3x3 64->64 56^2 N1 (latency)",
        lambda: numbaconv.conv2d(x1, w, padding=1),
        lambda: F.conv2d(as_torch(x1), as_torch(w), padding=1),
        2 * 64 * 56 * 56 * 64 * 9,
        4 * 2 * x1.size,
    )
    yield (
        "conv 3x3 64->64 56^2 N32",
        lambda: numbaconv.conv2d(x, w, padding=1),
        lambda: F.conv2d(as_torch(x), as_torch(w), padding=1),
        2 * 32 * 64 * 56 * 56 * 64 * 9,
        4 * 2 * x.size,
    )
    pw = rand(256, 64, 1, 1)
    yield (
        "pointwise 64->256 56^2 N32",
        lambda: numbaconv.conv2d(x, pw),
        lambda: F.conv2d(as_torch(x), as_torch(pw)),
        2 * 32 * 256 * 56 * 56 * 64,
        4 * 5 * x.size,
    )
    xd = rand(32, 144, 56, 56)
    wd = rand(144, 1, 3, 3)
    yield (
        "depthwise 3x3 144ch 56^2 N32",
        lambda: numbaconv.depthwise_conv2d(xd, wd, padding=1),
        lambda: F.conv2d(as_torch(xd), as_torch(wd), padding=1, groups=144),
        2 * xd.size * 9,
        4 * 2 * xd.size,
    )
    xt, wt = rand(16, 128, 32, 32), rand(128, 64, 4, 4)
    yield (
        "conv_transpose 4x4 s2 128->64 32^2 N16",
        lambda: numbaconv.conv_transpose2d(xt, wt, stride=2, padding=1),
        lambda: F.conv_transpose2d(as_torch(xt), as_torch(wt), stride=2, padding=1),
        2 * 16 * 128 * 32 * 32 * 64 * 16,
        4 * (xt.size + 16 * 64 * 64 * 64),
    )
    xp = rand(32, 64, 112, 112)
    yield (
        "max_pool 3x3 s2 p1 64ch 112^2 N32",
        lambda: numbaconv.max_pool2d(xp, 3, 2, 1),
        lambda: F.max_pool2d(as_torch(xp), 3, 2, 1),
        xp.size * 9 // 4,
        4 * xp.size * 5 // 4,
    )
    yield (
        "max_pool 2x2 + indices 64ch 112^2 N32",
        lambda: numbaconv.max_pool2d(xp, 2, return_indices=True),
        lambda: F.max_pool2d(as_torch(xp), 2, return_indices=True),
        xp.size,
        4 * xp.size + 12 * xp.size // 4,
    )
    xs = rand(32, 64, 56, 56)
    yield (
        "unpool nearest x2 64ch 56^2 N32",
        lambda: numbaconv.unpool2d(xs, 2, mode="nearest"),
        lambda: F.interpolate(as_torch(xs), scale_factor=2, mode="nearest"),
        0,
        4 * 5 * xs.size,
    )
    yield (
        "avg_pool 2x2 64ch 112^2 N32",
        lambda: numbaconv.avg_pool2d(xp, 2),
        lambda: F.avg_pool2d(as_torch(xp), 2),
        xp.size,
        4 * xp.size * 5 // 4,
    )


def profile_host(path: str) -> None:
    """cProfile of 200 small calls (host-bound) of a conv and a max-pool: where the Python side spends."""
    import cProfile
    import io
    import pstats

    x, w = rand(1, 8, 16, 16), rand(8, 8, 3, 3)
    calls = (lambda: numbaconv.conv2d(x, w, padding=1), lambda: numbaconv.max_pool2d(x, 2))
    for fn in calls:
        fn()
    cupy.cuda.Device().synchronize()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(200):
        for fn in calls:
            fn()
    cupy.cuda.Device().synchronize()
    prof.disable()
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(40)
    with open(path, "w") as f:
        f.write(text.getvalue())


def copy_bandwidth(repeat: int) -> float:
    """Device-to-device copy bandwidth in GB/s (read + write of 1 GiB): the yardstick of the % copy BW columns.

    The two 1 GiB buffers live only in this function, so they are released (to CuPy's pool) before the cases
    run; the timed lambda closes over locals that stay bound for as long as it can be called.
    """
    big = cupy.empty(1 << 28, cupy.float32)  # 1 GiB
    dst = cupy.empty_like(big)
    copy_s = timed(lambda: cupy.copyto(dst, big), repeat)
    return 2 * big.nbytes / copy_s / 1e9


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", default=None)
    parser.add_argument("--profile", default=None, help="write a cProfile of the host side of small calls here")
    args = parser.parse_args()
    print(
        f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, cuDNN "
        f"{torch.backends.cudnn.version()}, cupy {cupy.__version__}, TF32 off",
        flush=True,
    )
    copy_gbps = copy_bandwidth(args.repeat)
    print(f"device-to-device copy: {copy_gbps:.0f} GB/s (read + write of 1 GiB)", flush=True)
    rows = []
    for name, ours, theirs, flops, nbytes in cases():
        try:
            first_s = cold(ours)
            error = rel_error(ours(), theirs())
            t_ours = timed(ours, args.repeat)
            t_torch = timed(theirs, args.repeat)
            try:
                k_ours, k_torch = kernel_seconds(ours, args.repeat), kernel_seconds(theirs, args.repeat)
            except Exception:
                print(f"{name}: kernel timing failed\n{traceback.format_exc(limit=3)}", flush=True)
                k_ours = k_torch = float("nan")
            h_ours = host_seconds(ours, args.repeat)
        except Exception:  # one broken op must not hide the others' figures
            print(f"{name}: FAILED\n{traceback.format_exc(limit=4)}", flush=True)
            rows.append(dict(op=name, failed=True))
            continue
        row = dict(
            op=name,
            numbaconv_ms=t_ours * 1e3,
            torch_ms=t_torch * 1e3,
            ratio=t_ours / t_torch,
            tflops=flops / t_ours / 1e12,
            gbps=nbytes / t_ours / 1e9,
            bw_fraction=nbytes / t_ours / 1e9 / copy_gbps,
            rel_error=error,
            first_call_s=first_s,
            kernel_ms=k_ours * 1e3,
            torch_kernel_ms=k_torch * 1e3,
            host_ms=h_ours * 1e3,
            kernel_ratio=k_ours / k_torch,
            kernel_bw_fraction=nbytes / k_ours / 1e9 / copy_gbps,
            kernel_tflops=flops / k_ours / 1e12,
        )
        rows.append(row)
        print(
            f"{name}: {row['numbaconv_ms']:.3f} ms vs torch {row['torch_ms']:.3f} ms, rel. error {error:.1e}, "
            f"first call {first_s:.2f} s; kernels {row['kernel_ms']:.3f} ms vs torch {row['torch_kernel_ms']:.3f}"
            f" ms, host {row['host_ms']:.3f} ms per call",
            flush=True,
        )
    print(
        f"\n{'op':<40} {'numbaconv ms':>12} {'torch ms':>9} {'ours/torch':>10} {'TFLOP/s':>8} "
        f"{'GB/s':>7} {'% copy BW':>9} {'rel err':>8} {'1st call s':>10}"
    )
    for r in rows:
        if r.get("failed"):
            print(f"{r['op']:<40} FAILED")
            continue
        print(
            f"{r['op']:<40} {r['numbaconv_ms']:>12.3f} {r['torch_ms']:>9.3f} {r['ratio']:>10.2f} "
            f"{r['tflops']:>8.2f} {r['gbps']:>7.0f} {100 * r['bw_fraction']:>8.0f}% {r['rel_error']:>8.1e} "
            f"{r['first_call_s']:>10.2f}"
        )
    print(
        f"\nkernel time only (CUPTI), host time per call (no sync)\n{'op':<40} {'kernels ms':>10} {'torch ms':>9} "
        f"{'ours/torch':>10} {'TFLOP/s':>8} {'% copy BW':>9} {'host ms':>8}"
    )
    for r in rows:
        if not r.get("failed"):
            print(
                f"{r['op']:<40} {r['kernel_ms']:>10.3f} {r['torch_kernel_ms']:>9.3f} {r['kernel_ratio']:>10.2f} "
                f"{r['kernel_tflops']:>8.2f} {100 * r['kernel_bw_fraction']:>8.0f}% {r['host_ms']:>8.3f}"
            )
    if args.profile:
        profile_host(args.profile)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(copy_gbps=copy_gbps, rows=rows), f, indent=1)
    return 1 if any(r.get("failed") or r["rel_error"] > 1e-4 for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
