"""The 3-D launch grid of the one-thread-per-output CUDA kernels, in unsigned 32-bit index arithmetic.

Numba types integer arithmetic at 64 bits, and a 64-bit division is a subroutine call of about 70
instructions on the GPU: a flat index decoded into five coordinates cost a memory-bound kernel most of its
time. Here the grid itself carries two coordinates (x: W channels-first, C channels-last; y: H, or W
channels-last) and only the slow one, z, is decoded, with every intermediate cast back to uint32 so that
the compiler divides in 32 bits. Numba widens `uint32 op uint32` to 64 bits; the casts let LLVM narrow it.

The launchers check (`numbaconv._cuda.check_elements`) that every sample has fewer than 2**31 elements and
batch × every axis but the last is under 2**31, so no coordinate, coordinate + grid stride or flat plane
position wraps around in uint32 (array addresses stay 64-bit).
"""

import numpy as np

from ._cuda_target import cuda

u32 = np.uint32


@cuda.jit(device=True)
def unravel3(p, o_d, o_h, o_w):
    """(pd, ph, pw) of flat position p (uint32) of a (D, H, W) plane."""
    pw = u32(p % o_w)
    r = u32(p // o_w)
    return u32(r // o_h), u32(r % o_h), pw


@cuda.jit(device=True)
def start(block, dim, thread):
    """This thread's first index along one grid dim."""
    return u32(u32(u32(block) * u32(dim)) + u32(thread))


def each_output(body, channels_last: bool):
    """A device function `walk(shape, args)` calling `body(args, n, c, od, oh, ow)` (uint32 coordinates) for every
    output of the 5-D (N, C, D, H, W) `shape` that this thread owns, grid-stride in all three grid dims so that any
    grid covers any shape. Channels-first: x = ow, y = oh, z = (n * C + c) * D + od; channels-last: x = c,
    y = ow, z = (n * D + od) * H + oh, so that neighbouring threads touch neighbouring memory in either layout."""

    @cuda.jit(device=True)
    def walk(shape, args):
        chans, o_d, o_h, o_w = u32(shape[1]), u32(shape[2]), u32(shape[3]), u32(shape[4])
        fast, mid = (chans, o_w) if channels_last else (o_w, o_h)
        outer, inner = (o_d, o_h) if channels_last else (chans, o_d)  # z = (n * outer + j) * inner + k
        slow = u32(u32(u32(shape[0]) * outer) * inner)
        step_x = u32(u32(cuda.gridDim.x) * u32(cuda.blockDim.x))
        step_y = u32(u32(cuda.gridDim.y) * u32(cuda.blockDim.y))
        z = u32(cuda.blockIdx.z)
        while z < slow:
            k = u32(z % inner)
            r = u32(z // inner)
            j = u32(r % outer)
            n = u32(r // outer)
            y = start(cuda.blockIdx.y, cuda.blockDim.y, cuda.threadIdx.y)
            while y < mid:
                x = start(cuda.blockIdx.x, cuda.blockDim.x, cuda.threadIdx.x)
                while x < fast:
                    if channels_last:
                        body(args, n, x, j, k, y)
                    else:
                        body(args, n, j, k, y, x)
                    x = u32(x + step_x)
                y = u32(y + step_y)
            z = u32(z + u32(cuda.gridDim.z))

    return walk
