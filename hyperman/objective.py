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

`train.diversity` lists the terms (hyperman.diversity_terms, a registry: one
class per term): weights (the paper's), function; the old modes both and
none (CE alone: the λ → ∞ ablation) stay accepted. Every caller — the single process,
the torchrun path (whose CE arrives gathered, as a number) and the
benchmarks — builds its loss with `objective`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from . import probes as probe_registry, settings
from .config.choices import diversity_terms
from .device import autocast
from .diversity_terms import TERMS, StepNets, layer_weights, listed, terms_of
from .targets import Target, get_target


def uses_weights(diversity) -> bool:
    """Whether `diversity` (a list of terms, or an old mode) has the weight entropy."""
    return "weights" in diversity_terms(diversity)


def uses_function(diversity) -> bool:
    """Whether `diversity` has the function-space entropy (and so the step draws probes)."""
    return any(TERMS[name].needs_probes for name in diversity_terms(diversity) if name in TERMS)


def check_settings(config) -> None:
    """Refuse settings the objective cannot use, naming the flag and what to give instead (ValueError): the
    config's own check (hyperman.settings: every field's bounds and choices, TrainConfig.cross_problems), then
    what needs the registries: the terms' names, the layer weights against the target's layers."""
    problems = settings.problems(config)
    problems += [f"--diversity {name!r} is not one of {', '.join(listed())}"
                 for name in diversity_terms(config.diversity) if name not in listed()]
    try:
        layer_weights(config, get_target(config.target))
    except ValueError as error:
        problems.append(str(error))
    if problems:
        raise ValueError("; ".join(problems))


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


def cross_entropy(config, target: Target, theta: torch.Tensor, images: torch.Tensor, labels: torch.Tensor,
                  method: str, reduction: str = "mean") -> torch.Tensor:
    """The CE of nets θ (B, D) on their own mini-batches (B, N, C, H, W), in fp32 whatever the forward's precision."""
    with autocast(config.precision, theta.device):
        logits = target.forward(theta, images, method)
    return F.cross_entropy(logits.float().reshape(-1, target.num_classes), labels.reshape(-1), reduction=reduction)


def ce_weight(config, lam: float) -> float:
    """The factor of the CE in the loss: λ, or 1 without a diversity term (then the loss is the CE)."""
    return lam if diversity_terms(config.diversity) else 1.0


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
    others: dict[str, torch.Tensor] = field(default_factory=dict)  # every other term's value, by its log key

    def record(self) -> dict:
        """The logged parts (train_log.jsonl keys): `entropy` is Ĥ_weights, as before function diversity;
        `entropy_outlier`, `repulsion` and another term's `entropy_<name>` only when those are on (default logs
        are unchanged)."""
        extra = {} if self.entropy_outlier is None else {"entropy_outlier": self.entropy_outlier.item()}
        if self.repulsion is not None:
            extra["repulsion"] = self.repulsion
        extra.update({key: value.item() for key, value in self.others.items()})
        return {"loss": self.loss.item(), "ce": self.ce.item(), "entropy": self.entropy_weights.item(),
                "entropy_function": self.entropy_function.item(), "lambda": self.lam, **extra}


def objective(config, target: Target, theta: torch.Tensor, ce: torch.Tensor, lam: float,
              probes: torch.Tensor | None = None, method: str = "loop",
              queue: NeighbourQueue | None = None, outliers: torch.Tensor | None = None,
              repulsion: float = 1.0, function_space: bool = True) -> Objective:
    """loss = λ·CE − Σ_t w_t·Ĥ_t over the run's diversity terms (hyperman.diversity_terms; by default
    λ·CE − Ĥ_weights − r·β·Ĥ_function, and − r·β_out·Ĥ_outlier when outlier probes are given) for the step's nets
    θ (B, D) (all of them, on every rank); r is the warm-up's factor (1 without one).

    `ce` may carry a gradient (one process) or be a gathered number (torchrun,
    whose CE gradient is taken per shard); either way the entropy terms here
    are differentiable w.r.t. θ. `probes` are needed when a term uses them, except on a step that computes no
    function-space term (`function_space` False, `function_every`)."""
    step = StepNets(config, target, theta, method, probes, outliers, queue, repulsion)
    terms = terms_of(config, outliers is not None, function_space)
    values = [term.entropy(step) for term in terms]  # in the terms' order (the weight term gauge-fixes first)
    loss = ce_weight(config, lam) * ce
    for term, value in zip(terms, values):
        loss = loss - term.weight(step) * value
    by_key = {term.key(): value for term, value in zip(terms, values)}
    zero = theta.new_zeros((), dtype=torch.float32)
    builtin = ("entropy", "entropy_function", "entropy_outlier")
    return Objective(loss, ce, lam, by_key.get("entropy", zero), by_key.get("entropy_function", zero), step.fixed,
                     by_key.get("entropy_outlier"), repulsion if config.repulsion_warmup else None,
                     {key: value for key, value in by_key.items() if key not in builtin})
