"""Controls: the gauge check (a test of the code that cannot fail for a correct implementation) and the two
controls that can come out either way (hyperman.alignment): weight matching and random directions.

- gauge_check: an "ensemble" of random symmetry transforms of one net gains 0
  by construction whatever G is; it checks hyperman.symmetry, it is no
  evidence that the hypernetwork's diversity is real.
- alignment: `alignment_nets` sampled nets aligned to one sampled reference,
  and the baselines to baseline 0, by weight matching, same gauge; the
  residual distances say how much of the weight diversity is permutations.
  Sets of different sizes are not compared: `hypernet_equal_size` holds the
  first K − 1 sampled nets, as many as the baselines.
- random_direction: a net's nearest generated neighbour against random
  directions of the same per-layer L1 size (first `control_images` images).
"""

from __future__ import annotations

import torch

from .. import metrics
from ..alignment import alignment_control, random_direction_control
from .context import Context
from .diversity import symmetry_control
from .ensembles import ensemble_scores

DIRECTIONS = 4  # random directions per net in the random-direction control


def gauge_check(ctx: Context) -> dict:
    """The old symmetry control, named for what it is, next to the gain of a real ensemble of that size, both on
    the first `control_images` test images (it is a test of code: a subset shows a flip as well as all)."""
    n = min(ctx.cfg.control_images, ctx.T)
    sym = symmetry_control(ctx.forward, ctx.first_theta[0], ctx.x[:n], ctx.y[:n], ctx.cfg.symmetry_copies,
                           ctx.generator)
    size = min(ctx.cfg.symmetry_copies, ctx.N)
    real = ensemble_scores(ctx.probs[:, :n], ctx.y[:n], torch.arange(size))["mean_prob"]["accuracy"]
    sym.update({"hypernet_ensemble_size": size, "hypernet_ensemble_gain":
                real - float(metrics.accuracy(ctx.probs[:size, :n], ctx.y[:n]).mean()),
                "exact": sym["flipped_predictions"] == 0,
                "what": "a check of the gauge code: transforms of one net gain 0 by construction, whatever G is"})
    if sym["flipped_predictions"]:
        ctx.log(f"gauge check: {sym['flipped_predictions']} predictions flipped by rounding (reported)")
    return sym


def alignment(ctx: Context) -> dict:
    """Residual distances after weight matching: sampled nets to sampled net 0, baselines to baseline 0."""
    out = {"gauge": True, "distance": "L1 of gauge-fixed θ"}
    sets = {"hypernet": (ctx.first_theta.cpu(), ctx.probs[:ctx.M], min(ctx.cfg.alignment_nets, ctx.M - 1)),
            "hypernet_equal_size": (ctx.first_theta.cpu(), ctx.probs[:ctx.M], min(ctx.K - 1, ctx.M - 1)),
            "baselines": (ctx.baseline_theta.cpu(), ctx.base_probs, ctx.K - 1)}
    for name, (theta, probs, n) in sets.items():
        if n < 1:
            out[name] = None
            continue
        predictions = probs[:n + 1].argmax(-1)
        out[name] = alignment_control(ctx.target, theta[0], theta[1:n + 1], predictions[1:], predictions[0])
    return out


def random_direction(ctx: Context) -> dict:
    """The random-direction control of the first M sampled nets, and of the baselines for reference."""
    n = min(ctx.cfg.control_images, ctx.T)
    x = ctx.x[:n]
    out = {}
    for name, theta, probs in (("hypernet", ctx.first_theta, ctx.probs[:ctx.M]),
                               ("baselines", ctx.baseline_theta, ctx.base_probs)):
        out[name] = None if theta.shape[0] < 2 else random_direction_control(
            ctx.forward, theta.cpu(), x, ctx.cfg.control_nets, DIRECTIONS, ctx.generator,
            probs[:, :n].argmax(-1))
    return out


def controls_part(ctx: Context) -> tuple[dict, dict]:
    """metrics.json `controls`: gauge_check, alignment, random_direction."""
    return {"controls": {"gauge_check": gauge_check(ctx), "alignment": alignment(ctx),
                         "random_direction": random_direction(ctx)}}, {}
