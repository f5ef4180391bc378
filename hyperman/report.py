"""Figures and report.md from what `evaluate`, `distill` and a λ sweep wrote.

Nothing here computes a metric from a network except the filter pictures
(which regenerate θ = G(z) from the samples file): every number comes from
metrics.json, the evaluate CSV tables, distill_metrics.json and the sweep
runs' metrics.json, and every claim in report.md is decided from those
numbers when the report is built.

The output folder is built in a temporary sibling and renamed into place at
the end, so a failed report leaves no half-written folder (and an older
report stays as it was).
"""

from __future__ import annotations

import csv
import json
import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import checkpoint
from .checkpoint import CheckpointError
from .files import replace_dir_atomically, sha256_file

EVAL_TABLES = {
    "ensemble_curve.csv": ["method", "size", "accuracy_mean", "accuracy_std", "nll_mean", "nll_std", "ece_mean",
                           "ece_std"],
    "paths.csv": ["kind", "pair", "t", "accuracy", "nll"],
    "adversarial.csv": ["model", "eps", "images", "correct", "flipped", "flip_rate"],
    "member_accuracy.csv": ["net", "accuracy", "nll"],
}
OPTIONAL_TABLES = {  # written by newer `hyperman evaluate` runs only
    "reliability.csv": ["model", "bin", "bin_lower", "bin_upper", "count", "confidence_mean", "accuracy"],
    "ood_scores.csv": ["model", "split", "image", "entropy", "mutual_information"],
}
REQUIRED_KEYS = [
    "inputs.dataset", "inputs.test_images", "hypernet.num_nets", "hypernet.members.accuracy_mean",
    "hypernet.members.accuracy_min", "hypernet.members.accuracy_max", "hypernet.members.nll_mean",
    "hypernet.ensemble.sizes", "hypernet.ensemble_gain", "hypernet.ensemble_gain_detail.ensemble_accuracy",
    "hypernet.ensemble_gain_detail.size", "deep_ensemble.size", "deep_ensemble.accuracy", "deep_ensemble.nll",
    "deep_ensemble.ece", "single_net.accuracy", "single_net.nll", "single_net.ece", "symmetry_control.gain",
    "symmetry_control.flipped_predictions", "paths", "ood", "timing",
]
DISTILL_KEYS = ["distilled.accuracy", "distilled.nll", "distilled.ece", "distilled.train_seconds",
                "teacher.accuracy", "teacher.nll", "teacher.ece", "teacher.nets", "teacher.mode"]
SWEEP_KEYS = ["hypernet.members.accuracy_mean", "hypernet.ensemble_gain", "diversity.hypernet.disagreement"]
COLORS = {"hyper": "#1f77b4", "vote": "#17becf", "deep": "#d62728", "single": "#333333", "member": "#7f7f7f",
          "student": "#2ca02c", "teacher": "#9467bd", "latent": "#1f77b4", "direct": "#ff7f0e"}


class ReportError(RuntimeError):
    """An input of the report is missing or malformed; the message names it and says what to do."""


@dataclass
class ReportConfig:
    evaluate: Path
    out: Path
    distill: Path | None = None
    checkpoint: Path | None = None
    samples: Path | None = None
    sweep: list[Path] = field(default_factory=list)
    sweep_labels: list[str] | None = None
    filter_nets: int = 3000
    conv1_filter: int = 0
    conv2_filter: int = 0


# --------------------------------------------------------------------------- reading inputs
def get(tree: dict, dotted: str):
    for key in dotted.split("."):
        if not isinstance(tree, dict) or key not in tree:
            raise KeyError(dotted)
        tree = tree[key]
    return tree


