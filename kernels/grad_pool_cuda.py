"""CUDA gradients of max pooling and max unpooling, and the check of max pooling's saved indices: the CPU's bodies
(kernels/grad_pool.py) as device functions.

The gathers run one thread per input element on the 3-D grid of `each_output` (kernels/_grid_cuda.py), one kernel
per layout, reading grad_output in its storage dtype and summing in the compute dtype. The check runs one thread
per (n, c) plane, which scans the plane's outputs in order, as the CPU does; the launcher reads the per-plane
results back before any gradient kernel runs. The other gradients are the interpolation kernels
(kernels/unpool_cuda.py) on transposed tap tables.
"""

import functools

import numpy as np

from ._cuda_target import cuda
from ._device import device, device_walk
from ._grid_cuda import each_output
from .grad_pool import first_stray_body, max_grad_tap_body, unpooled_at_body

unpooled_at = device(unpooled_at_body)
first_stray = device(first_stray_body)


@functools.cache
def max_pool_grad_cuda(acc_name: str, channels_last: bool):
    """out = the gradient of max pooling w.r.t. its input, summed in `acc_name` (`max_grad_tap_body` over the
    covering outputs)."""
    acc_t = np.dtype(acc_name).type
    window = device_walk(max_grad_tap_body)

    @cuda.jit(device=True)
    def one(args, n, c, iz, iy, ix):
        g, idx, td, th, tw, out = args
        pos = (np.int64(iz) * out.shape[3] + iy) * out.shape[4] + ix
        out[n, c, iz, iy, ix] = window(td, th, tw, iz, iy, ix, acc_t(0), (g, idx, n, c, pos))

    walk = each_output(one, channels_last)

    @cuda.jit
    def kernel(g, idx, td, th, tw, out):
        walk(out.shape, (g, idx, td, th, tw, out))

    return kernel


def _unpooled_one(args, n, c, pd, ph, pw):
    g, idx, out = args
    out[n, c, pd, ph, pw] = unpooled_at(g, idx, n, c, pd, ph, pw)


@functools.cache
def max_unpool_grad_cuda(channels_last: bool):
    """out = g at the indices (`unpooled_at`), of one layout."""
    walk = each_output(device(_unpooled_one), channels_last)

    @cuda.jit
    def kernel(g, idx, out):
        walk(out.shape, (g, idx, out))

    return kernel


@cuda.jit
def first_stray_cuda(idx, md, mh, mw, in_h, in_w, plane, firsts):
    """firsts[n, c] = `first_stray` of plane (n, c): one thread per plane, channel-fastest, grid-stride."""
    chans = idx.shape[1]
    for t in range(cuda.grid(1), idx.shape[0] * chans, cuda.gridsize(1)):
        firsts[t // chans, t % chans] = first_stray(idx, t // chans, t % chans, md, mh, mw, in_h, in_w, plane)
