"""Members and ensembles: accuracy/NLL/ECE of every net, of mean-probability and majority-vote ensembles of
growing size, for the sampled nets and the deep ensemble, and the reliability table."""

from __future__ import annotations

import torch

from .. import metrics, outputs
from .context import Context


def _mean_and_counts(probs: torch.Tensor, index: torch.Tensor, chunk: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean probabilities and vote counts (T, C) of the members `index` of probs (N, T, C), chunked."""
    total = torch.zeros(probs.shape[1:], dtype=torch.float64)
    counts = torch.zeros(probs.shape[1:], dtype=torch.float64)
    for start in range(0, len(index), chunk):
        part = probs.index_select(0, index[start:start + chunk])
        total += part.double().sum(0)
        counts += metrics.vote_counts(part)
    return total / len(index), counts


def ensemble_scores(probs: torch.Tensor, labels: torch.Tensor, index: torch.Tensor) -> dict:
    """Accuracy, NLL, ECE of the mean-probability ensemble and the majority vote of members `index`."""
    mean, counts = _mean_and_counts(probs, index)
    vote = (counts + 0.5 * mean).argmax(-1)  # ties → larger mean probability (metrics.majority_vote)
    vote_probs = counts / len(index)
    return {"mean_prob": {"accuracy": float(metrics.accuracy(mean, labels)), "nll": float(metrics.nll(mean, labels)),
                          "ece": metrics.ece(mean, labels)},
            "majority_vote": {"accuracy": float((vote == labels).double().mean()),
                              "nll": float(metrics.nll(vote_probs, labels)), "ece": metrics.ece(vote_probs, labels)}}


def ensemble_curve(probs: torch.Tensor, labels: torch.Tensor, sizes: list[int], draws: int,
                   generator: torch.Generator) -> dict:
    """For every size: `draws` random member subsets (one when size = all); mean and std over draws."""
    N = probs.shape[0]
    curve = {kind: {k: [] for k in ("accuracy", "accuracy_std", "nll", "nll_std", "ece", "ece_std")}
             for kind in ("mean_prob", "majority_vote")}
    for size in sizes:
        runs = [ensemble_scores(probs, labels, torch.randperm(N, generator=generator)[:size])
                for _ in range(1 if size == N else draws)]
        for kind in curve:
            for name in ("accuracy", "nll", "ece"):
                values = torch.tensor([run[kind][name] for run in runs], dtype=torch.float64)
                curve[kind][name].append(float(values.mean()))
                curve[kind][name + "_std"].append(float(values.std(unbiased=False)))
    return {"sizes": list(sizes), "draws": [1 if s == N else draws for s in sizes], **curve}


def member_summary(acc: torch.Tensor, nll: torch.Tensor) -> dict:
    out = {}
    for name, values in (("accuracy", acc), ("nll", nll)):
        v = values.double()
        out.update({f"{name}_mean": float(v.mean()), f"{name}_std": float(v.std(unbiased=False)),
                    f"{name}_min": float(v.min()), f"{name}_max": float(v.max())})
    out["accuracy_histogram"] = metrics.histogram(acc)
    out["nll_histogram"] = metrics.histogram(nll)
    return out


def reliability_rows(model: str, probs: torch.Tensor, labels: torch.Tensor, bins: int = metrics.ECE_BINS) -> list[list]:
    """Reliability-diagram table of one predictor (T, C): the bins of metrics.ece, (lo, hi] on the max
    probability, with count, mean confidence and accuracy (empty for an empty bin)."""
    table = metrics.reliability(probs, labels, bins)
    count, conf, right = table["count"], table["confidence"], table["correct"]
    return [[model, b, b / bins, (b + 1) / bins, int(count[b]),
             float(conf[b] / count[b]) if count[b] else "", float(right[b] / count[b]) if count[b] else ""]
            for b in range(bins)]


def _curve_rows(curve: dict, labels: dict[str, str]) -> list[list]:
    """ensemble_curve.csv rows of one ensemble_curve result; `labels` maps its kinds to CURVE_METHODS."""
    rows = []
    for kind, label in labels.items():
        c = curve[kind]
        rows += [[label, s, c["accuracy"][k], c["accuracy_std"][k], c["nll"][k], c["nll_std"][k],
                  c["ece"][k], c["ece_std"][k]] for k, s in enumerate(curve["sizes"])]
    return rows


def members_and_ensembles(ctx: Context) -> tuple[dict, dict]:
    """metrics.json `hypernet`, `deep_ensemble`, `single_net`; member_accuracy, ensemble_curve and reliability."""
    probs, base_probs, y, cfg, N, K, M = ctx.probs, ctx.base_probs, ctx.y, ctx.cfg, ctx.N, ctx.K, ctx.M
    ctx.member_acc, ctx.member_nll = metrics.accuracy(probs, y), metrics.nll(probs, y)
    curve = ensemble_curve(probs, y, sorted({min(s, N) for s in cfg.ensemble_sizes}), cfg.draws, ctx.generator)
    gain_ens = ensemble_scores(probs, y, torch.arange(M))["mean_prob"]
    base_acc, base_nll = metrics.accuracy(base_probs, y), metrics.nll(base_probs, y)
    deep = ensemble_scores(base_probs, y, torch.arange(K))
    deep_curve = ensemble_curve(base_probs, y, list(range(1, K + 1)), cfg.draws, ctx.generator)
    single = base_probs[0]
    first_mean = float(ctx.member_acc[:M].mean())
    hypernet = {"num_nets": N, "members": member_summary(ctx.member_acc, ctx.member_nll),
                "ensemble": {"sizes": curve["sizes"], "draws": curve["draws"], **curve["mean_prob"],
                             "majority_vote": curve["majority_vote"]},
                "ensemble_gain": gain_ens["accuracy"] - first_mean,
                "ensemble_gain_detail": {"size": M, "ensemble_accuracy": gain_ens["accuracy"],
                                         "member_accuracy_mean": first_mean}}
    deep_ensemble = {"size": K, **deep["mean_prob"], "majority_vote": deep["majority_vote"],
                     "members": member_summary(base_acc, base_nll),
                     "ensemble_gain": deep["mean_prob"]["accuracy"] - float(base_acc.mean()),
                     "curve": {"sizes": deep_curve["sizes"], **deep_curve["mean_prob"]}}
    single_net = {"checkpoint": str(cfg.baselines[0]), "accuracy": float(metrics.accuracy(single, y)),
                  "nll": float(metrics.nll(single, y)), "ece": metrics.ece(single, y)}
    methods = outputs.CURVE_METHODS
    curve_rows = (_curve_rows(curve, {"mean_prob": methods[0], "majority_vote": methods[1]})
                  + _curve_rows(deep_curve, {"mean_prob": methods[2], "majority_vote": methods[3]})
                  + [[methods[4], 1, single_net["accuracy"], 0.0, single_net["nll"], 0.0, single_net["ece"], 0.0]])
    reliability = (reliability_rows(f"hypernet_ensemble_{M}", _mean_and_counts(probs, torch.arange(M))[0], y)
                   + reliability_rows("single_net", single, y)
                   + reliability_rows(f"deep_ensemble_{K}", base_probs.double().mean(0), y))
    members = [[i, float(a), float(n)] for i, (a, n) in enumerate(zip(ctx.member_acc, ctx.member_nll))]
    return ({"hypernet": hypernet, "deep_ensemble": deep_ensemble, "single_net": single_net},
            {outputs.MEMBER_ACCURACY: members, outputs.ENSEMBLE_CURVE: curve_rows, outputs.RELIABILITY: reliability})
