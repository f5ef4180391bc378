"""Out-of-distribution detection: every model on every OOD set of the registry (evaluation.ood_sets), by
mutual information and by predictive entropy, AUROC / AUPR-out / FPR95 with bootstrap intervals.

OOD is the positive class of all three metrics (higher score = more OOD). The
in-distribution side is always the whole test set; the other dataset's
probabilities come from the one forward in context.build_models, the
synthetic sets' from one batched forward per model here. Mutual information
is scored only where a model has more than one member (it is 0 for one net).
"""

from __future__ import annotations

import torch

from .. import metrics, outputs, stats
from ..config.choices import diversity_label
from ..objective import uses_function
from .context import Context, Model
from .ood_sets import OOD_SETS, OTHER, Source, build_sets, trained_toward

SCORES = ("mutual_information", "entropy")
HYPERNET_MODELS = ("hypernet_ensemble", "hypernet_member")  # the models whose nets G generated


def ood_scores(id_probs: torch.Tensor, ood_probs: torch.Tensor) -> dict:
    """AUROC of predictive entropy and mutual information, in-distribution 0 vs OOD 1; members (M, T, C)."""
    out = {"members": int(id_probs.shape[0]),
           "auroc_entropy": metrics.ood_auroc(metrics.predictive_entropy(id_probs),
                                              metrics.predictive_entropy(ood_probs))}
    if id_probs.shape[0] > 1:
        out["auroc_mi"] = metrics.ood_auroc(metrics.mutual_information(id_probs),
                                            metrics.mutual_information(ood_probs))
    else:
        out["auroc_mi"] = None
        out["note"] = "one member: the mutual information is 0 everywhere"
    return out


def ood_score_rows(model: str, id_probs: torch.Tensor, ood_probs: torch.Tensor) -> list[list]:
    """Per-image OOD scores of one model (members (M, T, C)) for ood_scores.csv: predictive entropy and,
    for M > 1, mutual information (empty for one member)."""
    rows = []
    for split, p in (("in", id_probs), ("ood", ood_probs)):
        ent = metrics.predictive_entropy(p).tolist()
        mi = metrics.mutual_information(p).tolist() if p.shape[0] > 1 else [""] * len(ent)
        rows += [[model, split, i, e, m] for i, (e, m) in enumerate(zip(ent, mi))]
    return rows


def score(probs: torch.Tensor, name: str) -> torch.Tensor:
    """Per-image OOD score (T,) of members' probabilities (P, T, C): mutual information or predictive entropy."""
    return metrics.mutual_information(probs) if name == "mutual_information" else metrics.predictive_entropy(probs)


def detection(id_probs: torch.Tensor, ood_probs: torch.Tensor, resamples: int, seed: int) -> dict:
    """{score: {auroc, aupr_out, fpr95: {estimate, low, high}}} of one model on one set; MI None for one net."""
    return {name: None if name == "mutual_information" and id_probs.shape[0] < 2 else
            stats.bootstrap_ood_detection(score(id_probs, name), score(ood_probs, name), resamples, seed)
            for name in SCORES}


def member_detection(id_probs: torch.Tensor, ood_probs: torch.Tensor) -> dict:
    """The hypernetwork's nets one at a time: each net's entropy metrics, averaged over the nets (no per-image
    form, so no interval)."""
    per_net = [metrics.ood_detection(metrics.entropy(p), metrics.entropy(q)) for p, q in zip(id_probs, ood_probs)]
    mean = {k: sum(r[k] for r in per_net) / len(per_net) for k in stats.OOD_METRICS}
    return {"mutual_information": None, "entropy": {k: {"estimate": v, "low": None, "high": None}
                                                    for k, v in mean.items()},
            "note": f"mean over {len(per_net)} nets, each scored alone: no interval"}


def _set_probs(ctx: Context, model: Model, name: str, images: torch.Tensor) -> torch.Tensor | None:
    if name == OTHER:
        return model.ood
    return None if model.theta is None else ctx.forward.probs(model.theta, images)


