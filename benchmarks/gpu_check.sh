#!/usr/bin/env bash
# The GPU checks in one call on a lent GPU machine (no package index there; see docs/gpu.md):
#   1. installs the staged wheels into the machine's own Python (Triton's Python-backend stub ignores
#      PYTHONPATH, so onnxruntime-gpu must be where the stub's python3 looks);
#   2. benchmarks.gpu_concurrency: ResNet50 served by the embedded Triton (KIND_GPU) vs ORT alone;
#   3. benchmarks.gpu_engine: ORT CUDA EP fp32/fp16, IO binding, CUDA graphs vs torch eager/CUDA graph.
# Each step has its own time limit; the JSON files are rewritten after every row, so a step cut off
# still leaves what it measured. Results go to $OUT (at most 8 files come back).
#
#   MODELSERVE_COMMIT=<sha> bash benchmarks/gpu_check.sh     # from the repository root
#   DRY_RUN=1 bash benchmarks/gpu_check.sh                     # the same code paths on a CPU box
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-check}
SERVED_S=${SERVED_S:-300}
ENGINE_S=${ENGINE_S:-210}
mkdir -p "$OUT"
if [ "${DRY_RUN:-0}" = 1 ]; then
  served_args=(--model mlp --device cpu) engine_args=(--dry-run)
else
  served_args=(--model resnet50 --device cuda) engine_args=()
fi
export PYTHONUNBUFFERED=1 PYTHONPATH=. MODELSERVE_COMMIT=${MODELSERVE_COMMIT:-unknown}
# No package index there to make the stub's own environment (serve/stub_env.py): the stub runs with
# the machine's Python, where the wheels above go (numeric tensors only, as before).
export MODELSERVE_STUB_ENV=${MODELSERVE_STUB_ENV:-$(python3 -c 'import sys; print(sys.prefix)')}

if [ -f .gpu/install.sh ] && [ "${DRY_RUN:-0}" != 1 ]; then
  INTO_VENV=1 bash .gpu/install.sh 2>&1 | tail -3
fi
{
  date -u +%Y-%m-%dT%H:%M:%SZ
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit,temperature.gpu \
    --format=csv
  python3 - <<'EOF'
import platform, torch, onnxruntime as o
getattr(o, "preload_dlls", lambda: None)()
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda,
      "onnxruntime", o.__version__, o.get_available_providers())
EOF
  nproc
} 2>&1 | tee "$OUT/machine.txt"

# The step stops the tritonserver it started itself: SIGINT reaches its Python (which stops the
# server it holds), and if that hangs, SIGKILL 30 s later ends it and the kernel sends the server
# SIGTERM (setpriv --pdeathsig, serve/server.py). Nothing here touches another Triton on the host.
timeout --signal=INT --kill-after=30 "$SERVED_S" python3 -m modelserve.benchmarks.gpu_concurrency "${served_args[@]}" \
  --seconds "${POINT_S:-2.5}" --time-budget-s $((SERVED_S - 60)) --out "$OUT/served.json" 2>&1 | tee "$OUT/served.log"
timeout --signal=INT --kill-after=30 "$ENGINE_S" python3 -m modelserve.benchmarks.gpu_engine "${engine_args[@]}" --batches "${ENGINE_BATCHES:-resnet50=1,128 bert=1,64 vgg16=1,64}" --runs 20 --warmup 5 \
  --time-budget-s $((ENGINE_S - 40)) --out "$OUT/engine.json" 2>&1 | tee "$OUT/engine.log" | grep -v '^\[' 
echo "done: $(ls "$OUT")"
