"""Command line: `python -m numbaconv demo | info | bench | warmup | train`."""

from __future__ import annotations

import argparse
import platform
import sys


def info(probe: bool = False) -> dict:
    """Versions, threads, threading layer, BLAS and CUDA availability, as a dict (also printed by `info`).

    Numba picks its threading layer at the first parallel kernel launch; with `probe` a tiny kernel runs (and
    compiles, unless cached) so that the layer in use is reported, else the configured choice is."""
    import numba
    import numpy as np
    import scipy

    import numbaconv
    from numbaconv.kernels import cache_enabled

    if probe:
        numbaconv.depthwise_conv2d(np.ones((1, 2, 4, 4), np.float32), np.ones((2, 1, 3, 3), np.float32))
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel region has run in this process
        layer = f"{numba.config.THREADING_LAYER} (chosen at the first parallel kernel launch)"
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    facts = {
        "numbaconv": numbaconv.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "scipy": scipy.__version__,
        "numba threads": numba.get_num_threads(),
        "threading layer": layer,
        "numpy BLAS": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "on-disk cache (NUMBACONV_CACHE)": cache_enabled(),
        "CUDA": _cuda_status(),
    }
    return facts


def _cuda_status() -> str:
    try:
        from numba import cuda
    except ImportError:
        return "numba.cuda not importable"
    try:
        if cuda.is_available():
            name = cuda.get_current_device().name
            return "available: " + (name.decode() if isinstance(name, bytes) else str(name))
    except Exception as exc:  # a driver error is a fact to report, not a crash
        return f"not available ({type(exc).__name__}: {exc})"
    return "not available (no GPU or driver); CUDA arrays need one (or NUMBA_ENABLE_CUDASIM=1 for the simulator)"


def main(argv: list[str] | None = None) -> int:
    import numbaconv

    parser = argparse.ArgumentParser(prog="python -m numbaconv", description=__doc__)
    parser.add_argument("--version", action="version", version=f"numbaconv {numbaconv.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run every op family on a real image, check it, time it, draw a gallery")
    demo.add_argument("--outdir", default="numbaconv_demo_output", help="where the PNG gallery goes")
    demo.add_argument("--repeat", type=int, default=5, help="timed repetitions per op (best is reported)")
    sub.add_parser("info", help="versions, threads, BLAS, CUDA")
    bench = sub.add_parser("bench", help="time numbaconv against torch, SciPy and the NumPy way, print ratios")
    bench.add_argument("--compare", default="torch,scipy,numpy", help="comma-separated: torch, scipy, numpy")
    bench.add_argument("--only", default=None, help="comma-separated substrings of case names")
    bench.add_argument("--repeat", type=int, default=5, help="interleaved rounds; the best of each is kept")
    bench.add_argument("--threads", type=int, default=2, help="threads for numbaconv and torch")
    bench.add_argument("--list", action="store_true", help="list the case names and exit")
    warm = sub.add_parser("warmup", help="compile the CPU kernels ahead of time into the on-disk cache")
    warm.add_argument(
        "--ops",
        default="conv,transpose,pool,unpool,shuffle,grad",
        help="comma-separated op families (grad: the numbaconv.grad kernels)",
    )
    warm.add_argument("--dtypes", default="float32,float64", help="comma-separated: float32, float64")
    warm.add_argument("--layouts", default="first,last", help="comma-separated: first (NCHW), last (NHWC)")
    trainer = sub.add_parser("train", help="train a small CNN on scikit-learn's 8x8 digits with numbaconv's gradients")
    trainer.add_argument("--epochs", type=int, default=15, help="passes over the training digits")
    trainer.add_argument("--out", default="numbaconv_train.png", help="where the loss/accuracy plot goes")
    trainer.add_argument("--seed", type=int, default=0, help="initial weights, split and batch order")
    args = parser.parse_args(argv)
    if args.command == "train":
        from .train import run_train

        return run_train(args.epochs, args.out, args.seed)
    if args.command == "warmup":
        import time

        from .kernels import cache_enabled
        from .warmup import warmup

        start = time.perf_counter()
        count = warmup(args.ops.split(","), args.dtypes.split(","), args.layouts.split(","))
        where = "saved to the on-disk cache" if cache_enabled() else "not saved: NUMBACONV_CACHE=0"
        print(f"{count} steps compiled in {time.perf_counter() - start:.1f} s ({where})")
        return 0
    if args.command == "bench":
        from .bench import CASES, print_table, run_bench

        if args.list:
            print("\n".join(f"{c.family:<10} {name}" for name, c in CASES.items()))
            return 0
        for key, value in info(probe=True).items():
            print(f"{key}: {value}")
        print_table(run_bench(tuple(args.compare.split(",")), args.only, args.repeat, args.threads))
        return 0
    if args.command == "info":
        for key, value in info().items():
            print(f"{key:>34}: {value}")
        return 0
    from .demo import run_demo

    return run_demo(args.outdir, args.repeat)


if __name__ == "__main__":
    sys.exit(main())
