"""The risk–coverage figure: how the error rate of the answers a model keeps falls as it abstains on the images
its uncertainty ranks worst, one panel per score (predictive entropy, mutual information).

It draws selective.csv's curves (hyperman.evaluation.selective) and labels each with the AURC of metrics.json
`models.<name>.selective`: nothing is recomputed here."""

from __future__ import annotations

import numpy as np

from ... import outputs
from ..evidence import label
from ..inputs import value
from .evidence import finite
from .style import model_color

# the headline models: the hypernetwork ensemble, the deep ensemble at equal training FLOPs, the single net
SELECTIVE_MODELS = ("hypernet_ensemble", "deep_ensemble", "single_net")
PANELS = (("entropy", "predictive entropy"), ("mutual_information", "mutual information"))
MARKED_COVERAGES = (0.90, 0.95, 0.99)  # the headline table's columns, as dotted lines


def curve(rows: list[dict], model: str, score: str) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, risk) of one model and score from selective.csv, in order of coverage."""
    points = sorted((r["coverage"], r["risk"]) for r in rows
                    if r["model"] == model and r["score"] == score and finite(r["coverage"]) and finite(r["risk"]))
    return tuple(np.array(c, dtype=float) for c in zip(*points)) if points else (np.array([]), np.array([]))


def _label(metrics: dict, model: str, score: str) -> str:
    name = label(metrics, model) if value(metrics, f"models.{model}.members") else model.replace("_", " ")
    aurc = value(metrics, f"models.{model}.selective.{score}.aurc")
    return name + (f", AURC {aurc['estimate']:.3g} [{aurc['low']:.3g}, {aurc['high']:.3g}]"
                   if aurc and aurc.get("low") is not None else "")


def fig_selective(plt, inputs: dict):
    """Selective risk (%) against coverage (%) of the headline models, by entropy (left) and by MI (right)."""
    rows, metrics = inputs["tables"][outputs.SELECTIVE], inputs["metrics"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    for ax, (score, title) in zip(axes, PANELS):
        absent = []
        for model in SELECTIVE_MODELS:
            coverage, risk = curve(rows, model, score)
            if not len(coverage):
                absent.append(model.replace("_", " "))
                continue
            ax.plot(100 * coverage, 100 * risk, color=model_color(model), lw=1.6,
                    label=_label(metrics, model, score), gid=f"{model}:{score}")
        for c in MARKED_COVERAGES:
            ax.axvline(100 * c, color="gray", ls=":", lw=0.8)
        if absent:
            ax.text(0.03, 0.95, "n/a: " + ", ".join(absent) + (" (one net: its MI is 0 everywhere)"
                                                               if "single net" in absent else ""),
                    transform=ax.transAxes, va="top", fontsize=8, color="gray")
        ax.set_title(f"ranked by {title}")
        ax.set_xlabel("coverage: share of test images answered (%)")
        ax.set_xlim(0, 100)
        ax.set_ylim(bottom=0)
        if ax.lines:
            ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(0, 0.88) if absent else None)
    axes[0].set_ylabel("selective risk: error rate of the answered images (%)")
    fig.suptitle("Risk–coverage: abstaining on the most uncertain test images (lower is better; dotted: 90, 95 and "
                 "99 % coverage)", fontsize=11)
    fig.tight_layout()
    return fig
