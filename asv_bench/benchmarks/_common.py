"""Shared asv machinery: every benchmark class times one family of numbaconv.bench.CASES."""

import os

from numbaconv.bench import CASES, best_time

# The machine has 2 cores; pin Numba's threads so runs are comparable across machines with more.
THREADS = int(os.environ.get("NUMBACONV_BENCH_THREADS", "2"))


def names(*families, tags=None):
    return [c.name for c in CASES.values() if c.family in families and (tags is None or set(tags) & set(c.tags))]


def family(name: str, doc: str, *families, tags=None):
    """A benchmark class for one op family: params over its named real-network shapes; setup warms the JIT.

    Built by a function so that asv discovers it only where a bench_<family>.py module binds it.
    """

    class Bench:
        param_names = ["case"]
        params = [names(*families, tags=tags)]
        timeout = 300

        def setup(self, case):
            import numba

            numba.set_num_threads(min(THREADS, numba.config.NUMBA_NUM_THREADS))
            self.calls = CASES[case].make()
            self.fn = self.calls["numbaconv"]
            self.fn()  # compile outside the timed region

        def time_op(self, case):
            self.fn()

        def peakmem_op(self, case):
            self.fn()

        def track_gflops(self, case):
            return self.calls["flops"] / best_time(self.fn, 3) / 1e9 if self.calls["flops"] else 0.0

        track_gflops.unit = "GFLOP/s"

        def track_gbps(self, case):
            return self.calls["bytes"] / best_time(self.fn, 3) / 1e9

        track_gbps.unit = "GB/s"

    Bench.__name__ = Bench.__qualname__ = name
    Bench.__doc__ = doc
    return Bench