def _json(path: Path, keys: list[str], what: str) -> dict:
    if not path.is_file():
        raise ReportError(f"{what}: {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except (ValueError, OSError) as error:
        raise ReportError(f"{what}: {path} is not readable JSON ({error})") from None
    missing = []
    for key in keys:
        try:
            get(data, key)
        except KeyError:
            missing.append(key)
    if missing:
        raise ReportError(f"{what}: {path} lacks {', '.join(missing)}; is it the right file (rerun the stage "
                          "that writes it)?")
    return data


def _number(text: str) -> float | str:
    if text == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        return text


def read_csv(path: Path, header: list[str]) -> list[dict]:
    """Rows of a CSV table with the expected header; numeric cells as float, empty cells as NaN."""
    if not path.is_file():
        raise ReportError(f"{path} does not exist (written by `hyperman evaluate`)")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != header:
            raise ReportError(f"{path} has columns {reader.fieldnames}, expected {header}")
        return [{k: (v if k in ("method", "kind", "model", "split") else _number(v)) for k, v in row.items()}
                for row in reader]


def parse_label(text: str) -> dict:
    """'lambda=1000,seed=0' (lambda may be 'inf': no diversity) → {'lambda': 1000.0, 'seed': 0}."""
    out = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in ("lambda", "seed"):
            raise ReportError(f"--sweep-labels: {text!r} is not of the form 'lambda=1000,seed=0'")
        try:
            out[key] = float(value) if key == "lambda" else int(value)
        except ValueError:
            raise ReportError(f"--sweep-labels: bad {key} value in {text!r}") from None
    if "lambda" not in out:
        raise ReportError(f"--sweep-labels: {text!r} names no lambda")
    if not out["lambda"] > 0:
        raise ReportError(f"--sweep-labels: lambda must be > 0 or inf, got {text!r}")
    out.setdefault("seed", 0)
    return out


def label_from_checkpoint(metrics: dict, folder: Path) -> dict:
    """λ and seed of a sweep run from the config of the hypernetwork its metrics.json names."""
    path = Path(get(metrics, "inputs.checkpoint"))
    if not path.is_file():
        raise ReportError(f"--sweep {folder}: its metrics.json names the checkpoint {path}, which does not exist "
                          "(run the report from the folder the workflow ran in, or give --sweep-labels)")
    try:
        config = checkpoint.load(path, kind="hypernetwork")["config"]
    except (CheckpointError, KeyError, TypeError) as error:
        raise ReportError(f"--sweep {folder}: cannot read λ and seed from {path} ({error}); give --sweep-labels"
                          ) from None
    lam = float(config.get("lam", 1000.0)) if config.get("diversity", True) not in (False, "none") else math.inf
    return {"lambda": lam, "seed": int(config.get("seed", 0))}


def load_inputs(cfg: ReportConfig) -> dict:
    """Read and check every input before any figure is drawn."""
    ev = Path(cfg.evaluate)
    if not ev.is_dir():
        raise ReportError(f"--evaluate {ev} is not a folder (the --out of `hyperman evaluate`)")
    inputs = {"metrics": _json(ev / "metrics.json", REQUIRED_KEYS, "--evaluate")}
    inputs["tables"] = {name: read_csv(ev / name, header) for name, header in EVAL_TABLES.items()}
    for name, header in OPTIONAL_TABLES.items():
        inputs["tables"][name] = read_csv(ev / name, header) if (ev / name).is_file() else None
    curve_methods = {row["method"] for row in inputs["tables"]["ensemble_curve.csv"]}
    if not {"hypernet_mean_prob", "single_net"} <= curve_methods:
        raise ReportError(f"{ev / 'ensemble_curve.csv'} has no hypernet_mean_prob or single_net rows")
    if not inputs["tables"]["member_accuracy.csv"]:
        raise ReportError(f"{ev / 'member_accuracy.csv'} is empty")

    inputs["distill"] = None
    if cfg.distill is not None:
        folder = Path(cfg.distill)
        inputs["distill"] = _json(folder / "distill_metrics.json" if folder.is_dir() else folder, DISTILL_KEYS,
                                  "--distill")

    if (cfg.checkpoint is None) != (cfg.samples is None):
        raise ReportError("the filter pictures need both --checkpoint and --samples (or neither)")
    if cfg.filter_nets < 1:
        raise ReportError(f"--filter-nets must be at least 1, got {cfg.filter_nets}")
    if cfg.checkpoint is not None:
        for what, path in (("--checkpoint", cfg.checkpoint), ("--samples", cfg.samples)):
            if not Path(path).is_file():
                raise ReportError(f"{what} {path} does not exist")

        digest = sha256_file(Path(cfg.checkpoint))
        evaluated = inputs["metrics"]["inputs"].get("checkpoint_sha256")
        if evaluated is not None and digest != evaluated:
            raise ReportError(f"--checkpoint {cfg.checkpoint} (sha256 {digest[:12]}…) is not the hypernetwork that "
                              f"--evaluate {ev} evaluated (sha256 {evaluated[:12]}…)")

    sweep = []
    if cfg.sweep_labels is not None and len(cfg.sweep_labels) != len(cfg.sweep):
        raise ReportError(f"--sweep-labels gives {len(cfg.sweep_labels)} labels for {len(cfg.sweep)} --sweep folders")
    for k, folder in enumerate(cfg.sweep):
        folder = Path(folder)
        m = _json(folder / "metrics.json", SWEEP_KEYS, f"--sweep {folder}")
        label = parse_label(cfg.sweep_labels[k]) if cfg.sweep_labels else label_from_checkpoint(m, folder)
        sweep.append({"folder": str(folder), **label, "member_accuracy": get(m, SWEEP_KEYS[0]),
                      "ensemble_gain": get(m, SWEEP_KEYS[1]), "disagreement": get(m, SWEEP_KEYS[2])})
    inputs["sweep"] = sweep
    return inputs


# --------------------------------------------------------------------------- numbers
def _curve(tables: dict, method: str) -> dict[str, np.ndarray]:
    rows = sorted((r for r in tables["ensemble_curve.csv"] if r["method"] == method), key=lambda r: r["size"])
    keys = EVAL_TABLES["ensemble_curve.csv"][1:]
    return {k: np.array([r[k] for r in rows], dtype=float) for k in keys}


def _value(tree: dict | None, dotted: str) -> float | None:
    if tree is None:
        return None
    try:
        value = get(tree, dotted)
    except KeyError:
        return None
    return None if value is None else value


def model_rows(inputs: dict) -> list[dict]:
    """Accuracy / NLL / ECE / OOD AUROC of every model the report compares (None where not measured)."""
    m, d = inputs["metrics"], inputs["distill"]
    hyper = _curve(inputs["tables"], "hypernet_mean_prob")
    size, draws = int(hyper["size"][-1]), m["hypernet"]["ensemble"].get("draws", [1] * len(hyper["size"]))[-1]
    members = m["hypernet"]["members"]
    rows = [
        {"key": "single", "name": "single net (baseline 1)", "accuracy": m["single_net"]["accuracy"],
         "nll": m["single_net"]["nll"], "ece": m["single_net"]["ece"],
         "auroc_entropy": _value(m, "ood.single_net.auroc_entropy"), "auroc_mi": None},
        {"key": "member", "name": "hypernet member (mean)", "accuracy": members["accuracy_mean"],
         "nll": members["nll_mean"], "ece": None, "auroc_entropy": None, "auroc_mi": None},
        {"key": "hyper", "name": f"hypernet ensemble ({size} nets{', mean of %d draws' % draws if draws > 1 else ''})",
         "accuracy": float(hyper["accuracy_mean"][-1]), "nll": float(hyper["nll_mean"][-1]),
         "ece": float(hyper["ece_mean"][-1]), "auroc_entropy": None, "auroc_mi": None},
        {"key": "deep", "name": f"deep ensemble ({m['deep_ensemble']['size']} nets)",
         "accuracy": m["deep_ensemble"]["accuracy"], "nll": m["deep_ensemble"]["nll"],
         "ece": m["deep_ensemble"]["ece"], "auroc_entropy": _value(m, "ood.deep_ensemble.auroc_entropy"),
         "auroc_mi": _value(m, "ood.deep_ensemble.auroc_mi")},
    ]
    if "hypernet" in m["ood"]:
        rows.insert(3, {"key": "hyper_ood", "name": f"hypernet ensemble ({m['ood']['hypernet']['members']} nets, OOD)",
                        "accuracy": m["hypernet"]["ensemble_gain_detail"]["ensemble_accuracy"]
                        if m["ood"]["hypernet"]["members"] == m["hypernet"]["ensemble_gain_detail"]["size"] else None,
                        "nll": None, "ece": None, "auroc_entropy": m["ood"]["hypernet"]["auroc_entropy"],
                        "auroc_mi": m["ood"]["hypernet"]["auroc_mi"]})
    if d is not None:
        rows.append({"key": "student", "name": "distilled student", **{k: d["distilled"][k] for k in
                     ("accuracy", "nll", "ece")}, "auroc_entropy": d["distilled"].get("ood_auroc_entropy"),
                     "auroc_mi": None})
        rows.append({"key": "teacher", "name": f"distillation teacher ({d['teacher']['nets']} nets, "
                     f"{d['teacher']['mode']})", **{k: d["teacher"][k] for k in ("accuracy", "nll", "ece")},
                     "auroc_entropy": d["teacher"].get("ood_auroc_entropy"), "auroc_mi": None})
    return rows


def pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.2f} %"


