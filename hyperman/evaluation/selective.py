"""Selective prediction: every model may abstain on the test images it is least sure of. Risk–coverage curves,
their area (AURC) and the accuracy on the 90, 95 and 99 % most confident images, by predictive entropy and by
mutual information, each with a percentile bootstrap interval over the test images.

Why: OOD AUROC asks whether the uncertainty flags foreign images; a user who
keeps a model's confident answers and hands the rest to a person asks whether
it flags the model's own mistakes. Definitions (Geifman & El-Yaniv 2017, as
torch-uncertainty's AURC): sort the images by the score, lowest (most
confident) first; the selective risk at coverage k/n is the error rate of the
first k; AURC is the mean of the n risks at coverages 1/n, …, 1 (lower is
better; for a given set of errors it is smallest when every error is ranked
after every correct image). Accuracy at coverage c is 1 − the risk of the
first ⌈c·n⌉ images.

Ties: images with the same score cannot be ordered by it, so each tied group is
kept or dropped in a random order, and the curve is the expectation over those
orders: inside a group the kept errors grow linearly with its error rate. That
is exact, deterministic and independent of the images' order in the test set
(a plain argsort would rank ties by index). Ties are common here: a saturated
softmax has entropy exactly 0, and identical members give a mutual
information of exactly 0.

A single net's mutual information is 0 for every image, so only its entropy
ranks anything; its MI entry is None (n/a), not a meaningless number.
"""

from __future__ import annotations

import math

import torch

from .. import metrics, outputs, stats
from .context import Context, Model

COVERAGES = (0.90, 0.95, 0.99)  # accuracy is reported on these most-confident shares of the test images
CURVE_POINTS = 200  # selective.csv holds the curve at these many evenly spaced coverages (0.5 %, 1 %, …, 100 %)
SCORES = ("entropy", "mutual_information")


def coverage_key(coverage: float) -> str:
    """metrics.json key of the accuracy at a coverage: 0.95 → 'accuracy_at_95'."""
    return f"accuracy_at_{round(100 * coverage):d}"


def kept(coverage: float, n: int) -> int:
    """How many of n images a coverage keeps: ⌈c·n⌉, at least 1 (1e-9 absorbs 0.95·100 = 95.00000000000001)."""
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must lie in (0, 1], got {coverage}")
    return max(1, math.ceil(coverage * n - 1e-9))


