"""Classification and ensemble metrics as pure functions on probability tensors.

Conventions: `probs` are softmax probabilities with the class axis last,
(T, C) for one predictor or (M, T, C) for the M members of an ensemble;
`labels` are int64 (T,). Names follow uncertainty-baselines (accuracy, NLL,
ECE with 15 bins, disagreement, average KL) so that metrics.json reads like
the literature. Everything is computed in float64 where a sum over many
examples is taken, so that the figures do not depend on the order of chunks.
"""

from __future__ import annotations

import torch

NLL_FLOOR = 1e-12  # a probability of exactly 0 (float32 underflow) counts as 1e-12: NLL ≤ 27.6 per image
ECE_BINS = 15  # equal-width confidence bins of the ECE and of the reliability diagram


def predictions(probs: torch.Tensor) -> torch.Tensor:
    """Arg-max class of every example: (..., T, C) → (..., T)."""
    return probs.argmax(-1)


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Fraction of correct arg-max predictions: (..., T, C) → (...) (one value per predictor)."""
    return (probs.argmax(-1) == labels).double().mean(-1)


def nll(probs: torch.Tensor, labels: torch.Tensor, floor: float = NLL_FLOOR) -> torch.Tensor:
    """Mean negative log-likelihood of the true class: (..., T, C) → (...)."""
    index = labels.expand(probs.shape[:-1]).unsqueeze(-1)
    p_true = probs.gather(-1, index).squeeze(-1).double()
    return -torch.log(p_true.clamp_min(floor)).mean(-1)


def ece(probs: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS) -> float:
    """Expected calibration error of one predictor (T, C), max-probability confidence.

    `bins` equal-width bins (lo, hi] on [0, 1]; ECE = Σ_b |B_b|/T · |acc(B_b) − conf(B_b)|
    (Guo et al. 2017; a confidence of exactly 0 cannot occur for a probability vector)."""
    if probs.dim() != 2:
        raise ValueError(f"ece expects (T, C) probabilities, got shape {tuple(probs.shape)}")
    return ece_from_bins(*calibration_bins(probs, labels, bins))


def auroc(scores: torch.Tensor, is_positive: torch.Tensor) -> float:
    """Area under the ROC curve from ranks (Mann–Whitney U); tied scores count 0.5.

    For OOD detection: label 0 = in-distribution, 1 = out-of-distribution, and a
    higher score means "more OOD". 1.0 is a perfect detector, 0.5 chance."""
    scores = scores.double().flatten()
    positive = is_positive.flatten().bool()
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("auroc needs at least one positive and one negative example")
    sorted_scores, order = torch.sort(scores)
    _, counts = torch.unique_consecutive(sorted_scores, return_counts=True)
    # average 1-based rank of every tie group, spread back onto its members
    ends = torch.cumsum(counts, 0).double()
    mean_rank = ends - (counts.double() - 1) / 2
    ranks = torch.empty_like(scores)
    ranks[order] = torch.repeat_interleave(mean_rank, counts)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats of the class distribution: (..., C) → (...)."""
    p = probs.double()
    return -torch.special.xlogy(p, p).sum(-1)


def predictive_entropy(member_probs: torch.Tensor) -> torch.Tensor:
    """Entropy of the mean prediction: (M, T, C) or (T, C) → (T,)."""
    mean = member_probs.double().mean(0) if member_probs.dim() == 3 else member_probs
    return entropy(mean)


def mutual_information(member_probs: torch.Tensor) -> torch.Tensor:
    """Epistemic part of the uncertainty: H(mean_m p_m) − mean_m H(p_m), (M, T, C) → (T,).

    It is ≥ 0 up to rounding and 0 for a single member or identical members."""
    return predictive_entropy(member_probs) - entropy(member_probs).mean(0)


def vote_counts(member_probs: torch.Tensor) -> torch.Tensor:
    """How many members predict each class: (M, T, C) → (T, C) float64."""
    M, T, C = member_probs.shape
    flat = (torch.arange(T, device=member_probs.device) * C + member_probs.argmax(-1)).flatten()
    return torch.zeros(T * C, dtype=torch.float64, device=member_probs.device).index_add_(
        0, flat, torch.ones(flat.numel(), dtype=torch.float64, device=member_probs.device)).reshape(T, C)


def majority_vote(member_probs: torch.Tensor) -> torch.Tensor:
    """The class most members predict, (M, T, C) → (T,); ties go to the larger mean probability."""
    counts = vote_counts(member_probs)
    # the mean probability is < 1, so adding half of it only breaks ties between equal counts
    return (counts + 0.5 * member_probs.double().mean(0)).argmax(-1)


def vote_probabilities(member_probs: torch.Tensor) -> torch.Tensor:
    """Vote fractions (T, C): the majority vote's "probabilities" for NLL and ECE."""
    return vote_counts(member_probs) / member_probs.shape[0]


