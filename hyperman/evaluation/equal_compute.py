"""The deep ensemble at equal compute: ensembles of the first k seeds after e epochs, read off the per-epoch
checkpoints of one training (no second training), against the hypernetwork's training seconds.

Cost of a cell = the sum of its members' cumulative training seconds at epoch e
(members are trained one after another on one device; baseline.ensemble_at).
The probabilities of every (seed, epoch) net come from one batched forward in
context.test_forward; each cell only averages them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .. import metrics, outputs
from ..baseline import ensemble_at

if TYPE_CHECKING:
    from .context import Context


def equal_compute_choice(records: list[tuple[torch.Tensor, list[float]]], budget: float) -> tuple[int, int, float]:
    """(k, e, seconds) of the deep ensemble matched to `budget` training seconds: all K members after the
    largest epoch e whose summed seconds fit the budget; when not even epoch 1 of all K fits, one member
    after the largest epoch that fits (epoch 1 when none does: the cheapest net there is)."""
    K, E = len(records), min(len(seconds) for _, seconds in records)
    for members in (K, 1):
        fitting = [e for e in range(1, E + 1) if ensemble_at(records, members, e)[1] <= budget]
        if fitting:
            return members, fitting[-1], ensemble_at(records, members, fitting[-1])[1]
    return 1, 1, ensemble_at(records, 1, 1)[1]


def _ood_auroc(ood_id: torch.Tensor | None, ood_out: torch.Tensor | None) -> float | None:
    """AUROC (OOD positive) of mutual information for an ensemble, predictive entropy for one net."""
    if ood_id is None or ood_out is None:
        return None
    score = metrics.mutual_information if ood_id.shape[0] > 1 else metrics.predictive_entropy
    return metrics.ood_auroc(score(ood_id), score(ood_out))


def grid_rows(ctx: Context) -> list[list]:
    """equal_compute.csv rows [members, epochs, seconds, accuracy, nll, ood_auroc] of every (k, e)."""
    grid, y, rows = ctx.grid, ctx.y, []
    K, E = grid.probs.shape[:2]
    base_ood = ctx.models["deep_ensemble"].ood
    for e in range(1, E + 1):
        for k in range(1, K + 1):
            mean = grid.probs[:k, e - 1].double().mean(0)
            in_scores = grid.probs[:k, e - 1] if base_ood is not None else None
            out_scores = grid.ood[:k, e - 1] if grid.ood is not None else None
            auroc = _ood_auroc(in_scores, out_scores)
            rows.append([k, e, ensemble_at(grid.records, k, e)[1], float(metrics.accuracy(mean, y)),
                         float(metrics.nll(mean, y)), "" if auroc is None else auroc])
    return rows


def equal_compute_part(ctx: Context) -> tuple[dict, dict]:
    """metrics.json `equal_compute` (the chosen cell and the hypernetwork's point) and equal_compute.csv."""
    if ctx.grid is None:
        return ({"equal_compute": {"skipped": "the --baselines folders hold no epochs.pt (per-epoch checkpoints)"}},
                {outputs.EQUAL_COMPUTE: []})
    rows = grid_rows(ctx)
    hyper = ctx.results["models"]["hypernet_ensemble"]
    section = {"members": int(ctx.grid.probs.shape[0]), "epochs": int(ctx.grid.probs.shape[1]),
               "cost": "sum of the members' cumulative training seconds after e epochs (trained one after another)",
               "hypernet": {"seconds": hyper["train_seconds"], "accuracy": hyper["accuracy"], "nll": hyper["nll"],
                            "ood_auroc": (hyper.get("ood") or {}).get("auroc")}}
    chosen = ctx.models.get("deep_ensemble_equal_compute")
    section["chosen"] = chosen.detail if chosen is not None else None
    if chosen is None:
        section["note"] = "no hypernetwork training seconds (train_summary.json): no equal-compute model"
    return {"equal_compute": section}, {outputs.EQUAL_COMPUTE: rows}
