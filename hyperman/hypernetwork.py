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

from .config.choices import NORMS
from .targets import Target
from .errors import ConfigError

LEAK = 0.05


# A mixture latent (train.latent_components = K > 1) shifts each latent along the axis of its component k by this
# much: 4 = twice the uniform's width, so the K components never overlap and a latent's component is the argmax of
# its first K coordinates; 8 standard deviations for the normal (a wrong argmax has probability ~K·1e-8).
MIXTURE_SHIFT = {"uniform": 4.0, "normal": 8.0}


def _mlp(sizes: list[int], norm: str) -> nn.Sequential:
    """Linear → LeakyReLU(0.05) → normalisation on every hidden layer; a plain linear last layer.

    `batch` is the paper's BatchNorm. Its catch: G is trained on batch
    statistics of the step's B nets but sampled with running statistics, and
    a rare latent whose features are extreme for the population (damped
    within its training batch, not at sampling time) yields a net several
    points worse than the rest. `layer` (LayerNorm) normalises every sample
    on its own, so G(z) is the same function in training and sampling."""
    if norm not in NORMS:
        raise ConfigError(f"unknown normalisation {norm!r}; use one of {', '.join(NORMS)}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(LEAK))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(b))
            elif norm == "layer":
                layers.append(nn.LayerNorm(b))
    return nn.Sequential(*layers)


def generator_width(code_dim: int, out_size: int) -> int:
    return int(min(100, max(40, math.ceil(1.5 * math.sqrt(code_dim * out_size) / 10) * 10)))


class ScaledLinear(nn.Linear):
    """The generator's last layer: y = gain · (W h + b) with W ~ N(0, 1), an "equalised learning rate".

    Why: with Adam every entry of W moves by about lr per step, so a plain
    last layer of width k moves each generated weight by about lr · Σ|h| ≈
    0.8 · k · lr — for k = 100 and lr = 3e-4 half the std of a conv2 weight per
    step, which kills the ReLUs of the target within a few dozen steps. With the
    constant gain = std/√k in the forward pass, W has unit scale, the generated
    weights start with std `std` (He: √(2/fan_in)), and one Adam step moves
    them by ≈ 0.8 · √k · lr · std: a small relative change, as when training
    the target directly. The bias gets the same gain: it is shared by every
    unit and every net, so its gradient is coherent, and unscaled it shifts all
    of a layer's weights together by lr per step (the mean of 800 conv2 inputs
    drifts and the layer's ReLUs die)."""

    def __init__(self, in_features: int, out_features: int, std: float):
        super().__init__(in_features, out_features)
        self.gain = std / math.sqrt(in_features)
        nn.init.normal_(self.weight, 0.0, 1.0)
        nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(x, self.weight * self.gain, self.bias * self.gain)


class HyperNetwork(nn.Module):
    def __init__(self, target: Target, latent_dim: int = 300, code_dim: int = 15,
                 extractor_width: int | None = None, norm: str = "batch", latent_components: int = 1):
        super().__init__()
        if not 1 <= latent_components <= latent_dim:
            raise ConfigError(f"latent_components is {latent_components}; it must lie in 1 … latent_dim "
                              f"({latent_dim}): each component owns one latent axis")
        self.target = target
        self.latent_dim = latent_dim
        self.latent_components = latent_components
        self.code_dim = code_dim
        # Units that get a code each; the output layer gets one code for the whole layer.
        self.codes_per_layer = [layer.units for layer in target.hidden_layers] + [1]
        out_sizes = [layer.row for layer in target.hidden_layers] + [target.layers[-1].size]
        width = extractor_width or latent_dim
        self.extractor = _mlp([latent_dim, width, width, code_dim * sum(self.codes_per_layer)], norm)
        self.generators = nn.ModuleList(
            _mlp([code_dim, generator_width(code_dim, n), generator_width(code_dim, n), n], norm)
            for n in out_sizes)
        for generator, layer in zip(self.generators, target.layers):
            last = generator[-1]
            generator[-1] = ScaledLinear(last.in_features, last.out_features, math.sqrt(2.0 / layer.fan_in))

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
        return sample_latents(count, self.latent_dim, distribution, generator, device, self.latent_components)


def sample_latents(count: int, dim: int, distribution: str = "uniform",
                   generator: torch.Generator | None = None, device=None, components: int = 1) -> torch.Tensor:
    """z ~ U[−1, 1]^dim (the paper) or N(0, I); with `components` K > 1 a mixture of K separated copies of it.

    Why a mixture: a deep ensemble is diverse because its members sit in different basins, while every net one
    G draws from a single connected latent region lies in one basin (the paths show it). With K components,
    each a copy of the base distribution shifted by MIXTURE_SHIFT along its own axis (the component drawn
    uniformly), G can map each component to a different basin without having to cross the barrier between
    them along a path in its latent space. K = 1 draws exactly what it drew before (no extra random numbers)."""
    if distribution == "uniform":
        z = torch.rand(count, dim, generator=generator) * 2 - 1
    elif distribution == "normal":
        z = torch.randn(count, dim, generator=generator)
    else:
        raise ConfigError(f"unknown latent distribution {distribution!r}; use 'uniform' or 'normal'")
    if components > 1:
        which = torch.randint(components, (count,), generator=generator)
        z[torch.arange(count), which] += MIXTURE_SHIFT[distribution]
    return z.to(device) if device is not None else z


def latent_components_of(z: torch.Tensor, components: int) -> torch.Tensor:
    """The mixture component of every latent (K = 1: all 0): the argmax of its first K coordinates."""
    if components <= 1:
        return torch.zeros(len(z), dtype=torch.long)
    return z[:, :components].argmax(1).cpu()


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
