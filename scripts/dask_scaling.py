"""How numbaconv.dask scales on a dask.distributed LocalCluster, against the in-memory call on the same data.

A (1, C, size, size) float32 image (C = 1 and 3) is generated on the workers (dask's default_rng, in fixed
1024-pixel generation chunks, rechunked to each chunk size, so that every run reads the same values) and kept in
their memory; each op runs through numbaconv.dask and is reduced to one number (`.sum()` in float64), so nothing
big is gathered. The in-memory call computes the same array and the same sum in this process. Both sums must
agree (the check column).

Ops: conv3x3 and conv7x7 (reflect padding, C -> C channels), conv3x3s2+maxpool (a stride-2 3x3 conv, zero padding
1, then a 2x2 max pool). Workers: one thread each (--threads-per-worker), numbaconv.dask.setup_workers gives each
its Numba thread count (the cores over all worker threads, at least 1) and compiles the kernels; every op also
runs once on a small array on the cluster before the timed runs.

Columns:
  dask s        wall time of building the graph, computing on the cluster and gathering the sum (best of --repeat)
  mem s         the same op and sum in memory in this process (Numba on every core), best of --repeat
  speedup       mem s / dask s
  overhead      (dask s x cores the cluster runs on) / (mem s x cores the in-memory call runs on): core-seconds
                spent relative to the in-memory call (1.0: none); cores = min(the machine's cores, the threads the
                run may use). More worker threads than cores (4 workers on 2 cores) count as the cores only.
  peak worker   the largest resident memory of any worker during the run (sampled every 0.2 s), GB, with the
                persisted input in it; `peak sum` is the sum over the workers
  mem peak      the in-memory run's peak resident memory of this process (input, result and temporaries), GB

    python scripts/dask_scaling.py [--size 20000] [--chunks 1024 2048 4096] [--workers 1 2 4]
                                   [--ops conv3x3 conv7x7 conv3x3s2+maxpool] [--channels 1 3] [--repeat 1]
    python scripts/dask_scaling.py --quick      # 4096^2, chunks 1024 and 2048, 1 and 2 workers, one channel
"""

from __future__ import annotations

import argparse
import gc
import threading
import time
from collections.abc import Callable

import dask
import dask.array as da
import numpy as np
import psutil
from dask.system import CPU_COUNT

import numbaconv
import numbaconv.dask

GENERATION_CHUNK = 1024


def op_calls(channels: int) -> dict[str, tuple[Callable, Callable]]:
    """Per op name: (in-memory call, numbaconv.dask call), both of x -> result."""
    rng = np.random.default_rng(1)
    w3 = rng.standard_normal((channels, channels, 3, 3), dtype=np.float32) / 9
    w7 = rng.standard_normal((channels, channels, 7, 7), dtype=np.float32) / 49

    def conv_pool(conv, pool):
        return lambda x: pool(conv(x, w3, stride=2, padding=1), 2)

    return {
        "conv3x3": (
            lambda x: numbaconv.conv2d(x, w3, padding=1, padding_mode="reflect"),
            lambda x: numbaconv.dask.conv2d(x, w3, padding=1, padding_mode="reflect"),
        ),
        "conv7x7": (
            lambda x: numbaconv.conv2d(x, w7, padding=3, padding_mode="reflect"),
            lambda x: numbaconv.dask.conv2d(x, w7, padding=3, padding_mode="reflect"),
        ),
        "conv3x3s2+maxpool": (
            conv_pool(numbaconv.conv2d, numbaconv.max_pool2d),
            conv_pool(numbaconv.dask.conv2d, numbaconv.dask.max_pool2d),
        ),
    }


def image(size: int, channels: int):
    """The lazy test image: the same values whatever chunks it is later rechunked to."""
    return da.random.default_rng(0).random(
        (1, channels, size, size), dtype=np.float32, chunks=(1, channels, GENERATION_CHUNK, GENERATION_CHUNK)
    )


def _rss() -> int:
    return psutil.Process().memory_info().rss


