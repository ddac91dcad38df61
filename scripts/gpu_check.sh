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

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee "$out/nvidia-smi.txt"
if ! python3 -m pip install --quiet --no-deps --no-build-isolation --no-index -e . ; then
  # No usable build backend there: import from the tree, with kernels/ where the package expects it.
  ln -sfn ../kernels numbaconv/kernels
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
python3 -c "import numba, numba_cuda, cupy, torch; print('numba', numba.__version__, 'numba-cuda', numba_cuda.__version__, 'cupy', cupy.__version__, 'torch', torch.__version__)" \
  | tee "$out/versions.txt"

echo "== CUDA + interop tests on the GPU"
timeout 300 python3 -m pytest -q -p no:cacheprovider -m cuda tests -x --durations=10 2>&1 | tee "$out/tests.log"
status=$(( status | ${PIPESTATUS[0]} ))

echo "== benchmark vs torch/cuDNN and copy bandwidth"
timeout 180 python3 scripts/gpu_bench.py --repeat 20 --json "$out/bench.json" 2>&1 | tee "$out/bench.log"
status=$(( status | ${PIPESTATUS[0]} ))
exit "$status"