def trained_with(train) -> dict:
    """The probes the hypernetwork's function-space term was trained on (none when it has no such term)."""
    function_term = uses_function(train.diversity) and train.function_weight > 0
    return {"probe_family": train.probe_family if function_term else None, "function_term": function_term,
            "diversity": diversity_label(train.diversity)}


def sets_section(ctx: Context) -> dict:
    """metrics.json `ood.sets`: per registered set its description and every model's detection metrics."""
    cfg, other = ctx.cfg, ctx.inputs["ood"]
    source = Source(test_x=ctx.inputs["x"], other_x=None if ctx.ood_x is None else ctx.ood_x.cpu(),
                    other_name=None if other is None else other[0])
    probes = trained_with(ctx.inputs["train_config"])
    out = {}
    for name, images in build_sets(source, cfg.ood_synthetic_images, cfg.seed).items():
        entry, cache = OOD_SETS[name], {}
        toward = trained_toward(name, probes["probe_family"], probes["function_term"])
        models = {}
        for model_name in outputs.MODEL_NAMES:
            model = ctx.models.get(outputs.HEADLINE if model_name == "hypernet_member" else model_name)
            if model is not None and id(model) not in cache:  # the members share the ensemble's forward
                cache[id(model)] = _set_probs(ctx, model, name, images)
            probs = None if model is None else cache[id(model)]
            if probs is None:
                continue
            models[model_name] = (member_detection(model.probs, probs) if model_name == "hypernet_member"
                                  else detection(model.probs, probs, cfg.ood_resamples, cfg.seed))
            models[model_name]["trained_toward"] = toward and model_name in HYPERNET_MODELS
        out[name] = {"title": entry.title, "description": entry.description, "images": int(images.shape[0]),
                     "synthetic": entry.synthetic, "source": source.other_name if name == OTHER else "seed",
                     "equals_probe_family": entry.probe_family, "trained_toward": toward, "models": models}
        ctx.log(f"OOD set {name}: {images.shape[0]} images, {len(models)} models")
    return out


def _notes(ctx: Context) -> dict:
    return {"positive_class": "OOD: auroc, aupr_out (average precision with the OOD images as positives) and "
                              "fpr95 (ID images flagged at the threshold that flags 95 % of the OOD images)",
            "scores": "mutual_information (models of more than one net) and entropy (predictive entropy of the "
                      "mean prediction); higher = more OOD",
            "interval": f"{100 * stats.LEVEL:g} % percentile bootstrap, ID and OOD images resampled separately "
                        f"({ctx.cfg.ood_resamples} resamples, seed {ctx.cfg.seed})",
            "id_images": ctx.T, "registry": list(OOD_SETS), "trained_with": trained_with(ctx.inputs["train_config"])}


def ood_part(ctx: Context) -> tuple[dict, dict]:
    """metrics.json `ood` (every set of the registry, and the other dataset's AUROCs of the first M sampled
    nets, the single net and the deep ensemble) and ood_scores.csv (the other dataset, per image)."""
    common = {"sets": sets_section(ctx), **_notes(ctx)}
    if ctx.inputs["ood"] is None:
        return {"ood": {"skipped": "no --ood-data given: the other dataset is not scored", **common}}, {}
    ood_name = ctx.inputs["ood"][0]
    hyper_ood, base_ood = ctx.models["hypernet_ensemble"].ood, ctx.models["deep_ensemble"].ood  # computed once
    probs, base = ctx.probs[:ctx.M], ctx.base_probs
    ood = {"in_distribution": ctx.inputs["dataset"], "out_of_distribution": ood_name,
           "in_images": ctx.T, "ood_images": int(ctx.ood_x.shape[0]), "hypernet": ood_scores(probs, hyper_ood),
           "single_net": ood_scores(base[:1], base_ood[:1]), "deep_ensemble": ood_scores(base, base_ood), **common}
    rows = (ood_score_rows(f"hypernet_ensemble_{ctx.M}", probs, hyper_ood)
            + ood_score_rows("single_net", base[:1], base_ood[:1])
            + ood_score_rows(f"deep_ensemble_{ctx.K}", base, base_ood))
    return {"ood": ood}, {outputs.OOD_SCORES: rows}
