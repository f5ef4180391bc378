"""Classification and ensemble metrics as pure functions on probability tensors.

Conventions: `probs` are softmax probabilities with the class axis last,
(T, C) for one predictor or (M, T, C) for the M members of an ensemble;
`labels` are int64 (T,). Names follow uncertainty-baselines, torch-uncertainty
and OpenOOD (accuracy, NLL, Brier, ECE with 15 bins, adaptive ECE, AUROC,
AUPR-in/out, FPR95, disagreement, average KL) so that metrics.json reads like
the literature; tests check them against torchmetrics and hand-computed cases.
Everything is computed in float64 where a sum over many examples is taken,
so that the figures do not depend on the order of chunks.
"""

from __future__ import annotations

import math

import torch

NLL_FLOOR = 1e-12  # a probability of exactly 0 (float32 underflow) counts as 1e-12: NLL ≤ 27.6 per image
ECE_BINS = 15  # equal-width bins of the ECE (Guo et al. 2017; uncertainty-baselines, torchmetrics default)
VOTE_SMOOTHING = 1.0  # add-one (Laplace) pseudo-votes per class before vote fractions are scored (NLL, ECE)
TPR_LEVEL = 0.95  # FPR is reported at this true-positive rate (FPR95)


def predictions(probs: torch.Tensor) -> torch.Tensor:
    """Arg-max class of every example: (..., T, C) → (..., T)."""
    return probs.argmax(-1)


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Fraction of correct arg-max predictions: (..., T, C) → (...) (one value per predictor)."""
    return (probs.argmax(-1) == labels).double().mean(-1)


def nll_per_image(probs: torch.Tensor, labels: torch.Tensor, floor: float = NLL_FLOOR) -> torch.Tensor:
    """Negative log-likelihood of the true class of every example: (..., T, C) → (..., T).

    Per image, so that a paired bootstrap (hyperman.stats) can resample it."""
    index = labels.expand(probs.shape[:-1]).unsqueeze(-1)
    p_true = probs.gather(-1, index).squeeze(-1).double()
    return -torch.log(p_true.clamp_min(floor))


def nll(probs: torch.Tensor, labels: torch.Tensor, floor: float = NLL_FLOOR) -> torch.Tensor:
    """Mean negative log-likelihood of the true class: (..., T, C) → (...)."""
    return nll_per_image(probs, labels, floor).mean(-1)


def brier_per_image(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Squared distance Σ_c (p_c − 1[c = y])² of every example to its one-hot label: (..., T, C) → (..., T).

    Summed over classes, not averaged (Brier 1950; uncertainty-baselines and
    torch-uncertainty), so it lies in [0, 2] whatever the number of classes."""
    p = probs.double()
    index = labels.expand(probs.shape[:-1]).unsqueeze(-1)
    p_true = p.gather(-1, index).squeeze(-1)
    # Σ_c p_c² − 2 p_y + 1: no one-hot tensor of the size of probs is built
    return (p * p).sum(-1) - 2 * p_true + 1


