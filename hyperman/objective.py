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
  training images, noise, or strongly shifted images). Why: the weight
  entropy is satisfied in flat directions that change no prediction; this
  term rewards nets that *predict* differently, where the data does not pin
  the answer down. The outputs of B nets live on a manifold of dimension at
  most min(dim z, P·(classes − 1)), the default estimator dimension.
  The prototype of issue 13 wrote β_proto·mean log ρ, i.e. β_proto = β·d:
  with P = 32 probes and 10 classes (d = 288), β = 1 ≈ β_proto = 288.

`train.diversity` picks the terms: weights (the paper's), function, both,
or none (CE alone: the λ → ∞ ablation). Every caller — the single process,
the torchrun path (whose CE arrives gathered, as a number) and the
benchmarks — builds its loss with `objective`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .augment import random_shift
from .device import autocast
from .entropy import kl_entropy
from .symmetry import gauge_fix
from .targets import Target

DIVERSITY_MODES = ("weights", "function", "both", "none")
PROBE_FAMILIES = ("mixup", "noise", "augment")
WEIGHT_ENTROPIES = ("joint", "per_layer")
DISTANCES = ("l1", "l2")
AUGMENT_PROBE_SHIFT = 6  # pixels: beyond the ≤ 2-pixel shifts of training augmentation, so "off the data"


def diversity_mode(value: str | bool) -> str:
    """A `diversity` setting as one of DIVERSITY_MODES; the old booleans map true → weights, false → none."""
    if isinstance(value, bool):
        return "weights" if value else "none"
    text = str(value).lower()
    legacy = {"true": "weights", "yes": "weights", "1": "weights", "false": "none", "no": "none", "0": "none"}
    text = legacy.get(text, text)
    if text not in DIVERSITY_MODES:
        raise ValueError(f"unknown diversity {value!r}; use one of {', '.join(DIVERSITY_MODES)}")
    return text


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
                                 ("function-distance", config.function_distance, DISTANCES)):
        if value not in choices:
            problems.append(f"--{name} {value!r} is not one of {', '.join(choices)}")
    for name, value, low in (("function-weight", config.function_weight, 0), ("probes", config.probes, 1),
                             ("function-dim", config.function_dim, 0), ("entropy-queue", config.entropy_queue, 0)):
        if value < low:
            problems.append(f"--{name} {value} is below its minimum {low}")
    if not 0 < config.lambda_anneal <= 1:
        problems.append(f"--lambda-anneal {config.lambda_anneal} is not a fraction of the run in (0, 1]")
    if config.entropy_queue and not uses_weights(config.diversity):
        problems.append(f"--entropy-queue {config.entropy_queue} holds weight vectors but --diversity "
                        f"{config.diversity} has no weight entropy; use --diversity weights or both, or queue 0")
    if problems:
        raise ValueError("; ".join(problems))


def function_dim(config, target: Target) -> int:
    """The estimator dimension of Ĥ_function: the setting, or (0) min(dim z, P·(classes − 1))."""
    return config.function_dim or min(config.latent_dim, config.probes * (target.num_classes - 1))


def draw_probes(config, train_x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """P probe images (P, C, H, W) shared by the step's nets, drawn from the training generator (resumable).

    mixup: a·x1 + (1 − a)·x2 of two random training images, a ~ U(0, 1) per probe;
    noise: uniform pixels in [0, 1], the images' range;
    augment: random training images shifted by up to AUGMENT_PROBE_SHIFT pixels."""
    count, n = config.probes, len(train_x)
    if config.probe_family == "mixup":
        index = torch.randint(n, (2, count), generator=generator).to(train_x.device)
        a = torch.rand(count, 1, 1, 1, generator=generator).to(train_x)
        return a * train_x[index[0]] + (1 - a) * train_x[index[1]]
    if config.probe_family == "noise":
        return torch.rand(count, *train_x.shape[1:], generator=generator).to(train_x)
    if config.probe_family == "augment":
        index = torch.randint(n, (count,), generator=generator).to(train_x.device)
        return random_shift(train_x[index], AUGMENT_PROBE_SHIFT, generator)
    raise ValueError(f"unknown probe family {config.probe_family!r}; use one of {', '.join(PROBE_FAMILIES)}")


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
    """Ĥ_weights of gauge-fixed nets (B, D): one joint estimate (d = dim z) or the sum of per-layer ones."""
    if config.weight_entropy == "joint":
        return kl_entropy(fixed, config.latent_dim, config.distance, reference=reference)
    total = fixed.new_zeros(())
    for a, b in target.offsets():
        total = total + kl_entropy(fixed[:, a:b], min(config.latent_dim, b - a), config.distance,
                                   reference=None if reference is None else reference[:, a:b])
    return total


def function_entropy(config, target: Target, theta: torch.Tensor, probes: torch.Tensor,
                     method: str) -> torch.Tensor:
    """Ĥ_function: the entropy of the nets' softmax outputs on the shared probes, each net one point."""
    with autocast(config.precision, theta.device):
        logits = target.forward(theta, probes, method)
    outputs = logits.float().softmax(-1).reshape(theta.shape[0], -1)
    return kl_entropy(outputs, function_dim(config, target), config.function_distance)


def cross_entropy(config, target: Target, theta: torch.Tensor, images: torch.Tensor, labels: torch.Tensor,
                  method: str, reduction: str = "mean") -> torch.Tensor:
    """The CE of nets θ (B, D) on their own mini-batches (B, N, C, H, W), in fp32 whatever the forward's precision."""
    with autocast(config.precision, theta.device):
        logits = target.forward(theta, images, method)
    return F.cross_entropy(logits.float().reshape(-1, target.num_classes), labels.reshape(-1), reduction=reduction)


def ce_weight(config, lam: float) -> float:
    """The factor of the CE in the loss: λ, or 1 without a diversity term (then the loss is the CE)."""
    return 1.0 if config.diversity == "none" else lam


@dataclass
class Objective:
    """One step's loss and its parts; `fixed` are the gauge-fixed nets (for the queue), when computed."""

    loss: torch.Tensor
    ce: torch.Tensor
    lam: float
    entropy_weights: torch.Tensor
    entropy_function: torch.Tensor
    fixed: torch.Tensor | None

    def record(self) -> dict:
        """The logged parts (train_log.jsonl keys): `entropy` is Ĥ_weights, as before function diversity."""
        return {"loss": self.loss.item(), "ce": self.ce.item(), "entropy": self.entropy_weights.item(),
                "entropy_function": self.entropy_function.item(), "lambda": self.lam}


def objective(config, target: Target, theta: torch.Tensor, ce: torch.Tensor, lam: float,
              probes: torch.Tensor | None = None, method: str = "loop",
              queue: NeighbourQueue | None = None) -> Objective:
    """loss = λ·CE − Ĥ_weights − β·Ĥ_function for the step's nets θ (B, D) (all of them, on every rank).

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
        loss = loss - config.function_weight * h_function
    return Objective(loss, ce, lam, h_weights, h_function, fixed)