def _groups(scores: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(group index of every image, number of groups): the distinct scores in ascending order."""
    _, inverse = torch.unique(scores.double().flatten(), sorted=True, return_inverse=True)
    return inverse, int(inverse.max()) + 1 if inverse.numel() else 0


def risk_coverage(scores: torch.Tensor, errors: torch.Tensor) -> torch.Tensor:
    """Selective risks (n,) float64: entry k − 1 is the expected error rate of the k lowest-score images (ties
    in a random order: every image of a tied group carries the group's error rate)."""
    if scores.numel() != errors.numel() or scores.numel() < 1:
        raise ValueError(f"need ≥ 1 score per error, got {scores.numel()} scores and {errors.numel()} errors")
    group, size = _groups(scores)
    errors = errors.double().flatten()
    counts = torch.zeros(size, dtype=torch.float64).index_add_(0, group, torch.ones_like(errors))
    rate = torch.zeros(size, dtype=torch.float64).index_add_(0, group, errors) / counts
    expected = rate.repeat_interleave(counts.long())  # images in score order, each with its group's error rate
    return torch.cumsum(expected, 0) / torch.arange(1, len(expected) + 1, dtype=torch.float64)


def aurc(scores: torch.Tensor, errors: torch.Tensor) -> float:
    """Area under the risk–coverage curve: the mean selective risk over the coverages 1/n, …, 1."""
    return float(risk_coverage(scores, errors).mean())


def _ranked(scores: torch.Tensor, errors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(the images in score order, their errors in that order, the last position of every tied group; None
    without ties): what every resample of one score shares."""
    scores = scores.double().flatten()
    order = torch.argsort(scores, stable=True)
    ranked = scores[order]
    change = torch.nonzero(ranked[1:] != ranked[:-1]).flatten()
    ends = torch.cat([change, torch.tensor([len(ranked) - 1])])
    return order, errors.double().flatten()[order], None if len(ends) == len(ranked) else ends


def selective_resamples(scores: torch.Tensor, errors: torch.Tensor, counts: torch.Tensor,
                        coverages: tuple[float, ...] = COVERAGES) -> dict[str, torch.Tensor]:
    """AURC and the risk at each coverage on every bootstrap resample (counts (B, n), stats.resample_counts):
    {"aurc": (B,), coverage_key(c): (B,) risks}. With counts of 1 it is aurc and risk_coverage.

    A resample is a row of weights over the fixed groups of equal scores: group g holds w_g drawn images with
    e_g drawn errors, after W_{g−1} = w_1 + … + w_{g−1} images and E_{g−1} errors. Inside it the expected kept
    errors are E(k) = E_{g−1} + (k − W_{g−1})·r_g with r_g = e_g / w_g, so the sum of E(k)/k over its k has a
    closed form in the harmonic numbers H: e_g + (E_{g−1} − r_g·W_{g−1})·(H(W_g) − H(W_{g−1}))."""
    return _resamples(_ranked(scores, errors), counts, coverages)


def _resamples(ranked: tuple, counts: torch.Tensor, coverages: tuple[float, ...]) -> dict[str, torch.Tensor]:
    """selective_resamples on shared counts. float32 and in place: the resamples are the evaluation's largest
    cost after the forward, and float32 holds the integer counts exactly (n < 2^24) and the risks to about
    1e-6, far below the spread of any interval; the estimates themselves are float64 (risk_coverage)."""
    order, errors, ends = ranked
    rows, n = counts.shape
    drawn = counts.float()[:, order]
    total_w = torch.cumsum(drawn, 1)
    total_e = torch.cumsum(drawn.mul_(errors.float()), 1)
    if ends is not None:  # one column per tied group
        total_w, total_e = total_w[:, ends], total_e[:, ends]
    before_w, before_e = torch.zeros_like(total_w), torch.zeros_like(total_e)
    before_w[:, 1:], before_e[:, 1:] = total_w[:, :-1], total_e[:, :-1]
    rate = (total_e - before_e).div_((total_w - before_w).clamp_min_(1))  # a group not drawn: 0 errors, 0 images
    harmonic = torch.cat([torch.zeros(1, dtype=torch.float64),
                          torch.cumsum(1 / torch.arange(1, n + 1, dtype=torch.float64), 0)]).float()
    step = harmonic[total_w.int()]
    step[:, 1:] -= step[:, :-1].clone()
    aurc = (before_e - rate * before_w).mul_(step).sum(1, dtype=torch.float64).add_(total_e[:, -1]).div_(n)
    out = {"aurc": aurc}
    for coverage in coverages:
        k = kept(coverage, n)
        g = torch.searchsorted(total_w, torch.full((rows, 1), float(k)))  # the first group with W_g ≥ k
        kept_w, kept_e = before_w.gather(1, g).double(), before_e.gather(1, g).double()  # exact integers
        group_rate = (total_e.gather(1, g).double() - kept_e) / (total_w.gather(1, g).double() - kept_w)
        out[coverage_key(coverage)] = (kept_e + (k - kept_w) * group_rate).squeeze(1) / k  # float64 throughout
    return out


def bootstrap_selective(scores: torch.Tensor, errors: torch.Tensor, resamples: int, seed: int,
                        coverages: tuple[float, ...] = COVERAGES, level: float = stats.LEVEL) -> dict[str, dict]:
    """{"aurc": {estimate, low, high}, "accuracy_at_90": {…}, …} of one score: percentile intervals over
    resamples of the test images."""
    return bootstrap_many({"one": (scores, errors)}, resamples, seed, coverages, level)["one"]


def bootstrap_many(pairs: dict[str, tuple[torch.Tensor, torch.Tensor]], resamples: int, seed: int,
                   coverages: tuple[float, ...] = COVERAGES, level: float = stats.LEVEL) -> dict[str, dict]:
    """bootstrap_selective of every (scores, errors) pair on the same test images, all from the same resamples
    (drawn once: drawing them costs as much as scoring one pair)."""
    n = {int(s.numel()) for s, _ in pairs.values()}.pop()
    ranked = {name: _ranked(s, e) for name, (s, e) in pairs.items()}
    generator = torch.Generator().manual_seed(seed)
    chunk = max(1, stats.CHUNK_ELEMENTS // (4 * n))  # about eight (chunk, n) float64 matrices live
    drawn: dict[str, dict[str, list[torch.Tensor]]] = {name: {} for name in pairs}
    for start in range(0, resamples, chunk):
        counts = next(stats.resample_counts(n, min(chunk, resamples - start), generator))
        for name in pairs:
            for key, value in _resamples(ranked[name], counts, coverages).items():
                drawn[name].setdefault(key, []).append(value)
    out = {}
    for name, (scores, errors) in pairs.items():
        risks = risk_coverage(scores, errors)
        out[name] = {"aurc": _entry(float(risks.mean()), torch.cat(drawn[name]["aurc"]), level)}
        for coverage in coverages:  # accuracy = 1 − risk: the interval's ends swap
            key = coverage_key(coverage)
            risk = _entry(float(risks[kept(coverage, n) - 1]), torch.cat(drawn[name][key]), level)
            out[name][key] = {"estimate": 1 - risk["estimate"], "low": 1 - risk["high"], "high": 1 - risk["low"]}
    return out


def _entry(estimate: float, samples: torch.Tensor, level: float) -> dict:
    low, high = stats.percentile_interval(samples, level)
    return {"estimate": estimate, "low": low, "high": high}


def model_scores(model: Model) -> dict[str, torch.Tensor | None]:
    """Per-image uncertainty of a model's mean prediction: predictive entropy, and mutual information where
    it has more than one member (None for one net: it is 0 everywhere)."""
    probs = model.probs
    return {"entropy": metrics.predictive_entropy(probs),
            "mutual_information": metrics.mutual_information(probs) if probs.shape[0] > 1 else None}


def model_selective(model: Model, y: torch.Tensor, resamples: int, seed: int) -> dict:
    """metrics.json `models.<name>.selective`: per score its AURC and accuracies at COVERAGES with intervals."""
    return selective_sections({"model": model}, y, resamples, seed)["model"]


def selective_sections(models: dict[str, Model], y: torch.Tensor, resamples: int, seed: int) -> dict[str, dict]:
    """model_selective of every model, all scores from the same resamples of the test images (drawn once)."""
    pairs = {}
    for name, model in models.items():
        errors = (model.mean.argmax(-1) != y).double()
        for score, values in model_scores(model).items():
            if values is not None:
                pairs[name, score] = (values, errors)
    results = bootstrap_many(pairs, resamples, seed)
    out = {}
    for name in models:
        out[name] = {score: results.get((name, score)) for score in SCORES}
        if out[name]["mutual_information"] is None:
            out[name]["note"] = "one net: the mutual information is 0 everywhere and ranks nothing (n/a)"
    return out


def member_selective(model: Model, y: torch.Tensor) -> dict:
    """`models.hypernet_member.selective`: each sampled net alone, ranked by its own entropy, averaged over the
    nets (no per-image form, so no interval)."""
    per_net = []
    for probs in model.probs:
        risks = risk_coverage(metrics.entropy(probs), (probs.argmax(-1) != y).double())
        per_net.append([float(risks.mean()), *[1 - float(risks[kept(c, len(y)) - 1]) for c in COVERAGES]])
    mean = torch.tensor(per_net, dtype=torch.float64).mean(0).tolist()
    keys = ["aurc", *map(coverage_key, COVERAGES)]
    return {"entropy": {key: {"estimate": v, "low": None, "high": None} for key, v in zip(keys, mean)},
            "mutual_information": None, "note": f"mean over {len(per_net)} nets, each ranked by its own entropy: "
                                                "no interval; one net has no mutual information"}


def curve_rows(name: str, model: Model, y: torch.Tensor, points: int = CURVE_POINTS) -> list[list]:
    """selective.csv rows of one model: (model, score, coverage, risk) at `points` evenly spaced coverages."""
    errors, n = (model.mean.argmax(-1) != y).double(), len(y)
    steps = sorted({kept(j / points, n) for j in range(1, points + 1)})
    rows = []
    for score, s in model_scores(model).items():
        if s is not None:
            risks = risk_coverage(s, errors)
            rows += [[name, score, k / n, float(risks[k - 1])] for k in steps]
    return rows


def selective_part(ctx: Context) -> tuple[dict, dict]:
    """Adds `selective` to every metrics.json `models.<name>` entry; selective.csv holds the curves."""
    cfg, models = ctx.cfg, ctx.results["models"]
    scored = {name: ctx.models[name] for name in outputs.MODEL_NAMES if name in models and name in ctx.models}
    for name, section in selective_sections(scored, ctx.y, cfg.bootstrap_resamples, cfg.seed).items():
        models[name]["selective"] = section
    if "hypernet_member" in models:
        models["hypernet_member"]["selective"] = member_selective(ctx.models[outputs.HEADLINE], ctx.y)
    rows = [row for name, model in scored.items() for row in curve_rows(name, model, ctx.y)]
    notes = {"order": "images sorted by the score, lowest (most confident) first; ties kept in a random order, "
                      "the curve being the expectation over those orders",
             "aurc": "mean selective risk (error rate of the kept images) over the coverages 1/n, ..., 1; lower is "
                     "better (Geifman & El-Yaniv 2017)",
             "accuracy_at": f"accuracy of the ceil(c n) most confident images, c in {list(COVERAGES)}",
             "scores": "entropy: predictive entropy of the mean prediction; mutual_information: ensembles only "
                       "(null for one net, whose MI is 0 everywhere)",
             "interval": f"{100 * stats.LEVEL:g} % percentile bootstrap over the test images "
                         f"({cfg.bootstrap_resamples} resamples, seed {cfg.seed})"}
    return {"selective_notes": notes}, {outputs.SELECTIVE: rows}
