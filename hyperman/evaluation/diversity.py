"""How different the nets are (predictions and gauge-fixed weights), and the gauge check: an ensemble of
function-preserving transforms of one net, which must gain nothing (a test of the gauge code, not of G)."""

from __future__ import annotations

import torch

from .. import metrics
from ..entropy import nearest_neighbour_distances
from ..forward import Forward
from ..symmetry import gauge_fix, random_symmetry
from ..targets import Target
from .context import Context


def diversity(target: Target, theta: torch.Tensor, probs: torch.Tensor, nn_nets: int | None = None) -> dict:
    """Prediction disagreement and KL to the ensemble of all nets; nearest-neighbour L1 of gauge-fixed weights
    among the first `nn_nets` (all by default). Nearest-neighbour distances shrink as a set grows, so two
    sets are compared on the same `nn_nets` (and the same alignment: none here, controls.alignment has the
    distances after weight matching)."""
    nn_nets = theta.shape[0] if nn_nets is None else min(nn_nets, theta.shape[0])
    if theta.shape[0] < 2 or nn_nets < 2:
        return {"nets": int(theta.shape[0]), "disagreement": None, "kl_to_mean": None, "nn_l1_mean": None,
                "nn_l1_nets": nn_nets, "note": "diversity needs at least 2 nets"}
    with torch.no_grad():
        nn = nearest_neighbour_distances(gauge_fix(target, theta[:nn_nets].double()), "l1")
    return {"nets": int(theta.shape[0]), "disagreement": metrics.disagreement(probs),
            "kl_to_mean": metrics.kl_to_mean(probs), "nn_l1_nets": nn_nets,
            "nn_l1_alignment": "gauge-fixed, hidden units not aligned", "nn_l1_mean": float(nn.mean()),
            "nn_l1_min": float(nn.min()), "nn_l1_max": float(nn.max()),
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
    """metrics.json `diversity` of the first M sampled nets and of the deep ensemble; weight distances of
    both on sets of the same size (the K baselines, the first K sampled nets)."""
    return {"diversity": {"hypernet": diversity(ctx.target, ctx.first_theta.cpu(), ctx.probs[:ctx.M], ctx.K),
                          "deep_ensemble": diversity(ctx.target, ctx.baseline_theta, ctx.base_probs)}}, {}
