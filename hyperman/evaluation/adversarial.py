"""FGSM robustness: how many correct predictions an ε-step flips, for single nets and ensemble votes."""

from __future__ import annotations

import torch

from .. import metrics, outputs
from ..forward import Forward
from .context import Context


def fgsm_flip_rates(forward: Forward, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                    eps_list: list[float]) -> dict:
    """FGSM against the mean-probability ensemble of θ (P, D) (one net when P = 1), judged by majority vote.

    x_adv = clamp(x + ε·sign ∇_x CE(mean_m p_m(x), y), 0, 1). CE of the mean is
    −log Σ_m p_m,y + const, whose gradient is Σ_m w_m ∇ log p_m,y with weights
    w_m = p_m,y / Σ p_m,y: computed from log-softmax (no underflow for
    confident nets), chunk by chunk, with w from a first no-gradient pass."""
    device = forward.device
    theta, x, y = theta.to(device), x.to(device), y.to(device)
    P, n = theta.shape[0], x.shape[0]
    clean = forward.probs(theta, x)
    clean_pred = metrics.majority_vote(clean).to(device)
    correct = clean_pred == y
    log_py = torch.log(clean.gather(-1, y.cpu().expand(P, n).unsqueeze(-1)).squeeze(-1).double().clamp_min(1e-300))
    weight = torch.softmax(log_py, dim=0).float().to(device)  # (P, n), sums to 1 over members
    sign = torch.zeros_like(x)
    for i in range(0, n, forward.images):
        xi = x[i:i + forward.images].clone().requires_grad_(True)
        grad = torch.zeros_like(xi)
        for p in range(0, P, forward.nets):
            logp = forward.logits(theta[p:p + forward.nets], xi).log_softmax(-1)
            picked = logp.gather(-1, y[i:i + forward.images].expand(logp.shape[0], -1).unsqueeze(-1)).squeeze(-1)
            loss = -(weight[p:p + forward.nets, i:i + forward.images] * picked).sum()
            grad += torch.autograd.grad(loss, xi)[0]
        sign[i:i + forward.images] = grad.sign()
    rates = []
    for eps in eps_list:
        adv = (x + eps * sign).clamp(0, 1)
        pred = metrics.majority_vote(forward.probs(theta, adv)).to(device)
        flipped = int((correct & (pred != y)).sum())
        rates.append({"eps": eps, "flipped": flipped,
                      "flip_rate": flipped / int(correct.sum()) if int(correct.sum()) else None})
    return {"nets": P, "images": n, "correct": int(correct.sum()), "per_eps": rates}


def adversarial_part(ctx: Context) -> tuple[dict, dict]:
    """metrics.json `adversarial` and adversarial.csv: one hypernet net, the vote of the first M, the single
    net and (with two or more baselines) the deep ensemble's vote, on the first --adversarial-images images."""
    cfg = ctx.cfg
    x, y = ctx.x[:cfg.adversarial_images], ctx.y[:cfg.adversarial_images]
    models = {"hypernet_single": ctx.first_theta[:1], "hypernet_vote": ctx.first_theta,
              "single_net": ctx.baseline_theta[:1]}
    if ctx.K >= 2:
        models["deep_ensemble_vote"] = ctx.baseline_theta
    adversarial = {"images": int(len(y)), "eps": list(cfg.adversarial_eps)}
    rows = []
    for name, theta in models.items():
        result = fgsm_flip_rates(ctx.forward, theta, x, y, list(cfg.adversarial_eps))
        adversarial[name] = {"nets": result["nets"], "correct": result["correct"],
                             "flip_rate": [r["flip_rate"] for r in result["per_eps"]],
                             "flipped": [r["flipped"] for r in result["per_eps"]]}
        rows += [[name, float(r["eps"]), result["images"], result["correct"], r["flipped"],
                  "" if r["flip_rate"] is None else float(r["flip_rate"])] for r in result["per_eps"]]
    return {"adversarial": adversarial}, {outputs.ADVERSARIAL: rows}
