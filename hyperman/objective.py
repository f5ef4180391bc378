"""The training objective, in one place: loss = λ·CE − Ĥ_weights − β·Ĥ_function.

- λ·CE: the nets' mean cross-entropy on their own mini-batches (accuracy).
- Ĥ_weights: the Kozachenko–Leonenko entropy of the B gauge-fixed weight
  vectors (the paper's diversity term), over the whole vector (`joint`,
  d = dim z) or as a sum of one term per layer (`per_layer`, d_l =
  min(dim z, layer size)), so that conv1, fc3 and the output layer count and
  not only conv2, where ~90 % of the joint nearest-neighbour distance sits.
  Optionally a queue of detached gauge-fixed nets of recent steps serves as
  extra neighbours (more neighbours than one step's B).
- Ĥ_function: the same estimator on the nets' softmax outputs on P probe
  inputs shared by all nets of the step and drawn off the data (mixup of two
  training images or strongly shifted images: `hyperman.probes`). Why: the weight
  entropy is satisfied in flat directions that change no prediction; this
  term rewards nets that *predict* differently, where the data does not pin
  the answer down. The outputs of B nets live on a manifold of dimension at
  most min(dim z, P·(classes − 1)), the default estimator dimension.
  The prototype of issue 13 wrote β_proto·mean log ρ, i.e. β_proto = β·d:
  with P = 32 probes and 10 classes (d = 288), β = 1 ≈ β_proto = 288.
  `function_scale: unit` drops d (β is then β_proto: changing P leaves the
  weight alone); `function_estimator: kernel` replaces the nearest-neighbour
  estimate by an RBF kernel-density one on the nets' centred logits
  (D'Angelo & Fortuin 2021), whose gradient stays bounded at near-duplicates;
  `function_eps` is the ε of log(ρ + ε) in the nearest-neighbour estimate
  (its gradient is at most d/(B·ε) per coordinate).
- Outlier probes (`outlier_probes` > 0): a second function-space term with
  its own weight β_out on label-destroying probes (`hyperman.probes`).
  `repulsion_warmup` ramps both function-space terms in from 0.
- `layer_weights` weighs the per-layer weight entropies (flat, rising toward
  the output, or one number per layer).

`train.diversity` picks the terms: weights (the paper's), function, both,
or none (CE alone: the λ → ∞ ablation). Every caller — the single process,
the torchrun path (whose CE arrives gathered, as a number) and the
benchmarks — builds its loss with `objective`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import probes as probe_registry
from .config.choices import (DISTANCES, DIVERSITY_MODES, FUNCTION_ESTIMATORS, FUNCTION_SCALES, LAYER_PROFILES,
                             OUTLIER_FAMILIES, PROBE_FAMILIES, WEIGHT_ENTROPIES, diversity_mode)
from .device import autocast
from .entropy import kernel_entropy, kl_entropy
from .symmetry import gauge_fix
from .targets import Target, get_target



def uses_weights(mode: str) -> bool:
    return mode in ("weights", "both")


def uses_function(mode: str) -> bool:
    return mode in ("function", "both")


def check_settings(config) -> None:
    """Refuse settings the objective cannot use, naming the flag and what to give instead (ValueError)."""
    problems = []
    for name, value, choices in (("diversity", config.diversity, DIVERSITY_MODES),
                                 ("probe-family", config.probe_family, PROBE_FAMILIES),
                                 ("weight-entropy", config.weight_entropy, WEIGHT_ENTROPIES),
                                 ("function-distance", config.function_distance, DISTANCES),
                                 ("function-estimator", config.function_estimator, FUNCTION_ESTIMATORS),
                                 ("function-scale", config.function_scale, FUNCTION_SCALES),
                                 *(("outlier-families", f, OUTLIER_FAMILIES) for f in config.outlier_families)):
        if value not in choices:
            problems.append(f"--{name} {value!r} is not one of {', '.join(choices)}")
    for name, value, low in (("function-weight", config.function_weight, 0), ("probes", config.probes, 1),
                             ("function-dim", config.function_dim, 0), ("entropy-queue", config.entropy_queue, 0),
                             ("outlier-probes", config.outlier_probes, 0), ("outlier-weight", config.outlier_weight, 0),
                             ("repulsion-warmup", config.repulsion_warmup, 0)):
        if value < low:
            problems.append(f"--{name} {value} is below its minimum {low}")
    if not config.function_eps > 0:
        problems.append(f"--function-eps {config.function_eps} must be > 0")
    if not config.outlier_families:
        problems.append(f"--outlier-families needs at least one of {', '.join(OUTLIER_FAMILIES)}")
    if config.outlier_probes and not uses_function(config.diversity):
        problems.append(f"--outlier-probes {config.outlier_probes}: outlier probes feed a function-space term, "
                        f"which --diversity {config.diversity} lacks; use --diversity function or both, or "
                        "--outlier-probes 0")
    try:
        layer_weights(config, get_target(config.target))
    except ValueError as error:
        problems.append(str(error))
    if not 0 < config.lambda_anneal <= 1:
        problems.append(f"--lambda-anneal {config.lambda_anneal} is not a fraction of the run in (0, 1]")
    if config.entropy_queue and not uses_weights(config.diversity):
        problems.append(f"--entropy-queue {config.entropy_queue} holds weight vectors but --diversity "
                        f"{config.diversity} has no weight entropy; use --diversity weights or both, or queue 0")
    if problems:
        raise ValueError("; ".join(problems))


def function_dim(config, target: Target, probes: int | None = None) -> int:
    """The estimator dimension of Ĥ_function on `probes` probes (default: the data-like ones): the setting, or
    (0) min(dim z, P·(classes − 1))."""
    count = config.probes if probes is None else probes
    return config.function_dim or min(config.latent_dim, count * (target.num_classes - 1))


def layer_weights(config, target: Target) -> list[float] | None:
    """The per-layer weights of Ĥ_weights (`layer_weights`): None for flat (every layer 1, today's sum), rising
    2l/(L + 1) for layer l = 1..L (mean 1: the same total as flat, shifted toward the output), or one
    non-negative number per layer. ValueError, naming the flag, for anything else."""
    text = str(config.layer_weights).strip().lower()
    count = len(target.layers)
    if text == "flat":
        return None
    if config.weight_entropy != "per_layer":
        raise ValueError(f"--layer-weights {config.layer_weights} weighs the per-layer entropies; add "
                         "--weight-entropy per_layer or keep --layer-weights flat")
    if text == "rising":  # (LAYER_PROFILES)
        return [2 * (k + 1) / (count + 1) for k in range(count)]
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count or not all(v >= 0 and v < float("inf") for v in values):
        raise ValueError(f"--layer-weights {config.layer_weights!r} is not {' or '.join(LAYER_PROFILES)} or {count} "
                         f"comma-separated numbers >= 0 (one per layer of {target.name}: "
                         f"{', '.join(f'{layer.kind} {layer.units}' for layer in target.layers)})")
    return values


def draw_probes(config, train_x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """P data-like probe images (P, C, H, W) of `probe_family` shared by the step's nets, drawn from the
    training generator (resumable; the families: hyperman.probes)."""
    return probe_registry.draw(config.probe_family, train_x, config.probes, generator)


def draw_outliers(config, train_x: torch.Tensor, generator: torch.Generator) -> torch.Tensor | None:
    """The step's `outlier_probes` label-destroying probes, shared out over `outlier_families`, drawn after the
    data-like probes; None when off (then the generator is untouched: runs without them are unchanged)."""
    if not config.outlier_probes:
        return None
    return probe_registry.draw_mixed(list(config.outlier_families), train_x, config.outlier_probes, generator)


class NeighbourQueue:
    """The gauge-fixed weight vectors of the last `size` generated nets, detached: extra neighbours
    for Ĥ_weights. Its contents go into the checkpoint so that a resumed run is exact."""

    def __init__(self, size: int):
        self.size = size
        self.rows: torch.Tensor | None = None

    def reference(self) -> torch.Tensor | None:
        return self.rows if self.size else None

    def push(self, fixed: torch.Tensor | None) -> None:
        if self.size and fixed is not None:
            rows = fixed.detach().float()
            self.rows = (rows if self.rows is None else torch.cat([self.rows, rows.to(self.rows)]))[-self.size:]

    def state(self) -> torch.Tensor | None:
        return None if self.rows is None else self.rows.cpu()

    def load(self, rows: torch.Tensor | None, device: torch.device) -> None:
        self.rows = None if rows is None else rows.to(device)


def weight_entropy(config, target: Target, fixed: torch.Tensor, reference: torch.Tensor | None) -> torch.Tensor:
    """Ĥ_weights of gauge-fixed nets (B, D): one joint estimate (d = dim z) or the sum of per-layer ones,
    each times its `layer_weights` weight (flat: no factor, today's sum)."""
    if config.weight_entropy == "joint":
        return kl_entropy(fixed, config.latent_dim, config.distance, reference=reference)
    weights = layer_weights(config, target)
    total = fixed.new_zeros(())
    for k, (a, b) in enumerate(target.offsets()):
        term = kl_entropy(fixed[:, a:b], min(config.latent_dim, b - a), config.distance,
                          reference=None if reference is None else reference[:, a:b])
        total = total + (term if weights is None else weights[k] * term)
    return total


def function_entropy(config, target: Target, theta: torch.Tensor, probes: torch.Tensor,
                     method: str) -> torch.Tensor:
    """Ĥ_function: the entropy of the nets' outputs on the shared probes, each net one point, scaled so that
    β times it is the term's weight (`function_scale`).

    kl: Kozachenko–Leonenko on the softmax outputs, d·mean log(ρ + ε) + constants, with d the estimator
    dimension (dimension) or 1 (unit). kernel: the RBF kernel-density estimate on the logits centred per
    probe (softmax ignores a shift of a probe's logits, so the kernel does too), times d or 1."""
    with autocast(config.precision, theta.device):
        logits = target.forward(theta, probes, method)
    d = function_dim(config, target, probes.shape[0]) if config.function_scale == "dimension" else 1
    if config.function_estimator == "kernel":
        centred = logits.float() - logits.float().mean(-1, keepdim=True)
        return d * kernel_entropy(centred.reshape(theta.shape[0], -1))
    outputs = logits.float().softmax(-1).reshape(theta.shape[0], -1)
    return kl_entropy(outputs, d, config.function_distance, eps=config.function_eps)


def cross_entropy(config, target: Target, theta: torch.Tensor, images: torch.Tensor, labels: torch.Tensor,
                  method: str, reduction: str = "mean") -> torch.Tensor:
    """The CE of nets θ (B, D) on their own mini-batches (B, N, C, H, W), in fp32 whatever the forward's precision."""
    with autocast(config.precision, theta.device):
        logits = target.forward(theta, images, method)
    return F.cross_entropy(logits.float().reshape(-1, target.num_classes), labels.reshape(-1), reduction=reduction)


def ce_weight(config, lam: float) -> float:
    """The factor of the CE in the loss: λ, or 1 without a diversity term (then the loss is the CE)."""
    return 1.0 if config.diversity == "none" else lam


def backward_ce(config, ce_sum: torch.Tensor, lam: float, count: int) -> None:
    """Back-propagate the CE part of the loss, λ·mean CE, from the CE *summed* over `count` images (under
    torchrun: this rank's share; hyperman.training gathers the gradients). Here, beside `objective`, so that λ
    weighs the CE in one file: this seed for the gradient, `objective` for the loss's value."""
    ce_sum.backward(torch.tensor(ce_weight(config, lam), dtype=ce_sum.dtype, device=ce_sum.device) / count)


@dataclass
class Objective:
    """One step's loss and its parts; `fixed` are the gauge-fixed nets (for the queue), when computed."""

    loss: torch.Tensor
    ce: torch.Tensor
    lam: float
    entropy_weights: torch.Tensor
    entropy_function: torch.Tensor
    fixed: torch.Tensor | None
    entropy_outlier: torch.Tensor | None = None  # Ĥ_function on the outlier probes, when they are on
    repulsion: float | None = None  # the warm-up's factor of the function-space terms, when a warm-up is on

    def record(self) -> dict:
        """The logged parts (train_log.jsonl keys): `entropy` is Ĥ_weights, as before function diversity;
        `entropy_outlier` and `repulsion` only when those levers are on (default logs are unchanged)."""
        extra = {} if self.entropy_outlier is None else {"entropy_outlier": self.entropy_outlier.item()}
        if self.repulsion is not None:
            extra["repulsion"] = self.repulsion
        return {"loss": self.loss.item(), "ce": self.ce.item(), "entropy": self.entropy_weights.item(),
                "entropy_function": self.entropy_function.item(), "lambda": self.lam, **extra}


def objective(config, target: Target, theta: torch.Tensor, ce: torch.Tensor, lam: float,
              probes: torch.Tensor | None = None, method: str = "loop",
              queue: NeighbourQueue | None = None, outliers: torch.Tensor | None = None,
              repulsion: float = 1.0) -> Objective:
    """loss = λ·CE − Ĥ_weights − r·β·Ĥ_function − r·β_out·Ĥ_outlier for the step's nets θ (B, D) (all of them,
    on every rank); r is the warm-up's factor (1 without one), Ĥ_outlier the function entropy on the outlier
    probes (when given).

    `ce` may carry a gradient (one process) or be a gathered number (torchrun,
    whose CE gradient is taken per shard); either way the entropy terms here
    are differentiable w.r.t. θ. `probes` are needed when the mode uses the
    function entropy."""
    zero = theta.new_zeros((), dtype=torch.float32)
    fixed, h_weights, h_function = None, zero, zero
    if uses_weights(config.diversity):
        fixed = gauge_fix(target, theta)
        h_weights = weight_entropy(config, target, fixed, None if queue is None else queue.reference())
    if uses_function(config.diversity):
        if probes is None:
            raise ValueError(f"--diversity {config.diversity} needs probe inputs; draw them with draw_probes")
        h_function = function_entropy(config, target, theta, probes, method)
    loss = ce_weight(config, lam) * ce
    if uses_weights(config.diversity):
        loss = loss - h_weights
    if uses_function(config.diversity):
        loss = loss - config.function_weight * repulsion * h_function
    h_outlier = None
    if outliers is not None:
        h_outlier = function_entropy(config, target, theta, outliers, method)
        loss = loss - config.outlier_weight * repulsion * h_outlier
    return Objective(loss, ce, lam, h_weights, h_function, fixed, h_outlier,
                     repulsion if config.repulsion_warmup else None)
