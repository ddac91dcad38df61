"""The convolution family: conv1d/2d/3d, depthwise, pointwise, depthwise-separable, and the shape helper.

Each public function reads call -> params -> select -> run: a `Call` (numbaconv/_call.py) finds the backend,
views and dtypes, the params object checks every rule, numbaconv/_algorithms.py names the kernel and
numbaconv/_launch_conv.py runs it. All checks happen before any kernel runs.
"""

from __future__ import annotations

import numpy as np

from ._algorithms import select, tuning_candidates
from ._arrays import backend_of, check_real, host_view
from ._call import Call
from ._launch_conv import launch, launch_shuffled
from ._params import ConvParams, conv_params, shape_nd
from ._types import (
    Activation,
    Array,
    ConvAlgorithm,
    DTypeLike,
    IntOrTuple,
    Layout,
    Layout2d,
    Padding,
    PaddingMode,
    Shape,
    Stream,
    for_dims,
)

_COMMON_DOC = """
    bias : ndarray, optional
        ``(C_out,)``, added before the activation.
    stride, dilation : int or tuple of ints
    padding : int, tuple of ints, tuple of (lo, hi) pairs, or str
        ``"valid"``, ``"same"`` (output = ceil(input / stride), the odd extra pixel at the end),
        ``"same_lower"`` (extra pixel at the start) or ``"full"``.
    groups : int
        Input and output channels are split into this many independent groups.
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
        torch's names; SciPy ndimage calls them constant, mirror, nearest and wrap.
    flip : bool
        True computes true convolution (kernel rotated 180 degrees); the default is cross-correlation.
    residual : ndarray, optional
        Added after the bias and before the activation, in the same store:
        ``activation(conv(x, weight) + bias + residual)``, a ResNet block's shortcut in one pass. Exactly the
        result's shape and layout (unbatched when x is), on x's device, any float dtype (read in the compute
        dtype); ``out`` must not overlap it.
    activation : {None, "relu", "relu6", "leaky_relu", "sigmoid", "tanh"}
        Fused with the bias (and residual) into the kernel's store.
    negative_slope : float
        Slope of ``"leaky_relu"`` for negative inputs.
    layout : str
        Channels-first (``"NCW"``, ``"NCHW"``, ``"NCDHW"``, the default) or channels-last (``"NWC"``,
        ``"NHWC"``, ``"NDHWC"``) for the input and the output; the weight is always channels-first.
    out : ndarray, optional
        C-contiguous result array of the exact shape and dtype, not overlapping any input.
    algorithm : str
        ``"auto"`` or one of ``"direct"``, ``"gemm"``, ``"depthwise"``, ``"pointwise"``, ``"fft"``,
        ``"winograd"`` (F(4x4, 3x3)), ``"winograd_f2"`` (F(2x2, 3x3)) where it applies (README), or ``"tune"``:
        time every applicable algorithm on the first call of this signature and keep the fastest
        (numbaconv.tuning).
    dtype : dtype, optional
        Result dtype (float16, float32 or float64); required for integer input. Defaults to x's dtype.
    stream : optional
        CUDA arrays only: the stream to launch on (a Numba stream, a CuPy/torch stream or a raw handle);
        by default CuPy's / torch's current stream.

    Returns
    -------
    ndarray
        ``(N, C_out, *out_spatial)`` in ``layout``, of x's dtype.
"""


