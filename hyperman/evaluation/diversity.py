"""How different the nets are (predictions and gauge-fixed weights), and the symmetry control: an ensemble of
function-preserving transforms of one net, which must gain nothing."""

from __future__ import annotations

import torch

from .. import metrics
from ..entropy import nearest_neighbour_distances
from ..forward import Forward
from ..symmetry import gauge_fix, random_symmetry
from ..targets import Target
from .context import Context
from .ensembles import ensemble_scores


def diversity(target: Target, theta: torch.Tensor, probs: torch.Tensor) -> dict:
    """Prediction disagreement, KL to the ensemble and nearest-neighbour L1 of gauge-fixed weights."""
    if theta.shape[0] < 2:
        return {"nets": int(theta.shape[0]), "disagreement": None, "kl_to_mean": None, "nn_l1_mean": None,
                "note": "diversity needs at least 2 nets"}
    with torch.no_grad():
        nn = nearest_neighbour_distances(gauge_fix(target, theta.double()), "l1")
    return {"nets": int(theta.shape[0]), "disagreement": metrics.disagreement(probs),
            "kl_to_mean": metrics.kl_to_mean(probs), "nn_l1_mean": float(nn.mean()), "nn_l1_min": float(nn.min()),
            "nn_l1_max": float(nn.max()),
            "nn_l1_per_weight": float(nn.mean()) / theta.shape[1]}


def symmetry_control(forward: Forward, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, copies: int,
                     generator: torch.Generator) -> dict:
    """An 'ensemble' of `copies` random function-preserving transforms of ONE net θ (D,).

    It must predict exactly what the net predicts (gain 0). Predictions are
    compared by arg-max of the mean probabilities; a flip caused by rounding
    is counted and reported, not hidden."""
    transformed = random_symmetry(forward.target, theta.detach().cpu(), copies, generator)
    probs = forward.probs(torch.cat([theta.detach().cpu().unsqueeze(0), transformed]), x)
    own, copy_probs = probs[0], probs[1:]
    mean = copy_probs.double().mean(0)
    own_pred, ens_pred = own.argmax(-1), mean.argmax(-1)
    own_acc = float(metrics.accuracy(own, y))
    ens_acc = float(metrics.accuracy(mean, y))
    copy_acc = metrics.accuracy(copy_probs, y)
    return {"copies": copies, "net_accuracy": own_acc, "ensemble_accuracy": ens_acc, "gain": ens_acc - own_acc,
            "flipped_predictions": int((own_pred != ens_pred).sum()), "images": int(len(y)),
            "copy_accuracy_min": float(copy_acc.min()), "copy_accuracy_max": float(copy_acc.max()),
            "max_abs_prob_diff": float((mean - own.double()).abs().max())}


def diversity_part(ctx: Context) -> tuple[dict, dict]:
    """metrics.json `diversity` of the first M sampled nets and of the deep ensemble."""
    return {"diversity": {"hypernet": diversity(ctx.target, ctx.first_theta.cpu(), ctx.probs[:ctx.M]),
                          "deep_ensemble": diversity(ctx.target, ctx.baseline_theta, ctx.base_probs)}}, {}


def symmetry_part(ctx: Context) -> tuple[dict, dict]:
    """metrics.json `symmetry_control`, next to the gain of a real hypernet ensemble of the same size."""
    sym = symmetry_control(ctx.forward, ctx.first_theta[0], ctx.x, ctx.y, ctx.cfg.symmetry_copies, ctx.generator)
    size = min(ctx.cfg.symmetry_copies, ctx.N)
    real = ensemble_scores(ctx.probs, ctx.y, torch.arange(size))["mean_prob"]["accuracy"]
    sym.update({"hypernet_ensemble_size": size, "hypernet_ensemble_gain": real - float(ctx.member_acc[:size].mean()),
                "exact": sym["flipped_predictions"] == 0})
    if sym["flipped_predictions"]:
        ctx.log(f"symmetry control: {sym['flipped_predictions']} predictions flipped by rounding (reported)")
    return {"symmetry_control": sym}, {}
