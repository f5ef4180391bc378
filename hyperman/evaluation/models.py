"""Every model on the same footing: accuracy, NLL, ECE, adaptive ECE, Brier and OOD detection of each
model's mean-probability ensemble, from the probabilities context.test_forward computed once.

OOD detection follows OpenOOD: higher score = more OOD; AUROC and FPR at 95 %
TPR take OOD as the positive class, AUPR-in takes in-distribution as positive
(score negated), AUPR-out takes OOD as positive. The score is the mutual
information for ensembles and the predictive entropy for single nets (whose
mutual information is 0). `hypernet_member` is the sampled nets one at a time
(their mean metrics; their OOD score is each net's entropy).
"""

from __future__ import annotations

import torch

from .. import compute, metrics, outputs
from .context import Context, Model

OOD_NOTE = ("higher score = more OOD; auroc, aupr_out and fpr95 take OOD as positive, aupr_in takes the "
            "in-distribution images as positive; score: mutual information for ensembles, predictive entropy "
            "for single nets")
VOTE_NOTE = (f"majority-vote NLL/ECE score the vote fractions smoothed by {metrics.VOTE_SMOOTHING:g} pseudo-vote "
             "per class ((n_c + 1) / (M + C), metrics.smooth_votes): unsmoothed fractions give 0 to unvoted "
             "classes and the NLL would measure the probability floor")


# the scores of every model, in models.csv's column order (outputs.SCORE_COLUMNS names them for the workflow and
# the report, torch-free): (name, score of predictors (..., T, C) or of one (T, C), whether it scores all members
# at once); the one list model_metrics, member_metrics and _row read
SCORES = (("accuracy", metrics.accuracy, True), ("nll", metrics.nll, True), ("ece", metrics.ece, False),
          ("adaptive_ece", metrics.adaptive_ece, False), ("brier", metrics.brier, False))


def _member_mean(score, batched: bool, probs: torch.Tensor, y: torch.Tensor) -> float:
    """The mean of a score over members, each scored alone (all at once where the score is batched; a loop
    where it is not, or, for the Brier score, where the figures were always summed that way)."""
    if batched:
        return float(score(probs, y).mean())
    return float(sum(score(p, y) for p in probs) / len(probs))


def ood_metrics(model: Model) -> dict | None:
    """metrics.ood_detection of the model's OOD score on the test vs the OOD images, with the score's name."""
    if model.ood is None:
        return None
    result = metrics.ood_detection(model.ood_scores(model.probs), model.ood_scores(model.ood))
    return {"score": model.ood_score_name, **result}


def model_metrics(model: Model, y: torch.Tensor, target=None) -> dict:
    """The metrics.json `models.<name>` entry of one model (its mean-probability ensemble)."""
    mean = model.mean
    out = {**{name: float(score(mean, y)) for name, score, _ in SCORES}, "members": int(model.probs.shape[0]),
           "member_accuracy": float(metrics.accuracy(model.probs, y).mean()), "train_seconds": model.train_seconds,
           "train_flops": model.train_flops, "train_image_net_passes": model.train_passes,
           "test_flops_per_image": None if target is None else compute.inference_flops(target, model.probs.shape[0]),
           "ood": ood_metrics(model), **model.detail}
    if model.probs.shape[0] > 1:
        votes = metrics.vote_probabilities(model.probs, metrics.VOTE_SMOOTHING)
        out["majority_vote"] = {"accuracy": float((metrics.majority_vote(model.probs) == y).double().mean()),
                                "nll": float(metrics.nll(votes, y)), "ece": metrics.ece(votes, y)}
    return out


def member_metrics(model: Model, y: torch.Tensor) -> dict:
    """`models.hypernet_member`: the members' metrics, averaged over members (each net alone)."""
    probs = model.probs
    ood = None
    if model.ood is not None:
        per_net = [metrics.ood_detection(metrics.entropy(p), metrics.entropy(q)) for p, q in zip(probs, model.ood)]
        ood = {"score": "entropy", **{k: sum(r[k] for r in per_net) / len(per_net) for k in per_net[0]}}
    return {**{name: _member_mean(score, batched, probs, y) for name, score, batched in SCORES},
            "members": int(probs.shape[0]),
            "train_seconds": model.train_seconds, "train_flops": model.train_flops,
            "train_image_net_passes": model.train_passes, "ood": ood,
            "note": "the mean over the hypernetwork ensemble's members, each scored alone"}


def _row(name: str, m: dict) -> list:
    ood = m["ood"] or {}
    return [name, *[m[score] for score, _, _ in SCORES],
            *[ood.get(k, "") for k in ("auroc", "aupr_in", "aupr_out", "fpr95")],
            *["" if m.get(k) is None else m[k] for k in ("train_seconds", "train_flops", "test_flops_per_image")],
            m["members"]]


def models_part(ctx: Context) -> tuple[dict, dict]:
    """metrics.json `models` (later parts add shift_mean to it) and models.csv."""
    models = {}
    for name in outputs.MODEL_NAMES:
        if name == "hypernet_member":
            models[name] = member_metrics(ctx.models[outputs.HEADLINE], ctx.y)
        elif name in ctx.models:
            models[name] = model_metrics(ctx.models[name], ctx.y, ctx.target)
    ctx.results["models"] = models
    return ({"models": models, "models_notes": {"ood": OOD_NOTE, "majority_vote": VOTE_NOTE}},
            {outputs.MODELS: [_row(name, m) for name, m in models.items()]})
