"""What every figure shares: colours, matplotlib set-up, saving (PNG, optional SVG), model names."""

from __future__ import annotations

from pathlib import Path

from ... import baseline_registry

_MODEL = {entry.name: entry.color for entry in baseline_registry.BUILTIN}  # the models' colours: the registry's
COLORS = {"hyper": _MODEL["hypernet_ensemble"], "vote": "#17becf", "deep": _MODEL["deep_ensemble"],
          "single": _MODEL["single_net"], "member": _MODEL["hypernet_member"], "student": _MODEL["distilled_student"],
          "teacher": "#9467bd", "latent": "#1f77b4", "direct": "#ff7f0e"}


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


def model_styles() -> dict[str, tuple[str, str]]:
    """(colour, marker) of each model the evaluation names (metrics.json `models`, models.csv, shift.csv, ...):
    the baseline registry's, and the hypernetwork's for every other hypernet_* name (the sweep's runs)."""
    return {"hypernet": (COLORS["hyper"], "o"), **baseline_registry.styles()}


def _style(model: str) -> tuple[str, str]:
    """The style of the longest name `model` starts with ('deep_ensemble_5' → deep_ensemble); others: deep's."""
    styles = model_styles()
    known = [name for name in styles if model.startswith(name)]
    return styles[max(known, key=len)] if known else styles["deep_ensemble"]


def model_color(model: str) -> str:
    """The colour of a model named in the evaluation tables: hypernet ensembles, the single net, deep ensembles,
    the other baselines."""
    return _style(model)[0]


def model_marker(model: str) -> str:
    """The marker of a model named in the evaluation tables (one per model, as its colour)."""
    return _style(model)[1]