def pp(v) -> str:
    return "n/a" if v is None else f"{100 * v:+.2f} pp"


def num(v, digits: int = 4) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def secs(v) -> str:
    return "n/a" if v is None else f"{v:.1f} s"


def headline(inputs: dict) -> list[tuple[str, str, str]]:
    """(quantity, value, where it comes from) rows of the headline table."""
    m, d = inputs["metrics"], inputs["distill"]
    mem, gain = m["hypernet"]["members"], m["hypernet"]["ensemble_gain_detail"]
    sym, paths, timing = m["symmetry_control"], m["paths"], m["timing"]
    rows = [
        ("hypernet members: mean accuracy", pct(mem["accuracy_mean"]), "hypernet.members.accuracy_mean"),
        ("hypernet members: min accuracy", pct(mem["accuracy_min"]), "hypernet.members.accuracy_min"),
        ("hypernet members: max accuracy", pct(mem["accuracy_max"]), "hypernet.members.accuracy_max"),
        (f"hypernet ensemble of the first {gain['size']} nets: accuracy", pct(gain["ensemble_accuracy"]),
         "hypernet.ensemble_gain_detail.ensemble_accuracy"),
        (f"hypernet ensemble gain over its {gain['size']} members' mean", pp(m["hypernet"]["ensemble_gain"]),
         "hypernet.ensemble_gain"),
        (f"symmetry control gain ({sym.get('copies', '?')} transforms of one net; "
         f"{sym['flipped_predictions']} flipped predictions)", pp(sym["gain"]), "symmetry_control.gain"),
        (f"deep ensemble ({m['deep_ensemble']['size']} nets): accuracy", pct(m["deep_ensemble"]["accuracy"]),
         "deep_ensemble.accuracy"),
        ("single net: accuracy", pct(m["single_net"]["accuracy"]), "single_net.accuracy"),
        ("worst accuracy on a latent path", pct(_value(paths, "latent.worst_accuracy")),
         "paths.latent.worst_accuracy"),
        ("worst accuracy on a direct path", pct(_value(paths, "direct.worst_accuracy")),
         "paths.direct.worst_accuracy"),
        ("worst accuracy on the direct path between two baselines",
         pct(_value(paths, "baseline_direct.worst_accuracy")), "paths.baseline_direct.worst_accuracy"),
        ("mean accuracy drop along a latent path (ends − worst)", pp(_value(paths, "latent.mean_accuracy_drop")),
         "paths.latent.mean_accuracy_drop"),
        ("mean accuracy drop along a direct path (ends − worst)", pp(_value(paths, "direct.mean_accuracy_drop")),
         "paths.direct.mean_accuracy_drop"),
    ]
    if d is not None:
        rows += [("distilled student: accuracy", pct(d["distilled"]["accuracy"]), "distill: distilled.accuracy"),
                 ("distilled student: NLL (nats/image)", num(d["distilled"]["nll"]), "distill: distilled.nll"),
                 ("distilled student: ECE", num(d["distilled"]["ece"]), "distill: distilled.ece")]
    rows += [("hypernetwork training wall time", secs(timing.get("hypernet_train_seconds")),
              "timing.hypernet_train_seconds"),
             (f"baselines training wall time (all {m['deep_ensemble']['size']})",
              secs(timing.get("baselines_train_seconds")), "timing.baselines_train_seconds"),
             ("evaluation wall time", secs(timing.get("total_seconds")), "timing.total_seconds")]
    if d is not None:
        rows.append(("distillation wall time", secs(d["distilled"]["train_seconds"]),
                     "distill: distilled.train_seconds"))
    return rows


