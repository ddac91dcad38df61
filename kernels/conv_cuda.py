"""CUDA convolution kernels on 5-D (N, C, D, H, W) device views, the same index tables as the CPU kernels.

Kernels are built by factories per accumulate dtype (and tile), cached: shared-memory shapes and the
accumulator type must be compile-time constants. Inputs of any storage dtype (float16 included) are read
and converted to the accumulator type, so float16 accumulates in float32 with no converted copy.

The residual (added after the bias, before the activation) is each kernel's last parameter, `residual=None`.
numba-cuda cannot pass None to a kernel (its launch has no argument model for it), so a call without a residual
leaves the parameter out: it is then typed as the omitted default, which takes no kernel parameter, and Numba
prunes the `residual is None` test of `add_residual` at compile time, so the kernel compiles to the PTX it had
before it took a residual (compared with numba.cuda.compile_ptx). A residual of any storage dtype is read and
converted like the inputs.
"""

import functools

import numpy as np

from ._cuda_target import cuda
from ._device import device, device_walk
from ._epilogue import activate_body, add_residual_body
from ._rules import unravel_body

unravel = device(unravel_body)
add_residual = device(add_residual_body)


def device_activate():
    """The fused activation (kernels/_epilogue.py) as a CUDA device function."""
    return device(activate_body)


def _conv_tap(acc, args, kd, kh, kw, iz, iy, ix):
    """acc += input element (iz, iy, ix) of channel ci times the weight of tap (kd, kh, kw) (weight channel cw)."""
    x, w, n, ci, o, cw, acc_t = args
    return acc + acc_t(x[n, ci, iz, iy, ix]) * acc_t(w[o, cw, kd, kh, kw])


def _conv_padded_tap(acc, args, kd, kh, kw):
    """acc += 0 * the weight of a tap on zero padding: nothing for a finite weight, NaN for NaN or +-Inf (torch)."""
    _, w, _, _, o, cw, acc_t = args
    return acc + acc_t(0) * acc_t(w[o, cw, kd, kh, kw])


@functools.cache
def conv_direct_cuda(acc_name: str):
    """One thread per output (grid-stride), any groups/dilation/padding mode; coalesced along W.

    Also the "depthwise" algorithm on CUDA (groups == C_in: one input channel per thread's sum); a separate
    copy of this loop added nothing until it has shared-memory tiling of its own.
    """
    acc_t, activate = np.dtype(acc_name).type, device_activate()
    window = device_walk(_conv_tap, _conv_padded_tap)

    @cuda.jit
    def kernel(x, w, bias, md, mh, mw, groups, act, consts, out, residual=None):
        n_batch, c_out, o_d, o_h, o_w = out.shape
        c_group = w.shape[1]
        out_per_group = c_out // groups
        total = n_batch * c_out * o_d * o_h * o_w
        for t in range(cuda.grid(1), total, cuda.gridsize(1)):
            n, o, od, oh, ow = unravel(t, c_out, o_d, o_h, o_w, False)
            c0 = (o // out_per_group) * c_group
            acc = acc_t(0)
            for c in range(c_group):
                acc = window(md, mh, mw, od, oh, ow, acc, (x, w, n, c0 + c, o, c, acc_t))
            v = add_residual(acc + acc_t(bias[o]), residual, (n, o, od, oh, ow), acc_t)
            out[n, o, od, oh, ow] = activate(v, act, consts)

    return kernel


@functools.cache
def conv_gemm_cuda(acc_name: str, tile: int):
    """Implicit GEMM: out[o, p] = sum_r W[o, r] * col[r, p] with col gathered on the fly (no im2col buffer).

    Grid (pixel tiles, channel tiles, N * groups); each block stages a tile x tile slice of the weights and of
    the gathered input in shared memory per step of the reduction, each thread owns one output.
    """
    acc_t, activate = np.dtype(acc_name).type, device_activate()
    acc_dtype = np.dtype(acc_name)

    @cuda.jit
    def kernel(x, w, bias, md, mh, mw, groups, act, consts, out, residual=None):
        _, c_out, o_d, o_h, o_w = out.shape
        pixels = o_d * o_h * o_w
        out_per_group = c_out // groups
        c_group, k_d, k_h, k_w = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
        taps = k_d * k_h * k_w
        reduction = c_group * taps
        n = cuda.blockIdx.z // groups
        g = cuda.blockIdx.z % groups
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        p = cuda.blockIdx.x * tile + tx
        o_local = cuda.blockIdx.y * tile + ty
        a_tile = cuda.shared.array((tile, tile), acc_dtype)
        b_tile = cuda.shared.array((tile, tile), acc_dtype)
        has_p = p < pixels
        _, _, od, oh, ow = unravel(p, 1, o_d, o_h, o_w, False)
        acc = acc_t(0)
        for r0 in range(0, reduction, tile):
            r = r0 + tx
            if o_local < out_per_group and r < reduction:
                c, _, kd, kh, kw = unravel(r, 1, k_d, k_h, k_w, False)  # r = ((c * k_d + kd) * k_h + kh) * k_w + kw
                a_tile[ty, tx] = acc_t(w[g * out_per_group + o_local, c, kd, kh, kw])
            else:
                a_tile[ty, tx] = acc_t(0)
            rb = r0 + ty
            value = acc_t(0)
            if has_p and rb < reduction:
                c, _, kd, kh, kw = unravel(rb, 1, k_d, k_h, k_w, False)
                iz, iy, ix = md[od, kd], mh[oh, kh], mw[ow, kw]
                if iz >= 0 and iy >= 0 and ix >= 0:
                    value = acc_t(x[n, g * c_group + c, iz, iy, ix])
            b_tile[ty, tx] = value
            cuda.syncthreads()
            for j in range(tile):
                acc += a_tile[ty, j] * b_tile[j, tx]
            cuda.syncthreads()
        if has_p and o_local < out_per_group:
            o = g * out_per_group + o_local
            v = add_residual(acc + acc_t(bias[o]), residual, (n, o, od, oh, ow), acc_t)
            out[n, o, od, oh, ow] = activate(v, act, consts)

    return kernel
