"""CPU data-movement kernels for channel_shuffle, pixel_shuffle and pixel_unshuffle.

All three ops are a copy of a permuted (strided) view of the input into a C-contiguous output, so one
gather kernel serves them: the caller builds the view. Arrays arrive as unsigned-integer "words"
of the element's bytes (last axis = words per element), so every dtype shares a handful of compiled
signatures and the bytes move untouched.
"""

from numba import prange

from ._jit import kernel


@kernel
def permute_copy_cpu(src, out):
    """out[...] = src[...] for a 6-d strided `src` and a C-contiguous `out` of the same shape.

    Parallel over the leading two axes (the caller arranges them to hold enough work); the innermost loop
    runs along out's last element axis, so writes are sequential. Each output element is written once.
    """
    d0, d1, d2, d3, d4, d5 = out.shape
    for t in prange(d0 * d1):
        i0 = t // d1
        i1 = t % d1
        for i5 in range(d5):
            for i2 in range(d2):
                for i3 in range(d3):
                    for i4 in range(d4):
                        out[i0, i1, i2, i3, i4, i5] = src[i0, i1, i2, i3, i4, i5]
