"""The worker plugin behind numbaconv.dask.setup_workers, apart because it imports dask.distributed (optional:
numbaconv.dask itself needs only dask.array)."""

from __future__ import annotations

import asyncio

from dask.system import CPU_COUNT  # the cores this process may use (affinity, cgroup quota)
from distributed import WorkerPlugin
from distributed.comm import get_address_host

from . import dask as ndask


class NumbaconvWorkers(WorkerPlugin):
    """On each worker: the Numba thread count its blocks apply (numbaconv.dask.WORKER_SETUP) and the warm-up compile."""

    def __init__(self, threads: int | None, warmup: bool, ops: tuple, dtypes: tuple, layouts: tuple):
        self.threads, self.warmup = threads, warmup
        self.ops, self.dtypes, self.layouts = ops, dtypes, layouts

    async def setup(self, worker) -> None:
        threads = self.threads or await _cores_share(worker)
        # compiling takes seconds per kernel: off the event loop, so the worker keeps answering the scheduler
        await asyncio.to_thread(self._configure, threads)

    def _configure(self, threads: int) -> None:
        import numba

        ndask.WORKER_SETUP.update(numba_threads=min(threads, numba.config.NUMBA_NUM_THREADS), warmup_steps=0)
        if self.warmup:
            from .warmup import warmup

            ndask.WORKER_SETUP["warmup_steps"] = warmup(self.ops, self.dtypes, self.layouts, progress=False)

    def teardown(self, worker) -> None:
        ndask.WORKER_SETUP.clear()


async def _cores_share(worker) -> int:
    """The host's cores over the threads of every worker on it (this one included), at least 1."""
    identity = await worker.scheduler.identity()
    host = get_address_host(worker.address)
    threads = sum(w["nthreads"] for w in identity["workers"].values() if w["host"] == host)
    return max(1, CPU_COUNT // max(threads, worker.state.nthreads))