def _conv(
    op: str,
    nd: int,
    /,
    x: Array,
    weight: Array,
    bias: Array | None = None,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    residual: Array | None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout | None = None,
    out: Array | None = None,
    algorithm: ConvAlgorithm = "auto",
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    call = Call.weighted(op, x, weight, bias, out, dtype, stream, residual).unbatched(nd, "residual")
    params = conv_params(
        op,
        nd,
        call.x.shape,
        call["weight"].shape,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
        flip=flip,
        activation=activation,
        negative_slope=negative_slope,
        layout=layout,
    )
    return run_conv(call, params, algorithm)


def run_conv(call: Call, params: ConvParams, algorithm: str, one_group: ConvParams | None = None, select_kernel=select):
    """The shared tail of every convolution: bias, residual, kernel choice, `out=` check, tuning, launch.

    With `one_group`, the grouped conv `params` is run one group at a time with its channels shuffled
    (shuffle_conv2d); the kernel is chosen for one group's convolution.
    """
    bias = call.bias("bias", params.out_channels, params.op)
    residual = call.residual(params.out_shape)
    kernel = select_kernel(one_group or params, algorithm, call.backend)
    call.check_out(params.out_shape)
    x, weight = call.compute_input("x"), call.compute_input("weight")

    def fill(kernel_name, target):
        if one_group is None:
            launch(call, params, kernel_name, x, weight, bias, target, residual)
        else:
            launch_shuffled(call, params, one_group, kernel_name, x, weight, bias, target, residual)

    if kernel == "tune":
        from . import tuning

        kernel = tuning.tune(
            params,
            call.compute,
            call.backend,
            tuning_candidates(one_group or params, call.backend),
            lambda name: fill(name, call.scratch(params.out_shape)),
        )
    return call.run(params.out_shape, lambda target: fill(kernel, target))


conv1d = for_dims(_conv, "conv1d", 1)
conv2d = for_dims(_conv, "conv2d", 2)
conv3d = for_dims(_conv, "conv3d", 3)

conv1d.__doc__ = (
    """1-D convolution (cross-correlation) of ``x (N, C_in, W)`` with ``weight (C_out, C_in/groups, kW)``.

    Parameters
    ----------
    x : ndarray
        ``(N, C_in, W)``, or ``(N, W, C_in)`` with ``layout="NWC"``.
    weight : ndarray
        ``(C_out, C_in / groups, kW)``."""
    + _COMMON_DOC
    + """
    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> x = np.arange(5, dtype=np.float32).reshape(1, 1, 5)
    >>> numbaconv.conv1d(x, np.array([[[1, 0, -1]]], np.float32), padding="same")
    array([[[-1., -2., -2., -2.,  3.]]], dtype=float32)
"""
)

conv2d.__doc__ = (
    """2-D convolution (cross-correlation) of ``x (N, C_in, H, W)`` with ``weight (C_out, C_in/groups, kH, kW)``.

    Parameters
    ----------
    x : ndarray
        ``(N, C_in, H, W)``, or ``(N, H, W, C_in)`` with ``layout="NHWC"``.
    weight : ndarray
        ``(C_out, C_in / groups, kH, kW)``."""
    + _COMMON_DOC
    + """
    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> x = np.ones((1, 3, 8, 8), np.float32)
    >>> w = np.ones((4, 3, 3, 3), np.float32)
    >>> numbaconv.conv2d(x, w, stride=2, padding="same").shape
    (1, 4, 4, 4)
    >>> float(numbaconv.conv2d(x, w)[0, 0, 0, 0])
    27.0
    >>> r = np.full((1, 4, 6, 6), -20, np.float32)  # relu(27 - 20): the residual comes before the activation
    >>> float(numbaconv.conv2d(x, w, residual=r, activation="relu")[0, 0, 0, 0])
    7.0
"""
)

conv3d.__doc__ = (
    """3-D convolution (cross-correlation) of ``x (N, C_in, D, H, W)`` with ``weight (C_out, C_in/groups, kD, kH, kW)``.

    Parameters
    ----------
    x : ndarray
        ``(N, C_in, D, H, W)``, or ``(N, D, H, W, C_in)`` with ``layout="NDHWC"``.
    weight : ndarray
        ``(C_out, C_in / groups, kD, kH, kW)``."""
    + _COMMON_DOC
    + """
    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> x = np.ones((1, 1, 4, 4, 4))
    >>> numbaconv.conv3d(x, np.ones((2, 1, 3, 3, 3)), padding=1).shape
    (1, 2, 4, 4, 4)
"""
)


def depthwise_conv2d(
    x: Array,
    weight: Array,
    bias: Array | None = None,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    residual: Array | None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout2d = "NCHW",
    out: Array | None = None,
    algorithm: ConvAlgorithm = "auto",
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    """Depthwise 2-D convolution: each input channel convolved with its own ``multiplier`` filters.

    ``weight`` is ``(C_in * multiplier, 1, kH, kW)``; output channel ``o`` reads input channel
    ``o // multiplier`` (groups = C_in, as torch). Other arguments as :func:`conv2d`.

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> x = np.ones((1, 3, 5, 5), np.float32)
    >>> numbaconv.depthwise_conv2d(x, np.ones((6, 1, 3, 3), np.float32), padding=1).shape
    (1, 6, 5, 5)
    """
    op = "depthwise_conv2d"
    backend_of(op, x=x, weight=weight, bias=bias, residual=residual, out=out)
    channels = depthwise_groups(op, x.shape, weight.shape, layout)
    return _conv(
        op,
        2,
        x,
        weight,
        bias,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=channels,
        padding_mode=padding_mode,
        flip=flip,
        residual=residual,
        activation=activation,
        negative_slope=negative_slope,
        layout=layout,
        out=out,
        algorithm=algorithm,
        dtype=dtype,
        stream=stream,
    )


def depthwise_groups(op: str, x_shape, w_shape, layout: str) -> int:
    """The groups of a depthwise conv (x's channels; 1 for a shape the conv's own checks will refuse), after
    checking that the weight is (C_in * multiplier, 1, kH, kW)."""
    ndim = len(x_shape)
    if ndim in (3, 4) and len(w_shape) == 4 and w_shape[1] != 1:
        raise ValueError(f"{op}: weight.shape[1]={w_shape[1]} must be 1 (weight is (C_in * multiplier, 1, kH, kW))")
    return int(tuple(x_shape)[-1 if layout == "NHWC" else ndim - 3]) if ndim in (3, 4) else 1  # (N,) C, H, W


def as_pointwise_weight(op: str, weight):
    if weight.ndim == 2:
        return weight.reshape(tuple(weight.shape) + (1, 1))
    if weight.ndim == 4 and tuple(weight.shape[2:]) == (1, 1):
        return weight
    raise ValueError(f"{op}: weight.shape={tuple(weight.shape)} must be (C_out, C_in) or (C_out, C_in, 1, 1)")


def pointwise_conv2d(
    x: Array,
    weight: Array,
    bias: Array | None = None,
    *,
    groups: int = 1,
    residual: Array | None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout2d = "NCHW",
    out: Array | None = None,
    algorithm: ConvAlgorithm = "auto",
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    """1x1 convolution: a per-pixel matrix product over channels, run as BLAS GEMM.

    ``weight`` is ``(C_out, C_in / groups)`` or ``(C_out, C_in / groups, 1, 1)``. Other arguments as
    :func:`conv2d`.

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> x = np.ones((1, 3, 2, 2), np.float32)
    >>> numbaconv.pointwise_conv2d(x, np.ones((5, 3), np.float32))[0, :, 0, 0]
    array([3., 3., 3., 3., 3.], dtype=float32)
    """
    op = "pointwise_conv2d"
    backend_of(op, x=x, weight=weight, bias=bias, residual=residual, out=out)
    return _conv(
        op,
        2,
        x,
        as_pointwise_weight(op, weight),
        bias,
        stride=1,
        padding=0,
        dilation=1,
        groups=groups,
        padding_mode="zeros",
        flip=False,
        residual=residual,
        activation=activation,
        negative_slope=negative_slope,
        layout=layout,
        out=out,
        algorithm=algorithm,
        dtype=dtype,
        stream=stream,
    )


def separable_conv2d(
    x: Array,
    depthwise_weight: Array,
    pointwise_weight: Array,
    bias: Array | None = None,
    *,
    depthwise_bias: Array | None = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    padding_mode: PaddingMode = "zeros",
    depthwise_activation: Activation = None,
    residual: Array | None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout2d = "NCHW",
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    """Depthwise-separable 2-D convolution: :func:`depthwise_conv2d` then :func:`pointwise_conv2d`.

    ``depthwise_weight`` is ``(C_in * multiplier, 1, kH, kW)``; ``pointwise_weight`` is
    ``(C_out, C_in * multiplier)`` or ``(C_out, C_in * multiplier, 1, 1)``. ``depthwise_bias`` and
    ``depthwise_activation`` apply between the two steps (MobileNet puts its ReLU there); ``bias``, ``residual``
    (as :func:`conv2d`'s, of the result's shape) and ``activation`` apply to the result. Stride, padding and
    dilation belong to the depthwise step. Both steps are checked before either runs.

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> x = np.ones((1, 3, 6, 6), np.float32)
    >>> dw, pw = np.ones((3, 1, 3, 3), np.float32), np.ones((8, 3), np.float32)
    >>> numbaconv.separable_conv2d(x, dw, pw, padding="same").shape
    (1, 8, 6, 6)
    """
    call = separable_call(x, depthwise_weight, pointwise_weight, bias, depthwise_bias, residual, out, dtype, stream)
    dw_params, pw_params = separable_params(
        call,
        stride=stride,
        padding=padding,
        dilation=dilation,
        padding_mode=padding_mode,
        depthwise_activation=depthwise_activation,
        activation=activation,
        negative_slope=negative_slope,
        layout=layout,
    )
    depthwise_bias = call.bias("depthwise_bias", dw_params.out_channels)
    bias = call.bias("bias", pw_params.out_channels)
    residual = call.residual(pw_params.out_shape)
    call.check_out(pw_params.out_shape)
    depthwise = select(dw_params, "depthwise", call.backend)
    pointwise = select(pw_params, "pointwise" if not call.is_cuda else "gemm", call.backend)
    x, dw, pw = call.compute_input("x"), call.compute_input("depthwise_weight"), call.compute_input("pointwise_weight")

    def fill(target):
        mid = call.empty(dw_params.out_shape, call.compute)
        launch(call, dw_params, depthwise, x, dw, depthwise_bias, mid)
        launch(call, pw_params, pointwise, mid, pw, bias, target, residual)

    return call.run(pw_params.out_shape, fill)


def separable_call(x, depthwise_weight, pointwise_weight, bias, depthwise_bias, residual, out, dtype, stream) -> Call:
    """The call of separable_conv2d: every array on one backend, a float result, real weights, x batched."""
    call = Call(
        "separable_conv2d",
        {
            "x": x,
            "depthwise_weight": depthwise_weight,
            "pointwise_weight": pointwise_weight,
            "bias": bias,
            "depthwise_bias": depthwise_bias,
            "residual": residual,
        },
        outs={"out": out},
        stream=stream,
    )
    return call.float_result(dtype).real("depthwise_weight", "pointwise_weight").unbatched(2, "residual")


def separable_params(
    call: Call, *, stride, padding, dilation, padding_mode, depthwise_activation, activation, negative_slope, layout
) -> tuple[ConvParams, ConvParams]:
    """(depthwise, pointwise) params of separable_conv2d, every rule of both steps checked on the call's shapes;
    the pointwise weight is made 4-d in `call.arrays`. (numbaconv.dask checks a global call with them too.)"""
    op = call.op
    x, depthwise_weight = call.x, call["depthwise_weight"]
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-d ({layout}) or 3-d unbatched, got {x.ndim}-d shape {x.shape}")
    if depthwise_weight.ndim == 4 and depthwise_weight.shape[1] != 1:
        raise ValueError(
            f"{op}: depthwise_weight.shape[1]={depthwise_weight.shape[1]} must be 1 (it is "
            f"(C_in * multiplier, 1, kH, kW))"
        )
    call.arrays["pointwise_weight"] = as_pointwise_weight(op, call["pointwise_weight"])
    channels = tuple(x.shape)[-1 if layout == "NHWC" else 1]
    dw_params = conv_params(
        op,
        2,
        x.shape,
        depthwise_weight.shape,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=channels,
        padding_mode=padding_mode,
        activation=depthwise_activation,
        negative_slope=negative_slope,
        layout=layout,
    )
    pw_params = conv_params(
        op,
        2,
        dw_params.out_shape,
        call["pointwise_weight"].shape,
        activation=activation,
        negative_slope=negative_slope,
        layout=layout,
    )
    return dw_params, pw_params


def conv_output_shape(
    input_shape: Shape,
    weight_shape: Shape,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    layout: Layout | None = None,
) -> tuple[int, ...]:
    """Shape of ``conv{1,2,3}d(x, weight, ...)`` for these shapes, with every rule of the op checked.

    Examples
    --------
    >>> import numbaconv
    >>> numbaconv.conv_output_shape((1, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3)
    (1, 64, 112, 112)
    """
    nd = shape_nd("conv_output_shape", input_shape)
    return conv_params(
        f"conv{nd}d",
        nd,
        tuple(input_shape),
        tuple(weight_shape),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        layout=layout,
    ).out_shape


FILTER_MODES = ("same", "valid", "full")


def filter2d(
    image: Array,
    kernels: Array,
    *,
    mode: str = "same",
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    """Filter a grayscale ``(H, W)`` or colour ``(H, W, C)`` image with one 2-d kernel or a bank of them.

    The SciPy-style front door to :func:`depthwise_conv2d`: each channel is filtered on its own by every kernel
    (no channel mixing), the image is read channels-last as it is stored (no transposed copy). With
    ``mode="same"`` the result is ``scipy.ndimage.correlate(image, kernel, mode=...)`` (``flip=True``:
    ``scipy.ndimage.convolve``), the kernel's origin at its centre ``k // 2`` as SciPy's; ``"valid"`` and
    ``"full"`` are ``scipy.signal.correlate2d``'s sizes.

    Parameters
    ----------
    image : ndarray or CUDA array
        ``(H, W)`` or ``(H, W, C)``; any real dtype (integers need ``dtype=``).
    kernels : ndarray
        One kernel ``(kH, kW)`` or a bank ``(K, kH, kW)``; a small host array (copied to the image's device
        for a CUDA image).
    mode : {"same", "valid", "full"}
        Output size: the image's, only where the kernel fits, or every overlap.
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
        The border: SciPy ndimage's ``constant`` (0), ``mirror``, ``nearest`` and ``wrap``.
    flip : bool
        True: true convolution (kernel rotated 180 degrees); default cross-correlation.
    dtype, stream
        As :func:`conv2d`.

    Returns
    -------
    ndarray or CUDA array
        ``(H', W')`` or ``(H', W', C)`` for one kernel; a trailing axis of K for a bank:
        ``(H', W', K)`` or ``(H', W', C, K)``. Of the image's array kind.

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> image = np.zeros((5, 5), np.float32); image[:, 2:] = 1  # a vertical edge
    >>> sobel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], np.float32)
    >>> numbaconv.filter2d(image, sobel, padding_mode="replicate")[2]
    array([ 0., -4., -4.,  0.,  0.], dtype=float32)
    >>> rgb = np.random.default_rng(0).random((6, 6, 3), np.float32)
    >>> numbaconv.filter2d(rgb, np.stack([sobel, sobel.T]), mode="valid").shape  # 2 kernels per channel
    (4, 4, 3, 2)
    """
    op = "filter2d"
    on_cuda = backend_of(op, image=image) == "cuda"
    reshape = _reshape_on(on_cuda)
    weight, padding, channels, count = filter_weight(op, tuple(image.shape), kernels, mode, flip)
    if on_cuda:
        from . import _cuda

        weight = _cuda.to_device(weight, 0)
    result = _conv(
        op,
        2,
        image if image.ndim == 3 else reshape(image, (*image.shape, 1)),
        weight,
        padding=padding,
        padding_mode=padding_mode,
        flip=flip,
        groups=channels,
        layout="NHWC",
        dtype=dtype,
        stream=stream,
    )
    h_out, w_out = result.shape[:2]
    spatial = (h_out, w_out) if image.ndim == 2 else (h_out, w_out, channels)
    return reshape(result, (*spatial, *((count,) if kernels.ndim == 3 else ())))


def filter_weight(op: str, image_shape: tuple[int, ...], kernels, mode: str, flip: bool):
    """(depthwise weight ``(C * K, 1, kH, kW)`` on the host, padding pairs, C, K) of filter2d's convolution, the
    image's dimensions, `mode` and the kernels checked. (numbaconv.dask's filter2d runs the same convolution.)"""
    if len(image_shape) not in (2, 3):
        raise ValueError(f"{op}: image must be (H, W) or (H, W, C), got {len(image_shape)}-d shape {image_shape}")
    if mode not in FILTER_MODES:
        raise ValueError(f"{op}: mode={mode!r} is not one of {', '.join(map(repr, FILTER_MODES))}")
    bank = _filter_bank(op, kernels)
    channels = image_shape[2] if len(image_shape) == 3 else 1
    count, k_h, k_w = bank.shape
    weight = np.broadcast_to(bank, (channels, count, k_h, k_w)).reshape(channels * count, 1, k_h, k_w)
    padding = tuple(_filter_padding(mode, k, flip) for k in (k_h, k_w))
    return weight, padding, channels, count


def _filter_padding(mode: str, k: int, flip: bool) -> tuple[int, int]:
    """(before, after) zeros of one axis for a kernel of size k: none ("valid"), k - 1 on each side ("full"),
    or k - 1 in all with SciPy's origin ("same": tap k // 2 over the output pixel, (k - 1) // 2 once flipped)."""
    if mode == "valid":
        return 0, 0
    if mode == "full":
        return k - 1, k - 1
    before = (k - 1) // 2 if flip else k // 2
    return before, k - 1 - before


def _reshape_on(on_cuda: bool):
    """A reshape that keeps the array kind (any host or CUDA array's own, the CUDA simulator's re-wrapped)."""
    if on_cuda:
        from . import _cuda

        return _cuda.reshape
    return lambda a, shape: a.reshape(shape)


def _filter_bank(op: str, kernels) -> np.ndarray:
    """`kernels` as a host ``(K, kH, kW)`` array (a CUDA array is copied to the host: it is small)."""
    kind = backend_of(op, kernels=kernels)
    if kind == "cuda":
        from . import _cuda

        kernels = _cuda.to_numba(kernels).copy_to_host()
    bank = host_view(op, "kernels", kernels)
    check_real(op, "kernels", bank)
    if bank.ndim not in (2, 3) or 0 in bank.shape:
        raise ValueError(
            f"{op}: kernels must be one kernel (kH, kW) or a bank (K, kH, kW) with no empty axis, "
            f"got shape {tuple(bank.shape)}"
        )
    return bank if bank.ndim == 3 else bank[None]
