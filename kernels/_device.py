"""CUDA device functions of the plain-Python bodies shared with the CPU kernels (kernels/_rules.py,
kernels/_epilogue.py), each compiled once, on first use.

A CUDA-side module: only the *_cuda.py kernels import it, so the CPU kernels never load numba.cuda.
"""

import functools

from ._cuda_target import cuda
from ._rules import walk_taps


@functools.cache
def device(body):
    """`body`, a plain-Python function, as a CUDA device function (the CUDA simulator cannot call an @njit
    function from a @cuda.jit kernel, so the shared rules are compiled once per target from one body)."""
    return cuda.jit(device=True)(body)


@functools.cache
def device_walk(body, padded=None):
    """`walk_taps(body, padded)` (kernels/_rules.py) as a CUDA device function, with the bodies as ones."""
    return device(walk_taps(device(body), None if padded is None else device(padded)))
