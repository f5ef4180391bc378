"""Paired bootstrap intervals and McNemar's test for the difference between two models on the same images.

Why: the gains this project reports are a few images in 10,000, so a claim
holds only when the 95 % interval of the difference excludes 0. The test set
is the random quantity: every bootstrap resample draws n test images with
replacement, and both models are scored on the SAME resample (paired), so
what the images have in common (an easy or hard test set) cancels.

Vectorised: a resample is a row of counts (how often each image was drawn),
so a per-image mean over B resamples is one matrix product counts (B, n) @
values (n, k). ECE is not a per-image mean, but its bin sums are: with the
bins of metrics.calibration_bin fixed per image, ECE of a resample is
Σ_b |counts @ (1[bin = b]·(conf − correct))| / n. OOD AUROC resamples the ID
and the OOD images separately (their numbers are fixed by design) and is a
weighted Mann–Whitney statistic of the counts. Intervals are percentile
intervals (Efron & Tibshirani 1993), seeded, so a report is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from hyperman import metrics

RESAMPLES = 2000  # bootstrap resamples: the 2.5 % tail then rests on 50 of them
LEVEL = 0.95  # two-sided coverage of the intervals
CHUNK_ELEMENTS = 2 ** 22  # resamples are drawn in chunks of ≤ this many (resample, image) counts: 32 MiB float64


def percentile_interval(samples: torch.Tensor, level: float = LEVEL) -> tuple[float, float]:
    """The (low, high) percentile interval of bootstrap `samples` at two-sided coverage `level`."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    tail = (1 - level) / 2
    low, high = torch.quantile(samples.double(), torch.tensor([tail, 1 - tail], dtype=torch.float64)).tolist()
    return low, high


def bootstrap_p_value(samples: torch.Tensor) -> float:
    """Two-sided bootstrap p-value of "the difference is 0": twice the smaller share of resamples on either side
    of 0 (ties count on both), with the +1 of Davison & Hinkley (1997) so that it is never 0. It agrees with the
    percentile interval: p < 1 − level roughly when that interval excludes 0. Smallest value 2 / (B + 1)."""
    s = samples.double().flatten()
    tail = min(int((s <= 0).sum()), int((s >= 0).sum()))
    return min(1.0, 2 * (tail + 1) / (len(s) + 1))


def interval(estimate: float, samples: torch.Tensor, level: float = LEVEL) -> dict:
    """Percentile interval of bootstrap `samples` around `estimate` (the difference on the full test set) and
    the bootstrap p-value of a zero difference: {estimate, low, high, excludes_zero, p_value}, JSON-ready."""
    low, high = percentile_interval(samples, level)
    return {"estimate": float(estimate), "low": low, "high": high, "excludes_zero": bool(low > 0 or high < 0),
            "p_value": bootstrap_p_value(samples)}


def holm(p_values: list[float], alpha: float = 1 - LEVEL) -> list[dict]:
    """Holm–Bonferroni (Holm 1979) over a family of m tests: sorted by p, the i-th smallest (i = 0, 1, …) is
    rejected when it and every smaller one satisfy p ≤ alpha / (m − i). Controls the family-wise error rate at
    alpha whatever the dependence between the tests. Returns per test, in the given order, {reject,
    adjusted_p}: adjusted_p = max over the smaller ones of min(1, (m − i)·p), so reject ⇔ adjusted_p ≤ alpha."""
    m = len(p_values)
    if any(not 0 <= p <= 1 for p in p_values):
        raise ValueError(f"p-values must lie in [0, 1], got {p_values}")
    order = sorted(range(m), key=lambda i: p_values[i])
    out, running = [None] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = {"reject": running <= alpha, "adjusted_p": running}
    return out


