"""Functional target classifiers: one flat weight vector θ per net, many nets at once.

A hypernetwork emits θ as one flat vector, so the target is described only by
its layer shapes and evaluated functionally. The flat layout is *unit-major*:
for each layer, unit k's incoming weights followed by its bias, i.e. a
``(units, fan_in + 1)`` matrix per layer. That is exactly what a per-unit
weight generator emits and what per-unit gauge fixing works on, so neither has
to shuffle memory.

Three batched forwards, none of which builds an ``nn.Module`` per net:
``loop`` (one functional call per net), ``channels_last`` (the same loop in
NHWC memory format, which oneDNN runs 1.5-2x faster on the CPU, backward
included: the CPU's choice for training and evaluation) and ``grouped`` (all
nets in one grouped convolution; the choice on a GPU, where launch overhead
dominates). benchmarks/run.py measures them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config.choices import FORWARD_METHODS
from .errors import ConfigError
from .target_spec import REGISTRY, TargetSpec, parse


@dataclass(frozen=True)
class Layer:
    """One layer: a SAME-padded convolution or a fully connected layer.

    `pool` is the max-pool factor applied after the ReLU (1 = none); the last
    layer of a target has no ReLU and produces the logits."""

    kind: str  # "conv" or "linear"
    in_units: int
    units: int
    kernel: int = 1
    pool: int = 1

    @property
    def fan_in(self) -> int:
        return self.in_units * self.kernel * self.kernel

    @property
    def row(self) -> int:
        """Parameters per unit: incoming weights and bias."""
        return self.fan_in + 1

    @property
    def size(self) -> int:
        return self.units * self.row


@dataclass(frozen=True)
class Target:
    """A plain ReLU classifier as its layers; built from a spec (`build`). `name` is a registered name or the
    spec's compact text: enough for `get_target` to rebuild it, so checkpoints store only that."""

    name: str
    input_shape: tuple[int, int, int]
    layers: tuple[Layer, ...]

    @property
    def num_params(self) -> int:
        return sum(layer.size for layer in self.layers)

    @property
    def num_classes(self) -> int:
        return self.layers[-1].units

    @property
    def hidden_layers(self) -> tuple[Layer, ...]:
        return self.layers[:-1]

    def offsets(self) -> list[tuple[int, int]]:
        out, start = [], 0
        for layer in self.layers:
            out.append((start, start + layer.size))
            start += layer.size
        return out

    def rows(self, theta: torch.Tensor) -> list[torch.Tensor]:
        """Views of θ (P, D) as one (P, units, fan_in + 1) matrix per layer."""
        return [theta[:, a:b].reshape(theta.shape[0], layer.units, layer.row)
                for layer, (a, b) in zip(self.layers, self.offsets())]

    def from_rows(self, rows: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([r.reshape(r.shape[0], -1) for r in rows], dim=1)

    def layer_flops(self) -> list[int]:
        """Multiply-adds × 2 of one image through each layer, forward (convolutions at full resolution);
        hyperman.compute builds every training and inference cost from these."""
        _, h, w = self.input_shape
        out = []
        for layer in self.layers:
            if layer.kind == "conv":
                out.append(2 * h * w * layer.units * layer.fan_in)
                h, w = h // layer.pool, w // layer.pool
            else:
                out.append(2 * layer.units * layer.fan_in)
        return out

    def flops_per_image(self) -> int:
        """Multiply-adds × 2 of one forward pass on one image."""
        return sum(self.layer_flops())

    # ----------------------------------------------------------------- initialisation
    def init(self, num_nets: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """PyTorch's default Conv2d/Linear initialisation: U(±1/√fan_in) for weights and biases."""
        rows = []
        for layer in self.layers:
            bound = 1.0 / math.sqrt(layer.fan_in)
            rows.append((torch.rand(num_nets, layer.units, layer.row, generator=generator) * 2 - 1) * bound)
        return self.from_rows(rows)

    # ----------------------------------------------------------------- forward passes
    def forward(self, theta: torch.Tensor, x: torch.Tensor, method: str = "loop") -> torch.Tensor:
        """Logits (P, N, classes) of P nets θ (P, D).

        `x` is either one shared batch (N, C, H, W) that every net sees, or one
        batch per net (P, N, C, H, W)."""
        if method in ("loop", "channels_last"):
            return self._forward_loop(theta, x, channels_last=method == "channels_last")
        if method == "grouped":
            return self._forward_grouped(theta, x)
        raise ConfigError(f"unknown forward method {method!r}; use 'loop', 'channels_last' or 'grouped'")

    def _forward_one(self, rows: list[torch.Tensor], x: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
        h = x.contiguous(memory_format=torch.channels_last) if channels_last else x
        last = len(self.layers) - 1
        for i, (layer, r) in enumerate(zip(self.layers, rows)):
            weight, bias = r[:, :-1], r[:, -1]
            if layer.kind == "conv":
                weight = weight.reshape(layer.units, layer.in_units, layer.kernel, layer.kernel)
                if channels_last:
                    weight = weight.contiguous(memory_format=torch.channels_last)
                h = F.conv2d(h, weight, bias, padding=layer.kernel // 2)
            else:
                h = F.linear(h.flatten(1), weight, bias)  # flatten restores (C, H, W) order from NHWC
            if i < last:
                # pool before ReLU: they commute, and the ReLU then touches 4x fewer values
                if layer.pool > 1:
                    h = F.max_pool2d(h, layer.pool)
                h = F.relu(h)
        return h

    def _forward_loop(self, theta: torch.Tensor, x: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
        rows = self.rows(theta)
        shared = x.dim() == 4
        return torch.stack([self._forward_one([r[p] for r in rows], x if shared else x[p], channels_last)
                            for p in range(theta.shape[0])])

    def _forward_grouped(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """All nets at once: channels of net p live in group p of one grouped convolution."""
        P = theta.shape[0]
        rows = self.rows(theta)
        if x.dim() == 4:  # shared images: the first layer needs no grouping at all
            N = x.shape[0]
            h = x
            groups_in = 1
        else:
            N = x.shape[1]
            h = x.transpose(0, 1).reshape(N, P * x.shape[2], *x.shape[3:])
            groups_in = P
        last = len(self.layers) - 1
        for i, (layer, r) in enumerate(zip(self.layers, rows)):
            weight, bias = r[..., :-1], r[..., -1]
            if layer.kind == "conv":
                weight = weight.reshape(P * layer.units, layer.in_units, layer.kernel, layer.kernel)
                h = F.conv2d(h, weight, bias.reshape(-1), padding=layer.kernel // 2,
                             groups=P if (i > 0 or groups_in == P) else 1)
            else:
                # (N, P*C, H, W) or (N, P*F) → (P, N, fan_in) and one batched matmul
                h = h.reshape(N, P, -1).transpose(0, 1)
                h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
                h = h.transpose(0, 1).reshape(N, -1)
            if i < last:
                h = F.relu(h)
                if layer.pool > 1:
                    h = F.max_pool2d(h, layer.pool)
        return h.reshape(N, P, -1).transpose(0, 1)


def build(name: str, spec: TargetSpec, classes: int = 10) -> Target:
    """The Target of a spec: its convolutions (SAME, ReLU, max-pool), its dense layers, then one output unit
    per class (the classes follow from the dataset; every dataset here has 10)."""
    channels, height, width = spec.input
    layers, in_units = [], channels
    for conv in spec.conv:
        layers.append(Layer("conv", in_units, conv.units, conv.kernel, pool=conv.pool))
        in_units, height, width = conv.units, height // conv.pool, width // conv.pool
    features = in_units * height * width
    for units in [dense.units for dense in spec.dense] + [classes]:
        layers.append(Layer("linear", features, units))
        features = units
    return Target(name, spec.input, tuple(layers))


# Every registered target, built from its spec (hyperman.target_spec.REGISTRY says what each one is).
TARGETS: dict[str, Target] = {name: build(name, spec) for name, spec in REGISTRY.items()}




def resolve_forward(name: str, device: torch.device | str) -> str:
    """`auto`: grouped convolutions on a GPU; on the CPU a loop over the nets in NHWC layout, which
    oneDNN runs 1.5-2x faster than NCHW for these small convolutions, backward included (its
    NCHW max-pool alone took a fifth of a training step; benchmarks/run.py times both)."""
    if name not in FORWARD_METHODS:
        raise ConfigError(f"unknown forward method {name!r}; use one of {', '.join(FORWARD_METHODS)}")
    if name == "auto":
        return "grouped" if torch.device(device).type == "cuda" else "channels_last"
    return name


def get_target(value: str | Mapping) -> Target:
    """The target of a registered name or a spec (hyperman.target_spec: compact text, JSON or a params.yaml
    mapping); a `TargetSpecError` (one line, exit 2) says what is wrong with a bad one."""
    if isinstance(value, str) and value in TARGETS:
        return TARGETS[value]
    name, spec = parse(value)
    return TARGETS.get(name) or build(name, spec)
