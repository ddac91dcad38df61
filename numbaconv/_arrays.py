"""Array kinds, dtypes and `out=`: the checks every op runs before a kernel, and the backend choice."""

from __future__ import annotations

import sys

import numpy as np

COMPUTE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
STORAGE_DTYPES = (np.dtype(np.float16), *COMPUTE_DTYPES)
_DLPACK_CUDA = (2, 3, 13)  # kDLCUDA, kDLCUDAHost, kDLCUDAManaged
_DLPACK_CPU = 1  # kDLCPU
KINDS = "a NumPy array, a CPU array with __dlpack__ (torch, JAX) or a CUDA array (CuPy, Numba, torch)"


def is_device_array(a) -> bool:
    """CuPy arrays, Numba device arrays, torch CUDA tensors and anything else that lives on a CUDA device."""
    if hasattr(a, "__cuda_array_interface__"):
        return True
    dev = getattr(a, "__dlpack_device__", None)
    if dev is None or isinstance(a, np.ndarray):
        return False
    try:
        return int(dev()[0]) in _DLPACK_CUDA
    except Exception:  # an object that merely has the attribute is not a device array
        return False


def is_host_dlpack(a) -> bool:
    """A CPU array of another library that NumPy can view without a copy through DLPack (a torch CPU tensor)."""
    dev = getattr(a, "__dlpack_device__", None)
    if dev is None or isinstance(a, np.ndarray) or not hasattr(a, "__dlpack__") or _is_numba_device_array(a):
        return False  # (the CUDA simulator's device arrays forward every attribute to a NumPy array)
    try:
        return int(dev()[0]) == _DLPACK_CPU
    except Exception:  # an object that merely has the attribute is not an array
        return False


def host_view(op: str, name: str, a) -> np.ndarray:
    """A NumPy view of a host array: NumPy as passed, a DLPack CPU array (torch) without a copy."""
    if isinstance(a, np.ndarray):
        return a
    try:
        return np.from_dlpack(a)
    except (BufferError, RuntimeError, TypeError, ValueError) as exc:  # bfloat16, requires_grad, ...
        raise TypeError(
            f"{op}: {name} ({type(a).__module__}.{type(a).__qualname__}) cannot be viewed as a NumPy array "
            f"without a copy ({exc}); pass a NumPy-compatible dtype (and .detach() a torch tensor that requires grad)"
        ) from None


def host_like(like, result):
    """A NumPy result as the array kind of `like`, zero-copy: NumPy for NumPy, `torch.from_dlpack` for a torch
    CPU tensor (any library whose top-level module has `from_dlpack`); NumPy when the library has none."""
    if isinstance(like, np.ndarray) or not isinstance(result, np.ndarray) or not is_host_dlpack(like):
        return result
    from_dlpack = getattr(sys.modules.get(type(like).__module__.split(".")[0]), "from_dlpack", None)
    return result if from_dlpack is None else from_dlpack(result)


def backend_of(op: str, **arrays) -> str:
    """'cpu' for NumPy arrays and DLPack CPU arrays, 'cuda' for device arrays; a TypeError for anything else or
    a mix."""
    kinds = {}
    for name, a in arrays.items():
        if a is None:
            continue
        if isinstance(a, np.ndarray) or is_host_dlpack(a):
            kinds[name] = "cpu"
        elif is_device_array(a) or _is_numba_device_array(a):
            kinds[name] = "cuda"
        elif type(a).__module__.startswith("dask."):  # never computed behind the caller's back
            raise TypeError(
                f"{op}: {name} is a dask array, which numbaconv.{op} does not compute; numbaconv.dask runs the "
                f"convolutions, pools, unpool and shuffles over dask arrays (lazily), or pass {name}.compute() for "
                f"an in-memory result"
            )
        else:
            raise TypeError(f"{op}: {name} must be {KINDS}, got {type(a).__module__}.{type(a).__qualname__}")
    names = list(kinds)
    for name in names[1:]:
        if kinds[name] != kinds[names[0]]:
            host, dev = (names[0], name) if kinds[names[0]] == "cpu" else (name, names[0])
            raise TypeError(
                f"{op}: {host} is a host (NumPy) array but {dev} is a CUDA array "
                f"({type(arrays[dev]).__qualname__}); move both to the same device"
            )
    return kinds[names[0]]


