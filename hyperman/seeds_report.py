"""The seeds study's table: every model over S training seeds, and the headline comparisons with intervals that
cover seed and test-image variation (the math: hyperman.seed_stats).

Reads the metrics.json of S evaluations (replicate 0 first: the default run), each of its own hypernetwork and
its own deep ensemble, and checks that they are replicates: distinct hypernetworks, disjoint baselines, the same
test images. Writes seeds.json (every number) and seeds.md (the tables) to --out, all or nothing.

Verdicts: a comparison "holds" only when its combined interval excludes 0 in the claimed direction (the
hypernetwork ensemble more accurate, lower NLL, lower ECE, higher OOD AUROC) AND Holm–Bonferroni over every
claim of the table (hyperman.stats.holm, on the combined intervals' t p-values) rejects "no difference"; "does
not hold" when it lies on the other side; "not shown" otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import outputs, partial, seed_stats, stats
from .errors import HypermanError
from .files import replace_dir_atomically
from .settings import path_setting, setting

SEEDS, SEEDS_TABLE = outputs.SEEDS, outputs.SEEDS_TABLE  # what it writes: the numbers, and the tables

# (metric key, title, scale for printing, higher is better for the hypernetwork ensemble)
METRICS = (("accuracy", "accuracy", 100, True), ("nll", "NLL", 1, False), ("ece", "ECE", 1, False),
           ("auroc", "OOD AUROC", 1, True))
REQUIRED = ("inputs.checkpoint_sha256", "inputs.baselines", "inputs.dataset", "inputs.test_images", "models",
            "comparisons")
T_INTERVAL = "t interval of the per-seed differences (t with S − 1 dof): seed variation, for this test set"
COMBINED = ("mean of the per-seed estimates ± t_{S−1}·sqrt(var_between/S + mean(var_within)), var_within = "
            "((high − low)/(2·1.96))² of each seed's paired-bootstrap interval: seed and test-image variation (the "
            "test set is shared by the seeds, so its variance is not divided by S: conservative)")


class SeedsReportError(HypermanError):
    """The evaluations given are not replicates of one study (or are missing or malformed)."""


@dataclass
class SeedsReportConfig:
    """What `hyperman seeds-report` reads and writes; the one description of its flags (hyperman.settings)."""

    evaluate: list[Path] = setting(help="evaluate folders of the replicates, the default run first (S ≥ 2)",
                                   param=False, metavar="EVAL_DIR")
    out: Path = path_setting("folder for seeds.json and seeds.md")


def read(folders: list[Path]) -> list[dict]:
    """Every replicate's metrics.json, checked to be replicates of one study."""
    if len(folders) < 2:
        raise SeedsReportError(f"a seeds report needs at least 2 --evaluate folders (one per replicate), got "
                               f"{len(folders)}; run `make seeds`")
    runs = []
    for folder in folders:
        path = Path(folder) / outputs.METRICS
        try:
            m = json.loads(path.read_text())
            missing = [key for key in REQUIRED if not _has(m, key)]
        except (OSError, ValueError) as error:
            raise SeedsReportError(f"{path} is not a readable metrics.json ({error}); run `hyperman evaluate` "
                                   "for that replicate") from None
        if missing:
            raise SeedsReportError(f"{path} lacks {', '.join(missing)}; rerun `hyperman evaluate` for it")
        for warning in m.get("warnings", []):
            partial.note(f"{path}: {warning}")
        runs.append({"path": str(path), "metrics": m})
    _check_replicates(runs)
    return runs


def _has(m: dict, key: str) -> bool:
    try:
        outputs.get(m, key)
        return True
    except KeyError:
        return False


def _check_replicates(runs: list[dict]) -> None:
    seen: dict[str, str] = {}
    for run in runs:
        sha = run["metrics"]["inputs"]["checkpoint_sha256"]
        if sha in seen:
            raise SeedsReportError(f"{seen[sha]} and {run['path']} evaluate the same hypernetwork (sha256 "
                                   f"{sha[:12]}…): give one evaluation per training seed")
        seen[sha] = run["path"]
    owner: dict[str, str] = {}
    for run in runs:
        for baseline in run["metrics"]["inputs"]["baselines"]:
            key = str(Path(baseline))
            if key in owner:
                raise SeedsReportError(f"{owner[key]} and {run['path']} share the baseline {baseline}: each "
                                       "replicate needs its own deep ensemble (disjoint baseline seeds)")
            owner[key] = run["path"]
    first = runs[0]["metrics"]["inputs"]
    for run in runs[1:]:
        other = run["metrics"]["inputs"]
        if (other["dataset"], other["test_images"]) != (first["dataset"], first["test_images"]):
            raise SeedsReportError(f"{run['path']} was evaluated on {other['test_images']} {other['dataset']} test "
                                   f"images, {runs[0]['path']} on {first['test_images']} {first['dataset']}: "
                                   "evaluate every replicate with the same evaluate settings")


