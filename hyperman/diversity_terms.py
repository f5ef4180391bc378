"""The diversity terms of the loss, one small class each, in a registry: loss = λ·CE − Σ_t w_t·Ĥ_t.

A term says what it measures on the step's nets (`entropy`, differentiable w.r.t. θ) and how much it weighs
(`weight`); `train.diversity` lists the terms by name (the old modes: weights | function | both | none, map to
lists). hyperman.objective sums them; the training loop, the torchrun path and the benchmarks never name a term.
Built in: `weights` (Ĥ of the gauge-fixed weights, the paper's term), `function` (Ĥ of the nets' outputs on
data-like probes, weight β) and `outlier` (the same on label-destroying probes, weight β_out; on whenever
`outlier_probes` > 0). A new term: subclass `Term`, give it a `name`, and `register` it (README, "Extending").

The built-in terms read their settings from TrainConfig's flat fields (their flags and params keys predate the
registry); a new term may carry its own as dataclass fields with defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from .config.choices import LAYER_PROFILES, diversity_label, diversity_terms
from .device import autocast
from .entropy import kernel_entropy, kl_entropy
from .symmetry import gauge_fix
from .targets import Target


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


@dataclass
class StepNets:
    """What a term may look at in one step: the nets θ (B, D) (all of them, on every rank), the shared probe
    inputs, the neighbour queue, and the warm-up's factor r of the function-space terms."""

    config: Any
    target: Target
    theta: torch.Tensor
    method: str = "loop"
    probes: torch.Tensor | None = None
    outliers: torch.Tensor | None = None
    queue: Any = None  # hyperman.objective.NeighbourQueue
    repulsion: float = 1.0
    fixed: torch.Tensor | None = None  # the gauge-fixed nets, once a term has fixed them (the queue keeps them)


class Term:
    """One diversity term: `weight(step) · entropy(step)` is subtracted from the loss."""

    name: ClassVar[str]  # its name in `train.diversity`
    log_key: ClassVar[str | None] = None  # its train_log.jsonl key (None: "entropy_<name>")
    needs_probes: ClassVar[bool] = False  # the step must draw the data-like probes (hyperman.objective.draw_probes)
    listed: ClassVar[bool] = True  # `diversity` may name it (the outlier term follows `outlier_probes` instead)

    @classmethod
    def from_config(cls, config) -> "Term":
        """The term for a run's config (a term with settings of its own: its defaults)."""
        return cls()

    def weight(self, step: StepNets) -> float:
        return 1.0

    def entropy(self, step: StepNets) -> torch.Tensor:
        raise NotImplementedError

    @classmethod
    def key(cls) -> str:
        return cls.log_key or f"entropy_{cls.name}"


TERMS: dict[str, type[Term]] = {}


def listed() -> tuple[str, ...]:
    """The names `diversity` may give: the registered terms but the outlier term."""
    return tuple(name for name, cls in TERMS.items() if cls.listed)


def register(cls: type[Term]) -> type[Term]:
    """Add a term to the registry under its `name` (a class decorator); a name is taken once."""
    if cls.name in TERMS and TERMS[cls.name] is not cls:
        raise ValueError(f"a diversity term named {cls.name!r} is registered already ({TERMS[cls.name].__name__})")
    TERMS[cls.name] = cls
    return cls


@register
class WeightsTerm(Term):
    """Ĥ_weights of the gauge-fixed nets (joint or per layer; with the queue's nets as extra neighbours)."""

    name, log_key = "weights", "entropy"

    def entropy(self, step: StepNets) -> torch.Tensor:
        step.fixed = gauge_fix(step.target, step.theta)
        reference = None if step.queue is None else step.queue.reference()
        return weight_entropy(step.config, step.target, step.fixed, reference)


@register
class FunctionTerm(Term):
    """Ĥ_function on the data-like probes, weight r·β."""

    name, log_key, needs_probes = "function", "entropy_function", True
    weight_setting: ClassVar[str] = "function_weight"  # the TrainConfig field that is its weight (times r)
    inputs: ClassVar[str] = "probes"  # the StepNets field that holds its probe images

    def weight(self, step: StepNets) -> float:
        return getattr(step.config, self.weight_setting) * step.repulsion

    def entropy(self, step: StepNets) -> torch.Tensor:
        probes = getattr(step, self.inputs)
        if probes is None:
            raise ValueError(f"--diversity {diversity_label(step.config.diversity)} needs probe inputs; draw them "
                             "with draw_probes")
        return function_entropy(step.config, step.target, step.theta, probes, step.method)


@register
class OutlierTerm(FunctionTerm):
    """The same estimate on the label-destroying outlier probes, weight r·β_out (on when `outlier_probes` > 0)."""

    name, log_key, listed, needs_probes = "outlier", "entropy_outlier", False, False
    weight_setting, inputs = "outlier_weight", "outliers"


def terms_of(config, outliers: bool | None = None, function_space: bool = True) -> list[Term]:
    """The run's terms, in the order they enter the loss: `diversity`'s, then the outlier term when the step
    has outlier probes (`outliers`; default: when `outlier_probes` > 0); without the terms that need probes on a
    step that computes no function-space term (`function_space` False: `function_every`). KeyError for an
    unregistered name."""
    names = diversity_terms(config.diversity)
    if (config.outlier_probes > 0 if outliers is None else outliers) and "outlier" not in names:
        names.append("outlier")
    terms = [TERMS[name].from_config(config) for name in names]
    return terms if function_space else [t for t in terms if not (t.needs_probes or t.name == "outlier")]
