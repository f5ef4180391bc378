"""Figures comparing runs: the λ sweep, and the distilled student against the nets it came from."""

from __future__ import annotations

import math
import textwrap

import numpy as np

from ..claims import model_rows
from .style import COLORS


def _over_seeds(runs: list[dict], key: str, scale: float, inf_x: float) -> tuple[list, list, list]:
    """x (λ; ∞ drawn at inf_x), mean and std over seeds of `key` for each λ of `runs` (missing values left out)."""
    xs, mean, std = [], [], []
    for lam in sorted({r["lambda"] for r in runs}, key=lambda v: (not math.isfinite(v), v)):
        values = np.array([r[key] for r in runs if r["lambda"] == lam and r[key] is not None], dtype=float)
        if len(values):
            xs.append(lam if math.isfinite(lam) else inf_x)
            mean.append(scale * values.mean())
            std.append(scale * values.std())
    return xs, mean, std


def fig_lambda(plt, inputs: dict):
    """Member accuracy, ensemble gain and disagreement against λ, one line per function-space weight β (runs
    without the function-space term: one line), the no-diversity runs at the right end."""
    runs = inputs["sweep"]
    finite = sorted({r["lambda"] for r in runs if math.isfinite(r["lambda"])})
    inf_x = (finite[-1] * 10 if finite else 1.0)
    betas = sorted({r["beta"] for r in runs if r.get("beta") is not None})
    groups = [(None, COLORS["hyper"], "λ·CE − Ĥ (mean ± std over seeds)")] + [
        (beta, color, f"λ·CE − Ĥ − β·Ĥ_function, β = {beta:g}")
        for beta, color in zip(betas, plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(betas))))]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, key, ylabel, scale in ((axes[0], "member_accuracy", "mean member accuracy (%)", 100),
                                   (axes[1], "ensemble_gain", "ensemble gain over members (pp)", 100),
                                   (axes[2], "disagreement", "pairwise disagreement (fraction of images)", 1)):
        for beta, color, label in groups:
            xs, mean, std = _over_seeds([r for r in runs if math.isfinite(r["lambda"]) and r.get("beta") == beta],
                                        key, scale, inf_x)
            if xs:
                ax.errorbar(xs, mean, yerr=std, marker="o", capsize=3, color=color, label=label)
        xs, mean, std = _over_seeds([r for r in runs if not math.isfinite(r["lambda"])], key, scale, inf_x)
        if xs:
            ax.errorbar(xs, mean, yerr=std, marker="s", capsize=3, ls="none", color=COLORS["deep"],
                        label="λ = ∞ (no diversity term)")
            ax.axvline(math.sqrt(finite[-1] * inf_x) if finite else inf_x / 3, color="black", lw=0.6, ls=":")
        ax.set_xscale("log")
        ax.set_xticks(finite + ([inf_x] if xs else []))
        ax.set_xticklabels([f"{v:g}" for v in finite] + (["∞\n(no diversity)"] if xs else []))
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

