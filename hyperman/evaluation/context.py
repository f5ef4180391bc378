"""The state the parts of an evaluation share, and the part that fills it: one test-set forward of every net.

The expensive step is one forward pass of every sampled net over the test
set. It is done once, in chunks of nets and images (memory stays bounded,
hyperman.forward), and the softmax probabilities (N, T, C) are kept on the
CPU (400 MB for 1,000 nets × 10,000 images) and reused by every metric family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from .. import metrics
from ..forward import Forward
from ..hypernetwork import HyperNetwork
from ..sampling import generate
from ..targets import Target
from ..config import EvalConfig
from .config import DIVERSITY_NETS

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
    ood_x: torch.Tensor | None = None  # OOD test images on the device (None without --ood-data)
    models: dict[str, "Model"] = field(default_factory=dict)  # every model the report compares, by name
    grid: "Grid | None" = None  # the deep ensemble's per-epoch probabilities (None without epochs.pt)
    results: dict = field(default_factory=dict)  # metrics.json sections that later parts add to (models)


@dataclass
class Model:
    """One predictor, as every part sees it: its members' probabilities on the test set (and on the OOD set),
    computed once here, and what it cost to train."""

    probs: torch.Tensor  # (P, T, C) members' probabilities on the test images, CPU float32
    ood: torch.Tensor | None  # (P, T_ood, C) on the OOD images
    train_seconds: float | None
    theta: torch.Tensor | None = None  # (P, D) members' weights (None when the probabilities are enough)
    train_flops: int | None = None  # training FLOPs (hyperman.compute; None for inputs older than the count)
    train_passes: int | None = None  # training image·net passes (forward + backward of one net on one image)
    detail: dict = field(default_factory=dict)  # what else metrics.json says of it (k, e of equal compute, α)

    @property
    def mean(self) -> torch.Tensor:
        """The mean-probability ensemble (T, C) float64 (the member itself for P = 1)."""
        return self.probs.double().mean(0)

    @property
    def ood_score_name(self) -> str:
        """Mutual information for an ensemble, predictive entropy for a single net (where MI is 0)."""
        return "mutual_information" if self.probs.shape[0] > 1 else "entropy"

    def ood_scores(self, probs: torch.Tensor) -> torch.Tensor:
        """Per-image OOD score (higher = more OOD) of members' probabilities (P, n, C) → (n,)."""
        if probs.shape[0] > 1:
            return metrics.mutual_information(probs)
        return metrics.predictive_entropy(probs)


@dataclass
class Grid:
    """The deep-ensemble members after every epoch: probs[k, e] of seed k after epoch e + 1."""

    probs: torch.Tensor  # (K, E, T, C)
    ood: torch.Tensor | None  # (K, E, T_ood, C)
    records: list  # baseline.load_epochs of every seed: (θ (E, D), cumulative seconds (E,))


def make_context(cfg: EvalConfig, inputs: dict, device: torch.device, log) -> Context:
    latents = inputs["samples"]["latents"]
    N, K = latents.shape[0], len(inputs["baselines"])
    return Context(cfg=cfg, inputs=inputs, device=device, log=log, model=inputs["model"], target=inputs["target"],
                   forward=Forward(inputs["target"], cfg.forward, device, cfg.memory_mb),
                   generator=torch.Generator().manual_seed(cfg.seed), x=inputs["x"].to(device), y=inputs["y"],
                   latents=latents, baseline_theta=torch.stack([b["theta"] for b in inputs["baselines"]]),
                   N=N, T=len(inputs["y"]), K=K, M=min(DIVERSITY_NETS, N),
                   ood_x=inputs["ood"][1][:cfg.ood_images or None].to(device) if inputs["ood"] is not None else None)


def test_forward(ctx: Context) -> tuple[dict, dict]:
    """Probabilities of every net of every model on the test (and OOD) set, once: the sampled nets, the
    baselines, every baseline epoch, the noise and snapshot ensembles (no metrics of its own)."""
    ctx.probs = torch.empty(ctx.N, ctx.T, ctx.target.num_classes, dtype=torch.float32)
    first = []
    for s, theta in generate(ctx.model, ctx.latents, ctx.cfg.chunk, device=ctx.device):
        ctx.forward.probs(theta, ctx.x, out=ctx.probs[s:s + theta.shape[0]])
        if s < ctx.M:
            first.append(theta[:ctx.M - s])
    ctx.first_theta = torch.cat(first)[:ctx.M]
    ctx.base_probs = ctx.forward.probs(ctx.baseline_theta, ctx.x)
    build_models(ctx)
    return {}, {}


