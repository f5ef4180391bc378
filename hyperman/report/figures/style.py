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



def model_color(model: str) -> str:
    """The colour of a model named in the evaluation tables: hypernet ensembles, the single net, deep ensembles."""
    return COLORS["hyper"] if model.startswith("hypernet") else COLORS["single"] if model == "single_net" \
        else COLORS["deep"]
