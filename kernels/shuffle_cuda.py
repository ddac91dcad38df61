"""CUDA data-movement kernel for channel_shuffle, pixel_shuffle and pixel_unshuffle.

The device twin of kernels/shuffle.py: one gather from a permuted (strided) 6-d view of the input into a
C-contiguous output, both seen as unsigned-integer words of the elements' bytes (last axis = words per
element), so every dtype shares one compiled kernel per word size. The caller builds the views.
"""

from ._cuda_target import cuda
from ._device import device
from ._rules import unravel_body

unravel = device(unravel_body)


@cuda.jit
def permute_copy_cuda(src, out):
    """out[...] = src[...] for a 6-d strided `src` and a C-contiguous `out` of the same shape.

    One thread per output element (grid-stride over the first five axes, in C order); neighbouring threads
    write neighbouring elements, so the stores coalesce. Each thread moves its element's words, written once.
    """
    d0, d1, d2, d3, d4, d5 = out.shape
    total = d0 * d1 * d2 * d3 * d4
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        i0, i1, i2, i3, i4 = unravel(t, d1, d2, d3, d4, False)
        for i5 in range(d5):
            out[i0, i1, i2, i3, i4, i5] = src[i0, i1, i2, i3, i4, i5]