def claims(inputs: dict) -> list[tuple[str, str, str]]:
    """(claim, verdict, evidence): each decided from the numbers."""
    m, d = inputs["metrics"], inputs["distill"]
    out = []
    gain, detail = m["hypernet"]["ensemble_gain"], m["hypernet"]["ensemble_gain_detail"]
    best = m["hypernet"]["members"]["accuracy_max"]
    verdict = "holds" if gain > 0 else "does not hold"
    out.append(("The hypernetwork ensemble beats its members.", verdict,
                f"ensemble of {detail['size']}: {pct(detail['ensemble_accuracy'])} vs member mean "
                f"{pct(detail['member_accuracy_mean'])} (gain {pp(gain)}); best single member {pct(best)}, which "
                f"the ensemble {'also beats' if detail['ensemble_accuracy'] > best else 'does not beat'}."))
    sym = m["symmetry_control"]
    if sym["flipped_predictions"] == 0 and sym["gain"] == 0:
        verdict = "holds"
    elif abs(sym["gain"]) <= 1e-3:
        verdict = "holds up to rounding"
    else:
        verdict = "does not hold"
    out.append(("An ensemble of symmetry transforms of one net gains nothing (the manifold is more than symmetries).",
                verdict, f"gain {pp(sym['gain'])}, {sym['flipped_predictions']} of {sym.get('images', '?')} "
                f"predictions flipped; the real hypernet ensemble of {sym.get('hypernet_ensemble_size', '?')} gains "
                f"{pp(sym.get('hypernet_ensemble_gain'))}."))
    lat, dirc = _value(m, "paths.latent.mean_accuracy_drop"), _value(m, "paths.direct.mean_accuracy_drop")
    lw, dw = _value(m, "paths.latent.worst_accuracy"), _value(m, "paths.direct.worst_accuracy")
    if None in (lat, dirc, lw, dw):
        out.append(("Latent paths stay accurate where direct ones dip.", "not judged",
                    "no paths in metrics.json (fewer than 2 sampled nets)."))
    else:
        verdict = "holds" if lat < dirc and lw > dw else "does not hold"
        out.append(("Latent paths stay accurate where direct ones dip.", verdict,
                    f"mean drop from the ends to the worst point: latent {pp(lat)}, direct {pp(dirc)}; worst point "
                    f"over all pairs: latent {pct(lw)}, direct {pct(dw)}."))
    if d is None:
        out.append(("The distilled student beats the single net.", "not judged", "no --distill given."))
    else:
        s, single = d["distilled"], m["single_net"]
        acc_better, nll_better = s["accuracy"] > single["accuracy"], s["nll"] < single["nll"]
        verdict = ("holds" if acc_better and nll_better else "holds on accuracy only" if acc_better
                   else "holds on NLL only" if nll_better else "does not hold")
        out.append(("The distilled student beats the single net.", verdict,
                    f"accuracy {pct(s['accuracy'])} vs {pct(single['accuracy'])}, NLL {num(s['nll'])} vs "
                    f"{num(single['nll'])}, ECE {num(s['ece'])} vs {num(single['ece'])}."))
    return out


# --------------------------------------------------------------------------- figures
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 130, "axes.grid": True, "grid.alpha": 0.3,
                         "svg.hashsalt": "hyperman-report", "font.size": 10})
    return plt


