"""What every figure shares: colours, matplotlib set-up, saving (PNG, optional SVG), model names."""

from __future__ import annotations

from pathlib import Path

COLORS = {"hyper": "#1f77b4", "vote": "#17becf", "deep": "#d62728", "single": "#333333", "member": "#7f7f7f",
          "student": "#2ca02c", "teacher": "#9467bd", "latent": "#1f77b4", "direct": "#ff7f0e"}


def plt_agg():
    """pyplot on the Agg backend with the report's style (imported late: `hyperman --help` stays fast)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 130, "axes.grid": True, "grid.alpha": 0.3,
                         "svg.hashsalt": "hyperman-report", "font.size": 10})
    return plt


def save(fig, folder: Path, stem: str, svg: bool) -> list[str]:
    """Write stem.png (and stem.svg) without timestamps, so that an unchanged figure gives unchanged bytes."""
    files = [f"{stem}.png"]
    fig.savefig(folder / files[0], bbox_inches="tight", metadata={"Software": None})
    if svg:
        files.append(f"{stem}.svg")
        fig.savefig(folder / files[1], bbox_inches="tight", metadata={"Date": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return files


def pretty(model: str) -> str:
    """'hypernet_ensemble_100' → 'hypernet ensemble (100 nets)'."""
    head, _, tail = model.rpartition("_")
    return f"{head.replace('_', ' ')} ({tail} nets)" if tail.isdigit() and head else model.replace("_", " ")


# colour and marker of each model the evaluation names (metrics.json `models`, models.csv, shift.csv, ...)
MODEL_STYLE = {"hypernet": (COLORS["hyper"], "o"), "hypernet_member": (COLORS["member"], "o"),
               "single_net": (COLORS["single"], "s"), "deep_ensemble": (COLORS["deep"], "^"),
               "hypernet_ensemble_k": ("#aec7e8", "v"), "noise_ensemble": ("#8c564b", "D"),
               "snapshot_ensemble": ("#e377c2", "P")}


def _style(model: str) -> tuple[str, str]:
    """MODEL_STYLE of the longest name `model` starts with ('deep_ensemble_5' → deep_ensemble); others: deep's."""
    known = [name for name in MODEL_STYLE if model.startswith(name)]
    return MODEL_STYLE[max(known, key=len)] if known else MODEL_STYLE["deep_ensemble"]


def model_color(model: str) -> str:
    """The colour of a model named in the evaluation tables: hypernet ensembles, the single net, deep ensembles,
    the other baselines."""
    return _style(model)[0]


def model_marker(model: str) -> str:
    """The marker of a model named in the evaluation tables (one per model, as its colour)."""
    return _style(model)[1]