def disagreement(member_probs: torch.Tensor) -> float:
    """Mean over member pairs (i ≠ j) of the fraction of examples where their arg-max differs.

    With n_c members predicting class c on an example, Σ_c n_c(n_c − 1) of the
    M(M − 1) ordered pairs agree on it, so this is O(M·T) instead of O(M²·T)."""
    M = member_probs.shape[0]
    if M < 2:
        raise ValueError("disagreement needs at least 2 members")
    counts = vote_counts(member_probs)
    agree = (counts * (counts - 1)).sum(-1) / (M * (M - 1))
    return float(1 - agree.mean())


def kl_to_mean(member_probs: torch.Tensor) -> float:
    """Mean over members and examples of KL(p_m ‖ mean_m p_m) in nats.

    (Averaged over members this equals the mutual information; both are
    reported because the literature uses both names.)"""
    p = member_probs.double()
    mean = p.mean(0, keepdim=True)
    kl = (torch.special.xlogy(p, p) - torch.special.xlogy(p, mean)).sum(-1)
    return float(kl.mean())


def histogram(values: torch.Tensor, bins: int = 20) -> dict:
    """Equal-width histogram between the smallest and the largest value (JSON-ready)."""
    v = values.double().flatten()
    lo, hi = float(v.min()), float(v.max())
    if hi == lo:
        hi = lo + 1e-9
    counts = torch.histc(v, bins=bins, min=lo, max=hi)
    edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)
    return {"bin_edges": edges.tolist(), "counts": [int(c) for c in counts.tolist()]}


# --------------------------------------------------------------------------- binned calibration, ROC, PCA
# (the evaluation's reliability table, the report's figures and distillation read these; nobody re-implements them)
def calibration_bins(probs: torch.Tensor, labels: torch.Tensor,
                     bins: int = ECE_BINS) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The bins of `ece` for one predictor (T, C): count, sum of confidences, sum of correct, float64 (bins,).

    Bin b holds the max probabilities in (b/bins, (b+1)/bins]; a reliability
    diagram plots sum/count of the last two per non-empty bin."""
    confidence, predicted = probs.double().max(-1)
    correct = (predicted == labels).double()
    index = (torch.ceil(confidence * bins) - 1).clamp(0, bins - 1).long()
    count = torch.zeros(bins, dtype=torch.float64).index_add_(0, index, torch.ones_like(confidence))
    conf_sum = torch.zeros(bins, dtype=torch.float64).index_add_(0, index, confidence)
    correct_sum = torch.zeros(bins, dtype=torch.float64).index_add_(0, index, correct)
    return count, conf_sum, correct_sum


def ece_from_bins(count: torch.Tensor, confidence_sum: torch.Tensor, correct_sum: torch.Tensor) -> float:
    """ECE = Σ_b |correct_b − confidence_b| / Σ_b count_b from the per-bin sums of `calibration_bins`
    (the report recomputes it from reliability.csv, whose rows hold count, mean confidence and accuracy)."""
    return float((torch.as_tensor(confidence_sum, dtype=torch.float64)
                  - torch.as_tensor(correct_sum, dtype=torch.float64)).abs().sum()
                 / torch.as_tensor(count, dtype=torch.float64).sum())


def ood_auroc(in_scores: torch.Tensor, ood_scores: torch.Tensor) -> float:
    """AUROC of separating OOD (positive) from in-distribution examples by a score (higher = more OOD)."""
    scores = torch.cat([in_scores.double().flatten(), ood_scores.double().flatten()])
    is_ood = torch.cat([torch.zeros(in_scores.numel()), torch.ones(ood_scores.numel())])
    return auroc(scores, is_ood)


def roc_curve(scores: torch.Tensor, is_positive: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """False- and true-positive rates (float64), from (0, 0) over every distinct threshold, highest first.

    The trapezoid area under it equals `auroc` (ties count one half)."""
    scores, positive = scores.double().flatten(), is_positive.double().flatten()
    order = torch.argsort(scores, descending=True, stable=True)
    s, p = scores[order], positive[order]
    last = torch.cat([torch.nonzero(s[1:] != s[:-1]).flatten(), torch.tensor([len(s) - 1])])  # one point per score
    tp, fp = torch.cumsum(p, 0)[last], torch.cumsum(1 - p, 0)[last]
    zero = torch.zeros(1, dtype=torch.float64)
    return torch.cat([zero, fp / max(float(fp[-1]), 1.0)]), torch.cat([zero, tp / max(float(tp[-1]), 1.0)])


def pca(x: torch.Tensor, k: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Projections (n, k) of the rows of x (n, d) on the first k principal components and each one's share
    of the variance (k,), float64 by SVD; padded with zeros when x has fewer than k components."""
    centred = x.double() - x.double().mean(0)
    _, s, v = torch.linalg.svd(centred, full_matrices=False)
    var = s ** 2
    share = var / var.sum() if float(var.sum()) > 0 else torch.zeros_like(var)
    proj = centred @ v[:k].T
    if proj.shape[1] < k:
        proj = torch.nn.functional.pad(proj, (0, k - proj.shape[1]))
        share = torch.nn.functional.pad(share, (0, k))
    return proj, share[:k]