def _model_value(entry: dict, metric: str) -> float | None:
    if metric == "auroc":
        return (entry.get("ood") or {}).get("auroc")
    return entry.get(metric)


def _common(runs: list[dict], section: str) -> tuple[list[str], list[str]]:
    """(names present in every replicate's `section`, in the report's order; names some replicates lack)."""
    sets = [set(run["metrics"][section]) for run in runs]
    everywhere = [n for n in outputs.MODEL_NAMES if all(n in s for s in sets)]
    return everywhere, sorted(set().union(*sets) - set(everywhere))


def summarise(runs: list[dict], level: float = seed_stats.LEVEL) -> dict:
    """seeds.json: per model and metric mean ± sd over seeds; per comparison and metric both intervals and the
    Holm-corrected verdict."""
    models, models_skipped = _common(runs, "models")
    out_models = {}
    for name in models:
        entries = [run["metrics"]["models"][name] for run in runs]
        out_models[name] = {"members": entries[0].get("members")}
        for metric, *_ in METRICS:
            values = [_model_value(e, metric) for e in entries]
            if any(v is None for v in values):
                out_models[name][metric] = None
                continue
            mean, sd = seed_stats.mean_sd(values)
            out_models[name][metric] = {"mean": mean, "sd": sd, "per_seed": values}
    compared, compared_skipped = _common(runs, "comparisons")
    compared.sort(key=lambda name: name != "deep_ensemble")  # the headline comparison first
    comparisons, family = {}, []
    for name in compared:
        comparisons[name] = {}
        for metric, _, _, higher in METRICS:
            entries = [run["metrics"]["comparisons"][name].get(metric) for run in runs]
            if any(e is None for e in entries):
                comparisons[name][metric] = None
                continue
            estimates = [e["estimate"] for e in entries]
            row = {"per_seed": estimates, "t_interval": seed_stats.t_interval(estimates, level), "combined": None,
                   "higher_is_better": higher}
            if all(e.get("low") is not None and e.get("high") is not None for e in entries):
                row["combined"] = seed_stats.combined_interval(estimates, [e["low"] for e in entries],
                                                               [e["high"] for e in entries], level)
                family.append(row)
            comparisons[name][metric] = row
    corrections = stats.holm([row["combined"]["p_value"] for row in family], 1 - level) if family else []
    for row, correction in zip(family, corrections):
        row["holm"] = correction
    for by_metric in comparisons.values():
        for row in by_metric.values():
            if row is not None:
                row["verdict"] = verdict(row["combined"], row["higher_is_better"], row.get("holm"))
    return {"replicates": [{"metrics": run["path"], "checkpoint": run["metrics"]["inputs"].get("checkpoint"),
                            "checkpoint_sha256": run["metrics"]["inputs"]["checkpoint_sha256"],
                            "baselines": run["metrics"]["inputs"]["baselines"]} for run in runs],
            "seeds": len(runs), "level": level, "models": out_models, "comparisons": comparisons,
            "notes": {"difference": f"{outputs.HEADLINE} minus the model, per seed as in each metrics.json",
                      "t_interval": T_INTERVAL, "combined": COMBINED,
                      "verdict": f"from the combined interval, Holm–Bonferroni over {len(family)} claims "
                                 f"(family-wise error {1 - level:.2g})",
                      "skipped": {"models": models_skipped, "comparisons": compared_skipped}}}


def verdict(interval: dict | None, higher_is_better: bool, correction: dict | None) -> str:
    """holds / does not hold / not shown, from the combined interval and its Holm decision."""
    if interval is None:
        return "not shown (no per-seed bootstrap interval: test-image variation unknown)"
    better = interval["low"] > 0 if higher_is_better else interval["high"] < 0
    worse = interval["high"] < 0 if higher_is_better else interval["low"] > 0
    if not (better or worse):
        return "not shown (the interval contains 0)"
    if correction is None or not correction["reject"]:
        return "not shown after the Holm correction (the 95 % interval excludes 0)"
    return "holds" if better else "does not hold (the interval lies on the other side of 0)"


