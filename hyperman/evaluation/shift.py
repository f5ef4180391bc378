"""Distribution shift (Ovadia et al. 2019), generated on the fly by hyperman.shift: every model on the same
shifted copies of the first `shift_images` test images.

Every ensemble here is its first `shift_nets` members (the shifted sets are
new images, so the probabilities must be computed again; fewer nets keep that
affordable on a CPU): for the hypernetwork ensemble the first `shift_nets`
sampled nets. metrics.json `models.<name>.shift_mean` holds each model's ensemble
means over a family's intensities (clean included).
"""

from __future__ import annotations

import torch

from .. import baseline_registry, outputs
from ..shift import SHIFT_FAMILIES, shift_benchmark, shift_rows
from .context import Context

# the models of the shift benchmark (the equal-compute deep ensemble is left out: its nets are those of the
# converged one, earlier, and the CPU budget goes to the baselines that are cheaper to shift); the built-ins in
# this order (shift.csv's rows), then every other registered model whose entry lists shift.csv
SHIFTED = ("single_net", "hypernet_ensemble", "deep_ensemble", "noise_ensemble", "snapshot_ensemble")


def shifted() -> tuple[str, ...]:
    return SHIFTED + tuple(entry.name for entry in baseline_registry.entries()
                           if baseline_registry.SHIFT_CSV in entry.evidence and entry.name not in SHIFTED)


def batched_predictors(ctx: Context, thetas: dict[str, torch.Tensor]) -> dict:
    """One predictor per model for shift_benchmark, all answered by ONE forward of every model's nets per
    shifted set (shift_benchmark hands the same tensor to every model in turn), so that small subsets do not
    pay the per-call overhead once per model."""
    names, sizes = list(thetas), [t.shape[0] for t in thetas.values()]
    every = torch.cat([thetas[name].cpu() for name in names]).to(ctx.device)
    cache: dict = {"images": None, "probs": None}

    def predictor(index: int):
        def predict(shifted: torch.Tensor) -> torch.Tensor:
            if cache["images"] is not shifted:
                cache["images"], cache["probs"] = shifted, ctx.forward.probs(every, shifted.to(ctx.device))
            return torch.split(cache["probs"], sizes)[index]
        return predict

    return {name: predictor(i) for i, name in enumerate(names)}


def shift_part(ctx: Context) -> tuple[dict, dict]:
    """metrics.json `shift` and shift.csv (without the per-family mean rows); models.<name>.shift_mean."""
    cfg = ctx.cfg
    n = min(cfg.shift_images, ctx.T)
    images, labels = ctx.inputs["x"][:n], ctx.y[:n]
    thetas = {name: ctx.models[name].theta[:cfg.shift_nets] for name in shifted() if name in ctx.models}
    result = shift_benchmark(batched_predictors(ctx, thetas), images, labels, SHIFT_FAMILIES, cfg.seed)
    for name in thetas:
        ctx.results["models"][name]["shift_mean"] = {family: part["mean"][name]["ensemble"]
                                                     for family, part in result.items()}
    section = {"images": n, "members": {name: int(theta.shape[0]) for name, theta in thetas.items()},
               "hypernet_nets": int(thetas["hypernet_ensemble"].shape[0]),
               "families": {family: list(values) for family, values in SHIFT_FAMILIES.items()}, **result}
    rows = [row for row in shift_rows(result) if row[1] != "mean"]
    return {"shift": section}, {outputs.SHIFT: rows}
