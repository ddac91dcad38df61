"""The measurements behind algorithm="auto"'s CPU crossovers (numbaconv/_algorithms.py): each applicable
algorithm on a set of float32 convolutions, and torch if installed, interleaved in one process (best of
--repeat rounds, each averaging calls for 50 ms, after a warm-up call that compiles). Prints milliseconds, the
algorithm auto picks, and the fastest.

    python scripts/algorithm_crossover.py [--repeat 5] [--threads 2]
"""

from __future__ import annotations

import argparse

import numpy as np

import numbaconv
from numbaconv._algorithms import applicable_algorithms
from numbaconv.bench import best_time

# (name, x shape, weight shape, groups, padding)
SHAPES = [
    ("resnet 64->64 56^2 N4", (4, 64, 56, 56), (64, 64, 3, 3), 1, 1),
    ("vgg 128->128 112^2 N1", (1, 128, 112, 112), (128, 128, 3, 3), 1, 1),
    ("resnet 64->64 56^2 N1", (1, 64, 56, 56), (64, 64, 3, 3), 1, 1),
    ("32->32 56^2 N4", (4, 32, 56, 56), (32, 32, 3, 3), 1, 1),
    ("16->16 32^2 N8", (8, 16, 32, 32), (16, 16, 3, 3), 1, 1),
    ("256->256 14^2 N8", (8, 256, 14, 14), (256, 256, 3, 3), 1, 1),
    ("512->512 7^2 N8", (8, 512, 7, 7), (512, 512, 3, 3), 1, 1),
    ("resnext g32 128ch 56^2 N4", (4, 128, 56, 56), (128, 4, 3, 3), 32, 1),
    ("8->64 56^2 N4", (4, 8, 56, 56), (64, 8, 3, 3), 1, 1),
    ("3->64 224^2 N1", (1, 3, 224, 224), (64, 3, 3, 3), 1, 1),
    ("8->8 5x5 64^2 N2", (2, 8, 64, 64), (8, 8, 5, 5), 1, 2),
]
ALGORITHMS = ("direct", "gemm", "winograd", "winograd_f2")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import numba

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    print(f"{'shape':<28}" + "".join(f"{a:>13}" for a in ALGORITHMS + ("torch",)) + f"{'auto':>13}{'fastest':>13}")
    for name, xs, ws, groups, padding in SHAPES:
        x = rng.standard_normal(xs, dtype=np.float32)
        w = rng.standard_normal(ws, dtype=np.float32)
        params = numbaconv.conv_params("conv2d", 2, xs, ws, groups=groups, padding=padding)
        names = [a for a in ALGORITHMS if a in applicable_algorithms(params)]
        fns = {a: (lambda a=a: numbaconv.conv2d(x, w, groups=groups, padding=padding, algorithm=a)) for a in names}
        if torch is not None:
            tx, tw = torch.from_numpy(x), torch.from_numpy(w)
            fns["torch"] = lambda: torch.nn.functional.conv2d(tx, tw, groups=groups, padding=padding)
        for fn in fns.values():
            fn()
        times = {k: float("inf") for k in fns}
        for _ in range(args.repeat):  # interleaved, so drift hits every contender alike
            for k, fn in fns.items():
                times[k] = min(times[k], best_time(fn, 1))
        ours = {k: t for k, t in times.items() if k != "torch"}
        cells = "".join(f"{times[a] * 1e3:>11.2f}ms" if a in times else f"{'-':>13}" for a in ALGORITHMS + ("torch",))
        print(f"{name:<28}{cells}{numbaconv.select_algorithm(params):>13}{min(ours, key=ours.get):>13}", flush=True)


if __name__ == "__main__":
    main()