def resample_counts(n: int, resamples: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Bootstrap resamples of n items as count matrices (chunk, n) float64: row r says how often resample r
    drew each item (each row sums to n). Chunked to bound memory; the draws depend only on the generator."""
    if n < 1 or resamples < 1:
        raise ValueError(f"the bootstrap needs n ≥ 1 items and ≥ 1 resamples, got n={n}, resamples={resamples}")
    chunk = max(1, CHUNK_ELEMENTS // n)
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        drawn = torch.randint(n, (rows, n), generator=generator)
        yield torch.zeros(rows, n, dtype=torch.float64).scatter_add_(1, drawn, torch.ones(rows, n, dtype=torch.float64))


def _check_paired(*tensors: torch.Tensor) -> int:
    """The common length of per-image tensors of two models, or a clear error."""
    lengths = {int(t.shape[0]) for t in tensors}
    if len(lengths) != 1:
        raise ValueError(f"paired statistics need both models scored on the same images, got lengths {sorted(lengths)}")
    return lengths.pop()


def _ece_columns(probs: torch.Tensor, labels: torch.Tensor, bins: int) -> torch.Tensor:
    """(T, bins): column b holds conf − correct of the images in ECE bin b, 0 elsewhere, so that
    |counts @ columns|.sum(-1) / T is the ECE of a resample."""
    confidence, predicted = probs.double().max(-1)
    gap = confidence - (predicted == labels).double()
    columns = torch.zeros(len(labels), bins, dtype=torch.float64)
    return columns.scatter_(1, metrics.calibration_bin(confidence, bins)[:, None], gap[:, None])


def ece_resamples(probs: torch.Tensor, labels: torch.Tensor, counts: torch.Tensor,
                  bins: int = metrics.ECE_BINS) -> torch.Tensor:
    """metrics.ece of one predictor (T, C) on every resample of `counts` (B, T): (B,)."""
    return (counts @ _ece_columns(probs, labels, bins)).abs().sum(-1) / len(labels)


def auroc_resamples(id_scores: torch.Tensor, ood_scores: torch.Tensor, id_counts: torch.Tensor,
                    ood_counts: torch.Tensor) -> torch.Tensor:
    """metrics.auroc (OOD positive, higher score = more OOD, ties ½) on every resample: (B,).

    Mann–Whitney with multiplicities: every drawn OOD image j scores ID weight below s_j plus ½ of the
    ID weight tied with it, i.e. ½ (W(< s_j) + W(≤ s_j)) with W the cumulative ID counts in score order,
    read at the two searchsorted positions of s_j among the sorted ID scores."""
    id_sorted, order = torch.sort(id_scores.double().flatten())
    ood = ood_scores.double().flatten()
    below = torch.searchsorted(id_sorted, ood, right=False)  # ID images scoring < s_j
    at_or_below = torch.searchsorted(id_sorted, ood, right=True)  # … ≤ s_j
    cumulative = torch.nn.functional.pad(torch.cumsum(id_counts[:, order], 1), (1, 0))  # (B, n_id + 1)
    won = cumulative[:, below] + cumulative[:, at_or_below]  # twice the ID weight each OOD image beats
    return (ood_counts * won).sum(1) / (2 * id_scores.numel() * ood_scores.numel())


def bootstrap_mean_difference(a: torch.Tensor, b: torch.Tensor, resamples: int = RESAMPLES, seed: int = 0,
                              level: float = LEVEL) -> dict:
    """Interval of mean(a) − mean(b) for per-image quantities of two models on the same images
    (correct 0/1 for accuracy, metrics.nll_per_image, metrics.brier_per_image)."""
    n = _check_paired(a, b)
    d = (a.double() - b.double()).flatten()
    generator = torch.Generator().manual_seed(seed)
    samples = torch.cat([counts @ d / n for counts in resample_counts(n, resamples, generator)])
    return interval(float(d.mean()), samples, level)


def _ece_difference(counts: torch.Tensor, columns_a: torch.Tensor, columns_b: torch.Tensor) -> torch.Tensor:
    """ECE(a) − ECE(b) on every resample of counts (B, T) from _ece_columns of both models (two separate
    products, so that identical models give exactly 0)."""
    return ((counts @ columns_a).abs().sum(-1) - (counts @ columns_b).abs().sum(-1)) / counts.shape[1]


def bootstrap_ece_difference(probs_a: torch.Tensor, probs_b: torch.Tensor, labels: torch.Tensor,
                             bins: int = metrics.ECE_BINS, resamples: int = RESAMPLES, seed: int = 0,
                             level: float = LEVEL) -> dict:
    """Interval of ECE(a) − ECE(b) of two predictors (T, C) on the same images, ECE recomputed per resample."""
    n = _check_paired(probs_a, probs_b, labels)
    columns_a, columns_b = _ece_columns(probs_a, labels, bins), _ece_columns(probs_b, labels, bins)
    generator = torch.Generator().manual_seed(seed)
    samples = torch.cat([_ece_difference(counts, columns_a, columns_b)
                         for counts in resample_counts(n, resamples, generator)])
    return interval(metrics.ece(probs_a, labels, bins) - metrics.ece(probs_b, labels, bins), samples, level)


def bootstrap_auroc_difference(id_a: torch.Tensor, ood_a: torch.Tensor, id_b: torch.Tensor, ood_b: torch.Tensor,
                               resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL) -> dict:
    """Interval of AUROC(a) − AUROC(b) of two models' OOD scores (higher = more OOD) on the same ID and
    OOD images; ID and OOD images are resampled separately, each resample shared by both models."""
    n_id, n_ood = _check_paired(id_a, id_b), _check_paired(ood_a, ood_b)
    if resamples < 1:
        raise ValueError(f"the bootstrap needs ≥ 1 resamples, got {resamples}")
    g_id, g_ood = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    # one chunk size for both streams, so that resample r pairs the r-th ID and the r-th OOD draw
    chunk = max(1, CHUNK_ELEMENTS // (n_id + n_ood))
    samples = []
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        id_counts, ood_counts = next(resample_counts(n_id, rows, g_id)), next(resample_counts(n_ood, rows, g_ood))
        samples.append(auroc_resamples(id_a, ood_a, id_counts, ood_counts)
                       - auroc_resamples(id_b, ood_b, id_counts, ood_counts))
    is_ood = torch.arange(n_id + n_ood) >= n_id
    estimate = metrics.auroc(torch.cat([id_a, ood_a]), is_ood) - metrics.auroc(torch.cat([id_b, ood_b]), is_ood)
    return interval(estimate, torch.cat(samples), level)


OOD_METRICS = ("auroc", "aupr_out", "fpr95")  # OOD is the positive class of all three (metrics.ood_detection)


def ood_detection_resamples(id_scores: torch.Tensor, ood_scores: torch.Tensor, id_counts: torch.Tensor,
                            ood_counts: torch.Tensor, tpr: float = metrics.TPR_LEVEL) -> dict[str, torch.Tensor]:
    """metrics.ood_detection's auroc, aupr_out and fpr95 (OOD positive, higher score = more OOD) on every
    resample of the ID (counts (B, n_id)) and OOD images (counts (B, n_ood)): {metric: (B,)}.

    The distinct scores of all images are fixed, so every resample is a row of weights over the same sorted
    score groups: per group the drawn OOD weight (true positives) and ID weight (false positives). Ties
    share a group, as in metrics.auroc (½), average_precision (one threshold) and fpr_at_tpr (≥ threshold)."""
    n_id, n_ood = id_scores.numel(), ood_scores.numel()
    distinct, group = torch.unique(torch.cat([id_scores.double().flatten(), ood_scores.double().flatten()]),
                                   sorted=True, return_inverse=True)
    size = (id_counts.shape[0], len(distinct))
    neg = torch.zeros(size, dtype=torch.float64).index_add_(1, group[:n_id], id_counts)  # ascending score
    pos = torch.zeros(size, dtype=torch.float64).index_add_(1, group[n_id:], ood_counts)
    auroc = (pos * (torch.cumsum(neg, 1) - 0.5 * neg)).sum(1) / (n_id * n_ood)
    pos, neg = pos.flip(1), neg.flip(1)  # descending: the thresholds from the most OOD-looking score down
    tp, fp = torch.cumsum(pos, 1), torch.cumsum(neg, 1)
    aupr_out = (pos * tp / (tp + fp).clamp_min(1)).sum(1) / n_ood
    k = max(1, math.ceil(tpr * n_ood - 1e-9))  # OOD images that must be flagged (metrics.fpr_at_tpr)
    first = (tp >= k).to(torch.uint8).argmax(1, keepdim=True)  # the highest threshold flagging k of them
    return {"auroc": auroc, "aupr_out": aupr_out, "fpr95": fp.gather(1, first).squeeze(1) / n_id}


def bootstrap_ood_detection(id_scores: torch.Tensor, ood_scores: torch.Tensor, resamples: int = RESAMPLES,
                            seed: int = 0, level: float = LEVEL) -> dict[str, dict]:
    """auroc, aupr_out and fpr95 of one OOD score on the full sets, each with its percentile interval over
    resamples of the ID and of the OOD images (drawn separately; their numbers are fixed by design):
    {metric: {estimate, low, high}}. The same seed gives every score the same resamples."""
    n_id, n_ood = id_scores.numel(), ood_scores.numel()
    if resamples < 1 or n_id < 1 or n_ood < 1:
        raise ValueError(f"the bootstrap needs ≥ 1 resamples and images, got {resamples}, {n_id}, {n_ood}")
    g_id, g_ood = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    chunk = max(1, CHUNK_ELEMENTS // (4 * (n_id + n_ood)))  # about eight (chunk, groups) float64 matrices live
    samples = {name: [] for name in OOD_METRICS}
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        drawn = ood_detection_resamples(id_scores, ood_scores, next(resample_counts(n_id, rows, g_id)),
                                        next(resample_counts(n_ood, rows, g_ood)))
        for name in OOD_METRICS:
            samples[name].append(drawn[name])
    full = metrics.ood_detection(id_scores, ood_scores)
    return {name: dict(zip(("estimate", "low", "high"), (full[name], *percentile_interval(torch.cat(samples[name]),
                                                                                           level))))
            for name in OOD_METRICS}


def paired_differences(probs_a: torch.Tensor, probs_b: torch.Tensor, labels: torch.Tensor,
                       resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL) -> dict[str, dict]:
    """Intervals of a − b for accuracy, NLL, Brier and ECE of two predictors (T, C) on the same images,
    all four from the same resamples (one pass), plus McNemar's test of the accuracy difference."""
    n = _check_paired(probs_a, probs_b, labels)
    correct = [(p.argmax(-1) == labels).double() for p in (probs_a, probs_b)]
    per_image = torch.stack([correct[0] - correct[1],
                             metrics.nll_per_image(probs_a, labels) - metrics.nll_per_image(probs_b, labels),
                             metrics.brier_per_image(probs_a, labels) - metrics.brier_per_image(probs_b, labels)], 1)
    columns_a, columns_b = (_ece_columns(p, labels, metrics.ECE_BINS) for p in (probs_a, probs_b))
    generator = torch.Generator().manual_seed(seed)
    means, ece = [], []
    for counts in resample_counts(n, resamples, generator):
        means.append(counts @ per_image / n)
        ece.append(_ece_difference(counts, columns_a, columns_b))
    means, estimates = torch.cat(means), per_image.mean(0).tolist()
    out = {name: interval(estimates[i], means[:, i], level) for i, name in enumerate(("accuracy", "nll", "brier"))}
    out["ece"] = interval(metrics.ece(probs_a, labels) - metrics.ece(probs_b, labels), torch.cat(ece), level)
    out["mcnemar"] = mcnemar(correct[0].bool(), correct[1].bool())
    return out


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of k successes in n fair coin flips: min(1, 2·P(X ≤ min(k, n − k))).
    Integer arithmetic (math.comb), so it is exact for any n a test set can have."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 ≤ k ≤ n, got k={k}, n={n}")
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1))
    return min(1.0, 2 * tail / 2 ** n)


