"""Compile numbaconv's CUDA kernels for sm_90 without a GPU and report what the machine code costs.

For each kernel (float32, with the argument types its launcher passes): registers, spill stores and loads,
static shared memory (from `ptxas -v`), the SASS instruction count (`nvdisasm`, NOPs left out) and the
64-bit integer division / remainder call sites (`CALL ... __cuda_sm20_{div,rem}_{s,u}64` in SASS; the PTX
`div`/`rem` `.s64`/`.u64` instructions are counted too). Numba types integer arithmetic at 64 bits, and
each such division is a ~70-instruction subroutine call per use: in a memory-bound kernel it is the cost.

    python scripts/sass_report.py [--json PATH] [--memory-bound] [KERNEL ...]

Needs numba-cuda, NVVM and libdevice (the `nvidia-nvvm` wheel), NVRTC (`nvidia-cuda-nvrtc`, which numba-cuda
loads to find libdevice), `ptxas` (`nvidia-cuda-nvcc`) and `nvdisasm` (`nvidia-cuda-nvdisasm`), from the
nvidia wheels or a CUDA toolkit on PATH. No GPU and no driver: the compiler is told the device is sm_90.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types as pytypes
from pathlib import Path

CC = (9, 0)
ARCH = "sm_90"
INSTALL = "pip install nvidia-cuda-nvcc nvidia-cuda-nvdisasm nvidia-cuda-nvrtc nvidia-nvvm numba-cuda"

# Kernels that move bytes and do little arithmetic: the test holds them to no 64-bit division and no spills.
MEMORY_BOUND = tuple(
    name + tag
    for name in ("max_pool", "avg_pool", "gather", "interpolate", "max_unpool_gather", "fill")
    for tag in ("", "_nhwc")
) + ("max_unpool_scan",)


def find_tool(name: str) -> str | None:
    """`name` from the nvidia wheels (cu13 or cu12 layout), $CUDA_HOME/bin, or PATH."""
    try:
        import nvidia

        for root in map(Path, nvidia.__path__):
            for hit in sorted(root.glob(f"*/bin/{name}")) + sorted(root.glob(f"*/*/bin/{name}")):
                if os.access(hit, os.X_OK):
                    return str(hit)
    except ImportError:
        pass
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    if home and os.access(Path(home, "bin", name), os.X_OK):
        return str(Path(home, "bin", name))
    return shutil.which(name)


def missing() -> str | None:
    """What is missing to run the report, with the command that installs it; None when all is there."""
    lacking = [tool for tool in ("ptxas", "nvdisasm") if find_tool(tool) is None]
    try:
        import numba_cuda  # noqa: F401
    except ImportError:
        lacking.append("numba-cuda")
    if not lacking:
        try:
            _prepare()
            from numba.cuda.cuda_paths import get_cuda_paths

            get_cuda_paths()["libdevice"]
        except Exception as exc:  # the libraries numba-cuda loads: NVRTC, NVVM, libdevice
            lacking.append(f"NVVM/NVRTC/libdevice ({type(exc).__name__}: {str(exc).splitlines()[0]})")
    if lacking:
        return f"sass_report: missing {', '.join(lacking)}; install with: {INSTALL}"
    return None


def _prepare():
    """Compile for sm_90 with no driver: numba-cuda asks the current device for its compute capability when it
    compiles a device function, and NVRTC for the supported architectures; both are told sm_90 instead."""
    os.environ["NUMBA_FORCE_CUDA_CC"] = f"{CC[0]}.{CC[1]}"
    os.environ.pop("NUMBA_ENABLE_CUDASIM", None)
    from numba import config

    config.reload_config()
    import numba.cuda.compiler as compiler
    import numba.cuda.dispatcher as dispatcher

    fake = pytypes.SimpleNamespace(compute_capability=CC)
    dispatcher.get_current_device = lambda: fake
    compiler.get_current_device = lambda: fake


def kernels() -> dict:
    """name -> (python function of the kernel, argument types), float32 data, as the launchers call them."""
    from numba import types as t

    from numbaconv.kernels import conv_cuda, conv_transpose_cuda, grad_pool_cuda, pool_cuda, shuffle_cuda, unpool_cuda

    f32, u32, i32, i64, b = t.float32, t.uint32, t.int32, t.int64, t.boolean

    def arr(dtype, ndim, layout="A"):
        return t.Array(dtype, ndim, layout)

    x5, words5, tab1, tab2 = arr(f32, 5), arr(u32, 5), arr(i32, 1, "C"), arr(i32, 2, "C")
    w1 = arr(f32, 1, "C")
    conv = (x5, x5, w1, tab2, tab2, tab2, i64, i64, w1, x5)
    table = {}
    for cl in (False, True):
        tag = "_nhwc" if cl else ""
        table["max_pool" + tag] = (pool_cuda.max_pool_cuda("float32", cl), (x5, tab2, tab2, tab2, b, x5, arr(i64, 5)))
        table["avg_pool" + tag] = (pool_cuda.avg_pool_cuda("float32", cl), (x5, tab2, tab2, tab2, w1, w1, w1, x5))
        table["gather" + tag] = (unpool_cuda.gather_cuda(cl), (words5, tab1, tab1, tab1, words5))
        interp = (x5, *(tab2, arr(f32, 2, "C")) * 3, x5)
        table["interpolate" + tag] = (unpool_cuda.interpolate_cuda("float32", cl), interp)
        table["max_unpool_gather" + tag] = (unpool_cuda.max_unpool_gather_cuda(cl), (words5, arr(i32, 5), words5))
        table["fill" + tag] = (unpool_cuda.fill_cuda(cl), (arr(i32, 5), i64))
        table["max_pool_grad" + tag] = (
            grad_pool_cuda.max_pool_grad_cuda("float32", cl),
            (x5, arr(i64, 5), *[tab2] * 3, x5),
        )
        table["max_unpool_grad" + tag] = (grad_pool_cuda.max_unpool_grad_cuda(cl), (x5, arr(i64, 5), x5))
    table["max_unpool_scan"] = (unpool_cuda.max_unpool_scan_cuda("float32"), (x5, arr(i64, 5), arr(i32, 5)))
    table["first_outside"] = (unpool_cuda.first_outside_cuda(256), (arr(i64, 5), i64, arr(i64, 1, "C")))
    table["first_stray"] = (
        grad_pool_cuda.first_stray_cuda,
        (arr(i64, 5), tab2, tab2, tab2, i64, i64, i64, arr(i64, 2, "C")),
    )
    table["permute_copy"] = (shuffle_cuda.permute_copy_cuda, (arr(u32, 6), arr(u32, 6, "C")))
    table["conv_direct"] = (conv_cuda.conv_direct_cuda("float32"), conv)
    table["conv_gemm"] = (conv_cuda.conv_gemm_cuda("float32", 16), conv)
    taps = arr(i32, 3, "C")
    transpose = (x5, x5, w1, taps, taps, taps, i64, i64, w1, x5)
    table["conv_transpose_direct"] = (conv_transpose_cuda.conv_transpose_direct_cuda("float32"), transpose)
    return {name: (getattr(k, "py_func", k), sig) for name, (k, sig) in table.items()}


_DIV64_PTX = re.compile(r"^\s*(?:@%p\d+\s+)?(?:div|rem)\.(?:s|u)64\b", re.M)
_DIV64_SASS = re.compile(r"CALL\.\S+\s+`\(\$__internal_\d+_\$__cuda_sm\d+_(?:div|rem)_[su]64\)")
_INSN = re.compile(r"^\s+/\*[0-9a-f]{4,}\*/\s+(\S.*?)\s*;", re.M)


def measure(fn, sig, ptxas: str, nvdisasm: str, work: Path) -> dict:
    """Compile one kernel to PTX (Numba), to a cubin (ptxas -v) and disassemble it (nvdisasm)."""
    from numba import cuda

    ptx, _ = cuda.compile_ptx(fn, sig, cc=CC)
    src, cubin = work / "k.ptx", work / "k.cubin"
    src.write_text(ptx)
    info = subprocess.run(
        [ptxas, "-v", f"-arch={ARCH}", str(src), "-o", str(cubin)], capture_output=True, text=True, check=True
    ).stderr
    sass = subprocess.run([nvdisasm, "-c", str(cubin)], capture_output=True, text=True, check=True).stdout

    def number(pattern: str) -> int:
        m = re.search(pattern, info)
        return int(m.group(1)) if m else 0

    return {
        "registers": number(r"Used (\d+) registers"),
        "spill_stores": number(r"(\d+) bytes spill stores"),
        "spill_loads": number(r"(\d+) bytes spill loads"),
        "shared_bytes": number(r"(\d+) bytes smem"),
        "instructions": sum(1 for m in _INSN.finditer(sass) if not m.group(1).startswith("NOP")),
        "div64_calls": len(_DIV64_SASS.findall(sass)),
        "div64_ptx": len(_DIV64_PTX.findall(ptx)),
    }


def report(names: list[str] | None = None) -> dict:
    """{kernel: measures} for `names` (default: every kernel), plus a `_meta` entry (versions, target)."""
    problem = missing()
    if problem:
        raise SystemExit(problem)
    import numba
    import numba_cuda

    ptxas, nvdisasm = find_tool("ptxas"), find_tool("nvdisasm")
    assert ptxas and nvdisasm
    version = subprocess.run([ptxas, "--version"], capture_output=True, text=True).stdout.strip().splitlines()[-1]
    table = kernels()
    unknown = sorted(set(names or ()) - set(table))
    if unknown:
        raise SystemExit(f"sass_report: unknown kernel(s) {unknown}; known: {', '.join(table)}")
    results: dict = {
        "_meta": {"arch": ARCH, "numba": numba.__version__, "numba_cuda": numba_cuda.__version__, "ptxas": version}
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in names or list(table):
            fn, sig = table[name]
            results[name] = measure(fn, sig, ptxas, nvdisasm, Path(tmp))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kernels", nargs="*", help="kernel names (default: all)")
    parser.add_argument("--memory-bound", action="store_true", help="only the memory-bound kernels")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    names = list(args.kernels) + (list(MEMORY_BOUND) if args.memory_bound else [])
    results = report(names or None)
    meta = results["_meta"]
    print(f"# {meta['arch']}: numba {meta['numba']}, numba-cuda {meta['numba_cuda']}, {meta['ptxas']}")
    cols = ("registers", "spill_stores", "spill_loads", "shared_bytes", "instructions", "div64_calls", "div64_ptx")
    print(f"{'kernel':<24}" + "".join(f"{c:>14}" for c in cols))
    for name, row in results.items():
        if name != "_meta":
            print(f"{name:<24}" + "".join(f"{row[c]:>14}" for c in cols))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