def _ood(ctx: Context, theta: torch.Tensor) -> torch.Tensor | None:
    return None if ctx.ood_x is None else ctx.forward.probs(theta, ctx.ood_x)


def _grid(ctx: Context) -> Grid | None:
    """Probabilities of every (seed, epoch) net in one batched forward; a last epoch identical to the
    baseline's checkpoint reuses the baseline's probabilities instead of computing them again."""
    records = ctx.inputs["epochs"]
    if records is None:
        return None
    K, E = len(records), min(len(seconds) for _, seconds in records)
    theta = torch.cat([weights[:E] for weights, _ in records])  # (K·E, D)
    reuse = {k * E + E - 1: k for k in range(K) if torch.equal(records[k][0][E - 1], ctx.baseline_theta[k].cpu())}
    todo = [i for i in range(K * E) if i not in reuse]
    probs = torch.empty(K * E, ctx.T, ctx.base_probs.shape[-1])
    ood = None if ctx.ood_x is None else torch.empty(K * E, ctx.ood_x.shape[0], ctx.base_probs.shape[-1])
    if todo:
        probs[todo] = ctx.forward.probs(theta[todo], ctx.x)
        if ood is not None:
            ood[todo] = ctx.forward.probs(theta[todo], ctx.ood_x)
    base_ood = ctx.models["deep_ensemble"].ood
    for i, k in reuse.items():
        probs[i] = ctx.base_probs[k]
        if ood is not None:
            ood[i] = base_ood[k]
    return Grid(probs=probs.reshape(K, E, ctx.T, -1), records=records,
                ood=None if ood is None else ood.reshape(K, E, ood.shape[1], -1))


def _sum(values: list) -> int | None:
    return None if any(v is None for v in values) else sum(values)


def build_models(ctx: Context) -> None:
    """ctx.models: every model by name, each from the probabilities computed once above."""
    base, inputs = ctx.inputs["baselines"], ctx.inputs
    base_ood = _ood(ctx, ctx.baseline_theta)
    hyper_cost = inputs["hypernet_compute"] or {}
    hyper_flops, hyper_passes = hyper_cost.get("train_flops"), hyper_cost.get("image_net_passes")
    hyper_ood = _ood(ctx, ctx.first_theta)
    ctx.models["hypernet_ensemble"] = Model(ctx.probs[:ctx.M], hyper_ood, inputs["hypernet_train_seconds"],
                                            ctx.first_theta.cpu(), hyper_flops, hyper_passes)
    # the same G at the deep ensemble's size: the same test-time cost as the deep ensemble
    ctx.models["hypernet_ensemble_k"] = Model(ctx.probs[:ctx.K], None if hyper_ood is None else hyper_ood[:ctx.K],
                                              inputs["hypernet_train_seconds"], ctx.first_theta[:ctx.K].cpu(),
                                              hyper_flops, hyper_passes)
    ctx.models["single_net"] = Model(ctx.base_probs[:1], None if base_ood is None else base_ood[:1],
                                     base[0]["train_seconds"], ctx.baseline_theta[:1], base[0]["train_flops"],
                                     base[0]["train_passes"])
    ctx.models["deep_ensemble"] = Model(ctx.base_probs, base_ood, sum(b["train_seconds"] for b in base),
                                        ctx.baseline_theta, _sum([b["train_flops"] for b in base]),
                                        _sum([b["train_passes"] for b in base]))
    ctx.grid = _grid(ctx)
    for name, other in inputs["others"].items():  # every other baseline: its registry entry's loader's output
        theta = other["theta"]
        ctx.models[name] = Model(ctx.forward.probs(theta, ctx.x), _ood(ctx, theta), other["train_seconds"], theta,
                                 other["train_flops"], other["train_passes"], dict(other["detail"]))
