"""Winograd F(2x2, 3x3) transforms for 3x3 stride-1 2-D convolution (Lavin & Gray, 2015), CPU.

Each 4x4 input tile d (stride 2, zero outside the image) becomes V = B^T d B; the 3x3 weights become
U = G g G^T (winograd_weights_*); the 16 products M[k] = U[k] @ V[k] are BLAS GEMMs over channels;
each 2x2 output tile is A^T M A. A tile's 16 values live at [k, channel, tile] with k = 4 * row + column, tiles
numbered (tile row, tile column) across images: tile row r is image r // tiles_h, row r % tiles_h.

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]

The coefficients are 0 and +-1 (and 1/2 in G), so the transforms add no rounding beyond the sums themselves.
"""

import numpy as np

from ._epilogue import activate, add_residual
from ._jit import inline, serial_kernel


@inline
def _bt(a0, a1, a2, a3):
    """B^T applied to one column (or row) of four values."""
    return a0 - a2, a1 + a2, a2 - a1, a1 - a3


@inline
def _at(a0, a1, a2, a3):
    """A^T applied to one column (or row) of four values."""
    return a0 + a1 + a2, a1 - a2 - a3


@inline
def _g(a0, a1, a2):
    """G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]] applied to three values."""
    return a0, (a0 + a1 + a2) * 0.5, (a0 - a1 + a2) * 0.5, a2


@serial_kernel
def winograd_weights_f23(w9, u):
    """u[k, i] = (G g G^T)[k] for the 3x3 kernel g = w9[i] (row-major taps), in float64 and rounded once to u's
    dtype; the caller pads u's rows apart, so its many store streams do not collide."""
    for i in range(w9.shape[0]):
        # G down the three columns of g: t<row><col>
        t00, t10, t20, t30 = _g(np.float64(w9[i, 0]), np.float64(w9[i, 3]), np.float64(w9[i, 6]))
        t01, t11, t21, t31 = _g(np.float64(w9[i, 1]), np.float64(w9[i, 4]), np.float64(w9[i, 7]))
        t02, t12, t22, t32 = _g(np.float64(w9[i, 2]), np.float64(w9[i, 5]), np.float64(w9[i, 8]))
        u[0, i], u[1, i], u[2, i], u[3, i] = _g(t00, t01, t02)
        u[4, i], u[5, i], u[6, i], u[7, i] = _g(t10, t11, t12)
        u[8, i], u[9, i], u[10, i], u[11, i] = _g(t20, t21, t22)
        u[12, i], u[13, i], u[14, i], u[15, i] = _g(t30, t31, t32)


@inline
def _store_col(v, k, i, a0, a1, a2, a3):
    """B^T along a tile row (a0..a3), stored at transform points k..k+3, position i of their planes."""
    b0, b1, b2, b3 = _bt(a0, a1, a2, a3)
    v[k, i] = b0
    v[k + 1, i] = b1
    v[k + 2, i] = b2
    v[k + 3, i] = b3


@inline
def _strip_columns(width, in_w, pad_left):
    """Columns [j_lo, j_hi) of a zero-padded strip of `width` that hold input columns j - pad_left."""
    j_lo = min(pad_left, width)
    return j_lo, max(j_lo, min(width, in_w + pad_left))


@inline
def _fill_strip(x, n, c, iy0, pad_left, j_lo, j_hi, strip):
    """strip[i] = input row iy0 + i of x[n, c] at columns j_lo..j_hi (shifted by pad_left), zero outside the
    image; columns outside [j_lo, j_hi) are never written, so they stay the zeros the strip started with."""
    in_h = x.shape[2]
    for i in range(strip.shape[0]):
        iy = iy0 + i
        if 0 <= iy < in_h:
            for j in range(j_lo, j_hi):
                strip[i, j] = x[n, c, iy, j - pad_left]
        else:
            strip[i, j_lo:j_hi] = 0