def host_only(op: str, **arrays) -> None:
    """For ops with CPU kernels only (analysis.dead_channels): NumPy arrays in, else an error before any work."""
    if backend_of(op, **arrays) != "cpu":
        raise NotImplementedError(f"{op}: CUDA arrays are not supported by {op} yet; pass NumPy arrays")


def _is_numba_device_array(a) -> bool:
    """Numba's device arrays (the CUDA simulator's have no __cuda_array_interface__), without importing Numba."""
    return type(a).__module__.split(".")[0] in ("numba", "numba_cuda") and hasattr(a, "copy_to_host")


def _names(dtypes) -> str:
    return ", ".join(str(d) for d in dtypes)


def result_dtypes(op: str, x, dtype=None, out=None) -> tuple[np.dtype, np.dtype]:
    """(storage dtype of the result, dtype the kernels compute in) for input `x`.

    The result has x's dtype; float16 is computed in float32. Integer input pools as it is elsewhere but a
    convolution needs an explicit float `dtype=` (or a float `out=`) to accumulate in.
    """
    if dtype is not None:
        try:
            want = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{op}: dtype={dtype!r} is not a NumPy dtype") from None
        if want not in STORAGE_DTYPES:
            raise TypeError(f"{op}: dtype={want} is not supported; use one of {_names(STORAGE_DTYPES)}")
        if out is not None and out.dtype != want:
            raise TypeError(f"{op}: out.dtype={out.dtype} must equal dtype={want}")
    elif out is not None and x.dtype.kind in "iu" and getattr(out, "dtype", None) in STORAGE_DTYPES:
        want = out.dtype  # integer input: a float out= is the explicit accumulate dtype
    else:
        want = x.dtype
    kind = x.dtype.kind
    if kind not in "fiu" or (kind == "f" and x.dtype not in STORAGE_DTYPES):
        raise TypeError(
            f"{op}: input dtype {x.dtype} is not supported; use one of {_names(STORAGE_DTYPES)} "
            f"(or an integer input with an explicit float dtype=)"
        )
    if want.kind in "iu":
        raise TypeError(
            f"{op}: integer input ({x.dtype}) needs an explicit accumulate dtype: pass "
            f"dtype=np.float32 or np.float64 (or a float out=)"
        )
    if want not in STORAGE_DTYPES:
        raise TypeError(f"{op}: out.dtype={want} is not supported; use one of {_names(STORAGE_DTYPES)}")
    compute = np.dtype(np.float32) if want == np.float16 else want
    return want, compute


def check_real(op: str, name: str, a) -> None:
    """Weights and biases: any real int or float dtype (cast to the compute dtype); never bool/complex."""
    if a.dtype.kind not in "fiu":
        raise TypeError(
            f"{op}: {name} dtype {a.dtype} is not supported; use a real integer or float dtype "
            f"({_names(STORAGE_DTYPES)} preferred)"
        )


def check_out(op: str, out, shape: tuple[int, ...], dtype: np.dtype, inputs: dict, backend: str = "cpu") -> None:
    """`out=` must be a C-contiguous array of exactly the result's shape and dtype, sharing no memory.

    On the CUDA backend every array is a Numba device view (numbaconv._cuda.to_numba) by now.
    """
    if backend == "cuda":
        from . import _cuda

        return _check_out(op, out, shape, dtype, inputs, _cuda.is_c_contiguous(out), _cuda.may_overlap, True)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{op}: out must be a host array like the input, got {type(out).__qualname__}")
    return _check_out(op, out, shape, dtype, inputs, out.flags.c_contiguous, np.may_share_memory, out.flags.writeable)


def _check_out(op, out, shape, dtype, inputs, contiguous, overlaps, writeable) -> None:
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"{op}: out.shape={tuple(out.shape)} must equal the result shape {tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"{op}: out.dtype={out.dtype} must equal the result dtype {dtype}")
    if not contiguous:
        raise ValueError(f"{op}: out must be C-contiguous (its strides are {tuple(out.strides)})")
    if not writeable:
        raise ValueError(f"{op}: out is read-only")
    for name, a in inputs.items():
        if a is not None and overlaps(out, a):
            raise ValueError(f"{op}: out overlaps {name}; pass a separate output array")


def as_compute(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """`a` in the compute dtype, copied only when the dtype differs."""
    return a if a.dtype == dtype else a.astype(dtype)
