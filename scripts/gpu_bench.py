"""Short GPU benchmark: numbaconv's CUDA kernels vs torch/cuDNN (TF32 off) and vs device copy bandwidth.

Run by scripts/gpu_check.sh on a machine with an NVIDIA GPU, CuPy and a CUDA torch. Every op is timed with CUDA
events in one process, warmed up first (compilation excluded), median of --repeat runs; ratios printed last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

import cupy
import numpy as np
import torch
import torch.nn.functional as F

import numbaconv

torch.backends.cudnn.allow_tf32 = False
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.benchmark = True


def timed(fn, repeat: int) -> float:
    """Median seconds of fn() over `repeat` runs, timed with CUDA events on the current stream."""
    fn()
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
    yield ("conv 3x3 64->64 56^2 N32", lambda: numbaconv.conv2d(x, w, padding=1),
           lambda: F.conv2d(as_torch(x), as_torch(w), padding=1), 2 * 32 * 64 * 56 * 56 * 64 * 9, 4 * 2 * x.size)
    pw = rand(256, 64, 1, 1)
    yield ("pointwise 64->256 56^2 N32", lambda: numbaconv.conv2d(x, pw),
           lambda: F.conv2d(as_torch(x), as_torch(pw)), 2 * 32 * 256 * 56 * 56 * 64, 4 * 5 * x.size)
    xd = rand(32, 144, 56, 56)
    wd = rand(144, 1, 3, 3)
    yield ("depthwise 3x3 144ch 56^2 N32", lambda: numbaconv.depthwise_conv2d(xd, wd, padding=1),
           lambda: F.conv2d(as_torch(xd), as_torch(wd), padding=1, groups=144), 2 * xd.size * 9, 4 * 2 * xd.size)
    xt, wt = rand(16, 128, 32, 32), rand(128, 64, 4, 4)
    yield ("conv_transpose 4x4 s2 128->64 32^2 N16",
           lambda: numbaconv.conv_transpose2d(xt, wt, stride=2, padding=1),
           lambda: F.conv_transpose2d(as_torch(xt), as_torch(wt), stride=2, padding=1),
           2 * 16 * 128 * 32 * 32 * 64 * 16, 4 * (xt.size + 16 * 64 * 64 * 64))
    xp = rand(32, 64, 112, 112)
    yield ("max_pool 3x3 s2 p1 64ch 112^2 N32", lambda: numbaconv.max_pool2d(xp, 3, 2, 1),
           lambda: F.max_pool2d(as_torch(xp), 3, 2, 1), xp.size * 9 // 4, 4 * xp.size * 5 // 4)
    yield ("max_pool 2x2 + indices 64ch 112^2 N32", lambda: numbaconv.max_pool2d(xp, 2, return_indices=True),
           lambda: F.max_pool2d(as_torch(xp), 2, return_indices=True), xp.size, 4 * xp.size + 12 * xp.size // 4)
    xs = rand(32, 64, 56, 56)
    yield ("unpool nearest x2 64ch 56^2 N32", lambda: numbaconv.unpool2d(xs, 2, mode="nearest"),
           lambda: F.interpolate(as_torch(xs), scale_factor=2, mode="nearest"), 0, 4 * 5 * xs.size)
    yield ("avg_pool 2x2 64ch 112^2 N32", lambda: numbaconv.avg_pool2d(xp, 2),
           lambda: F.avg_pool2d(as_torch(xp), 2), xp.size, 4 * xp.size * 5 // 4)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, cuDNN "
          f"{torch.backends.cudnn.version()}, cupy {cupy.__version__}, TF32 off", flush=True)
    big = cupy.empty(1 << 28, cupy.float32)  # 1 GiB
    dst = cupy.empty_like(big)
    copy_s = timed(lambda: cupy.copyto(dst, big), args.repeat)
    copy_gbps = 2 * big.nbytes / copy_s / 1e9
    print(f"device-to-device copy: {copy_gbps:.0f} GB/s (read + write of 1 GiB)", flush=True)
    del big, dst
    rows = []
    for name, ours, theirs, flops, nbytes in cases():
        try:
            t_ours = timed(ours, args.repeat)
        except NotImplementedError as exc:
            print(f"{name}: not on CUDA ({exc})", flush=True)
            continue
        t_torch = timed(theirs, args.repeat)
        row = dict(op=name, numbaconv_ms=t_ours * 1e3, torch_ms=t_torch * 1e3, ratio=t_ours / t_torch,
                   tflops=flops / t_ours / 1e12, gbps=nbytes / t_ours / 1e9, bw_fraction=nbytes / t_ours / 1e9 / copy_gbps)
        rows.append(row)
        print(f"{name}: {row['numbaconv_ms']:.3f} ms vs torch {row['torch_ms']:.3f} ms", flush=True)
    print(f"\n{'op':<40} {'numbaconv ms':>12} {'torch ms':>9} {'ours/torch':>10} {'TFLOP/s':>8} "
          f"{'GB/s':>7} {'% copy BW':>9}")
    for r in rows:
        print(f"{r['op']:<40} {r['numbaconv_ms']:>12.3f} {r['torch_ms']:>9.3f} {r['ratio']:>10.2f} "
              f"{r['tflops']:>8.2f} {r['gbps']:>7.0f} {100 * r['bw_fraction']:>8.0f}%")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(copy_gbps=copy_gbps, rows=rows), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