def brier(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean Brier score (see brier_per_image): (..., T, C) → (...). Lower is better; a proper scoring rule
    that, unlike NLL, stays bounded when a confident prediction is wrong."""
    return brier_per_image(probs, labels).mean(-1)


def calibration_bin(confidence: torch.Tensor, bins: int = ECE_BINS) -> torch.Tensor:
    """Equal-width bin of every confidence: b such that confidence ∈ (b/bins, (b+1)/bins], int64.

    The one definition of the ECE bins: ece, reliability and the bootstrap of
    ECE differences (hyperman.stats) all call it. (torchmetrics uses [lo, hi);
    the two differ only for a confidence exactly on an edge.)"""
    return (torch.ceil(confidence.double() * bins) - 1).clamp(0, bins - 1).long()


def equal_mass_bin(confidence: torch.Tensor, bins: int = ECE_BINS) -> torch.Tensor:
    """Adaptive (equal-mass) bin of every confidence: sorted by confidence, the T examples are cut into
    `bins` runs as torch.tensor_split cuts T items (sizes differ by at most one; Nixon et al. 2019).
    Ties are split in the stable sort order, so the sizes stay equal; int64 (T,)."""
    T = confidence.shape[0]
    if T < bins:
        raise ValueError(f"adaptive binning needs at least bins={bins} examples, got {T}: lower bins")
    order = torch.sort(confidence.double(), stable=True).indices
    sizes = torch.tensor([len(run) for run in torch.tensor_split(torch.arange(T), bins)])
    index = torch.empty(T, dtype=torch.long)
    index[order] = torch.repeat_interleave(torch.arange(bins), sizes)
    return index


def reliability(probs: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS,
                adaptive: bool = False) -> dict[str, torch.Tensor]:
    """Reliability table of one predictor (T, C) on its max-probability confidence: per bin the number of
    examples `count`, their summed `confidence` and summed `correct` (float64, length `bins`), and the
    confidence range [`lo`, `hi`] of the bin (the fixed edges for equal-width bins, the smallest and
    largest confidence inside an adaptive bin, NaN when empty). Means are sums / count.

    Equal-width bins (`adaptive=False`) are those of calibration_bin, equal-mass ones those of
    equal_mass_bin; ece and adaptive_ece are computed from this table, so a reliability diagram
    always shows the bins its ECE used."""
    if probs.dim() != 2:
        raise ValueError(f"reliability expects (T, C) probabilities, got shape {tuple(probs.shape)}")
    confidence, predicted = probs.double().max(-1)
    index = equal_mass_bin(confidence, bins) if adaptive else calibration_bin(confidence, bins)
    zeros = torch.zeros(bins, dtype=torch.float64)
    table = {"count": zeros.index_add(0, index, torch.ones_like(confidence)),
             "confidence": zeros.index_add(0, index, confidence),
             "correct": zeros.index_add(0, index, (predicted == labels).double())}
    if adaptive:
        table["lo"] = torch.full((bins,), torch.inf, dtype=torch.float64).scatter_reduce(0, index, confidence, "amin")
        table["hi"] = torch.full((bins,), -torch.inf, dtype=torch.float64).scatter_reduce(0, index, confidence, "amax")
        empty = table["count"] == 0
        table["lo"][empty], table["hi"][empty] = torch.nan, torch.nan
    else:
        edges = torch.arange(bins + 1, dtype=torch.float64) / bins
        table["lo"], table["hi"] = edges[:-1], edges[1:]
    return table


def calibration_error(table: dict[str, torch.Tensor]) -> float:
    """ECE from a reliability table (also rebuilt from reliability.csv by the report): Σ_b |B_b|/T · |acc(B_b) − conf(B_b)| = Σ_b |Σ conf − Σ correct| / T from a reliability table."""
    return float((table["confidence"] - table["correct"]).abs().sum() / table["count"].sum())


def ece(probs: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS) -> float:
    """Expected calibration error of one predictor (T, C), max-probability confidence.

    `bins` equal-width bins (lo, hi] on [0, 1]; ECE = Σ_b |B_b|/T · |acc(B_b) − conf(B_b)|
    (Guo et al. 2017; a confidence of exactly 0 cannot occur for a probability vector)."""
    if probs.dim() != 2:
        raise ValueError(f"ece expects (T, C) probabilities, got shape {tuple(probs.shape)}")
    return calibration_error(reliability(probs, labels, bins))


def adaptive_ece(probs: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS) -> float:
    """ECE over equal-mass bins (Nixon et al. 2019, "Measuring calibration in deep learning"; torch-uncertainty's
    AdaptiveCalibrationError): every bin holds ~T/bins examples, so the high-confidence bins, where a good
    MNIST model puts almost everything, are resolved instead of lumped into (14/15, 1]."""
    if probs.dim() != 2:
        raise ValueError(f"adaptive_ece expects (T, C) probabilities, got shape {tuple(probs.shape)}")
    return calibration_error(reliability(probs, labels, bins, adaptive=True))


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


def average_precision(scores: torch.Tensor, is_positive: torch.Tensor) -> float:
    """Area under the precision–recall curve as average precision, Σ_t (R_t − R_{t−1}) · P_t over the
    distinct score thresholds t, highest first (a higher score means "positive"; tied scores share one
    threshold). The step-wise sum of scikit-learn and torchmetrics, not the trapezoid, which is optimistic."""
    scores, positive = scores.double().flatten(), is_positive.flatten().bool()
    n_pos = int(positive.sum())
    if n_pos == 0:
        raise ValueError("average_precision needs at least one positive example")
    sorted_scores, order = torch.sort(scores, descending=True)
    _, counts = torch.unique_consecutive(sorted_scores, return_counts=True)
    last = torch.cumsum(counts, 0) - 1  # index of the last example of every tie group
    true_pos = torch.cumsum(positive[order].double(), 0)[last]
    precision = true_pos / (last + 1).double()
    recall_step = torch.diff(true_pos, prepend=true_pos.new_zeros(1)) / n_pos
    return float((recall_step * precision).sum())


def fpr_at_tpr(scores: torch.Tensor, is_positive: torch.Tensor, tpr: float = TPR_LEVEL) -> float:
    """False-positive rate at the highest threshold whose true-positive rate reaches `tpr` (an example is
    called positive when its score is ≥ the threshold); OpenOOD's fpr[argmax(tpr_curve ≥ 0.95)]."""
    scores, positive = scores.double().flatten(), is_positive.flatten().bool()
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("fpr_at_tpr needs at least one positive and one negative example")
    if not 0 < tpr <= 1:
        raise ValueError(f"tpr must be in (0, 1], got {tpr}")
    k = max(1, math.ceil(tpr * len(pos) - 1e-9))  # positives that must be at or above the threshold
    threshold = torch.sort(pos, descending=True).values[k - 1]
    return float((neg >= threshold).double().mean())


def ood_detection(id_scores: torch.Tensor, ood_scores: torch.Tensor, tpr: float = TPR_LEVEL) -> dict[str, float]:
    """OOD-detection metrics of one uncertainty score (higher = "more OOD", e.g. mutual information or
    predictive entropy) on in-distribution images `id_scores` and OOD images `ood_scores`.

    Conventions of OpenOOD v1.5 and torch-uncertainty:
      - auroc: OOD is the positive class (symmetric: the same with ID positive and the score negated);
      - aupr_in: ID is the positive class, ranked by −score (confidence);
      - aupr_out: OOD is the positive class, ranked by score;
      - fpr95: OOD is the positive class: the fraction of ID images flagged as OOD at the threshold
        that flags `tpr` (95 %) of the OOD images. Lower is better; the other three: higher."""
    scores = torch.cat([id_scores.double().flatten(), ood_scores.double().flatten()])
    is_ood = torch.arange(len(scores)) >= id_scores.numel()
    return {"auroc": auroc(scores, is_ood), "aupr_in": average_precision(-scores, ~is_ood),
            "aupr_out": average_precision(scores, is_ood), "fpr95": fpr_at_tpr(scores, is_ood, tpr)}


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


def smooth_votes(counts: torch.Tensor, alpha: float = VOTE_SMOOTHING) -> torch.Tensor:
    """Laplace-smoothed vote fractions (n_c + α) / (M + α·C) from vote counts (T, C) of M members.

    Why: raw fractions give probability 0 to a class no member voted for, so one image
    that all members get wrong costs NLL −log(NLL_FLOOR) = 27.6 and the majority vote's NLL
    measures the floor, not the ensemble. Add-one smoothing (α = 1) is the usual fix;
    α = 0 gives the raw fractions."""
    if alpha < 0:
        raise ValueError(f"vote smoothing alpha must be ≥ 0, got {alpha}")
    members = counts.sum(-1, keepdim=True)
    return (counts + alpha) / (members + alpha * counts.shape[-1])


def vote_probabilities(member_probs: torch.Tensor, alpha: float = 0.0) -> torch.Tensor:
    """Vote fractions (T, C) of members (M, T, C), smoothed by `alpha` pseudo-votes per class (smooth_votes):
    the majority vote's "probabilities" for NLL and ECE. Score them with alpha=VOTE_SMOOTHING."""
    return smooth_votes(vote_counts(member_probs), alpha)


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


# --------------------------------------------------------------------------- OOD AUROC, ROC, PCA
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
