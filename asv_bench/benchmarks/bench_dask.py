"""numbaconv.dask: a 3x3 conv over a dask array against the in-memory call on the same array (the chunking,
halo and scheduling overhead of the dask layer); setup raises NotImplementedError (asv skips) without dask."""

from ._common import THREADS


class DaskConv2d:
    """A (1, 1, 4096, 4096) float32 image, 3x3 reflect conv, in 16 chunks of 1024^2 on dask's synchronous
    scheduler (the calling thread, so both calls run with the same Numba threads), and in memory."""

    timeout = 300

    def setup(self):
        try:
            import dask.array as da
        except ImportError:
            raise NotImplementedError("dask is not installed") from None
        import numba
        import numpy as np

        import numbaconv
        import numbaconv.dask

        numba.set_num_threads(min(THREADS, numba.config.NUMBA_NUM_THREADS))
        rng = np.random.default_rng(0)
        x = rng.random((1, 1, 4096, 4096), dtype=np.float32)
        w = rng.standard_normal((1, 1, 3, 3), dtype=np.float32)
        xd = da.from_array(x, chunks=(1, 1, 1024, 1024))
        self.in_memory = lambda: numbaconv.conv2d(x, w, padding=1, padding_mode="reflect")
        self.over_dask = lambda: numbaconv.dask.conv2d(xd, w, padding=1, padding_mode="reflect").compute(
            scheduler="synchronous"
        )
        self.in_memory()  # compile outside the timed region
        self.over_dask()

    def time_dask(self):
        self.over_dask()

    def time_in_memory(self):
        self.in_memory()

    def track_overhead(self):
        """dask time / in-memory time on the same cores (1.0: no overhead)."""
        from numbaconv.bench import best_time

        return best_time(self.over_dask, 3) / best_time(self.in_memory, 3)

    track_overhead.unit = "ratio"