def mcnemar(correct_a: torch.Tensor, correct_b: torch.Tensor) -> dict:
    """McNemar's exact test that two classifiers are equally accurate on the same images.

    Only discordant images carry evidence: a_only (a right, b wrong) and b_only; under the null each
    discordant image is a fair coin, so p = binomial_two_sided(a_only, a_only + b_only) (1 when none)."""
    _check_paired(correct_a, correct_b)
    a, b = correct_a.bool().flatten(), correct_b.bool().flatten()
    a_only, b_only = int((a & ~b).sum()), int((~a & b).sum())
    return {"a_only": a_only, "b_only": b_only, "p_value": binomial_two_sided(a_only, a_only + b_only)}


def bootstrap_scores(probs: torch.Tensor, labels: torch.Tensor, resamples: int = RESAMPLES, seed: int = 0,
                     level: float = LEVEL, bins: int = metrics.ECE_BINS) -> dict[str, dict]:
    """Accuracy, NLL and ECE of ONE predictor (T, C), each {estimate, low, high}: a percentile interval over
    bootstrap resamples of the test images, all three from the same resamples. Why unpaired: a figure set
    beside a published one (benchmarks/lenet5_reference.py) has no second model on the same images."""
    n = _check_paired(probs, labels)
    per_image = torch.stack([(probs.argmax(-1) == labels).double(), metrics.nll_per_image(probs, labels)], 1)
    columns = _ece_columns(probs, labels, bins)
    generator = torch.Generator().manual_seed(seed)
    means, ece = [], []
    for counts in resample_counts(n, resamples, generator):
        means.append(counts @ per_image / n)
        ece.append((counts @ columns).abs().sum(-1) / n)
    samples = {"accuracy": torch.cat(means)[:, 0], "nll": torch.cat(means)[:, 1], "ece": torch.cat(ece)}
    estimates = {"accuracy": float(per_image[:, 0].mean()), "nll": float(per_image[:, 1].mean()),
                 "ece": metrics.ece(probs, labels, bins)}
    return {name: dict(zip(("estimate", "low", "high"), (estimates[name], *percentile_interval(s, level))))
            for name, s in samples.items()}
