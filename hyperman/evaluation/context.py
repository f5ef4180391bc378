"""The state the parts of an evaluation share, and the part that fills it: one test-set forward of every net.

The expensive step is one forward pass of every sampled net over the test
set. It is done once, in chunks of nets and images (memory stays bounded,
hyperman.forward), and the softmax probabilities (N, T, C) are kept on the
CPU (400 MB for 1,000 nets × 10,000 images) and reused by every metric family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..forward import Forward
from ..hypernetwork import HyperNetwork
from ..sampling import generate
from ..targets import Target
from .config import DIVERSITY_NETS, EvalConfig

Part = Callable[["Context"], tuple[dict, dict[str, list[list]]]]  # → (metrics.json sections, table rows by file)


@dataclass
class Context:
    cfg: EvalConfig
    inputs: dict
    device: torch.device
    log: Callable[[str], None]
    model: HyperNetwork
    target: Target
    forward: Forward
    generator: torch.Generator  # one stream, drawn from by the parts in their fixed order
    x: torch.Tensor  # test images on the device
    y: torch.Tensor  # test labels on the CPU
    latents: torch.Tensor
    baseline_theta: torch.Tensor  # (K, D)
    N: int  # sampled nets
    T: int  # test images
    K: int  # baselines
    M: int  # the first M sampled nets serve diversity, OOD, the adversarial vote and the ensemble gain
    probs: torch.Tensor | None = None  # (N, T, C) of the sampled nets, CPU float32
    base_probs: torch.Tensor | None = None  # (K, T, C) of the baselines
    first_theta: torch.Tensor | None = None  # (M, D) weights of the first M sampled nets
    member_acc: torch.Tensor | None = None  # (N,)
    member_nll: torch.Tensor | None = None


def make_context(cfg: EvalConfig, inputs: dict, device: torch.device, log) -> Context:
    latents = inputs["samples"]["latents"]
    N, K = latents.shape[0], len(inputs["baselines"])
    return Context(cfg=cfg, inputs=inputs, device=device, log=log, model=inputs["model"], target=inputs["target"],
                   forward=Forward(inputs["target"], cfg.forward, device, cfg.memory_mb),
                   generator=torch.Generator().manual_seed(cfg.seed), x=inputs["x"].to(device), y=inputs["y"],
                   latents=latents, baseline_theta=torch.stack([b["theta"] for b in inputs["baselines"]]),
                   N=N, T=len(inputs["y"]), K=K, M=min(DIVERSITY_NETS, N))


def test_forward(ctx: Context) -> tuple[dict, dict]:
    """Probabilities of every sampled net and every baseline on the test set (no metrics of its own)."""
    ctx.probs = torch.empty(ctx.N, ctx.T, ctx.target.num_classes, dtype=torch.float32)
    first = []
    for s, theta in generate(ctx.model, ctx.latents, ctx.cfg.chunk, device=ctx.device):
        ctx.forward.probs(theta, ctx.x, out=ctx.probs[s:s + theta.shape[0]])
        if s < ctx.M:
            first.append(theta[:ctx.M - s])
    ctx.first_theta = torch.cat(first)[:ctx.M]
    ctx.base_probs = ctx.forward.probs(ctx.baseline_theta, ctx.x)
    return {}, {}
