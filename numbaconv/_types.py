"""Type aliases of numbaconv's public signatures: what each kind of argument may be, for type checkers and readers.

They describe, they do not check: every rule is checked at run time by the op (numbaconv/_params.py and friends),
with a message that names the op, the argument and the value.

``Array``
    A NumPy ``ndarray``, or any CUDA array: a CuPy array, a Numba device array, a torch CUDA tensor, or anything
    else with ``__cuda_array_interface__`` or a CUDA DLPack device. These libraries share no static type, so it
    is ``Any``; a result is of the input's kind (NumPy in, NumPy out; CuPy in, CuPy out; ...).
``Stream``
    A CUDA stream for CUDA arrays: a Numba stream, a CuPy or torch stream, or a raw ``int`` handle (``Any``).
``Shape``
    An array shape: a sequence of ints.
``IntOrTuple``
    One int for every spatial dim, or one per dim (``stride``, ``dilation``, ``kernel_size``, ...).
``FloatOrTuple``
    One number for every spatial dim, or one per dim (``interpolate``'s ``scale_factor``).
``PaddingNumbers``
    An int, one int per spatial dim, or one ``(lo, hi)`` pair per spatial dim.
``PaddingString``, ``Padding``, ``TransposePadding``
    The padding strings; convolution and pooling padding (numbers or a string); transpose-convolution padding
    (numbers or ``"same"``).
``PaddingMode``, ``Activation``
    torch's padding modes; the fused activations (None: none).
``Layout``, ``Layout2d``
    Channels-first or channels-last layout names for 1 to 3 spatial dims; the two 2-d ones.
``ConvAlgorithm``, ``TransposeAlgorithm``, ``ResizeAlgorithm``
    The ``algorithm=`` names of the convolution family (which apply depends on the call and the backend), of
    the transpose convolutions and of ``resize_conv2d``.
``UnpoolMode``, ``InterpolateMode``, ``ResizeMode``
    ``unpool{1,2,3}d``'s, ``interpolate``'s and ``resize_conv2d``'s ``mode`` names.
``DTypeLike``
    NumPy's: anything ``np.dtype()`` takes (a dtype, a scalar type, a name such as ``"float32"``, ...).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Concatenate, Literal, ParamSpec, TypeAlias, TypeVar

from numpy.typing import DTypeLike

__all__ = [
    "for_dims",
    "Activation",
    "Array",
    "ConvAlgorithm",
    "DTypeLike",
    "FloatOrTuple",
    "IntOrTuple",
    "InterpolateMode",
    "Layout",
    "Layout2d",
    "Padding",
    "PaddingMode",
    "PaddingNumbers",
    "PaddingString",
    "ResizeAlgorithm",
    "ResizeMode",
    "Shape",
    "Stream",
    "TransposeAlgorithm",
    "TransposePadding",
    "UnpoolMode",
]

Array: TypeAlias = Any
Stream: TypeAlias = Any
Shape: TypeAlias = Sequence[int]

IntOrTuple: TypeAlias = int | Sequence[int]
FloatOrTuple: TypeAlias = float | Sequence[float]

PaddingNumbers: TypeAlias = int | Sequence[int] | Sequence[tuple[int, int]]
PaddingString: TypeAlias = Literal["valid", "same", "same_lower", "full"]
Padding: TypeAlias = PaddingNumbers | PaddingString
TransposePadding: TypeAlias = PaddingNumbers | Literal["same"]
PaddingMode: TypeAlias = Literal["zeros", "reflect", "replicate", "circular"]

Activation: TypeAlias = Literal["relu", "relu6", "leaky_relu", "sigmoid", "tanh"] | None

Layout: TypeAlias = Literal["NCW", "NCHW", "NCDHW", "NWC", "NHWC", "NDHWC"]
Layout2d: TypeAlias = Literal["NCHW", "NHWC"]

ConvAlgorithm: TypeAlias = Literal[
    "auto", "fast", "tune", "direct", "gemm", "depthwise", "pointwise", "fft", "winograd", "winograd_f2"
]
TransposeAlgorithm: TypeAlias = Literal["auto", "direct", "gemm"]
ResizeAlgorithm: TypeAlias = Literal["auto", "direct", "gemm", "depthwise"]

UnpoolMode: TypeAlias = Literal["nearest", "bed_of_nails"]
InterpolateMode: TypeAlias = Literal[
    "nearest", "nearest_exact", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"
]
ResizeMode: TypeAlias = Literal["nearest", "bilinear", "bicubic"]


_P = ParamSpec("_P")
_R = TypeVar("_R")


def for_dims(impl: Callable[Concatenate[str, int, _P], _R], op: str, nd: int) -> Callable[_P, _R]:
    """The public op `op` for `nd` spatial dims: ``impl(op, nd, ...)`` under the name `op`, with impl's signature
    less its first two parameters, for readers (`help`, `inspect.signature`) and type checkers (ParamSpec) alike.

    One implementation serves conv1d/2d/3d (and each other per-dims family), so the signature is written once.
    """

    def public(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return impl(op, nd, *args, **kwargs)

    signature = inspect.signature(impl)
    public.__signature__ = signature.replace(parameters=list(signature.parameters.values())[2:])  # type: ignore[attr-defined]
    public.__name__ = public.__qualname__ = op
    public.__module__ = impl.__module__
    public.__wrapped__ = impl  # type: ignore[attr-defined]
    return public
