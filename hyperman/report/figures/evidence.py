"""Figures of the evidence tables (issue 12): the deep ensemble at equal compute, distribution shift, and the
paired-bootstrap intervals of every comparison with the hypernetwork ensemble (a forest plot).

Each reads one table of `hyperman evaluate` (names and columns: hyperman.outputs.EVIDENCE_TABLES) and draws
exactly its numbers: nothing is recomputed here, so a figure can only be as right as its table."""

from __future__ import annotations

import math

import numpy as np

from ... import outputs
from ..inputs import run_label, value
from .style import COLORS, model_color, model_marker, pretty

# (column, y label, scale) of the equal-compute panels
EQUAL_COMPUTE_PANELS = (("accuracy", "test accuracy (%)", 100.0),
                        ("nll", "NLL (nats per image, lower is better)", 1.0),
                        ("ood_auroc", "OOD AUROC (mutual information)", 1.0))
# (column, y label, scale) of the shift panels; x labels per family (the units of hyperman.distribution_shift.SHIFT_FAMILIES)
SHIFT_PANELS = (("accuracy", "accuracy (%)", 100.0), ("nll", "NLL (nats per image)", 1.0),
                ("ece", "ECE (15 bins)", 1.0))
SHIFT_AXES = {"rotation": "rotation (degrees)", "translation": "translation (pixels to the right)",
              "gaussian_noise": "Gaussian noise σ (pixel intensities in [0, 1])"}
# metric → (x label, scale, sign of a difference that favours the hypernetwork ensemble)
FOREST_METRICS = {"accuracy": ("accuracy (pp)", 100.0, +1), "nll": ("NLL (nats per image)", 1.0, -1),
                  "ece": ("ECE (15 bins)", 1.0, -1), "brier": ("Brier score", 1.0, -1),
                  "auroc": ("OOD AUROC", 1.0, +1)}


def finite(v) -> bool:
    """A number that can be plotted (tables hold NaN for empty cells, metrics.json None for missing ones)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _not_measured(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"{what}\nnot measured", transform=ax.transAxes, ha="center", va="center", color="gray")


def _sweep_runs_at_their_flops(ax, runs: list[dict], key: str, scale: float) -> None:
    """Each sweep run's hypernetwork ensemble at its own training FLOPs (a lever such as outlier probes or
    function_every moves a run along the x axis, not only up or down), labelled with its setting."""
    for run in runs:
        entry = value(run.get("metrics") or {}, "models.hypernet_ensemble") or {}
        y = (entry.get("ood") or {}).get("auroc") if key == "ood_auroc" else entry.get(key)
        if finite(y) and finite(entry.get("train_flops")):
            label = run_label(run)
            ax.plot([entry["train_flops"]], [scale * y], marker="o", ms=6, ls="none", color=COLORS["hyper"],
                    mfc="white", label="hypernetwork ensemble, sweep run", gid=f"sweep:{label}", zorder=3)
            ax.annotate(label, (entry["train_flops"], scale * y), xytext=(3, -8), textcoords="offset points",
                        fontsize=6)


def fig_equal_compute(plt, inputs: dict):
    """Accuracy, NLL and OOD AUROC of k-member deep ensembles after e epochs against their summed training
    FLOPs, with the hypernetwork's point and every sweep run's at its own FLOPs: what each buys at the same
    compute (issue 20's frontier on a FLOPs axis)."""
    rows = [r for r in inputs["tables"][outputs.EQUAL_COMPUTE] if finite(r["members"]) and finite(r["epochs"])]
    hyper_entry = value(inputs["metrics"], "models.hypernet_ensemble") or {}
    hyper = {"accuracy": hyper_entry.get("accuracy"), "nll": hyper_entry.get("nll"),
             "ood_auroc": (hyper_entry.get("ood") or {}).get("auroc"), "train_flops": hyper_entry.get("train_flops")}
    ks = sorted({int(r["members"]) for r in rows})
    shades = plt.get_cmap("Reds")(np.linspace(0.35, 1.0, len(ks)))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4))
    for ax, (key, ylabel, scale) in zip(axes, EQUAL_COMPUTE_PANELS):
        for k, color in zip(ks, shades):
            pts = sorted((r["epochs"], r["train_flops"], r[key]) for r in rows
                         if int(r["members"]) == k and finite(r[key]) and finite(r.get("train_flops")))
            if not pts:
                continue
            epochs, flops, y = (np.array(c, dtype=float) for c in zip(*pts))
            ax.plot(flops, scale * y, marker="o", ms=3.5, lw=1.4, color=color,
                    label=f"deep ensemble, k = {k} member{'s' if k > 1 else ''}", gid=f"deep:{k}")
            if k == ks[-1]:  # the epochs once, on the largest ensemble's line, at most 6 of them
                for i in np.unique(np.linspace(0, len(epochs) - 1, min(6, len(epochs))).round().astype(int)):
                    ax.annotate(f"e={epochs[i]:g}", (flops[i], scale * y[i]), xytext=(2, 3),
                                textcoords="offset points", fontsize=6)
        _sweep_runs_at_their_flops(ax, inputs.get("sweep") or [], key, scale)
        if finite(hyper.get(key)) and finite(hyper.get("train_flops")):
            ax.axvline(hyper["train_flops"], color=COLORS["hyper"], ls=":", lw=1)
            ax.plot([hyper["train_flops"]], [scale * hyper[key]], marker="*", ms=15, ls="none",
                    color=COLORS["hyper"], mec="black", label="hypernetwork ensemble", gid="hypernet")
        if ax.lines:
            ax.set_xscale("log")
        else:
            _not_measured(ax, ylabel)
        ax.set_xlabel("total training FLOPs (log scale)")
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle("Deep ensembles of the first k members after e epochs each, against the hypernetwork "
                 "at equal training FLOPs", fontsize=11)
    fig.tight_layout()
    return fig


