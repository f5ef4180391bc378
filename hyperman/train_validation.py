"""Validation of G during training: what train_log.jsonl records every `eval_every` steps.

Its own room so that the training loop (hyperman.training) holds the loop only; the figures are those the
sweep's choice reads (val_ensemble_nll, the members' accuracy)."""

from __future__ import annotations

import torch

from . import metrics
from .entropy import kl_entropy
from .forward import Forward
from .hypernetwork import HyperNetwork
from .symmetry import gauge_fix


@torch.no_grad()
def validate(model: HyperNetwork, x: torch.Tensor, y: torch.Tensor, num_nets: int, config,
             method: str, generator: torch.Generator) -> dict:
    """Accuracy of `num_nets` sampled nets on the validation split, their ensemble, and Ĥ."""
    was_training = model.training
    model.eval()
    z = model.sample_latents(num_nets, config.latent_dist, generator).to(x.device)
    theta = model(z)
    probs = Forward(model.target, method, x.device, precision=config.precision).probs(theta, x)
    member_acc = metrics.accuracy(probs, y.cpu())
    ensemble_acc = metrics.accuracy(probs.mean(0), y.cpu())
    entropy = kl_entropy(gauge_fix(model.target, theta), config.latent_dim, config.distance)
    model.train(was_training)
    return {"val_acc_mean": member_acc.mean().item(), "val_acc_min": member_acc.min().item(),
            "val_acc_max": member_acc.max().item(), "val_ensemble_acc": ensemble_acc.item(),
            "val_ensemble_nll": float(metrics.nll(probs.mean(0), y.cpu())),
            "val_disagreement": metrics.disagreement(probs), "val_entropy": entropy.item()}
