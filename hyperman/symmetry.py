"""Function-preserving symmetries of a ReLU target, and the gauge that removes them.

Two weight vectors that compute the same function must not count as diverse,
so the entropy term measures distances after *gauge fixing*:

- scale: ReLU and max-pool commute with a positive factor, so unit k's
  (w_k, b_k) can be divided by s_k if the next layer's weights out of k are
  multiplied by s_k. We pick s_k = RMS of (w_k, b_k), so every hidden unit ends
  with RMS 1. It is done layer by layer, front to back, inside the autograd
  graph: gradients flow through it.
- softmax shift: adding a constant to every output bias changes no
  probability; we subtract the mean of the output biases (the reference code
  subtracted the sum, a slip).

Permutations of hidden units are left alone, as in the paper. The random
transforms below (permutation, positive scaling, bias shift) exist to *test*
that claim: an "ensemble" of transforms of one net must equal that net.
"""

from __future__ import annotations

import torch

from .targets import Target

EPS = 1e-20  # only guards an all-zero unit; larger values bias tiny-norm units


def _scale_inputs(next_rows: torch.Tensor, in_units: int, factor: torch.Tensor) -> torch.Tensor:
    """Multiply the weights of `next_rows` (P, units, fan_in+1) coming out of each
    previous-layer unit k by factor[:, k]. The fan-in is laid out (in_units, spatial)
    for both a convolution (in, kh, kw) and a flattened fc input (C, H*W)."""
    P, units, row = next_rows.shape
    weights = next_rows[..., :-1].reshape(P, units, in_units, -1) * factor[:, None, :, None]
    return torch.cat([weights.reshape(P, units, row - 1), next_rows[..., -1:]], dim=-1)


def gauge_fix(target: Target, theta: torch.Tensor) -> torch.Tensor:
    """Canonical representative of θ's scale/shift orbit. Same outputs, differentiable."""
    rows = target.rows(theta)
    fixed = []
    for i, layer in enumerate(target.hidden_layers):
        r = rows[i]
        scale = torch.sqrt(r.pow(2).mean(dim=-1) + EPS)  # (P, units)
        fixed.append(r / scale.unsqueeze(-1))
        rows[i + 1] = _scale_inputs(rows[i + 1], layer.units, scale)
    out = rows[-1]
    bias = out[..., -1:]
    fixed.append(torch.cat([out[..., :-1], bias - bias.mean(dim=1, keepdim=True)], dim=-1))
    return target.from_rows(fixed)


def permute_units(target: Target, theta: torch.Tensor, perms: list[torch.Tensor]) -> torch.Tensor:
    """Reorder the hidden units of every hidden layer (perms[i] is a permutation of layer i's
    units, shared by all P nets); the next layer's inputs are reordered to match."""
    rows = target.rows(theta)
    for i, layer in enumerate(target.hidden_layers):
        perm = perms[i]
        rows[i] = rows[i][:, perm]
        nxt = rows[i + 1]
        P, units, row = nxt.shape
        weights = nxt[..., :-1].reshape(P, units, layer.units, -1)[:, :, perm]
        rows[i + 1] = torch.cat([weights.reshape(P, units, row - 1), nxt[..., -1:]], dim=-1)
    return target.from_rows(rows)


def scale_units(target: Target, theta: torch.Tensor, factors: list[torch.Tensor]) -> torch.Tensor:
    """Multiply each hidden unit's (w, b) by factors[i] (P, units) > 0 and divide its outgoing weights."""
    rows = target.rows(theta)
    for i, layer in enumerate(target.hidden_layers):
        rows[i] = rows[i] * factors[i].unsqueeze(-1)
        rows[i + 1] = _scale_inputs(rows[i + 1], layer.units, 1.0 / factors[i])
    return target.from_rows(rows)


def shift_output_bias(target: Target, theta: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Add shift (P,) to every output bias: softmax probabilities do not change."""
    rows = target.rows(theta)
    out = rows[-1]
    rows[-1] = torch.cat([out[..., :-1], out[..., -1:] + shift[:, None, None]], dim=-1)
    return target.from_rows(rows)


def random_symmetry(target: Target, theta: torch.Tensor, count: int,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """`count` random function-preserving transforms of ONE net θ (D,) → (count, D).

    Each copy gets its own permutation of every hidden layer, log-uniform
    per-unit scales in [1/4, 4] and an output-bias shift in [−2, 2]."""
    copies = []
    for _ in range(count):
        t = theta.unsqueeze(0)
        perms = [torch.randperm(layer.units, generator=generator) for layer in target.hidden_layers]
        factors = [torch.exp((torch.rand(1, layer.units, generator=generator) * 2 - 1) * 1.386)
                   for layer in target.hidden_layers]
        t = permute_units(target, t, perms)
        t = scale_units(target, t, [f.to(t) for f in factors])
        t = shift_output_bias(target, t, (torch.rand(1, generator=generator) * 4 - 2).to(t))
        copies.append(t)
    return torch.cat(copies)