class PeakRSS:
    """Peak resident memory per worker of `client` (or of this process without one), sampled in a thread."""

    def __init__(self, client=None, interval: float = 0.2):
        self.client, self.interval = client, interval
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()

    def _sample(self) -> None:
        sizes = self.client.run(_rss) if self.client is not None else {"local": _rss()}
        for name, rss in sizes.items():
            self.peak[name] = max(self.peak.get(name, 0), rss)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> PeakRSS:
        self._sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def best(fn: Callable[[], float], repeat: int) -> tuple[float, float]:
    """(best wall time of `repeat` calls, the value of the last)."""
    times, value = [], 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def in_memory(size: int, channels: int, ops: list[str], repeat: int) -> dict[str, tuple[float, float, float]]:
    """Per op: (seconds, sum, peak RSS in GB) of the in-memory call, Numba on every core."""
    import numba

    numba.set_num_threads(min(CPU_COUNT, numba.config.NUMBA_NUM_THREADS))
    with dask.config.set(scheduler="threads"):
        x = image(size, channels).compute()
    calls = op_calls(channels)
    small = x[:, :, :256, :256].copy()
    results = {}
    for name in ops:
        fn = calls[name][0]
        fn(small)  # compile outside the timed region
        gc.collect()
        with PeakRSS() as peak:
            seconds, total = best(lambda fn=fn, x=x: float(fn(x).sum(dtype=np.float64)), repeat)
        results[name] = (seconds, total, peak.peak["local"] / 1e9)
    del x
    gc.collect()
    return results


def on_cluster(args, channels: int, workers: int, baseline: dict) -> list[str]:
    """The table rows of one cluster size: every chunk size and op."""
    from distributed import Client, LocalCluster, wait

    rows = []
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=args.threads_per_worker, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        report = numbaconv.dask.setup_workers(client, ops=["conv", "pool"], dtypes=["float32"], layouts=["first"])
        numba_threads = max(r["numba_threads"] for r in report.values())
        cores = min(CPU_COUNT, workers * args.threads_per_worker * numba_threads)
        calls = op_calls(channels)
        for chunk in args.chunks:
            x = client.persist(image(args.size, channels).rechunk((1, channels, chunk, chunk)))
            wait(x)
            warm = image(3 * 64, channels).rechunk((1, channels, 64, 64))
            for name in args.ops:
                fn = calls[name][1]
                fn(warm).sum().compute()  # every block signature compiled (or loaded) on the workers
                with PeakRSS(client) as peak:
                    seconds, total = best(lambda fn=fn, x=x: float(fn(x).sum(dtype=np.float64).compute()), args.repeat)
                mem_seconds, mem_total, _ = baseline[name]
                overhead = seconds * cores / (mem_seconds * CPU_COUNT)
                check = "ok" if abs(total - mem_total) <= 1e-6 * abs(mem_total) else f"DIFF {total - mem_total:.3g}"
                rows.append(
                    f"{channels:>2} {name:<18} {workers:>7} {chunk:>6} {numba_threads:>6} {seconds:>8.2f} "
                    f"{mem_seconds:>7.2f} {mem_seconds / seconds:>8.2f} {overhead:>9.2f} "
                    f"{max(peak.peak.values()) / 1e9:>12.2f} {sum(peak.peak.values()) / 1e9:>9.2f}  {check}"
                )
                print(rows[-1], flush=True)
            del x
            client.run(gc.collect)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--chunks", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--ops", nargs="+", default=list(op_calls(1)), choices=list(op_calls(1)))
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="4096^2, chunks 1024 2048, 1 and 2 workers, C=1")
    args = parser.parse_args()
    if args.quick:
        args.size, args.chunks, args.workers, args.channels = 4096, [1024, 2048], [1, 2], [1]
    print(
        f"size {args.size}^2 float32, {CPU_COUNT} cores, threads per worker {args.threads_per_worker}, "
        f"best of {args.repeat}"
    )
    header = (
        " C op                 workers  chunk  numba   dask s   mem s  speedup  overhead  peak worker  peak sum  check"
    )
    table = []
    for channels in args.channels:
        baseline = in_memory(args.size, channels, args.ops, args.repeat)
        for name, (seconds, _, peak) in baseline.items():
            print(f"in memory: C={channels} {name}: {seconds:.2f} s, peak RSS {peak:.2f} GB", flush=True)
        print(header, flush=True)
        for workers in args.workers:
            table += on_cluster(args, channels, workers, baseline)
    print("\n" + header)
    print("\n".join(table))


if __name__ == "__main__":
    main()
