"""Out-of-distribution detection: AUROC of predictive entropy and mutual information, in- vs out-of-distribution."""

from __future__ import annotations

import torch

from .. import metrics, outputs
from .context import Context


def ood_scores(id_probs: torch.Tensor, ood_probs: torch.Tensor) -> dict:
    """AUROC of predictive entropy and mutual information, in-distribution 0 vs OOD 1; members (M, T, C)."""
    out = {"members": int(id_probs.shape[0]),
           "auroc_entropy": metrics.ood_auroc(metrics.predictive_entropy(id_probs),
                                              metrics.predictive_entropy(ood_probs))}
    if id_probs.shape[0] > 1:
        out["auroc_mi"] = metrics.ood_auroc(metrics.mutual_information(id_probs),
                                            metrics.mutual_information(ood_probs))
    else:
        out["auroc_mi"] = None
        out["note"] = "one member: the mutual information is 0 everywhere"
    return out


def ood_score_rows(model: str, id_probs: torch.Tensor, ood_probs: torch.Tensor) -> list[list]:
    """Per-image OOD scores of one model (members (M, T, C)) for ood_scores.csv: predictive entropy and,
    for M > 1, mutual information (empty for one member)."""
    rows = []
    for split, p in (("in", id_probs), ("ood", ood_probs)):
        ent = metrics.predictive_entropy(p).tolist()
        mi = metrics.mutual_information(p).tolist() if p.shape[0] > 1 else [""] * len(ent)
        rows += [[model, split, i, e, m] for i, (e, m) in enumerate(zip(ent, mi))]
    return rows


def ood_part(ctx: Context) -> tuple[dict, dict]:
    """metrics.json `ood` and ood_scores.csv for the first M sampled nets, the single net and the deep ensemble."""
    if ctx.inputs["ood"] is None:
        return {"ood": {"skipped": "no --ood-data given"}}, {}
    ood_name = ctx.inputs["ood"][0]
    hyper_ood, base_ood = ctx.models["hypernet_ensemble"].ood, ctx.models["deep_ensemble"].ood  # computed once
    probs, base = ctx.probs[:ctx.M], ctx.base_probs
    ood = {"in_distribution": ctx.inputs["dataset"], "out_of_distribution": ood_name,
           "in_images": ctx.T, "ood_images": int(ctx.ood_x.shape[0]), "hypernet": ood_scores(probs, hyper_ood),
           "single_net": ood_scores(base[:1], base_ood[:1]), "deep_ensemble": ood_scores(base, base_ood)}
    rows = (ood_score_rows(f"hypernet_ensemble_{ctx.M}", probs, hyper_ood)
            + ood_score_rows("single_net", base[:1], base_ood[:1])
            + ood_score_rows(f"deep_ensemble_{ctx.K}", base, base_ood))
    return {"ood": ood}, {outputs.OOD_SCORES: rows}
