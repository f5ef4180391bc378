"""Which setting of the sweep is best for the ensemble (issue 13): the best *validation* ensemble NLL among the
settings whose validation members reach a floor, so that the test set, which every other number in the report
comes from, plays no part in the choice.

The candidates are the main run and every sweep run; their validation figures are the ones training wrote at
its last step (train_summary.json, `eval_nets` sampled nets on the held-out training images), found through the
path each evaluation's metrics.json records."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from .figures.frontier import hypernet_point
from .inputs import ReportError, label_of, run_label, value
from .seed_blocks import fit as fit_seed_blocks

VALIDATION_KEYS = ("val_acc_mean", "val_ensemble_acc", "val_ensemble_nll", "val_disagreement")
ROUNDING = 1e-12  # NLLs this close are equal: the seed-blocked fit's least squares leave such differences in ties


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
    flops = (summary.get("compute") or {}).get("train_flops")
    return {**{k: float(summary[k]) for k in VALIDATION_KEYS},
            "train_flops": float(flops) if isinstance(flops, (int, float)) else math.nan}


def candidates(inputs: dict) -> list[dict]:
    """The main run and every sweep run: label, validation figures (or None) and test figures."""
    cfg, main = inputs["cfg"], inputs["metrics"]
    reference = inputs.get("reference")  # the main run's train config, read once by load_inputs
    main_label = label_of(reference, reference) if reference else None  # unreadable: the main run's row says "?"
    runs = [{"name": "main run", "label": main_label, "metrics": main, "folder": str(cfg.evaluate)}]
    runs += [{"name": r["folder"], "label": r, "metrics": r["metrics"], "folder": r["folder"]} for r in inputs["sweep"]]
    return [{**run, "setting": run_label(run["label"]) if run["label"] else "?",
             "seed": run["label"].get("seed") if run["label"] else None,
             "validation": validation_figures(run["metrics"], run["folder"]), "test": hypernet_point(run["metrics"])}
            for run in runs]


def by_setting(runs: list[dict]) -> list[dict]:
    """One entry per setting: its runs (one per training seed of `sweep.seeds`), the means of their validation
    figures at the average seed (None unless every run has them; `seed_blocks`: the seed is a block, so a lever
    tried on one seed is not compared with another setting's mean over other seeds), the plain spread over its
    seeds, and the fit of validation NLL that the choice's standard errors come from. A setting is chosen on its
    mean, not on its luckiest seed."""
    groups: dict[str, list[dict]] = {}
    for i, run in enumerate(runs):  # a run whose setting could not be read ("?") is a setting of its own
        groups.setdefault(run["setting"] if run["setting"] != "?" else f"?{i}", []).append(run)
    settings = []
    for members in groups.values():
        figures = [r["validation"] for r in members if r["validation"]]
        whole = len(figures) == len(members)
        keys = (*VALIDATION_KEYS, "train_flops")
        settings.append({"setting": members[0]["setting"], "runs": members, "seeds": len(members),
                         "validation": {k: statistics.fmean(f[k] for f in figures) for k in keys} if whole else None,
                         "spread": {k: statistics.stdev(f[k] for f in figures) for k in keys}
                         if whole and len(figures) > 1 else None})
    complete = [s for s in settings if s["validation"] and all(math.isfinite(s["validation"][k])
                                                                for k in VALIDATION_KEYS)]
    runs_of = [(i, r) for i, s in enumerate(complete) for r in s["runs"]]
    for key in VALIDATION_KEYS:
        if not complete:
            break
        fitted = fit_seed_blocks([i for i, _ in runs_of], [r["seed"] for _, r in runs_of],
                                 [r["validation"][key] for _, r in runs_of], len(complete))
        for i, setting in enumerate(complete):
            setting["validation"][key] = fitted.means[i]
            if key == "val_ensemble_nll":
                setting["nll_fit"], setting["index"] = fitted, i
    return settings


def _eligible(settings: list[dict], floor: float) -> list[dict]:
    return [s for s in settings if s["validation"] and s["validation"]["val_acc_mean"] >= floor
            and math.isfinite(s["validation"]["val_ensemble_nll"])]


def _nll(setting: dict) -> float:
    return setting["validation"]["val_ensemble_nll"]


def error_of_difference(setting: dict, lowest: dict) -> float:
    """One standard error of the difference of two settings' mean validation NLL (`seed_blocks`)."""
    return setting["nll_fit"].se_difference(setting["index"], lowest["index"])


def choose(runs: list[dict], floor: float) -> dict | None:
    """A one-standard-error rule (after Hastie, Tibshirani & Friedman, ESL §7.10) on validation ensemble NLL
    averaged over seeds: among the settings whose mean validation members reach `floor`, those within one standard
    error of the difference (`seed_blocks`: the seed is a block) of the lowest mean NLL; of these, the
    one that costs the fewest training FLOPs (then the lowest NLL). Why: two seeds of the default gave 0.037 and
    0.047, a spread larger than the gaps between settings, so a setting that costs more must beat a cheaper one by
    more than the noise. With one seed per setting (no spread) this is the lowest NLL. An entry of by_setting, or
    None."""
    eligible = _eligible(by_setting(runs), floor)
    lowest = min(eligible, key=_nll, default=None)
    if lowest is None:
        return None
    return min([s for s in eligible if _nll(s) - _nll(lowest) <= error_of_difference(s, lowest) + ROUNDING],
               key=lambda s: (_flops_order(s), round(_nll(s) / ROUNDING)))  # ties: the first setting, the main run's


def _flops_order(setting: dict) -> float:
    """A setting's mean training FLOPs, for ordering; a run that did not record them sorts last."""
    flops = setting["validation"]["train_flops"]
    return flops if math.isfinite(flops) else math.inf


def settle(inputs: dict) -> tuple[list[dict], dict | None]:
    """The candidates and the chosen setting, read once per report (the frontier figure and report.md share
    them)."""
    if "choice" not in inputs:
        runs = candidates(inputs)
        inputs["choice"] = (runs, choose(runs, inputs["cfg"].member_floor))
    return inputs["choice"]


def _pct(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{100 * x:.2f}"


def _with_spread(setting: dict, key: str, scale: float, digits: int) -> str:
    """'98.71' or '98.71 ± 0.04' (the std over the setting's seeds, when it has several)."""
    mean = (setting["validation"] or {}).get(key)
    if mean is None:
        return "–"
    text = f"{scale * mean:.{digits}f}"
    return text + (f" ± {scale * setting['spread'][key]:.{digits}f}" if setting["spread"] else "")


def _tflop(setting: dict) -> str:
    flops = (setting["validation"] or {}).get("train_flops", math.nan)
    return f"{flops / 1e12:.1f}" if math.isfinite(flops) else "–"


def _run_rows(runs: list[dict], chosen: list[dict]) -> list[list[str]]:
    """The per-run table's rows, best validation NLL first: each seed's validation and test figures."""
    rows = []
    for r in sorted(runs, key=lambda r: (r["validation"] or {}).get("val_ensemble_nll", math.inf)):
        v, t = r["validation"] or {}, r["test"]
        rows.append([("**" + r["setting"] + "**") if any(r is c for c in chosen) else r["setting"],
                     "main" if r["name"] == "main run" else f"`{r['folder']}`",
                     _pct(v.get("val_acc_mean")), _pct(v.get("val_ensemble_acc")),
                     "–" if "val_ensemble_nll" not in v else f"{v['val_ensemble_nll']:.4f}",
                     _pct(v.get("val_disagreement")), _pct(t["member_accuracy"]), _pct(t["disagreement"]),
                     "–" if t["nll"] is None else f"{t['nll']:.4f}",
                     "–" if t["ood_auroc"] is None else f"{t['ood_auroc']:.4f}"])
    return rows


def _verdict(settings: list[dict], best: dict | None, floor: float) -> str:
    """The choice in words: which setting, by which part of the rule, and whether it is the main run's."""
    if best is None:
        return (f"No setting is chosen: none has mean validation members at {100 * floor:.2f} % or better "
                "(`sweep.member_floor`).")
    eligible = _eligible(settings, floor)
    lowest = min(eligible, key=_nll)
    main = any(r["name"] == "main run" for r in best["runs"])
    seeds = f"mean of {best['seeds']} seed{'s' if best['seeds'] > 1 else ''}"
    text = f"Chosen for the ensemble: **{best['setting']}** ({seeds}{', the main run among them' if main else ''}). "
    if len(eligible) == 1:
        text += (f"It is the only one of the {len(settings)} settings whose mean validation members reach "
                 f"{100 * floor:.2f} %.")
    elif lowest["runs"] == best["runs"]:
        text += (f"It has the lowest mean validation ensemble NLL among the {len(eligible)} settings whose mean "
                 f"validation members reach {100 * floor:.2f} %, and no cheaper setting is within one standard "
                 "error of it.")
    else:
        error = error_of_difference(best, lowest)
        text += (f"The lowest mean validation ensemble NLL is {lowest['setting']}'s ({_nll(lowest):.4f}); this "
                 f"setting's {_nll(best):.4f} is within one standard error of the difference ({error:.4f}) and "
                 "costs fewer training FLOPs, so the one-standard-error rule takes it.")
    return text + ("" if main else " It is not the main run's setting: the default (params.yaml `train`) is not "
                   "the setting this sweep chose.")


def _versus_chosen(setting: dict, chosen: dict | None) -> str:
    """'+0.0060 (0.0022)': the setting's mean validation NLL minus the chosen one's, and one standard error of
    that difference."""
    if chosen is None or "nll_fit" not in setting or "nll_fit" not in chosen:
        return "–"
    return f"{_nll(setting) - _nll(chosen):+.4f} ({error_of_difference(setting, chosen):.4f})"


def _noise(settings: list[dict]) -> str:
    """The seed-to-seed noise the standard errors come from, in words."""
    fit = next((s["nll_fit"] for s in settings if "nll_fit" in s), None)
    if fit is None:
        return ""
    model = "setting + seed" if fit.blocked else "setting alone (the seeds cannot be told from the settings)"
    return (f"Noise: the residual std of validation NLL under {model} is {fit.sigma:.4f}, on {fit.dof} degree(s) "
            "of freedom.")


def choice_section(inputs: dict, table) -> list[str]:
    """report.md's section: each setting's validation figures over its seeds and the chosen one, then every
    run's validation and test figures."""
    (runs, best), floor = settle(inputs), inputs["cfg"].member_floor
    settings = sorted(by_setting(runs), key=lambda s: (s["validation"] or {}).get("val_ensemble_nll", math.inf))
    chosen = next((s for s in settings if best and s["runs"] == best["runs"]), None)
    setting_rows = [[("**" + s["setting"] + "**") if best and s["runs"] == best["runs"] else s["setting"],
                     str(s["seeds"]), _with_spread(s, "val_acc_mean", 100, 2),
                     _with_spread(s, "val_ensemble_acc", 100, 2), _with_spread(s, "val_ensemble_nll", 1, 4),
                     _versus_chosen(s, chosen), _with_spread(s, "val_disagreement", 100, 2), _tflop(s)]
                    for s in settings]
    m = inputs["metrics"]
    return ["", "## Which setting is best for the ensemble", "",
            "One row per setting, best first: the mean at the average training seed (figure = setting + seed, "
            "fitted over every run, so that a setting tried on fewer seeds is compared seed for seed; ± the plain "
            "std over its own seeds, where it has several) of the validation figures training wrote at its last "
            "step (held-out training images, "
            "`train.eval_nets` sampled nets), and its training FLOPs. The choice uses these only, never the test "
            "set: the lowest mean validation ensemble NLL among the settings whose mean members reach the floor, "
            "unless a cheaper one is within one standard error of the difference (from what the seeds and settings "
            "leave unexplained; then the cheapest such). A "
            "difference smaller than the seed-to-seed spread is not evidence.", "",
            table(["setting", "seeds", "val. member %", "val. ensemble %", "val. ensemble NLL",
                   "NLL − chosen (SE)", "val. disagreement %", "training TFLOP"], setting_rows), "",
            _noise(settings), "", _verdict(settings, best, floor), "",
            "Every run, best validation NLL first; the test columns come from each run's evaluation (its members, "
            "their pairwise disagreement, the ensemble of "
            f"{value(m, 'hypernet.ensemble_gain_detail.size')} nets, OOD AUROC by mutual information).", "",
            table(["setting", "run", "val. member %", "val. ensemble %", "val. ensemble NLL",
                   "val. disagreement %", "test member %", "test disagreement %", "test ensemble NLL",
                   "OOD AUROC"], _run_rows(runs, best["runs"] if best else []))]
