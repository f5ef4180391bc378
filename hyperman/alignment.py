"""Controls that can fail: weight matching (Git Re-Basin) and random directions of the same size.

The symmetry control (an ensemble of transforms of one net) gains 0 by
construction, so it says nothing about the hypernetwork. These two controls
can come out either way:

- **Alignment.** Permuting hidden units changes the weights but not the
  function, so weight distances between nets whose units are not aligned
  overstate their difference. `align` permutes a net's hidden units to match
  a reference by weight matching (Ainsworth et al. 2023, "Git Re-Basin",
  Alg. 1): for each hidden layer the permutation maximising the summed inner
  products of the incoming rows and outgoing columns with the reference's is
  a linear assignment problem (Hungarian method, scipy), solved layer by layer
  in random order until no permutation changes. Diversity made of
  permutations vanishes after alignment; real diversity leaves a residual
  distance, and the nets still disagree on predictions (alignment never
  changes a function, so their disagreement is the same before and after).
- **Random directions.** A net's difference to its nearest generated
  neighbour is set against random Gaussian directions with the same per-layer
  L1 size. If the neighbour changes far fewer predictions than the random
  directions, the generator spends its diversity in flat directions.

Distances are L1 sums over the flat θ after gauge fixing by default (unit
RMS per hidden unit, centred output biases; hyperman.symmetry), like the
nearest-neighbour distances of the entropy term and of `diversity`, so that
rescaling a unit does not count as a difference either. Gauge fixing commutes
with permutations, so matching gauge-fixed nets and applying the permutation
to the raw θ is consistent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .symmetry import gauge_fix, permute_units
from .targets import Target

if TYPE_CHECKING:
    from .forward import Forward


@dataclass
class Alignment:
    """One net matched to a reference: its permuted θ (same function) and the distances it gained."""

    theta: torch.Tensor  # (D,) the net with its hidden units permuted to match the reference
    perms: list[torch.Tensor]  # perms[i][k] = the unit of hidden layer i that now sits in slot k
    distance_before: float  # L1 to the reference before alignment
    distance_after: float  # L1 to the reference after alignment (≤ before, up to matching's local optimum)
    passes: int  # passes of coordinate descent over the layers until nothing changed


def _inputs(rows: torch.Tensor, in_units: int) -> torch.Tensor:
    """Weights of rows (units, fan_in + 1) as (units, in_units, spatial): the layout of the fan-in."""
    return rows[:, :-1].reshape(rows.shape[0], in_units, -1)


def _similarity(target: Target, ref: list[torch.Tensor], net: list[torch.Tensor], perms: list[torch.Tensor],
                i: int) -> torch.Tensor:
    """S[a, b] = how well the net's unit b fits the reference's unit a in hidden layer i, with the other
    layers permuted by `perms`: the inner product of the incoming rows (weights + bias, inputs permuted
    by layer i−1) plus that of the outgoing weights (next layer's units permuted by layer i+1)."""
    layers = target.layers
    incoming = net[i]
    if i > 0:
        w = _inputs(incoming, layers[i - 1].units)[:, perms[i - 1]]
        incoming = torch.cat([w.reshape(w.shape[0], -1), incoming[:, -1:]], dim=1)
    similarity = ref[i] @ incoming.T
    outgoing = net[i + 1][perms[i + 1]] if i + 1 < len(perms) else net[i + 1]
    ref_out, net_out = _inputs(ref[i + 1], layers[i].units), _inputs(outgoing, layers[i].units)
    return similarity + torch.einsum("oas,obs->ab", ref_out, net_out)


def weight_matching(target: Target, reference: torch.Tensor, theta: torch.Tensor, max_passes: int = 100,
                    seed: int = 0) -> tuple[list[torch.Tensor], int]:
    """Permutations of θ's hidden units (one per hidden layer) that match the reference (both (D,)).

    Coordinate descent: each step solves one layer's assignment exactly with
    the others fixed, so the objective never decreases; it stops after a pass
    in which no permutation changed (or after `max_passes`)."""
    if reference.shape != (target.num_params,) or theta.shape != (target.num_params,):
        raise ValueError(f"weight matching needs two flat θ of {target.num_params} weights ({target.name}), got "
                         f"{tuple(reference.shape)} and {tuple(theta.shape)}")
    ref = [r[0] for r in target.rows(reference.detach().double().cpu()[None])]
    net = [r[0] for r in target.rows(theta.detach().double().cpu()[None])]
    perms = [torch.arange(layer.units) for layer in target.hidden_layers]
    order, rng = list(range(len(perms))), random.Random(seed)
    from scipy.optimize import linear_sum_assignment  # here: scipy's import costs a second for every stage

    for passes in range(1, max_passes + 1):
        rng.shuffle(order)
        changed = False
        for i in order:
            _, columns = linear_sum_assignment(_similarity(target, ref, net, perms, i).numpy(), maximize=True)
            new = torch.as_tensor(columns, dtype=torch.long)
            changed |= not torch.equal(new, perms[i])
            perms[i] = new
        if not changed:
            return perms, passes
    return perms, max_passes


def l1_distance(target: Target, a: torch.Tensor, b: torch.Tensor, gauge: bool = True) -> torch.Tensor:
    """L1 distance between nets a and b (both (D,) or (P, D), broadcast), after gauge fixing by default."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    if gauge:
        a, b = gauge_fix(target, a.reshape(-1, a.shape[-1])), gauge_fix(target, b.reshape(-1, b.shape[-1]))
    return (a - b).abs().sum(-1)


def align(target: Target, reference: torch.Tensor, theta: torch.Tensor, gauge: bool = True,
          match_in_gauge: bool | None = None, max_passes: int = 100, seed: int = 0) -> Alignment:
    """Permute θ's hidden units to match the reference (Git Re-Basin weight matching); same function.

    `gauge`: both distances use gauge-fixed weights (scale and output-shift
    symmetries removed too). `match_in_gauge` (default: the same as `gauge`):
    the matching also compares gauge-fixed weights, which makes it blind to
    each unit's scale (generated nets may rescale units freely); False matches
    raw weights, as Ainsworth et al. do. The returned θ is the raw θ permuted,
    so it computes exactly what θ computes."""
    match_in_gauge = gauge if match_in_gauge is None else match_in_gauge
    ref_match, theta_match = reference.detach().double().cpu(), theta.detach().double().cpu()
    if match_in_gauge:
        ref_match, theta_match = gauge_fix(target, torch.stack([ref_match, theta_match]))
    perms, passes = weight_matching(target, ref_match, theta_match, max_passes, seed)
    aligned = permute_units(target, theta.detach()[None], [p.to(theta.device) for p in perms])[0]
    return Alignment(aligned, perms, float(l1_distance(target, reference, theta, gauge)),
                     float(l1_distance(target, reference, aligned, gauge)), passes)


def align_for_path(target: Target, theta_a: torch.Tensor, theta_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two ends of a direct path between independently trained nets, b's units matched to a's.

    Without this, the straight line joins units that do different jobs and a
    permutation mismatch looks like a loss barrier. Matching uses raw weights
    (Ainsworth et al.): on two independently trained MNIST nets (10k images,
    2 epochs, 87-88 % test accuracy) the midpoint of the raw straight line rose
    from 39 % (unaligned) to 59 % (raw matching), against 40 % with matching
    of gauge-fixed weights. Returns (θ_a, permuted θ_b), raw weights."""
    return theta_a, align(target, theta_a, theta_b, gauge=True, match_in_gauge=False).theta


def _disagreement(predictions: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Fraction of images (last axis) on which each row of predictions differs from the reference."""
    return (predictions != reference).double().mean(-1)


def alignment_control(target: Target, reference: torch.Tensor, thetas: torch.Tensor, predictions: torch.Tensor,
                      reference_predictions: torch.Tensor, gauge: bool = True) -> dict:
    """Align every net of thetas (P, D) to the reference (D,); residual distances and disagreement.

    `predictions` (P, T) and `reference_predictions` (T,) are the arg-max
    classes on the same images (reuse the evaluation's probabilities: the
    alignment does not change them). Also the nearest-neighbour L1 within the
    set before and after aligning every net to the reference, so that it can
    be compared with another set of the same size aligned the same way."""
    if (thetas.dim() != 2 or predictions.shape[0] != thetas.shape[0]
            or predictions.shape[-1] != len(reference_predictions)):
        raise ValueError(f"alignment_control needs θ (P, D), predictions (P, T) and reference predictions (T,); got "
                         f"{tuple(thetas.shape)}, {tuple(predictions.shape)}, {tuple(reference_predictions.shape)}")
    alignments = [align(target, reference, theta, gauge) for theta in thetas]
    aligned = torch.stack([a.theta for a in alignments])
    before = torch.tensor([a.distance_before for a in alignments], dtype=torch.float64)
    after = torch.tensor([a.distance_after for a in alignments], dtype=torch.float64)
    disagreement = _disagreement(predictions, reference_predictions)
    out = {"nets": int(thetas.shape[0]), "gauge": gauge,
           "distance_before_mean": float(before.mean()), "distance_after_mean": float(after.mean()),
           "residual_fraction": float(after.sum() / before.sum()) if float(before.sum()) > 0 else None,
           "disagreement_mean": float(disagreement.mean()),
           "distance_before": before.tolist(), "distance_after": after.tolist(), "disagreement": disagreement.tolist()}
    if thetas.shape[0] > 1:
        out["nn_l1_before_mean"] = float(_nearest(target, thetas, gauge).mean())
        out["nn_l1_after_mean"] = float(_nearest(target, aligned, gauge).mean())
    return out


def _nearest(target: Target, thetas: torch.Tensor, gauge: bool) -> torch.Tensor:
    flat = thetas.detach().double().cpu()
    flat = gauge_fix(target, flat) if gauge else flat
    dist = torch.cdist(flat, flat, p=1.0).fill_diagonal_(float("inf"))
    return dist.min(dim=1).values


def random_directions(target: Target, delta: torch.Tensor, count: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """`count` Gaussian directions (count, D) with the same L1 size as delta (D,) in every layer."""
    noise = torch.randn(count, delta.shape[-1], generator=generator, dtype=torch.float64)
    out = torch.empty_like(noise)
    for a, b in target.offsets():
        size = delta[a:b].double().abs().sum()
        out[:, a:b] = noise[:, a:b] * (size / noise[:, a:b].abs().sum(-1, keepdim=True))
    return out.to(delta.dtype)


@torch.no_grad()
def random_direction_control(forward: "Forward", thetas: torch.Tensor, x: torch.Tensor, nets: int = 10,
                             directions: int = 4, generator: torch.Generator | None = None,
                             predictions: torch.Tensor | None = None) -> dict:
    """Does the set spend its diversity in directions that change predictions, or in flat ones?

    For each of the first `nets` nets of thetas (P, D): its nearest other net in
    the set (L1 of gauge-fixed θ), and `directions` random directions with the
    same per-layer L1 size as that difference, added to the gauge-fixed net.
    Returns the fraction of images x whose arg-max changes, for the neighbour
    and for the random directions (mean over directions), net by net and on
    average. `predictions` (P, T) reuses the arg-max classes of thetas on x;
    without it they are computed. `forward` is an evaluation.Forward."""
    target = forward.target
    P = thetas.shape[0]
    if thetas.dim() != 2 or P < 2 or nets < 1 or directions < 1:
        raise ValueError(f"the random-direction control needs at least 2 nets θ (P, D), nets >= 1 and "
                         f"directions >= 1; got θ {tuple(thetas.shape)}, nets {nets}, directions {directions}")
    fixed = gauge_fix(target, thetas.detach().double().cpu())
    dist = torch.cdist(fixed, fixed, p=1.0).fill_diagonal_(float("inf"))
    n = min(nets, P)
    nearest = dist[:n].argmin(dim=1)
    deltas = fixed[nearest] - fixed[:n]
    moved = torch.cat([fixed[i] + random_directions(target, deltas[i], directions, generator) for i in range(n)])
    moved_pred = forward.probs(moved.float(), x).argmax(-1).reshape(n, directions, -1)
    if predictions is None:
        predictions = forward.probs(fixed.float(), x).argmax(-1)
    own, neighbour = predictions[:n], predictions[nearest]
    neighbour_changed = _disagreement(neighbour, own)
    random_changed = _disagreement(moved_pred, own[:, None]).mean(dim=1)
    layer_l1 = torch.stack([deltas[:, a:b].abs().sum(-1) for a, b in target.offsets()], dim=1)
    share = (layer_l1 / layer_l1.sum(-1, keepdim=True).clamp_min(1e-300)).mean(0)
    return {"nets": n, "directions": directions, "images": int(x.shape[0]),
            "neighbour_l1_mean": float(dist[:n].min(dim=1).values.mean()),
            "neighbour_changed_mean": float(neighbour_changed.mean()),
            "random_changed_mean": float(random_changed.mean()),
            "random_over_neighbour": (float(random_changed.mean() / neighbour_changed.mean())
                                      if float(neighbour_changed.mean()) > 0 else None),
            "neighbour_changed": neighbour_changed.tolist(), "random_changed": random_changed.tolist(),
            "layer_l1_share": share.tolist()}
