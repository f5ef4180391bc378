"""The hypernetwork G: z → θ, with weight generators shared across the units of a layer.

Architecture (Deutsch et al.): an extractor MLP maps z to one small code per
hidden unit of the target plus one code for the whole output layer; one
generator per target layer, *shared by all units of that layer*, maps a unit's
code to that unit's incoming weights and bias. Sharing is what keeps G small:
for mnist_cnn a per-unit conv2 generator emits 801 numbers from a 15-dim code,
instead of one giant layer emitting all 12,816.

Sizes are derived from the target's layer shapes (code size 15, generator
width ceil10(1.5·√(code·out)) clipped to [40, 100]); for mnist_cnn this gives
exactly the paper's 40/100/100/60.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .targets import Target

LEAK = 0.05


def _mlp(sizes: list[int], batch_norm: bool) -> nn.Sequential:
    """Linear → LeakyReLU(0.05) → BatchNorm on every hidden layer; a plain linear last layer."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(LEAK))
            if batch_norm:
                layers.append(nn.BatchNorm1d(b))
    return nn.Sequential(*layers)


def generator_width(code_dim: int, out_size: int) -> int:
    return int(min(100, max(40, math.ceil(1.5 * math.sqrt(code_dim * out_size) / 10) * 10)))


def _init_like_target_layer(last: nn.Linear, fan_in: int) -> None:
    """Start G where ordinary training starts: generated weights with He-like std √(2/fan_in).

    The generator's hidden features are batch-normalised (unit variance), so
    a last layer with weight std σ/√width emits weights of std σ. Torch's default
    init would emit O(0.5) weights whatever the fan-in, and a 800-input conv
    layer then explodes the logits (CE in the tens at step 0)."""
    std = math.sqrt(2.0 / fan_in)
    nn.init.normal_(last.weight, 0.0, std / math.sqrt(last.in_features))
    nn.init.zeros_(last.bias)


class HyperNetwork(nn.Module):
    def __init__(self, target: Target, latent_dim: int = 300, code_dim: int = 15,
                 extractor_width: int | None = None, batch_norm: bool = True):
        super().__init__()
        self.target = target
        self.latent_dim = latent_dim
        self.code_dim = code_dim
        # Units that get a code each; the output layer gets one code for the whole layer.
        self.codes_per_layer = [layer.units for layer in target.hidden_layers] + [1]
        out_sizes = [layer.row for layer in target.hidden_layers] + [target.layers[-1].size]
        width = extractor_width or latent_dim
        self.extractor = _mlp([latent_dim, width, width, code_dim * sum(self.codes_per_layer)], batch_norm)
        self.generators = nn.ModuleList(
            _mlp([code_dim, generator_width(code_dim, n), generator_width(code_dim, n), n], batch_norm)
            for n in out_sizes)
        fan_ins = [layer.fan_in for layer in target.layers]
        for generator, fan_in in zip(self.generators, fan_ins):
            _init_like_target_layer(generator[-1], fan_in)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Weights θ (P, D) of P target nets from latents z (P, latent_dim)."""
        P = z.shape[0]
        codes = self.extractor(z).reshape(P, -1, self.code_dim)
        pieces, start = [], 0
        for count, generator in zip(self.codes_per_layer, self.generators):
            layer_codes = codes[:, start:start + count].reshape(P * count, self.code_dim)
            pieces.append(generator(layer_codes).reshape(P, -1))
            start += count
        return torch.cat(pieces, dim=1)

    def sample_latents(self, count: int, distribution: str = "uniform",
                       generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        return sample_latents(count, self.latent_dim, distribution, generator, device)


def sample_latents(count: int, dim: int, distribution: str = "uniform",
                   generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """z ~ U[−1, 1]^dim (the paper) or N(0, I)."""
    if distribution == "uniform":
        z = torch.rand(count, dim, generator=generator) * 2 - 1
    elif distribution == "normal":
        z = torch.randn(count, dim, generator=generator)
    else:
        raise ValueError(f"unknown latent distribution {distribution!r}; use 'uniform' or 'normal'")
    return z.to(device) if device is not None else z


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