# Both transforms are serial on purpose: they run between BLAS calls, whose threads keep spinning for a while
# after each call, and a parallel transform competing with them ran 3.5x slower than the serial one (measured
# on a 2-core machine: ResNet 3x3 64ch 56^2 N4, 29 ms against 8.3 ms).
@serial_kernel
def winograd_input_f23(x, pad_top, pad_left, tiles_h, tiles_w, r0, r1, v):
    """v[k, c * tiles + t] = (B^T d B)[k] for the tiles of tile rows r0..r1 of x (N, C, H, W), any strides;
    v is C-contiguous (16, plane), so the stores are unit-stride (a strided 3-D view made them scatters).

    Each tile row's four input rows are first copied into a zero-padded strip, so the tile loop reads without
    bounds tests or branches (it vectorises), and every tile value is a scalar: a 4x4 scratch tile cost 8x
    (LLVM kept it in memory, fearing it aliases v)."""
    width = 2 * tiles_w + 2
    j_lo, j_hi = _strip_columns(width, x.shape[3], pad_left)
    strip = np.zeros((4, width), v.dtype)
    for c in range(x.shape[1]):
        for r in range(r0, r1):
            _fill_strip(x, r // tiles_h, c, 2 * (r % tiles_h) - pad_top, pad_left, j_lo, j_hi, strip)
            t0 = c * (r1 - r0) * tiles_w + (r - r0) * tiles_w
            for tx in range(tiles_w):
                j = 2 * tx
                # B^T down the strip's four columns j..j+3, then along each resulting row
                s00, s10, s20, s30 = _bt(strip[0, j], strip[1, j], strip[2, j], strip[3, j])
                s01, s11, s21, s31 = _bt(strip[0, j + 1], strip[1, j + 1], strip[2, j + 1], strip[3, j + 1])
                s02, s12, s22, s32 = _bt(strip[0, j + 2], strip[1, j + 2], strip[2, j + 2], strip[3, j + 2])
                s03, s13, s23, s33 = _bt(strip[0, j + 3], strip[1, j + 3], strip[2, j + 3], strip[3, j + 3])
                _store_col(v, 0, t0 + tx, s00, s01, s02, s03)
                _store_col(v, 4, t0 + tx, s10, s11, s12, s13)
                _store_col(v, 8, t0 + tx, s20, s21, s22, s23)
                _store_col(v, 12, t0 + tx, s30, s31, s32, s33)


@serial_kernel
def winograd_output_f23(m, bias, tiles_h, tiles_w, r0, r1, residual, act, consts, out):
    """out[n, o, 2x2 tile] = activation(A^T M A + bias[o] + residual there) for the tiles of tile rows r0..r1
    (residual laid out as out, or None); m is C-contiguous (16, plane) holding M[k, o, t] at m[k, o * tiles + t].
    Whole tiles store without tests."""
    o_h, o_w = out.shape[2], out.shape[3]
    full_w = o_w // 2  # tiles whose two columns are both inside
    for o in range(out.shape[1]):
        b = bias[o]
        for r in range(r0, r1):
            n = r // tiles_h
            oy = 2 * (r % tiles_h)
            both_rows = oy + 1 < o_h
            t0 = o * (r1 - r0) * tiles_w + (r - r0) * tiles_w
            for tx in range(tiles_w):
                t = t0 + tx
                # A^T down the columns (s[i][b]), then along the two resulting rows
                s00, s10 = _at(m[0, t], m[4, t], m[8, t], m[12, t])
                s01, s11 = _at(m[1, t], m[5, t], m[9, t], m[13, t])
                s02, s12 = _at(m[2, t], m[6, t], m[10, t], m[14, t])
                s03, s13 = _at(m[3, t], m[7, t], m[11, t], m[15, t])
                y00, y01 = _at(s00, s01, s02, s03)
                y10, y11 = _at(s10, s11, s12, s13)
                ox = 2 * tx
                out[n, o, oy, ox] = activate(add_residual(y00 + b, residual, (n, o, oy, ox)), act, consts)
                if tx < full_w:
                    y01 = add_residual(y01 + b, residual, (n, o, oy, ox + 1))
                    out[n, o, oy, ox + 1] = activate(y01, act, consts)
                if both_rows:
                    y10 = add_residual(y10 + b, residual, (n, o, oy + 1, ox))
                    out[n, o, oy + 1, ox] = activate(y10, act, consts)
                    if tx < full_w:
                        y11 = add_residual(y11 + b, residual, (n, o, oy + 1, ox + 1))
                        out[n, o, oy + 1, ox + 1] = activate(y11, act, consts)


# ---- F(4x4, 3x3): 6x6 input tiles at stride 4, 36 transform points, k = 6 * row + column ----
#
#     B^T = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
#            [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
#     G   = [[1/4, 0, 0], [-1/6, -1/6, -1/6], [-1/6, 1/6, -1/6], [1/24, 1/12, 1/6], [1/24, -1/12, 1/6], [0, 0, 1]]
#     A^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
#
# Constants arrive typed (c2, c4, c8 in the data's dtype): a Python int literal would promote float32 to float64.


@inline
def _bt6(a0, a1, a2, a3, a4, a5, c2, c4):
    return (
        c4 * (a0 - a2) + (a4 - a2),
        (a3 + a4) - c4 * (a1 + a2),
        (a4 - a3) + c4 * (a1 - a2),
        (a4 - a2) + c2 * (a3 - a1),
        (a4 - a2) - c2 * (a3 - a1),
        c4 * (a1 - a3) + (a5 - a3),
    )


@inline
def _at6(a0, a1, a2, a3, a4, a5, c2, c4, c8):
    return (
        a0 + (a1 + a2) + (a3 + a4),
        (a1 - a2) + c2 * (a3 - a4),
        (a1 + a2) + c4 * (a3 + a4),
        (a1 - a2) + c8 * (a3 - a4) + a5,
    )


@inline
def _g6(a0, a1, a2):
    # float64 only (the weights' transform); the reciprocals are rounded constants, a relative 1e-16
    return (
        a0 * 0.25,
        -(a0 + a1 + a2) / 6.0,
        -(a0 - a1 + a2) / 6.0,
        a0 / 24.0 + a1 / 12.0 + a2 / 6.0,
        a0 / 24.0 - a1 / 12.0 + a2 / 6.0,
        a2,
    )


@serial_kernel
def winograd_weights_f43(w9, u):
    """u[k, i] = (G g G^T)[k], k = 6 * row + column, as winograd_weights_f23."""
    for i in range(w9.shape[0]):
        t00, t10, t20, t30, t40, t50 = _g6(np.float64(w9[i, 0]), np.float64(w9[i, 3]), np.float64(w9[i, 6]))
        t01, t11, t21, t31, t41, t51 = _g6(np.float64(w9[i, 1]), np.float64(w9[i, 4]), np.float64(w9[i, 7]))
        t02, t12, t22, t32, t42, t52 = _g6(np.float64(w9[i, 2]), np.float64(w9[i, 5]), np.float64(w9[i, 8]))
        u[0, i], u[1, i], u[2, i], u[3, i], u[4, i], u[5, i] = _g6(t00, t01, t02)
        u[6, i], u[7, i], u[8, i], u[9, i], u[10, i], u[11, i] = _g6(t10, t11, t12)
        u[12, i], u[13, i], u[14, i], u[15, i], u[16, i], u[17, i] = _g6(t20, t21, t22)
        u[18, i], u[19, i], u[20, i], u[21, i], u[22, i], u[23, i] = _g6(t30, t31, t32)
        u[24, i], u[25, i], u[26, i], u[27, i], u[28, i], u[29, i] = _g6(t40, t41, t42)
        u[30, i], u[31, i], u[32, i], u[33, i], u[34, i], u[35, i] = _g6(t50, t51, t52)


@serial_kernel
def winograd_input_f43(x, pad_top, pad_left, tiles_h, tiles_w, r0, r1, v):
    """v[k, c * tiles + t] = (B^T d B)[k] for the 6x6 tiles of tile rows r0..r1 of x (N, C, H, W).

    Per tile row: the six input rows into a zero-padded strip, B^T down its columns at once (unit stride), then
    B^T along each row of every tile (serial, for the reason given above winograd_input_f23)."""
    dt = v.dtype.type
    c2, c4 = dt(2), dt(4)
    width = 4 * tiles_w + 2
    j_lo, j_hi = _strip_columns(width, x.shape[3], pad_left)
    strip = np.zeros((6, width), v.dtype)
    cols = np.empty((6, width), v.dtype)
    for c in range(x.shape[1]):
        for r in range(r0, r1):
            _fill_strip(x, r // tiles_h, c, 4 * (r % tiles_h) - pad_top, pad_left, j_lo, j_hi, strip)
            for j in range(width):
                cols[0, j], cols[1, j], cols[2, j], cols[3, j], cols[4, j], cols[5, j] = _bt6(
                    strip[0, j], strip[1, j], strip[2, j], strip[3, j], strip[4, j], strip[5, j], c2, c4
                )
            t0 = c * (r1 - r0) * tiles_w + (r - r0) * tiles_w
            for a in range(6):
                k = 6 * a
                for tx in range(tiles_w):
                    j = 4 * tx
                    b0, b1, b2, b3, b4, b5 = _bt6(
                        cols[a, j],
                        cols[a, j + 1],
                        cols[a, j + 2],
                        cols[a, j + 3],
                        cols[a, j + 4],
                        cols[a, j + 5],
                        c2,
                        c4,
                    )
                    v[k, t0 + tx] = b0
                    v[k + 1, t0 + tx] = b1
                    v[k + 2, t0 + tx] = b2
                    v[k + 3, t0 + tx] = b3
                    v[k + 4, t0 + tx] = b4
                    v[k + 5, t0 + tx] = b5


@inline
def _store_row4(out, residual, n, o, oy, ox, cols, y0, y1, y2, y3, b):
    """The first `cols` (1 to 4) of y0..y3 + b (+ the residual there) into out[n, o, oy, ox:]."""
    out[n, o, oy, ox] = add_residual(y0 + b, residual, (n, o, oy, ox))
    if cols > 1:
        out[n, o, oy, ox + 1] = add_residual(y1 + b, residual, (n, o, oy, ox + 1))
    if cols > 2:
        out[n, o, oy, ox + 2] = add_residual(y2 + b, residual, (n, o, oy, ox + 2))
    if cols > 3:
        out[n, o, oy, ox + 3] = add_residual(y3 + b, residual, (n, o, oy, ox + 3))


@inline
def _activate_rows(out, n, o, oy, rows, act, consts):
    """The activation over out[n, o, oy:oy + rows, :] in place, after the tile loop stored the sums: inlined
    into every store, its branches made the F(4x4) output transform 5x slower."""
    if act != 0:
        for i in range(oy, oy + rows):
            row = out[n, o, i]
            for j in range(row.shape[0]):
                row[j] = activate(row[j], act, consts)


@serial_kernel
def winograd_output_f43(m, bias, tiles_h, tiles_w, r0, r1, residual, act, consts, out):
    """out[n, o, 4x4 tile] = activation(A^T M A + bias[o] + residual there) for the tiles of tile rows r0..r1;
    m is C-contiguous (36, plane) holding M[k, o, t] at m[k, o * tiles + t]."""
    o_h, o_w = out.shape[2], out.shape[3]
    dt = m.dtype.type
    c2, c4, c8 = dt(2), dt(4), dt(8)
    for o in range(out.shape[1]):
        b = bias[o]
        for r in range(r0, r1):
            n = r // tiles_h
            oy = 4 * (r % tiles_h)
            rows = min(4, o_h - oy)
            t0 = o * (r1 - r0) * tiles_w + (r - r0) * tiles_w
            for tx in range(tiles_w):
                t = t0 + tx
                # A^T down each of the six columns: s<i><col>
                s00, s10, s20, s30 = _at6(m[0, t], m[6, t], m[12, t], m[18, t], m[24, t], m[30, t], c2, c4, c8)
                s01, s11, s21, s31 = _at6(m[1, t], m[7, t], m[13, t], m[19, t], m[25, t], m[31, t], c2, c4, c8)
                s02, s12, s22, s32 = _at6(m[2, t], m[8, t], m[14, t], m[20, t], m[26, t], m[32, t], c2, c4, c8)
                s03, s13, s23, s33 = _at6(m[3, t], m[9, t], m[15, t], m[21, t], m[27, t], m[33, t], c2, c4, c8)
                s04, s14, s24, s34 = _at6(m[4, t], m[10, t], m[16, t], m[22, t], m[28, t], m[34, t], c2, c4, c8)
                s05, s15, s25, s35 = _at6(m[5, t], m[11, t], m[17, t], m[23, t], m[29, t], m[35, t], c2, c4, c8)
                ox = 4 * tx
                cols = min(4, o_w - ox)
                y0, y1, y2, y3 = _at6(s00, s01, s02, s03, s04, s05, c2, c4, c8)
                _store_row4(out, residual, n, o, oy, ox, cols, y0, y1, y2, y3, b)
                if rows > 1:
                    y0, y1, y2, y3 = _at6(s10, s11, s12, s13, s14, s15, c2, c4, c8)
                    _store_row4(out, residual, n, o, oy + 1, ox, cols, y0, y1, y2, y3, b)
                if rows > 2:
                    y0, y1, y2, y3 = _at6(s20, s21, s22, s23, s24, s25, c2, c4, c8)
                    _store_row4(out, residual, n, o, oy + 2, ox, cols, y0, y1, y2, y3, b)
                if rows > 3:
                    y0, y1, y2, y3 = _at6(s30, s31, s32, s33, s34, s35, c2, c4, c8)
                    _store_row4(out, residual, n, o, oy + 3, ox, cols, y0, y1, y2, y3, b)
            _activate_rows(out, n, o, oy, rows, act, consts)
