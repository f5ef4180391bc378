"""Which setting of the sweep is best for the ensemble (issue 13): the best *validation* ensemble NLL among the
settings whose validation members reach a floor, so that the test set, which every other number in the report
comes from, plays no part in the choice.

The candidates are the main run and every sweep run; their validation figures are the ones training wrote at
its last step (train_summary.json, `eval_nets` sampled nets on the held-out training images), found through the
path each evaluation's metrics.json records."""

from __future__ import annotations

import json
import math
from pathlib import Path

from .figures.frontier import hypernet_point
from .inputs import ReportError, label_from_checkpoint, run_label, value

VALIDATION_KEYS = ("val_acc_mean", "val_ensemble_acc", "val_ensemble_nll", "val_disagreement")


def validation_figures(metrics: dict, where: str) -> dict | None:
    """The validation figures of the hypernetwork an evaluation scored (None when its training wrote none)."""
    path = value(metrics, "timing.hypernet_train_summary")
    if not path or not Path(path).is_file():
        return None
    try:
        summary = json.loads(Path(path).read_text())
    except ValueError as error:
        raise ReportError(f"{where}: {path} is not JSON ({error})") from None
    if not all(isinstance(summary.get(k), (int, float)) for k in VALIDATION_KEYS):
        return None  # a run without validation (eval_nets = 0 or an older summary)
    return {k: float(summary[k]) for k in VALIDATION_KEYS}


def candidates(inputs: dict) -> list[dict]:
    """The main run and every sweep run: label, validation figures (or None) and test figures."""
    cfg, main = inputs["cfg"], inputs["metrics"]
    try:
        main_label = label_from_checkpoint(main, Path(cfg.evaluate))
    except (ReportError, KeyError):  # no checkpoint to read it from: the main run's row says "?"
        main_label = None
    runs = [{"name": "main run", "label": main_label, "metrics": main, "folder": str(cfg.evaluate)}]
    runs += [{"name": r["folder"], "label": r, "metrics": r["metrics"], "folder": r["folder"]} for r in inputs["sweep"]]
    return [{**run, "setting": run_label(run["label"]) if run["label"] else "?",
             "validation": validation_figures(run["metrics"], run["folder"]), "test": hypernet_point(run["metrics"])}
            for run in runs]


def _eligible(runs: list[dict], floor: float) -> list[dict]:
    return [r for r in runs if r["validation"] and r["validation"]["val_acc_mean"] >= floor
            and math.isfinite(r["validation"]["val_ensemble_nll"])]


def choose(runs: list[dict], floor: float) -> dict | None:
    """The run with the lowest validation ensemble NLL among those whose validation members reach `floor`."""
    return min(_eligible(runs, floor), key=lambda r: r["validation"]["val_ensemble_nll"], default=None)


def settle(inputs: dict) -> tuple[list[dict], dict | None]:
    """The candidates and the chosen one, read once per report (the frontier figure and report.md share them)."""
    if "choice" not in inputs:
        runs = candidates(inputs)
        inputs["choice"] = (runs, choose(runs, inputs["cfg"].member_floor))
    return inputs["choice"]


def choice_section(inputs: dict, table) -> list[str]:
    """report.md's section: every candidate's validation and test figures, and the chosen setting."""
    (runs, best), floor = settle(inputs), inputs["cfg"].member_floor

    def pct(x):
        return "–" if x is None or not math.isfinite(x) else f"{100 * x:.2f}"

    rows = []
    for r in sorted(runs, key=lambda r: (r["validation"] or {}).get("val_ensemble_nll", math.inf)):
        v, t = r["validation"] or {}, r["test"]
        rows.append([("**" + r["setting"] + "**") if r is best else r["setting"],
                     "main" if r["name"] == "main run" else f"`{r['folder']}`",
                     pct(v.get("val_acc_mean")), pct(v.get("val_ensemble_acc")),
                     "–" if "val_ensemble_nll" not in v else f"{v['val_ensemble_nll']:.4f}",
                     pct(v.get("val_disagreement")), pct(t["member_accuracy"]), pct(t["disagreement"]),
                     "–" if t["nll"] is None else f"{t['nll']:.4f}",
                     "–" if t["ood_auroc"] is None else f"{t['ood_auroc']:.4f}"])
    m = inputs["metrics"]
    eligible = len(_eligible(runs, floor))
    if best is None:
        verdict = (f"No setting is chosen: none has validation members at {100 * floor:.2f} % or better "
                   "(`sweep.member_floor`).")
    else:
        where = "the main run" if best["name"] == "main run" else f"`{best['folder']}`"
        verdict = (f"Chosen for the ensemble: **{best['setting']}** ({where}), the lowest validation ensemble NLL "
                   f"among the {eligible} of {len(runs)} settings whose validation members reach "
                   f"{100 * floor:.2f} %."
                   + ("" if best["name"] == "main run" else " It is not the main run's setting: the default "
                      "(params.yaml `train`) is not the best setting this sweep found."))
    return ["", "## Which setting is best for the ensemble", "",
            "One row per trained setting (the main run and the sweep runs), best first. The choice uses only the "
            "validation figures training wrote at its last step (held-out training images, `train.eval_nets` "
            "sampled nets); the test columns come from "
            "each run's evaluation (its members, their pairwise disagreement, the ensemble of "
            f"{value(m, 'hypernet.ensemble_gain_detail.size')} nets, OOD AUROC by mutual information). One seed per "
            "setting, so differences smaller than the seed-to-seed spread are not evidence.", "",
            table(["setting", "run", "val. member %", "val. ensemble %", "val. ensemble NLL",
                   "val. disagreement %", "test member %", "test disagreement %", "test ensemble NLL",
                   "OOD AUROC"], rows), "", verdict]