def _fmt(v: float | None, scale: float, signed: bool = False) -> str:
    if v is None:
        return "n/a"
    if signed:  # rounded: a zero difference prints +0, not +6.7e-16
        return f"{round(scale * v, 12) + 0.0:+.4g}"
    return f"{100 * v:.2f} %" if scale == 100 else f"{v:.4f}"


def _interval(d: dict, scale: float) -> str:
    return f"{_fmt(d['estimate'], scale, True)} [{_fmt(d['low'], scale, True)}, {_fmt(d['high'], scale, True)}]"


def markdown(summary: dict) -> str:
    """seeds.md: the replicates, every model's mean ± sd, and the comparisons with both intervals and verdicts."""
    s = summary["seeds"]
    lines = [f"# Training seeds: {s} replicates", "",
             "Each replicate trains its own hypernetwork and its own deep ensemble (disjoint baseline seeds); all are "
             "evaluated on the same test images with the same settings. Replicate 0 is the default run.", "",
             "| replicate | evaluation | hypernetwork (sha256) | baselines |", "|---|---|---|---|"]
    for r, rep in enumerate(summary["replicates"]):
        lines.append(f"| {r} | `{rep['metrics']}` | `{rep['checkpoint_sha256'][:12]}` | "
                     f"{', '.join(f'`{b}`' for b in rep['baselines'])} |")
    lines += ["", f"## Every model: mean ± sd over {s} seeds", "",
              "| model | " + " | ".join(title for _, title, *_ in METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for name, entry in summary["models"].items():
        cells = []
        for metric, _, scale, _ in METRICS:
            d = entry[metric]
            cells.append("n/a" if d is None else f"{_fmt(d['mean'], scale)} ± "
                         + ("n/a" if d["sd"] is None else (f"{100 * d['sd']:.2f} pp" if scale == 100
                                                           else f"{d['sd']:.4f}")))
        lines.append(f"| {_label(name, entry)} | " + " | ".join(cells) + " |")
    notes = summary["notes"]
    lines += ["", "## The hypernetwork ensemble minus each model", "",
              f"Differences as in each metrics.json (accuracy in pp). **t interval**: {notes['t_interval']}. "
              f"**Combined interval**: {notes['combined']}. Verdict: {notes['verdict']}; a claim holds only when "
              "the combined interval excludes 0 in the claimed direction (higher accuracy and OOD AUROC, lower NLL "
              "and ECE) and Holm rejects \"no difference\".", "",
              "| minus | metric | per seed | t interval (seeds) | combined interval (seeds + test images) | "
              "p | Holm p | verdict |", "|---|---|---|---|---|---|---|---|"]
    for name, by_metric in summary["comparisons"].items():
        for metric, title, scale, _ in METRICS:
            row = by_metric.get(metric)
            if row is None:
                continue
            combined, holm = row["combined"], row.get("holm")
            p = "n/a" if combined is None else f"{combined['p_value']:.3g}"
            adjusted = "n/a" if holm is None else f"{holm['adjusted_p']:.3g}"
            lines.append(f"| {_label(name, summary['models'].get(name, {}))} | {title} | "
                         f"{', '.join(_fmt(v, scale, True) for v in row['per_seed'])} | "
                         f"{_interval(row['t_interval'], scale)} | "
                         f"{'n/a' if combined is None else _interval(combined, scale)} | "
                         f"{p} | {adjusted} | *{row['verdict']}* |")
    skipped = notes["skipped"]
    if skipped["models"] or skipped["comparisons"]:
        lines += ["", "Left out (not in every replicate's evaluation): "
                  + ", ".join(sorted(set(skipped["models"]) | set(skipped["comparisons"]))) + "."]
    for warning in summary.get("warnings", []):
        lines += ["", f"**Warning**: {warning}"]
    return "\n".join(lines) + "\n"


def _label(name: str, entry: dict) -> str:
    members = entry.get("members")
    size = "" if members is None else f" ({members} net{'s' if members != 1 else ''})"
    from .report.evidence import model_label  # here: the workflow imports this module's file names, not matplotlib

    return model_label(name) + size


def build(cfg: SeedsReportConfig) -> dict:
    """Read, summarise and write OUT/seeds.json and OUT/seeds.md together (a failure leaves OUT as it was)."""
    summary = partial.stamp(summarise(read(list(cfg.evaluate))))  # an input's warnings go into both files

    def write(folder: Path) -> None:  # the folder is swapped in whole: no file can be half-written
        (folder / SEEDS).write_text(json.dumps(summary, indent=1) + "\n")
        (folder / SEEDS_TABLE).write_text(markdown(summary))

    replace_dir_atomically(Path(cfg.out), write, "seeds-report")
    return summary