def _save(fig, folder: Path, stem: str, svg: bool) -> list[str]:
    files = [f"{stem}.png"]
    fig.savefig(folder / files[0], bbox_inches="tight", metadata={"Software": None})
    if svg:
        files.append(f"{stem}.svg")
        fig.savefig(folder / files[1], bbox_inches="tight", metadata={"Date": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return files


def fig_ensemble_accuracy(plt, inputs: dict):
    t, m = inputs["tables"], inputs["metrics"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method, label, color, marker in (("hypernet_mean_prob", "hypernet, mean probability", COLORS["hyper"], "o"),
                                         ("hypernet_majority_vote", "hypernet, majority vote", COLORS["vote"], "s"),
                                         ("deep_ensemble_mean_prob", "deep ensemble, mean probability",
                                          COLORS["deep"], "^"),
                                         ("deep_ensemble_majority_vote", "deep ensemble, majority vote",
                                          COLORS["deep"], "v")):
        c = _curve(t, method)
        if len(c["size"]):
            ax.errorbar(c["size"], 100 * c["accuracy_mean"], yerr=100 * c["accuracy_std"], label=label,
                        color=color, marker=marker, ms=4, capsize=3, lw=1.5,
                        ls="--" if "vote" in method and "deep" in method else "-")
    ax.axhline(100 * m["single_net"]["accuracy"], color=COLORS["single"], ls="--", lw=1.2, label="single net")
    ax.axhline(100 * m["hypernet"]["members"]["accuracy_mean"], color=COLORS["member"], ls=":", lw=1.2,
               label="hypernet member (mean)")
    ax.set_xscale("log")
    ax.set_xlabel("ensemble size (nets, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Ensemble accuracy vs size ({m['inputs']['dataset']}, {m['inputs']['test_images']} test images)")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def fig_ensemble_nll_ece(plt, inputs: dict):
    t, m = inputs["tables"], inputs["metrics"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, ylabel, single in ((axes[0], "nll", "NLL (nats per image)", m["single_net"]["nll"]),
                                    (axes[1], "ece", "ECE (15 bins, fraction)", m["single_net"]["ece"])):
        for method, label, color, marker in (("hypernet_mean_prob", "hypernet ensemble", COLORS["hyper"], "o"),
                                             ("deep_ensemble_mean_prob", "deep ensemble", COLORS["deep"], "^")):
            c = _curve(t, method)
            if len(c["size"]):
                ax.errorbar(c["size"], c[f"{key}_mean"], yerr=c[f"{key}_std"], label=label, color=color,
                            marker=marker, ms=4, capsize=3)
        ax.axhline(single, color=COLORS["single"], ls="--", lw=1.2, label="single net")
        ax.set_xscale("log")
        ax.set_xlabel("ensemble size (nets, log scale)")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    axes[0].set_title("Negative log-likelihood vs size (mean probability)")
    axes[1].set_title("Expected calibration error vs size")
    fig.tight_layout()
    return fig


def fig_member_histogram(plt, inputs: dict):
    m = inputs["metrics"]
    acc = 100 * np.array([r["accuracy"] for r in inputs["tables"]["member_accuracy.csv"]], dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = max(5, min(40, int(np.sqrt(len(acc))) * 2))
    ax.hist(acc, bins=bins, color=COLORS["hyper"], alpha=0.7, edgecolor="white",
            label=f"hypernet members (N = {len(acc)})")
    gain = m["hypernet"]["ensemble_gain_detail"]
    for value, label, color, ls in ((m["hypernet"]["members"]["accuracy_mean"], "member mean", COLORS["member"], ":"),
                                    (m["single_net"]["accuracy"], "single net", COLORS["single"], "--"),
                                    (gain["ensemble_accuracy"], f"hypernet ensemble of {gain['size']}",
                                     COLORS["hyper"], "-"),
                                    (m["deep_ensemble"]["accuracy"], f"deep ensemble of {m['deep_ensemble']['size']}",
                                     COLORS["deep"], "-.")):
        ax.axvline(100 * value, color=color, ls=ls, lw=1.6, label=f"{label}: {100 * value:.2f} %")
    ax.set_xlabel("test accuracy (%)")
    ax.set_ylabel("number of sampled nets")
    ax.set_title("Accuracy of the sampled nets")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def fig_paths(plt, inputs: dict):
    rows = inputs["tables"]["paths.csv"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for kind, label, color, ls in (("latent", "latent path G((1−t)z₁ + t z₂)", COLORS["latent"], "-"),
                                   ("direct", "direct path (1−t)θ₁ + tθ₂", COLORS["direct"], "-"),
                                   ("baseline_direct", "direct path between two baselines", COLORS["single"], "--")):
        pairs = sorted({r["pair"] for r in rows if r["kind"] == kind})
        curves = []
        for p in pairs:
            pts = sorted((r["t"], r["accuracy"]) for r in rows if r["kind"] == kind and r["pair"] == p)
            t, a = np.array(pts).T
            curves.append(a)
            if len(pairs) > 1:
                ax.plot(t, 100 * a, color=color, lw=0.7, alpha=0.35)
        if curves:
            ax.plot(t, 100 * np.mean(curves, axis=0), color=color, lw=2.5, ls=ls,
                    label=f"{label}: {'mean of %d pairs' % len(curves) if len(curves) > 1 else 'one pair'}")
    ax.set_xlabel("interpolation coefficient t (0 = first net, 1 = second net)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy along latent and direct paths\n(thin lines: single pairs, thick lines: their mean)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, frameon=False)
    return fig


def _pretty(model: str) -> str:
    """'hypernet_ensemble_100' → 'hypernet ensemble (100 nets)'."""
    head, _, tail = model.rpartition("_")
    return f"{head.replace('_', ' ')} ({tail} nets)" if tail.isdigit() and head else model.replace("_", " ")


def fig_reliability(plt, inputs: dict):
    rows = inputs["tables"]["reliability.csv"]
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, (ax, hx) = plt.subplots(2, 1, figsize=(6, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 100], [0, 100], color="black", lw=0.8, ls=":", label="perfect calibration")
    width = 100 / 15 / (len(models) + 1)
    for k, model in enumerate(models):
        mr = sorted((r for r in rows if r["model"] == model), key=lambda r: r["bin"])
        total = sum(r["count"] for r in mr)
        ece = sum(r["count"] / total * abs(r["accuracy"] - r["confidence_mean"]) for r in mr if r["count"])
        color = (COLORS["hyper"] if model.startswith("hypernet") else COLORS["single"] if model == "single_net"
                 else COLORS["deep"])
        name = _pretty(model)
        full = [r for r in mr if r["count"]]
        ax.plot([100 * r["confidence_mean"] for r in full], [100 * r["accuracy"] for r in full], marker="o", ms=4,
                color=color, lw=1.5, label=f"{name} (ECE {ece:.4f})")
        centers = np.array([100 * (r["bin_lower"] + r["bin_upper"]) / 2 for r in mr])
        hx.bar(centers + (k - (len(models) - 1) / 2) * width, [100 * r["count"] / total for r in mr], width=width,
               color=color, label=name)
    ax.set_ylabel("accuracy in the bin (%)")
    ax.set_title("Reliability diagram (15 confidence bins)")
    ax.legend(fontsize=8, loc="upper left")
    hx.set_yscale("log")
    hx.set_ylabel("images (%)")
    hx.set_xlabel("confidence = max probability (%)")
    ax.set_xlim(0, 100)
    fig.tight_layout()
    return fig


def roc_curve(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates over every threshold (higher score = more OOD)."""
    order = np.argsort(-scores, kind="mergesort")
    s, p = scores[order], positive[order].astype(float)
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # one point per distinct score
    tp, fp = np.cumsum(p)[last], np.cumsum(1 - p)[last]
    return np.r_[0, fp / max(fp[-1], 1)], np.r_[0, tp / max(tp[-1], 1)]


def auc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def fig_ood(plt, inputs: dict):
    rows, m = inputs["tables"]["ood_scores.csv"], inputs["metrics"]
    ood = m["ood"]
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, (hx, rx) = plt.subplots(1, 2, figsize=(11, 5.2))
    hyper = next((name for name in models if name.startswith("hypernet")), models[0])
    data = {(r["model"], r["split"]): [] for r in rows}
    mi = {(r["model"], r["split"]): [] for r in rows}
    for r in rows:
        data[r["model"], r["split"]].append(r["entropy"])
        mi[r["model"], r["split"]].append(r["mutual_information"])
    lo = min(min(data[hyper, "in"]), min(data[hyper, "ood"]))
    hi = max(max(data[hyper, "in"]), max(data[hyper, "ood"]))
    bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 40)
    for split, label, color in (("in", f"in-distribution ({ood['in_distribution']})", COLORS["hyper"]),
                                ("ood", f"out-of-distribution ({ood['out_of_distribution']})", COLORS["direct"])):
        hx.hist(data[hyper, split], bins=bins, density=True, alpha=0.55, color=color, label=label)
    hx.set_yscale("log")
    hx.set_xlabel("predictive entropy of the hypernet ensemble (nats)")
    hx.set_ylabel("density (log scale)")
    hx.set_title(f"OOD scores of the {_pretty(hyper)}")
    hx.legend(fontsize=8)
    rx.plot([0, 1], [0, 1], color="black", lw=0.8, ls=":", label="chance")
    for model in models:
        color = (COLORS["hyper"] if model.startswith("hypernet") else COLORS["single"] if model == "single_net"
                 else COLORS["deep"])
        for kind, values, ls in (("entropy", data, "-"), ("mutual information", mi, "--")):
            scores = np.array(values[model, "in"] + values[model, "ood"], dtype=float)
            if np.isnan(scores).all():
                continue
            positive = np.r_[np.zeros(len(values[model, "in"])), np.ones(len(values[model, "ood"]))]
            fpr, tpr = roc_curve(scores, positive)
            rx.plot(fpr, tpr, color=color, ls=ls, lw=1.5,
                    label=f"{_pretty(model)}, {kind} (AUROC {auc(fpr, tpr):.3f})")
    rx.set_xlabel("false-positive rate (in-distribution flagged as OOD)")
    rx.set_ylabel("true-positive rate (OOD flagged)")
    rx.set_title("ROC curves of OOD detection")
    rx.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    fig.tight_layout()
    return fig


def _gauge_filters(cfg: ReportConfig) -> tuple[np.ndarray, np.ndarray, int, int]:
    """conv1 filter k and conv2 filter k (weights only) of up to cfg.filter_nets gauge-fixed samples."""
    from .sampling import regenerate
    from .training import load_hypernetwork

    _, config = load_hypernetwork(cfg.checkpoint)
    from .targets import get_target

    target = get_target(config.target)
    convs = [layer for layer in target.layers if layer.kind == "conv"]
    if len(convs) < 2:
        raise ReportError(f"target {target.name} has fewer than two conv layers; no filter pictures")
    for k, (name, layer) in enumerate((("conv1", convs[0]), ("conv2", convs[1]))):
        index = (cfg.conv1_filter, cfg.conv2_filter)[k]
        if not 0 <= index < layer.units:
            raise ReportError(f"--{name}-filter {index} is out of range (the layer has {layer.units} filters)")
    first, second = [], []
    taken = 0
    for _, theta in regenerate(cfg.samples, cfg.checkpoint, chunk=250, gauge=True):
        theta = theta[:cfg.filter_nets - taken]
        rows = target.rows(theta)
        first.append(rows[0][:, cfg.conv1_filter, :-1].double())
        second.append(rows[1][:, cfg.conv2_filter, :-1].double())
        taken += theta.shape[0]
        if taken >= cfg.filter_nets:
            break
    return (torch.cat(first).numpy(), torch.cat(second).numpy(), convs[0].kernel, convs[0].in_units)


def pca(x: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Projections on the first k principal components and their share of the variance (SVD)."""
    centred = torch.from_numpy(x - x.mean(0))
    _, s, v = torch.linalg.svd(centred, full_matrices=False)
    var = s ** 2
    share = (var / var.sum()).numpy() if float(var.sum()) > 0 else np.zeros(len(var))
    proj = (centred @ v[:k].T).numpy()
    if proj.shape[1] < k:
        proj = np.pad(proj, ((0, 0), (0, k - proj.shape[1])))
        share = np.pad(share, (0, k))
    return proj, share[:k]


def fig_filter_pca(plt, inputs: dict, filters):
    f1, f2, _, _ = filters
    acc = 100 * np.array([r["accuracy"] for r in inputs["tables"]["member_accuracy.csv"]], dtype=float)
    color = acc[:len(f1)] if len(acc) >= len(f1) else None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, f, name, index in ((axes[0], f1, "conv1", inputs["cfg"].conv1_filter),
                               (axes[1], f2, "conv2", inputs["cfg"].conv2_filter)):
        proj, share = pca(f)
        style = {"c": color, "cmap": "viridis"} if color is not None else {"color": COLORS["hyper"]}
        sc = ax.scatter(proj[:, 0], proj[:, 1], s=6, alpha=0.7, **style)
        ax.set_xlabel(f"PC1 ({100 * share[0]:.1f} % of variance)")
        ax.set_ylabel(f"PC2 ({100 * share[1]:.1f} % of variance)")
        ax.set_title(f"{name} filter {index} ({f.shape[1]} weights) over {len(f)} sampled nets")
        ax.set_aspect("equal", adjustable="datalim")
        if color is not None:
            fig.colorbar(sc, ax=ax, label="test accuracy of the net (%)")
    fig.suptitle("PCA of one filter across sampled nets (gauge-fixed: each unit's weights and bias have RMS 1)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def fig_filter_montage(plt, inputs: dict, filters):
    f1, _, kernel, in_units = filters
    n = min(25, len(f1))
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    images = f1[:n].reshape(n, in_units, kernel, kernel)[:, 0]  # first input channel (the only one for MNIST)
    limit = float(np.abs(images).max()) or 1.0
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols + 1.2, 1.3 * rows + 0.6), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if k < n:
            im = ax.imshow(images[k], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
            ax.set_title(f"net {k}", fontsize=7, pad=2)
        else:
            ax.axis("off")
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="weight (gauge-fixed)")
    channel = " (input channel 0)" if in_units > 1 else ""
    fig.suptitle(f"conv1 filter {inputs['cfg'].conv1_filter}{channel}, {kernel}×{kernel}, in {n} sampled nets",
                 fontsize=10, y=0.96)
    return fig


def fig_lambda(plt, inputs: dict):
    runs = inputs["sweep"]
    finite = sorted({r["lambda"] for r in runs if math.isfinite(r["lambda"])})
    inf_x = (finite[-1] * 10 if finite else 1.0)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, key, ylabel, scale in ((axes[0], "member_accuracy", "mean member accuracy (%)", 100),
                                   (axes[1], "ensemble_gain", "ensemble gain over members (pp)", 100),
                                   (axes[2], "disagreement", "pairwise disagreement (fraction of images)", 1)):
        lams = sorted({r["lambda"] for r in runs}, key=lambda v: (not math.isfinite(v), v))
        xs, mean, std, counts = [], [], [], []
        for lam in lams:
            values = np.array([r[key] for r in runs if r["lambda"] == lam and r[key] is not None], dtype=float)
            if not len(values):
                continue
            xs.append(lam if math.isfinite(lam) else inf_x)
            mean.append(scale * values.mean())
            std.append(scale * values.std())
            counts.append(len(values))
        fin = [k for k, lam in enumerate(lams[:len(xs)]) if math.isfinite(lam)]
        ax.errorbar([xs[k] for k in fin], [mean[k] for k in fin], yerr=[std[k] for k in fin], marker="o",
                    capsize=3, color=COLORS["hyper"], label="λ·CE − Ĥ (mean ± std over seeds)")
        infs = [k for k in range(len(xs)) if k not in fin]
        if infs:
            ax.errorbar([xs[k] for k in infs], [mean[k] for k in infs], yerr=[std[k] for k in infs], marker="s",
                        capsize=3, ls="none", color=COLORS["deep"], label="λ = ∞ (no diversity term)")
            ax.axvline(math.sqrt(finite[-1] * inf_x) if finite else inf_x / 3, color="black", lw=0.6, ls=":")
        ax.set_xscale("log")
        ticks = finite + ([inf_x] if infs else [])
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{v:g}" for v in finite] + (["∞\n(no diversity)"] if infs else []))
        ax.minorticks_off()
        ax.set_xlabel("λ (weight of the cross-entropy, log scale)")
        ax.set_ylabel(ylabel)
        if key == "ensemble_gain":
            ax.axhline(0, color="black", lw=0.6)
        ax.legend(fontsize=7)
    seeds = sorted({r["seed"] for r in runs})
    fig.suptitle(f"Accuracy–diversity trade-off over λ ({len(runs)} runs, seeds {', '.join(map(str, seeds))})",
                 fontsize=11)
    fig.tight_layout()
    return fig


def fig_distill(plt, inputs: dict):
    rows = [r for r in model_rows(inputs) if r["key"] != "hyper_ood"]
    names = [textwrap.fill(r["name"], 13) for r in rows]
    colors = [COLORS[r["key"]] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for ax, key, ylabel, scale in ((axes[0], "accuracy", "test accuracy (%)", 100),
                                   (axes[1], "nll", "NLL (nats per image, lower is better)", 1)):
        values = [scale * r[key] if r[key] is not None else 0 for r in rows]
        bars = ax.bar(range(len(rows)), values, color=colors)
        for r, b in zip(rows, bars):
            if r["key"] == "student":
                b.set_hatch("//")
                b.set_edgecolor("white")
        for x, v in enumerate(values):
            ax.annotate(f"{v:.2f}" if key == "accuracy" else f"{v:.3f}", (x, v), ha="center", va="bottom",
                        fontsize=8, xytext=(0, 2), textcoords="offset points")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(names, fontsize=7)
        ax.set_ylabel(ylabel)
        if key == "accuracy":
            low = min(values)
            ax.set_ylim(max(0, low - (100 - low) * 0.5 - 1), 100)
            ax.set_title("Accuracy (y axis does not start at 0)")
        else:
            ax.set_ylim(0, max(values) * 1.15)
            ax.set_title("Negative log-likelihood")
    fig.suptitle("The distilled student against the nets it is distilled from and the baselines", fontsize=11)
    fig.tight_layout()
    return fig


def fig_adversarial(plt, inputs: dict):
    rows = inputs["tables"]["adversarial.csv"]
    labels = {"hypernet_single": ("one hypernet net", COLORS["hyper"], "--"),
              "hypernet_vote": ("hypernet vote", COLORS["hyper"], "-"),
              "single_net": ("single net", COLORS["single"], "--"),
              "deep_ensemble_vote": ("deep ensemble vote", COLORS["deep"], "-")}
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for model in dict.fromkeys(r["model"] for r in rows):
        pts = sorted((r["eps"], r["flip_rate"], r["images"]) for r in rows if r["model"] == model)
        eps, rate = np.array([p[0] for p in pts]), np.array([p[1] for p in pts], dtype=float)
        label, color, ls = labels.get(model, (model.replace("_", " "), None, "-"))
        nets = _value(inputs["metrics"], f"adversarial.{model}.nets")
        ax.plot(eps, 100 * rate, marker="o", ms=4, color=color, ls=ls,
                label=f"{label}{f' ({nets} nets)' if nets and nets > 1 else ''}")
    ax.set_xlabel("FGSM step ε (pixel intensities in [0, 1])")
    ax.set_ylabel("correct predictions flipped (%)")
    ax.set_title(f"FGSM robustness ({int(rows[0]['images'])} test images)" if rows else "FGSM robustness")
    ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------- the report
FIGURES = [
    # stem, function, svg, needs, title, caption
    ("ensemble_accuracy", fig_ensemble_accuracy, True, None, "Ensemble accuracy vs size",
     "Test accuracy of mean-probability and majority-vote ensembles of growing size (log x; error bars: std over "
     "the random member draws) for the hypernetwork's samples and the deep ensemble, with the single net and the "
     "mean hypernet member as horizontal lines: the gap between a curve and the dotted member line is the "
     "ensemble gain."),
    ("ensemble_nll_ece", fig_ensemble_nll_ece, True, None, "NLL and ECE vs ensemble size",
     "Negative log-likelihood (left, nats per image) and expected calibration error (right, 15 bins) of the "
     "mean-probability ensembles against ensemble size (log x; error bars over draws), single net dashed: lower "
     "is better in both panels."),
    ("member_accuracy_hist", fig_member_histogram, False, None, "Accuracy of the sampled nets",
     "Histogram of the test accuracy of every sampled net, with vertical lines at the member mean, the single "
     "net, the hypernet ensemble and the deep ensemble: an ensemble line right of the whole histogram means the "
     "ensemble beats every member."),
    ("paths", fig_paths, True, None, "Accuracy along latent and direct paths",
     "Test accuracy at 0 ≤ t ≤ 1 along the latent path G((1−t)z₁ + t z₂) (blue) and the straight line between the "
     "two gauge-fixed nets (orange), thin lines per random pair and thick lines their mean, plus the straight "
     "line between two independently trained baselines (dashed): a dip in the middle is a loss barrier."),
    ("filter_pca", fig_filter_pca, False, "filters", "PCA of one conv1 and one conv2 filter",
     "Each dot is one sampled net's (gauge-fixed) filter projected on the first two principal components of all "
     "of them, coloured by that net's test accuracy; a spread-out cloud means the hypernetwork draws genuinely "
     "different filters, not one filter up to scale."),
    ("filter_montage", fig_filter_montage, False, "filters", "One conv1 filter across sampled nets",
     "The same conv1 filter (gauge-fixed weights, red positive, blue negative, one shared colour scale) in 25 "
     "sampled nets: similar pictures mean low diversity in this filter, varied pictures high diversity."),
    ("reliability", fig_reliability, True, "reliability", "Reliability diagram",
     "Top: accuracy against mean confidence in each of the 15 confidence bins for the hypernet ensemble, the "
     "single net and the deep ensemble (on the dotted diagonal = perfectly calibrated; below it = over-confident); "
     "bottom: share of the test images in each bin (log scale)."),
    ("ood", fig_ood, True, "ood", "Out-of-distribution detection",
     "Left: predictive entropy of the hypernet ensemble on in-distribution vs out-of-distribution test images "
     "(log density; well separated = easy to detect); right: ROC curves for entropy (solid) and mutual "
     "information (dashed) of each model, the area under a curve being its AUROC (1 = perfect, 0.5 = chance)."),
    ("adversarial", fig_adversarial, True, None, "FGSM flip rates",
     "Share of correctly classified test images whose prediction an FGSM step of size ε flips, for one net and "
     "for the votes of the hypernet and deep ensembles: a lower curve is more robust."),
    ("lambda_tradeoff", fig_lambda, True, "sweep", "The λ trade-off",
     "Mean member accuracy, ensemble gain and prediction disagreement against λ (log x; mean ± std over seeds), "
     "with the no-diversity run (λ = ∞) at the right end: smaller λ weights diversity more, which should raise "
     "disagreement and gain at some cost in member accuracy."),
    ("distill_comparison", fig_distill, False, "distill", "The distilled student against the others",
     "Test accuracy (left) and NLL (right) of the single net, the mean hypernet member, the hypernet ensemble, "
     "the deep ensemble, the distilled student (hatched) and its teacher: the student should sit near the "
     "ensembles, above the single net."),
]
SKIP_REASONS = {
    "filters": "no --checkpoint and --samples given",
    "reliability": "the --evaluate folder has no reliability.csv (rerun `hyperman evaluate` with this version)",
    "ood": "no OOD evaluation in --evaluate (no --ood-data, or no ood_scores.csv: rerun `hyperman evaluate`)",
    "sweep": "no --sweep runs given",
    "distill": "no --distill given",
}


def _available(need: str | None, inputs: dict) -> bool:
    if need is None:
        return True
    if need == "filters":
        return inputs["cfg"].checkpoint is not None
    if need == "reliability":
        return inputs["tables"]["reliability.csv"] is not None
    if need == "ood":
        return inputs["tables"]["ood_scores.csv"] is not None and "hypernet" in inputs["metrics"]["ood"]
    if need == "sweep":
        return bool(inputs["sweep"])
    if need == "distill":
        return inputs["distill"] is not None
    raise ValueError(need)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(cfg: ReportConfig, inputs: dict, written: list[tuple], skipped: list[tuple]) -> str:
    m = inputs["metrics"]
    parts = [f"# hyperman report: {m['inputs'].get('target', '?')} on {m['inputs']['dataset']}", "",
             f"Inputs: evaluation `{cfg.evaluate}` ({m['hypernet']['num_nets']} sampled nets, "
             f"{m['inputs']['test_images']} test images)"
             + (f", distillation `{cfg.distill}`" if cfg.distill else "")
             + (f", {len(inputs['sweep'])} sweep runs" if inputs["sweep"] else "") + ". Accuracies are test-set "
             "percentages, gains in percentage points (pp), NLL in nats per image, ECE with 15 bins.", "",
             "## Headline numbers", "",
             _table(["quantity", "value", "source"], [[q, v, f"`{s}`"] for q, v, s in headline(inputs)]), "",
             "## Models compared", "",
             _table(["model", "accuracy", "NLL", "ECE", "OOD AUROC (entropy)", "OOD AUROC (mutual information)"],
                    [[r["name"], pct(r["accuracy"]), num(r["nll"]), num(r["ece"]), num(r["auroc_entropy"]),
                      num(r["auroc_mi"])] for r in model_rows(inputs)]), ""]
    if "skipped" in m["ood"]:
        parts += [f"OOD: {m['ood']['skipped']}.", ""]
    parts += ["## Claims", "", "Each verdict is computed from the numbers above when the report is built.", ""]
    parts += [f"- **{claim}** — *{verdict}*: {evidence}" for claim, verdict, evidence in claims(inputs)]
    if inputs["sweep"]:
        parts += ["", "## λ sweep runs", "",
                  _table(["λ", "seed", "mean member accuracy", "ensemble gain", "disagreement", "evaluation"],
                         [["∞ (no diversity)" if not math.isfinite(r["lambda"]) else f"{r['lambda']:g}",
                           r["seed"], pct(r["member_accuracy"]), pp(r["ensemble_gain"]), num(r["disagreement"]),
                           f"`{r['folder']}`"] for r in sorted(inputs["sweep"], key=lambda r: (r["lambda"],
                                                                                               r["seed"]))])]
    parts += ["", "## Figures", ""]
    for k, (stem, title, caption, files) in enumerate(written, 1):
        extra = f" (vector: [{files[1]}]({files[1]}))" if len(files) > 1 else ""
        parts += [f"### Figure {k}: {title}", "", f"![{title}]({files[0]})", "",
                  f"`{files[0]}`{extra}. {caption}", ""]
    if skipped:
        parts += ["## Figures not drawn", ""]
        parts += [f"- `{stem}.png` ({title}): {reason}." for stem, title, reason in skipped]
        parts.append("")
    return "\n".join(parts)


def build_report(cfg: ReportConfig, log=print) -> dict:
    """Check the inputs, draw every figure whose inputs exist, write OUT/report.md; returns what was written."""
    inputs = load_inputs(cfg)
    inputs["cfg"] = cfg
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise ReportError(f"--out {out} exists and is not a folder")
    filters = None
    if _available("filters", inputs):
        filters = _gauge_filters(cfg)
    written, skipped = [], []

    def build(tmp: Path) -> None:
        plt = _plt()
        for stem, function, svg, need, title, caption in FIGURES:
            if not _available(need, inputs):
                skipped.append((stem, title, SKIP_REASONS[need]))
                continue
            fig = function(plt, inputs, filters) if need == "filters" else function(plt, inputs)
            written.append((stem, title, caption, _save(fig, tmp, stem, svg)))
            log(f"figure {stem}")
        (tmp / "report.md").write_text(markdown(cfg, inputs, written, skipped))

    replace_dir_atomically(out, build)
    return {"figures": [f for *_, files in written for f in files], "skipped": [s for s, *_ in skipped],
            "report": str(out / "report.md")}
