"""Equal compute in FLOPs: the deep ensemble against the hypernetwork's training FLOPs, and the per-epoch curve.

The headline comparison is the deep ensemble as trained: K members, each on
its own full one-cycle schedule, whose epochs the study chooses so that their
summed training FLOPs match G's (params.yaml `baseline.epochs`; the ratio is
stated here and flagged when it is off by more than 10 %). Nothing is read off
a longer run for it.

The curve (equal_compute.csv) keeps the ensembles of the first k seeds after
e epochs, read off the per-epoch checkpoints, against their training FLOPs.
Those nets were caught mid-schedule (the learning rate had not yet decayed),
so they are weaker than nets trained for e epochs: the curve shows how the
deep ensemble grows with compute, not what a shorter schedule would give.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .. import metrics, outputs

if TYPE_CHECKING:
    from .context import Context

TOLERANCE = 0.10  # the deep ensemble counts as "at G's FLOPs" within ±10 %


def _ood_auroc(ood_id: torch.Tensor | None, ood_out: torch.Tensor | None) -> float | None:
    """AUROC (OOD positive) of mutual information for an ensemble, predictive entropy for one net."""
    if ood_id is None or ood_out is None:
        return None
    score = metrics.mutual_information if ood_id.shape[0] > 1 else metrics.predictive_entropy
    return metrics.ood_auroc(score(ood_id), score(ood_out))


def epoch_flops(ctx: Context) -> list[int | None]:
    """Training FLOPs of one epoch of each baseline (its checkpoint's FLOPs over its epochs), None if unknown."""
    out = []
    for base, (_, seconds) in zip(ctx.inputs["baselines"], ctx.grid.records):
        flops = base["train_flops"]
        out.append(None if flops is None else flops / len(seconds))
    return out


def grid_rows(ctx: Context) -> list[list]:
    """equal_compute.csv rows [members, epochs, train_flops, seconds, accuracy, nll, ood_auroc] of every (k, e)."""
    grid, y, rows = ctx.grid, ctx.y, []
    K, E = grid.probs.shape[:2]
    per_epoch = epoch_flops(ctx)
    base_ood = ctx.models["deep_ensemble"].ood
    for e in range(1, E + 1):
        for k in range(1, K + 1):
            mean = grid.probs[:k, e - 1].double().mean(0)
            in_scores = grid.probs[:k, e - 1] if base_ood is not None else None
            out_scores = grid.ood[:k, e - 1] if grid.ood is not None else None
            auroc = _ood_auroc(in_scores, out_scores)
            flops = None if None in per_epoch[:k] else e * sum(per_epoch[:k])
            seconds = sum(record[1][e - 1] for record in grid.records[:k])
            rows.append([k, e, "" if flops is None else flops, seconds, float(metrics.accuracy(mean, y)),
                         float(metrics.nll(mean, y)), "" if auroc is None else auroc])
    return rows


def flops_match(hypernet_flops: float | None, deep_flops: float | None) -> dict:
    """The deep ensemble's training FLOPs over G's, and whether it is within the tolerance."""
    if hypernet_flops is None or deep_flops is None:
        return {"ratio": None, "within_tolerance": None,
                "note": "a training summary or baseline checkpoint predates the FLOP count: retrain to compare"}
    ratio = deep_flops / hypernet_flops
    return {"ratio": ratio, "within_tolerance": abs(ratio - 1) <= TOLERANCE, "tolerance": TOLERANCE}


def equal_compute_part(ctx: Context) -> tuple[dict, dict]:
    """metrics.json `equal_compute` (G's and the deep ensemble's training FLOPs, their ratio) and the curve."""
    hyper, deep = ctx.models["hypernet_ensemble"], ctx.models["deep_ensemble"]
    section = {"cost": "training FLOPs (hyperman.compute: forward + backward of every pass that gets a gradient, "
                       "probes included; validation counted apart)",
               "hypernet": {"train_flops": hyper.train_flops, "train_seconds": hyper.train_seconds,
                            "validation_flops": (ctx.inputs["hypernet_compute"] or {}).get("validation_flops")},
               "deep_ensemble": {"members": ctx.K, "train_flops": deep.train_flops,
                                 "train_seconds": deep.train_seconds},
               **flops_match(hyper.train_flops, deep.train_flops)}
    if ctx.grid is None:
        section["curve"] = "skipped: the --baselines folders hold no epochs.pt (per-epoch checkpoints)"
        return {"equal_compute": section}, {outputs.EQUAL_COMPUTE: []}
    section["curve"] = {"members": int(ctx.grid.probs.shape[0]), "epochs": int(ctx.grid.probs.shape[1]),
                        "note": "read off the per-epoch checkpoints of one schedule: nets before the last epoch "
                                "are caught mid-schedule and are weaker than nets trained for that many epochs"}
    return {"equal_compute": section}, {outputs.EQUAL_COMPUTE: grid_rows(ctx)}