def _shift_lines(ax, rows: list[dict], family: str, key: str, scale: float) -> None:
    """One solid line per model (its ensemble), dashed for the hypernetwork's mean member (or a model with
    members only)."""
    mine = [r for r in rows if r["family"] == family]
    for model in dict.fromkeys(r["model"] for r in mine):
        kinds = {r["kind"] for r in mine if r["model"] == model}
        for kind, ls in (("ensemble", "-"), ("member", "--")):
            if kind not in kinds or (kind == "member" and "ensemble" in kinds and not model.startswith("hypernet")):
                continue
            pts = sorted((r["intensity"], r[key]) for r in mine if r["model"] == model and r["kind"] == kind)
            x, y = (np.array(c, dtype=float) for c in zip(*pts))
            ax.plot(x, scale * y, ls=ls, marker=model_marker(model), ms=3, lw=1.4, color=model_color(model),
                    label=pretty(model) + (", mean member" if kind == "member" else ""), gid=f"{model}:{kind}")


def fig_shift(plt, inputs: dict):
    """Accuracy, NLL and ECE against the intensity of each shift family, one line per model."""
    rows = [r for r in inputs["tables"][outputs.SHIFT] if finite(r["intensity"])]  # "mean" rows: metrics.json
    families = list(dict.fromkeys(r["family"] for r in rows))
    fig, axes = plt.subplots(len(families), 3, figsize=(14, 3.3 * len(families) + 0.8), squeeze=False)
    for row_axes, family in zip(axes, families):
        for ax, (key, ylabel, scale) in zip(row_axes, SHIFT_PANELS):
            _shift_lines(ax, rows, family, key, scale)
            ax.set_xlabel(SHIFT_AXES.get(family, f"{family.replace('_', ' ')} intensity"))
            ax.set_ylabel(ylabel)
    handles = {}
    for ax in axes.flat:
        handles.update({label: h for h, label in zip(*ax.get_legend_handles_labels())})
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(4, len(handles)), fontsize=8,
               frameon=False)
    fig.suptitle("Distribution shift: accuracy, NLL and ECE against shift intensity (intensity 0 = clean test set)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.04 + 0.02 * math.ceil(len(handles) / 4), 1, 1))
    return fig


def excludes_zero(row: dict) -> bool:
    """The table's excludes_zero flag ('True'/'False', as csv writes a bool); if empty, decided from the
    interval itself."""
    flag = str(row["excludes_zero"]).strip().lower()
    if flag in ("true", "1", "1.0"):
        return True
    if flag in ("false", "0", "0.0"):
        return False
    return finite(row["low"]) and finite(row["high"]) and (row["low"] > 0 or row["high"] < 0)


def fig_models_comparison(plt, inputs: dict):
    """Forest plot: hypernetwork ensemble minus each model, per metric, with its 95 % bootstrap interval."""
    from matplotlib.ticker import MaxNLocator  # late, as pyplot (style.plt_agg): `hyperman --help` stays fast

    rows = inputs["tables"][outputs.COMPARISONS]
    present = list(dict.fromkeys(r["metric"] for r in rows))
    order = [m for m in FOREST_METRICS if m in present] + [m for m in present if m not in FOREST_METRICS]
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(1, len(order), figsize=(3.1 * len(order) + 1.8, 0.42 * len(models) + 2.0),
                             sharey=True, squeeze=False)
    for ax, metric in zip(axes[0], order):
        xlabel, scale, sign = FOREST_METRICS.get(metric, (metric, 1.0, 0))
        for y, model in enumerate(models):
            row = next((r for r in rows if r["model"] == model and r["metric"] == metric), None)
            if row is None or not finite(row["estimate"]):
                continue
            color = model_color(model)
            if finite(row["low"]) and finite(row["high"]):
                ax.plot([scale * row["low"], scale * row["high"]], [y, y], color=color, lw=2,
                        gid=f"interval:{model}")
            else:
                ax.annotate("no interval", (scale * row["estimate"], y), xytext=(0, 5), textcoords="offset points",
                            fontsize=6, ha="center", color="gray")
            filled = excludes_zero(row)
            ax.plot([scale * row["estimate"]], [y], marker=model_marker(model), ms=7, ls="none", color=color,
                    mfc=color if filled else "white", mew=1.5, gid=f"estimate:{model}")
        ax.axvline(0, color="black", lw=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(4))  # differences have long tick labels
        better = {+1: "> 0: hypernet better", -1: "< 0: hypernet better"}.get(sign, "")
        ax.set_title(f"{xlabel}\n{better}", fontsize=9)
        ax.set_xlabel("hypernet ensemble − model")
    axes[0][0].set_yticks(range(len(models)))
    axes[0][0].set_yticklabels([pretty(m) for m in models], fontsize=8)
    axes[0][0].set_ylim(len(models) - 0.5, -0.5)  # first model on top
    fig.suptitle("Paired differences with 95 % bootstrap intervals (filled: the interval excludes 0)", fontsize=11)
    fig.tight_layout()
    return fig
