#!/usr/bin/env bash
# The whole study on one GPU through the stage CLIs, without Snakemake or DVC:
# prepare (skipped when the carried data folder is already prepared), the
# baselines, train, sample, evaluate, distill, report -- the same commands the
# workflow runs (workflow/pipeline.py builds them from the params file).
# Prints every stage's seconds, writes STUDY_OUT/stage_seconds.tsv, and copies
# the report and metrics there.
#
#   bash scripts/gpu_study.sh [PARAMS] [STUDY_OUT]
#     PARAMS     params file (default: configs/gpu_study.yaml, sized for a few minutes on one H100/H200;
#                use params.yaml or configs/paper.yaml for the bigger studies; with seeds.enabled: true the
#                seeds study runs too and its table goes to STUDY_OUT/seeds)
#     STUDY_OUT  where the report, metrics and timings go (default: $OUT/gpu_study if $OUT is set,
#                else results/gpu_study)
#   GPU_STUDY_ALLOW_CPU=1  run without CUDA (the test suite does, on configs/tiny.yaml)
#   PYTHON                 interpreter with torch, torchvision, numpy, pyyaml, safetensors, tqdm, matplotlib
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
PARAMS="${1:-configs/gpu_study.yaml}"
STUDY_OUT="${2:-${OUT:+$OUT/gpu_study}}"
STUDY_OUT="${STUDY_OUT:-results/gpu_study}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

die() { echo "gpu_study: error: $*" >&2; exit 1; }
[ -f "$PARAMS" ] || die "no params file '$PARAMS'"
if [ "${GPU_STUDY_ALLOW_CPU:-0}" != 1 ]; then
  timeout 60 "$PYTHON" scripts/gpu_check.py cuda || exit 2
fi

# the workflow's stage commands, in order; `hyperman` is the package's CLI run by this interpreter
STAGES="$("$PYTHON" workflow/pipeline.py list "$PARAMS")" || die "cannot plan the study from $PARAMS"
mkdir -p "$STUDY_OUT" logs/gpu_study
printf 'stage\tseconds\n' > "$STUDY_OUT/stage_seconds.tsv"
start=$SECONDS
while IFS=$'\t' read -r name command; do
  if [[ "$name" == prepare_* ]]; then
    folder="$(sed -E 's/.*--out ([^ ]+).*/\1/' <<< "$command")"
    if [ -f "$folder/manifest.json" ]; then
      echo "gpu_study: $name: using the carried $folder" >&2
      continue
    fi
  fi
  read -r -a argv <<< "$command"
  [ "${argv[0]}" = hyperman ] || die "unexpected command for $name: $command"
  case "$name" in  # a rerun of the study starts training afresh: the earlier run moves to OUT.previous-<UTC time>
    train*|distill*) argv+=(--force) ;;
  esac
  tick=$SECONDS
  "$PYTHON" -m hyperman "${argv[@]:1}" > "logs/gpu_study/$name.log" 2>&1 \
    || { tail -20 "logs/gpu_study/$name.log" >&2; die "$name failed (log: logs/gpu_study/$name.log)"; }
  printf '%s\t%s\n' "$name" "$((SECONDS - tick))" | tee -a "$STUDY_OUT/stage_seconds.tsv" >&2
done <<< "$STAGES"
printf 'total\t%s\n' "$((SECONDS - start))" | tee -a "$STUDY_OUT/stage_seconds.tsv" >&2

cp -r results/main/report "$STUDY_OUT/report"
cp results/main/evaluate/metrics.json "$STUDY_OUT/metrics.json"
if grep -q '^seeds_report'$'\t' <<< "$STAGES"; then  # PARAMS turned the seeds study on (seeds.enabled: true)
  cp -r results/seeds/report "$STUDY_OUT/seeds"
fi
echo "gpu_study: done in $((SECONDS - start)) s; report in $STUDY_OUT/report/report.md" >&2
