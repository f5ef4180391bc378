"""Accuracy along paths between two nets: the latent path G((1−t)z₁ + t z₂), the straight line between the
gauge-fixed ends, and the straight line between two baselines (a dip in the middle is a loss barrier)."""

from __future__ import annotations

import torch

from .. import outputs
from ..alignment import align_for_path
from ..forward import Forward
from ..hypernetwork import latent_components_of
from ..sampling import generate
from ..symmetry import gauge_fix
from .context import Context

KINDS = ("latent", "direct")


@torch.no_grad()
def path_scores(forward: Forward, model, z1: torch.Tensor, z2: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                points: int) -> dict:
    """Accuracy/NLL along the latent path G((1−t)z1 + t z2) and the direct path between the gauge-fixed ends."""
    t = torch.linspace(0, 1, points, dtype=torch.float32)
    z = (1 - t[:, None]) * z1[None].cpu() + t[:, None] * z2[None].cpu()
    latent = torch.cat([theta for _, theta in generate(model, z, forward.nets, device=forward.device)])
    ends = gauge_fix(forward.target, latent[[0, -1]])
    t_dev = t.to(ends.device)[:, None]
    direct = (1 - t_dev) * ends[0] + t_dev * ends[1]
    out = {"t": t.tolist()}
    for kind, theta in (("latent", latent), ("direct", direct)):
        acc, nll = forward.scores(theta, x, y)
        out[kind] = {"accuracy": acc.tolist(), "nll": nll.tolist()}
    return out


@torch.no_grad()
def direct_path(forward: Forward, theta1: torch.Tensor, theta2: torch.Tensor, x, y, points: int) -> dict:
    ends = gauge_fix(forward.target, torch.stack([theta1, theta2]))
    t = torch.linspace(0, 1, points, dtype=ends.dtype, device=ends.device)[:, None]
    acc, nll = forward.scores((1 - t) * ends[0] + t * ends[1], x, y)
    return {"t": t.flatten().tolist(), "accuracy": acc.tolist(), "nll": nll.tolist()}


def _path_summary(accs: list[list[float]], nlls: list[list[float]]) -> dict:
    acc, nll = torch.tensor(accs, dtype=torch.float64), torch.tensor(nlls, dtype=torch.float64)
    return {"worst_accuracy": float(acc.min()), "worst_nll": float(nll.max()),
            "mean_worst_accuracy": float(acc.min(1).values.mean()),
            "mean_endpoint_accuracy": float(acc[:, [0, -1]].mean()), "mean_accuracy": float(acc.mean()),
            "mean_accuracy_drop": float((acc[:, [0, -1]].mean(1) - acc.min(1).values).mean())}


def _pairs(ctx: Context) -> list[tuple[str, int, int]]:
    """`path_pairs` pairs of sampled nets: random pairs, or, for a mixture latent (K > 1), alternately two nets
    of one component ("within") and of two components ("between"), each drawn at random."""
    components = getattr(ctx.model, "latent_components", 1)
    if components <= 1:
        return [("all", *torch.randperm(ctx.N, generator=ctx.generator)[:2].tolist())
                for _ in range(ctx.cfg.path_pairs)]
    which = latent_components_of(ctx.latents, components)
    pairs = []
    for pair in range(ctx.cfg.path_pairs):
        kind = "within" if pair % 2 == 0 else "between"
        i = int(torch.randint(ctx.N, (1,), generator=ctx.generator))
        others = ((which == which[i]) if kind == "within" else (which != which[i])).nonzero().flatten()
        others = others[others != i]
        if len(others) == 0:  # fewer sampled nets than needed for this kind of pair
            continue
        pairs.append((kind, i, int(others[torch.randint(len(others), (1,), generator=ctx.generator)])))
    return pairs


def _sampled_paths(ctx: Context, x: torch.Tensor, y: torch.Tensor) -> tuple[dict, list[list]]:
    """Latent and direct paths between `path_pairs` pairs of sampled nets (_pairs); for a mixture latent also
    the summaries of the pairs within one component and between two (`latent_within`, `latent_between`, ...)."""
    if ctx.N < 2:
        return ({"latent": {"worst_accuracy": None}, "direct": {"worst_accuracy": None},
                 "note": "paths need at least 2 sampled nets"}, [])
    rows, accs, nlls = [], {}, {}
    for pair, (group, i, j) in enumerate(_pairs(ctx)):
        result = path_scores(ctx.forward, ctx.model, ctx.latents[i], ctx.latents[j], x, y, ctx.cfg.path_points)
        for kind in KINDS:
            for key in {kind, kind if group == "all" else f"{kind}_{group}"}:
                accs.setdefault(key, []).append(result[kind]["accuracy"])
                nlls.setdefault(key, []).append(result[kind]["nll"])
            rows += [[kind if group == "all" else f"{kind}_{group}", pair, t, a, n] for t, a, n in
                     zip(result["t"], result[kind]["accuracy"], result[kind]["nll"])]
    return {k: _path_summary(accs[k], nlls[k]) for k in accs}, rows


def paths_part(ctx: Context) -> tuple[dict, dict]:
    """metrics.json `paths` and paths.csv (on the first --path-images test images, all by default)."""
    cfg = ctx.cfg
    x, y = (ctx.x[:cfg.path_images], ctx.y[:cfg.path_images]) if cfg.path_images else (ctx.x, ctx.y)
    paths, rows = _sampled_paths(ctx, x, y)
    paths["baseline_direct"] = paths["direct_aligned"] = None
    if ctx.K >= 2:
        base = direct_path(ctx.forward, ctx.baseline_theta[0], ctx.baseline_theta[1], x, y, cfg.path_points)
        paths["baseline_direct"] = _path_summary([base["accuracy"]], [base["nll"]])
        rows += [["baseline_direct", 0, t, a, n] for t, a, n in zip(base["t"], base["accuracy"], base["nll"])]
        ends = align_for_path(ctx.target, ctx.baseline_theta[0].cpu(), ctx.baseline_theta[1].cpu())
        aligned = direct_path(ctx.forward, ends[0].to(ctx.device), ends[1].to(ctx.device), x, y, cfg.path_points)
        paths["direct_aligned"] = _path_summary([aligned["accuracy"]], [aligned["nll"]])
        rows += [["direct_aligned", 0, t, a, n] for t, a, n in
                 zip(aligned["t"], aligned["accuracy"], aligned["nll"])]
    paths.update({"pairs": cfg.path_pairs if ctx.N >= 2 else 0, "points": cfg.path_points, "images": len(y),
                  "direct_is_between": "gauge-fixed end points (scale and softmax-shift symmetries removed)",
                  "direct_aligned_is_between": "baselines 0 and 1 after matching 1's hidden units to 0's (weight "
                                               "matching, hyperman.alignment.align_for_path); baseline_direct is the "
                                               "same path unaligned, for reference"})
    return {"paths": paths}, {outputs.PATHS: rows}
