"""Print issue 13's targets for a finished study: the hypernetwork's members, their disagreement, OOD detection
and the ensemble against the deep ensemble (at equal training FLOPs), each with its 95 % interval and a
verdict, and one line per sweep setting. It reads only what `make run` / `make sweep` wrote, so it measures
nothing itself: run it after the study, on the machine the study ran on.

    python benchmarks/diversity_targets.py                       # results/main/evaluate and the sweep runs
    python benchmarks/diversity_targets.py --evaluate DIR --sweep DIR1 DIR2 ...
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from hyperman import outputs  # noqa: E402

MEMBER_FLOOR, WORST_FLOOR, DISAGREEMENT_FLOOR, TRAIN_MINUTES = 0.988, 0.980, 0.010, 20.0  # issue 13
GROUP = 100  # "the worst of every 100"


def _load(folder: Path) -> tuple[dict, list[float]]:
    metrics = json.loads((folder / outputs.METRICS).read_text())
    with open(folder / outputs.MEMBER_ACCURACY) as handle:
        members = [float(row["accuracy"]) for row in csv.DictReader(handle)]
    return metrics, members


def _verdict(ok: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "not shown"}[ok]


def _difference(m: dict, model: str, metric: str, better_is_lower: bool) -> tuple[str, bool | None]:
    """'Δ −0.0060 [−0.0093, −0.0028]' of the hypernetwork ensemble minus `model` (accuracy in points), and the
    verdict: True when the interval lies on the good side of 0, False on the bad side, None when it holds 0."""
    c = m["comparisons"].get(model, {}).get(metric)
    if not c or c.get("low") is None:
        return "no interval", None
    scale = 100.0 if metric == "accuracy" else 1.0
    text = f"Δ {scale * c['estimate']:+.4f} [{scale * c['low']:+.4f}, {scale * c['high']:+.4f}]"
    if not c["excludes_zero"]:
        return text, None
    return text, (c["high"] < 0) if better_is_lower else (c["low"] > 0)


def targets(evaluate: Path) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows of the main run."""
    m, members = _load(evaluate)
    models, rows = m["models"], []
    mean = sum(members) / len(members)
    worst = [min(members[i:i + GROUP]) for i in range(0, len(members) - GROUP + 1, GROUP)]
    rows.append(("mean member ≥ 98.8 %", f"{100 * mean:.2f} % ({len(members)} nets)", _verdict(mean >= MEMBER_FLOOR)))
    rows.append((f"worst of every {GROUP} ≥ 98.0 %", " / ".join(f"{100 * w:.2f}" for w in worst) + " %"
                 if worst else f"fewer than {GROUP} nets", _verdict(min(worst) >= WORST_FLOOR) if worst else "–"))
    disagreement = m["diversity"]["hypernet"]["disagreement"]
    deep_disagreement = m["diversity"].get("deep_ensemble", {}).get("disagreement")
    measured = f"{100 * disagreement:.2f} %" + ("" if deep_disagreement is None else
                                                 f" (deep ensemble {100 * deep_disagreement:.2f} %)")
    rows.append(("pairwise disagreement ≥ 1.0 %", measured, _verdict(disagreement >= DISAGREEMENT_FLOOR)))
    hyper_auroc, deep_auroc = models["hypernet_ensemble"]["ood"]["auroc"], models["deep_ensemble"]["ood"]["auroc"]
    text, ok = _difference(m, "deep_ensemble", "auroc", better_is_lower=False)
    rows.append(("OOD AUROC (MI) ≥ the deep ensemble's", f"{hyper_auroc:.4f} vs {deep_auroc:.4f}, {text}",
                 _verdict(ok if ok is not None else hyper_auroc >= deep_auroc)))
    ratio = (m.get("equal_compute") or {}).get("ratio")
    for model, label in (("deep_ensemble", f"at {ratio:.2f}x G's training FLOPs" if ratio else "as trained"),):
        if model not in models:
            rows.append((f"ensemble vs deep ensemble {label}", "not evaluated", "–"))
            continue
        d = models[model]
        detail = f"{d['members']} nets, "
        for metric, lower in (("accuracy", False), ("nll", True)):
            text, ok = _difference(m, model, metric, better_is_lower=lower)
            ours = models["hypernet_ensemble"][metric]
            value = f"{100 * ours:.2f} vs {100 * d[metric]:.2f} %" if metric == "accuracy" else \
                f"{ours:.4f} vs {d[metric]:.4f}"
            rows.append((f"ensemble {metric.upper() if metric == 'nll' else metric} as good as deep ens. {label}",
                         f"{value} ({detail}{d['train_seconds']:.0f} s), {text}", _verdict(ok)))
    seconds = models["hypernet_ensemble"].get("train_seconds")
    rows.append(("hypernetwork training ≤ 20 min", f"{seconds / 60:.2f} min" if seconds else "not recorded",
                 _verdict(seconds / 60 <= TRAIN_MINUTES) if seconds else "–"))
    return rows


def sweep_line(folder: Path) -> str:
    m, members = _load(folder)
    h = m["models"]["hypernet_ensemble"]
    return (f"{folder}: members {100 * sum(members) / len(members):.2f} %, disagreement "
            f"{100 * m['diversity']['hypernet']['disagreement']:.2f} %, ensemble {100 * h['accuracy']:.2f} %, "
            f"NLL {h['nll']:.4f}, OOD AUROC {h['ood']['auroc']:.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaluate", type=Path, default=Path("results/main/evaluate"))
    parser.add_argument("--sweep", type=Path, nargs="*", default=None,
                        help="evaluate folders of sweep runs (default: results/lambda*/evaluate)")
    args = parser.parse_args(argv)
    if not (args.evaluate / outputs.METRICS).is_file():
        print(f"{args.evaluate / outputs.METRICS} does not exist: run the study first (make run)", file=sys.stderr)
        return 2
    width = max(len(t) for t, *_ in targets(args.evaluate))
    for target, measured, verdict in targets(args.evaluate):
        print(f"{target:<{width}}  {verdict:<9}  {measured}")
    sweep = args.sweep if args.sweep is not None else sorted(Path("results").glob("lambda*/evaluate"))
    for folder in sweep:
        print(sweep_line(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
