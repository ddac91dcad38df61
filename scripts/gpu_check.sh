#!/usr/bin/env bash
# Real-GPU check, one call: install numbaconv without dependencies into the machine's python3 (which already
# has numba, numba-cuda, cupy and torch, and reaches no package registry), run the CUDA tests on the GPU (real
# compilation) and the CuPy/torch interop tests, then the short benchmark against torch/cuDNN (TF32 off) and
# the device copy bandwidth. Logs go to $OUT when set. Must finish in under 8 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-$(mktemp -d)}"
export PYTHONUNBUFFERED=1
status=0

# Wheels carried in .whl/ (the device tool's `carry`) replace the machine's own: the image's numba-cuda 0.30.4
# calls np.row_stack, which its numpy 2.5 removed, so every CUDA compilation fails there; numpy 2.4 is carried.
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee "$out/nvidia-smi.txt"
if ! python3 -m pip install --quiet --no-deps --no-build-isolation --no-index -e . ; then
  # No usable build backend there: import from the tree, with kernels/ where the package expects it.
  ln -sfn ../kernels numbaconv/kernels
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
python3 -c "import numpy, numba, numba_cuda, cupy, torch; print('numpy', numpy.__version__, 'numba', numba.__version__, 'numba-cuda', numba_cuda.__version__, 'cupy', cupy.__version__, 'torch', torch.__version__)" \
  | tee "$out/versions.txt"

echo "== SASS report (sm_90), when ptxas/nvdisasm/NVRTC are there"
if timeout 120 python3 scripts/sass_report.py --json "$out/sass.json" > "$out/sass.log" 2>&1; then
  cat "$out/sass.log"
else
  echo "sass report skipped: $(tail -n 1 "$out/sass.log")"  # tools missing is not a failure of the check
fi

echo "== CUDA + interop tests on the GPU"
# Real compilation is CPU-bound (NVVM): spread the tests over processes when pytest-xdist is there.
workers=()
python3 -c "import xdist" 2>/dev/null && workers=(-n 8)
timeout 240 python3 -m pytest -q -p no:cacheprovider -m cuda tests "${workers[@]}" -rfE --durations=10 \
  2>&1 | tee "$out/tests.log"
status=$(( status | ${PIPESTATUS[0]} ))

echo "== benchmark vs torch/cuDNN and copy bandwidth"
timeout 120 python3 scripts/gpu_bench.py --repeat 20 --json "$out/bench.json" --profile "$out/host_profile.txt" 2>&1 | tee "$out/bench.log"
status=$(( status | ${PIPESTATUS[0]} ))
exit "$status"
