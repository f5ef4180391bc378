#!/usr/bin/env bash
# GPU smoke check: train params.yaml's default hypernetwork on CUDA for a few
# minutes, then report steps/s, the validation figures and the validation accuracy of
# 100 sampled nets and of their ensemble. Needs only the repository, a prepared
# MNIST folder and a python3 with torch, torchvision, numpy, pyyaml, tqdm,
# safetensors (no snakemake, dvc or jsonschema; the package need not be installed).
#
#   bash scripts/gpu_check.sh [MNIST_DIR] [OUT_DIR]
#     MNIST_DIR  prepared by `hyperman prepare --dataset mnist --out data/mnist` (default: data/mnist)
#     OUT_DIR    default: $OUT/gpu_check if $OUT is set, else /tmp/hyperman-gpu-check
#   GPU_CHECK_BUDGET_S  training seconds to aim for (default 210); steps = min(params.yaml, budget / s per step)
#   PYTHON              interpreter (default python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
DATA="${1:-data/mnist}"
OUTDIR="${2:-${OUT:+$OUT/gpu_check}}"
OUTDIR="${OUTDIR:-/tmp/hyperman-gpu-check}"
BUDGET="${GPU_CHECK_BUDGET_S:-210}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
HELPER=(timeout 60 "$PYTHON" scripts/gpu_check.py)

die() { echo "gpu_check: error: $*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || die "no $PYTHON on PATH"
"${HELPER[@]}" cuda || exit 2
[ -f "$DATA/manifest.json" ] && [ -f "$DATA/MNIST/raw/train-images-idx3-ubyte" ] \
  || die "no prepared MNIST at '$DATA' (expected manifest.json and MNIST/raw/*-ubyte); prepare it with" \
         "'python3 -m hyperman prepare --dataset mnist --out data/mnist' and carry data/mnist along, or pass its path"

rm -rf "$OUTDIR"
mkdir -p "$OUTDIR"
start=$SECONDS

# 1. calibration: 60 steps, to size the real run to the time budget
CALIB="$("${HELPER[@]}" flags --steps 60)"
read -r -a CALIB_FLAGS <<< "$CALIB"
echo "gpu_check: calibrating (60 steps)..." >&2
timeout 120 "$PYTHON" -m hyperman train --data "$DATA" --out "$OUTDIR/calibrate" "${CALIB_FLAGS[@]}" \
  --eval-every 1000 --checkpoint-every 1000 > "$OUTDIR/calibrate.log" 2>&1 \
  || { tail -20 "$OUTDIR/calibrate.log" >&2; die "calibration run failed (log: $OUTDIR/calibrate.log)"; }
SPS="$("${HELPER[@]}" rate "$OUTDIR/calibrate/train_log.jsonl")"
STEPS="$(awk -v b="$BUDGET" -v s="$SPS" 'BEGIN { n = int(b / s); print (n < 100 ? 100 : n) }')"
TRAIN_FLAGS="$("${HELPER[@]}" flags --steps "$STEPS")"
read -r -a FLAGS <<< "$TRAIN_FLAGS"
echo "gpu_check: ${SPS} s/step -> training with: ${FLAGS[*]}" >&2

# 2. the real run (hard limit 6 minutes)
timeout 360 "$PYTHON" -m hyperman train --data "$DATA" --out "$OUTDIR/hypernet" "${FLAGS[@]}" 2>&1 \
  | tee "$OUTDIR/train.log" | grep -E "^step [0-9]+/[0-9]+:|error|Error" >&2 \
  || true
[ -f "$OUTDIR/hypernet/train_summary.json" ] \
  || { tail -20 "$OUTDIR/train.log" >&2; die "training did not finish (log: $OUTDIR/train.log)"; }

# 3. steps/s, validation figures, validation accuracy of 100 sampled nets and their ensemble
timeout 120 "$PYTHON" scripts/gpu_check.py report "$OUTDIR" "$DATA"
echo "gpu_check: done in $((SECONDS - start)) s" >&2
