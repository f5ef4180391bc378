"""The hypernetwork ensemble against every other model: paired bootstrap 95 % intervals over the test images
(hyperman.stats) and McNemar's exact test of the accuracy difference.

Every comparison uses the same seed, so all of them share the same resamples
of the test images (and, for the OOD AUROC, of the OOD images). Against its
own members the per-image quantities are the members' averages (bootstrap of
a mean difference); the ECE and OOD AUROC of "the members" are means over
members, which have no per-image form, so they get estimates without an
interval.
"""

from __future__ import annotations

import torch

from .. import metrics, outputs, stats
from .context import Context, Model

METRICS = ("accuracy", "nll", "ece", "brier", "auroc")


def compare(a: Model, b: Model, y: torch.Tensor, resamples: int, seed: int) -> dict:
    """a − b with intervals for accuracy, NLL, ECE, Brier and (with OOD images) OOD AUROC; McNemar."""
    out = stats.paired_differences(a.mean, b.mean, y, resamples, seed)
    out["auroc"] = None
    if a.ood is not None and b.ood is not None:
        out["auroc"] = stats.bootstrap_auroc_difference(a.ood_scores(a.probs), a.ood_scores(a.ood),
                                                        b.ood_scores(b.probs), b.ood_scores(b.ood), resamples, seed)
        out["auroc"]["scores"] = [a.ood_score_name, b.ood_score_name]
    return out


def compare_with_members(ensemble: Model, y: torch.Tensor, members_section: dict, ensemble_section: dict,
                         resamples: int, seed: int) -> dict:
    """The ensemble minus its own members' average: per-image accuracy, NLL and Brier averaged over members."""
    probs, mean = ensemble.probs, ensemble.mean
    member_correct = (probs.argmax(-1) == y).double().mean(0)
    per_image = {"accuracy": ((mean.argmax(-1) == y).double(), member_correct),
                 "nll": (metrics.nll_per_image(mean, y), metrics.nll_per_image(probs, y).double().mean(0)),
                 "brier": (metrics.brier_per_image(mean, y), metrics.brier_per_image(probs, y).double().mean(0))}
    out = {name: stats.bootstrap_mean_difference(a, b, resamples, seed) for name, (a, b) in per_image.items()}
    out["ece"] = {"estimate": ensemble_section["ece"] - members_section["ece"], "low": None, "high": None,
                  "excludes_zero": None, "note": "against the mean member ECE: no per-image form, no interval"}
    out["auroc"] = None
    if ensemble_section.get("ood") and members_section.get("ood"):
        out["auroc"] = {"estimate": ensemble_section["ood"]["auroc"] - members_section["ood"]["auroc"], "low": None,
                        "high": None, "excludes_zero": None,
                        "note": "ensemble MI vs the mean member's entropy AUROC: no interval"}
    out["mcnemar"] = None
    return out


def comparisons_part(ctx: Context) -> tuple[dict, dict]:
    """metrics.json `comparisons.<model>` (hypernet_ensemble minus <model>) and comparisons.csv."""
    cfg, head = ctx.cfg, ctx.models[outputs.HEADLINE]
    sections = ctx.results["models"]
    comparisons, rows = {}, []
    for name in outputs.MODEL_NAMES:
        if name == outputs.HEADLINE or name not in sections:
            continue
        if name == "hypernet_member":
            result = compare_with_members(head, ctx.y, sections[name], sections[outputs.HEADLINE],
                                          cfg.bootstrap_resamples, cfg.seed)
        else:
            result = compare(head, ctx.models[name], ctx.y, cfg.bootstrap_resamples, cfg.seed)
        comparisons[name] = result
        rows += [[name, metric, result[metric]["estimate"], _blank(result[metric]["low"]),
                  _blank(result[metric]["high"]), _blank(result[metric]["excludes_zero"])]
                 for metric in METRICS if result.get(metric) is not None]
    notes = {"difference": f"{outputs.HEADLINE} minus the model", "resamples": cfg.bootstrap_resamples,
             "seed": cfg.seed, "level": stats.LEVEL, "interval": "paired percentile bootstrap over test images "
             "(OOD AUROC: test and OOD images resampled separately); McNemar: exact two-sided"}
    return {"comparisons": comparisons, "comparisons_notes": notes}, {outputs.COMPARISONS: rows}


def _blank(value):
    return "" if value is None else value
