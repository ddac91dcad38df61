"""The CUDA target of the device kernels: numba-cuda's `numba.cuda`, and nothing else.

Every *_cuda.py module binds it as a module global named `cuda` (`from ._cuda_target import cuda`), never as a
closure variable: the CUDA simulator runs a kernel with the module globals that are numba.cuda swapped for its
fake module. Moving to another CUDA target is a change to this file. CPU kernels never import it.
"""

from numba import cuda

__all__ = ["cuda"]
