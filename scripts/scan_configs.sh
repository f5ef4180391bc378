#!/usr/bin/env bash
# Scan training configurations side by side on one GPU: every config trains as
# its own `hyperman train` process, all at once (each process is bound by kernel
# launches, so one GPU serves several), then 100 sampled nets of each are
# scored on the validation split (never the test set: a scan is a choice). Needs what scripts/gpu_check.sh needs.
#
#   bash scripts/scan_configs.sh OUT_DIR MNIST_DIR 'NAME|EXTRA FLAGS' ['NAME|EXTRA FLAGS' ...]
#     every config starts from params.yaml's train section on CUDA; EXTRA FLAGS
#     override it (e.g. 'aug2|--augment-shift 2 --lambda 3000'; add --device cpu to try it on a CPU)
#   SCAN_TIMEOUT_S  hard limit of each training (default 300); a run cut short is reported from its checkpoint
#   SCAN_REPORT_ARGS  "NETS LIMIT" of the scoring (default: 100 nets, the whole validation split; 500 nets
#                     also give the worst member of each of 5 groups of 100)
#   PYTHON          interpreter (default python3)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ $# -ge 3 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
PYTHON="${PYTHON:-python3}"
OUTDIR="$1"; DATA="$2"; shift 2
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
read -r -a BASE <<< "$("$PYTHON" scripts/gpu_check.py flags)" || exit 1
mkdir -p "$OUTDIR"

pids=() names=()
for spec in "$@"; do
  name="${spec%%|*}"; extra="${spec#*|}"
  read -r -a EXTRA <<< "$extra"
  mkdir -p "$OUTDIR/$name"
  echo "$extra" > "$OUTDIR/$name/flags.txt"
  timeout "${SCAN_TIMEOUT_S:-300}" "$PYTHON" -m hyperman train --data "$DATA" --out "$OUTDIR/$name/hypernet" \
    "${BASE[@]}" "${EXTRA[@]}" > "$OUTDIR/$name/train.log" 2>&1 &
  pids+=($!); names+=("$name")
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || echo "scan: ${names[$i]}: training exited with $? (see $OUTDIR/${names[$i]}/train.log)" >&2
done
for name in "${names[@]}"; do  # scored side by side too
  [ -f "$OUTDIR/$name/hypernet/hypernet.pt" ] || continue
  ( timeout 180 "$PYTHON" scripts/gpu_check.py report "$OUTDIR/$name" "$DATA" ${SCAN_REPORT_ARGS:-} \
      > "$OUTDIR/$name/report.log" 2>&1 || echo "scan: $name: scoring failed (see $OUTDIR/$name/report.log)" >&2 ) &
done
wait
"$PYTHON" scripts/gpu_check.py table "$OUTDIR"/*/
