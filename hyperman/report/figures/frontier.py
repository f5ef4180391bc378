"""The accuracy–diversity frontier (issue 13): member accuracy against disagreement, ensemble NLL and OOD
AUROC, one point per sweep run (λ, and β where the function-space entropy is on), with the main run's
baselines on the same axes.

Runs evaluated by older versions lack some keys (`models.*`): every number is read defensively, from the
newest key first, and a quantity a run did not measure is left out of its panel, never drawn as 0."""

from __future__ import annotations

import math

import numpy as np

from ..inputs import run_label, value
from .evidence import finite
from .style import COLORS, model_color, model_marker, pretty

# (point key, y label, scale) of the three panels
FRONTIER_PANELS = (("disagreement", "pairwise disagreement of the members (%)", 100.0),
                   ("nll", "ensemble NLL (nats per image, lower is better)", 1.0),
                   ("ood_auroc", "OOD AUROC (mutual information)", 1.0))


def _first(*candidates):
    """The first candidate that is a plottable number (a list: its last entry, the largest ensemble)."""
    for v in candidates:
        v = v[-1] if isinstance(v, list) and v else v
        if finite(v):
            return float(v)
    return None


def hypernet_point(m: dict) -> dict:
    """Member accuracy, disagreement, ensemble NLL and OOD AUROC (MI) of one evaluation's hypernetwork."""
    return {"member_accuracy": _first(value(m, "models.hypernet_member.accuracy"),
                                      value(m, "hypernet.members.accuracy_mean")),
            "disagreement": _first(value(m, "diversity.hypernet_ensemble.disagreement"),
                                   value(m, "diversity.hypernet.disagreement")),
            "nll": _first(value(m, "models.hypernet_ensemble.nll"), value(m, "hypernet.ensemble.nll")),
            "ood_auroc": _first(value(m, "models.hypernet_ensemble.ood.auroc"), value(m, "ood.hypernet.auroc_mi"))}


def baseline_points(m: dict) -> list[dict]:
    """Every baseline of one evaluation (metrics.json `models`, or the older deep_ensemble/single_net keys):
    member accuracy (None where the run did not record it), disagreement, NLL, OOD AUROC and its score."""
    models = value(m, "models") or {}
    names = [n for n in models if not n.startswith("hypernet")] or ["deep_ensemble", "single_net"]
    points = []
    for name in names:
        one_net = value(m, f"models.{name}.members") == 1 or name == "single_net"
        accuracy = _first(value(m, f"models.{name}.accuracy"), value(m, f"{name}.accuracy"))
        score = value(m, f"models.{name}.ood.score") or ("entropy" if one_net else "mutual_information")
        points.append({
            "name": name, "score": score,
            "member_accuracy": _first(value(m, f"models.{name}.member_accuracy"),
                                      value(m, f"{name}.members.accuracy_mean"), accuracy if one_net else None),
            "disagreement": _first(value(m, f"diversity.{name}.disagreement")),
            "nll": _first(value(m, f"models.{name}.nll"), value(m, f"{name}.nll")),
            "ood_auroc": _first(value(m, f"models.{name}.ood.auroc"),
                                value(m, f"ood.{name}.auroc_entropy" if one_net else f"ood.{name}.auroc_mi"))})
    return [p for p in points if any(finite(p[k]) for k, *_ in FRONTIER_PANELS)]


def sweep_points(runs: list[dict]) -> list[dict]:
    """One point per sweep run: its label, β (None without the function-space term) and its numbers."""
    points, seeds = [], len({run["seed"] for run in runs}) > 1
    for run in runs:
        point = hypernet_point(run["metrics"]) if "metrics" in run else {"nll": None, "ood_auroc": None}
        for key in ("member_accuracy", "disagreement"):  # every sweep entry has them (SWEEP_KEYS)
            point[key] = point.get(key) if point.get(key) is not None else run[key]
        points.append({**point, "label": run_label(run, seeds), "beta": run.get("beta")})
    return points


def _draw_baselines(ax, baselines: list[dict], key: str, scale: float) -> None:
    for b in baselines:
        if not finite(b[key]):
            continue
        name = pretty(b["name"]) + (" (OOD by entropy)" if b["score"] == "entropy" else "")  # one label per model
        if finite(b["member_accuracy"]):
            ax.plot([100 * b["member_accuracy"]], [scale * b[key]], marker=model_marker(b["name"]), ms=9, ls="none",
                    color=model_color(b["name"]), mec="black", label=name, gid=f"baseline:{b['name']}")
        else:  # its members' accuracy is not recorded: its level only
            ax.axhline(scale * b[key], color=model_color(b["name"]), ls="--", lw=1.2,
                       label=f"{name} (level; member accuracy not recorded)", gid=f"baseline:{b['name']}")


def fig_frontier(plt, inputs: dict):
    """Member accuracy against disagreement, ensemble NLL and OOD AUROC over the sweep runs and baselines."""
    points = sweep_points(inputs["sweep"])
    betas = sorted({p["beta"] for p in points if p["beta"] is not None})
    shades = dict(zip(betas, plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(betas)))))
    baselines = baseline_points(inputs["metrics"])
    main = hypernet_point(inputs["metrics"])
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    for ax, (key, ylabel, scale) in zip(axes, FRONTIER_PANELS):
        shown = [p for p in points if finite(p[key]) and finite(p["member_accuracy"])]
        for p in shown:
            color = shades.get(p["beta"], COLORS["hyper"])
            ax.plot([100 * p["member_accuracy"]], [scale * p[key]], marker="o", ms=6, ls="none", color=color,
                    label="sweep run (λ only)" if p["beta"] is None else f"sweep run, β = {p['beta']:g}",
                    gid=f"sweep:{p['label']}", zorder=3)
            ax.annotate(p["label"], (100 * p["member_accuracy"], scale * p[key]), xytext=(3, 3),
                        textcoords="offset points", fontsize=6.5)
        if finite(main[key]) and finite(main["member_accuracy"]):
            ax.plot([100 * main["member_accuracy"]], [scale * main[key]], marker="*", ms=13, ls="none",
                    color=COLORS["hyper"], mfc="white", mew=1.5, label="hypernetwork (main run)", gid="main", zorder=2)
        _draw_baselines(ax, baselines, key, scale)
        chosen = [hypernet_point(r["metrics"]) for r in (inputs.get("chosen") or {}).get("runs", [])]
        chosen = [c for c in chosen if finite(c[key]) and finite(c["member_accuracy"])]
        if chosen:  # every seed of the chosen setting
            ax.plot([100 * c["member_accuracy"] for c in chosen], [scale * c[key] for c in chosen], marker="o",
                    ms=15, ls="none", mfc="none", mec="red", mew=1.5, label="chosen by validation ensemble NLL",
                    gid="chosen", zorder=4)
        if not shown:
            ax.text(0.5, 0.5, "no sweep run\nmeasured this", transform=ax.transAxes, ha="center", va="center",
                    color="gray")
        ax.set_xlabel("mean member accuracy (%)")
        ax.set_ylabel(ylabel)
    handles = {}
    for ax in axes:
        handles.update({label: h for h, label in zip(*ax.get_legend_handles_labels())})
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(4, len(handles)), fontsize=8,
               frameon=False)
    fig.suptitle(f"Accuracy–diversity frontier over {len(points)} sweep runs, with the main run's baselines",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.05 + 0.025 * math.ceil(len(handles) / 4), 1, 1))
    return fig
