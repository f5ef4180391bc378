"""Kozachenko–Leonenko nearest-neighbour entropy estimate.

For N samples in a d-dimensional space, with ρ_i the distance from sample i to
its nearest neighbour (k = 1) under an Lp norm,

    Ĥ = d · mean_i log ρ_i + log V_d + ψ(N) − ψ(1),

where V_d is the volume of the unit ball of that norm (L2: π^{d/2}/Γ(d/2+1),
L1: 2^d/d!). The hypernetwork's samples live on a manifold of dimension at
most dim(z), so training uses d = dim(z); only the first term has a gradient.

Optional *reference* samples (e.g. a queue of detached samples of recent
steps) are extra neighbours: ρ_i is then the distance to the nearest other
sample or reference, and N counts both. They give the estimate more
neighbours than one step's batch holds, without a gradient through them.
"""

from __future__ import annotations

import math

import torch

from .errors import ConfigError

EULER_GAMMA = 0.5772156649015329


def log_unit_ball_volume(d: int, distance: str) -> float:
    if distance == "l2":
        return (d / 2) * math.log(math.pi) - math.lgamma(d / 2 + 1)
    if distance == "l1":
        return d * math.log(2.0) - math.lgamma(d + 1)
    raise ConfigError(f"unknown distance {distance!r}; use 'l1' or 'l2'")


def nearest_neighbour_distances(x: torch.Tensor, distance: str = "l1",
                                reference: torch.Tensor | None = None) -> torch.Tensor:
    """Distance from every row of x (N, D) to its nearest other row (or row of `reference` (R, D))."""
    p = {"l1": 1.0, "l2": 2.0}.get(distance)
    if p is None:
        raise ConfigError(f"unknown distance {distance!r}; use 'l1' or 'l2'")
    dist = torch.cdist(x, x, p=p)
    eye = torch.eye(x.shape[0], dtype=torch.bool, device=x.device)
    nearest = dist.masked_fill(eye, float("inf")).min(dim=1).values
    if reference is not None and len(reference):
        nearest = torch.minimum(nearest, torch.cdist(x, reference.to(x), p=p).min(dim=1).values)
    return nearest


def kl_entropy(x: torch.Tensor, dim: int | None = None, distance: str = "l1", eps: float = 1e-8,
               reference: torch.Tensor | None = None) -> torch.Tensor:
    """Full Kozachenko–Leonenko estimate (constants included) of the entropy of samples x (N, D),
    with the rows of `reference` (detached) as extra neighbours when given."""
    n = x.shape[0] + (0 if reference is None else len(reference))
    if x.shape[0] < 2:
        raise ValueError("the nearest-neighbour entropy needs at least 2 samples")
    d = x.shape[1] if dim is None else dim
    rho = nearest_neighbour_distances(x.float(), distance,
                                      None if reference is None else reference.detach().float())
    digamma_n = torch.special.digamma(torch.tensor(float(n))).item()
    return d * torch.log(rho + eps).mean() + log_unit_ball_volume(d, distance) + digamma_n + EULER_GAMMA


def kernel_entropy(x: torch.Tensor) -> torch.Tensor:
    """Kernel-density entropy of samples x (N, D): −mean_i log mean_j k(x_i, x_j) with an RBF kernel
    k = exp(−‖x_i − x_j‖² / h) and the median heuristic h = median_{i<j} ‖x_i − x_j‖² / log N (detached),
    constants dropped (D'Angelo & Fortuin 2021, repulsive deep ensembles in function space).

    Why next to the nearest-neighbour estimate: its gradient is a kernel-weighted sum over all other samples,
    smooth and bounded by about 2·max‖x_i − x_j‖/h, where the nearest-neighbour estimate's grows like
    1/ρ at a near-duplicate; at an exact duplicate both are finite (this one is 0 from that pair, and the
    squared distances are formed explicitly, so there is no NaN from a norm's gradient at 0)."""
    n = x.shape[0]
    if n < 2:
        raise ValueError("the kernel entropy needs at least 2 samples")
    x = x.float()
    squared = (x[:, None, :] - x[None, :, :]).pow(2).sum(-1)
    pairs = squared[torch.triu_indices(n, n, 1, device=x.device).unbind()]
    bandwidth = (pairs.detach().median() / math.log(n)).clamp_min(1e-12)
    return -(torch.logsumexp(-squared / bandwidth, dim=1) - math.log(n)).mean()
