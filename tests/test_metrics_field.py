"""The metrics the field reports (Brier, AUPR-in/out, FPR95, adaptive ECE, smoothed votes): hand-computed
cases and agreement with torchmetrics on random inputs."""

import math

import pytest
import torch
from torchmetrics.functional.classification import (binary_auroc, binary_average_precision, binary_roc,
                                                    multiclass_calibration_error)

from hyperman import metrics


def _random_probs(n: int, classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(3 * torch.randn(n, classes, generator=g, dtype=torch.float64), -1)
    return probs, torch.randint(classes, (n,), generator=g)


def _random_scores(n: int, seed: int, decimals: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores of a weak detector (positives shifted up), optionally rounded to create ties."""
    g = torch.Generator().manual_seed(seed)
    positive = torch.rand(n, generator=g) < 0.4
    scores = torch.randn(n, generator=g, dtype=torch.float64) + positive.double()
    return (scores.round(decimals=decimals) if decimals is not None else scores), positive


def test_brier_by_hand_and_against_one_hot():
    probs = torch.tensor([[0.5, 0.5], [0.25, 0.75], [0.9, 0.1]])
    labels = torch.tensor([0, 1, 1])
    # (0.5² + 0.5²), (0.25² + 0.25²), (0.9² + 0.9²)
    assert metrics.brier_per_image(probs, labels).tolist() == pytest.approx([0.5, 0.125, 1.62])
    assert metrics.brier(probs, labels).item() == pytest.approx(2.245 / 3)
    members = torch.stack([_random_probs(200, 10, seed)[0] for seed in (1, 2)])
    labels = _random_probs(200, 10, 3)[1]
    one_hot = torch.nn.functional.one_hot(labels, 10).double()
    assert torch.allclose(metrics.brier(members, labels), ((members - one_hot) ** 2).sum(-1).mean(-1))


def test_nll_per_image_is_what_nll_averages():
    probs, labels = _random_probs(50, 4, 0)
    per_image = metrics.nll_per_image(probs, labels)
    assert per_image[7].item() == pytest.approx(-math.log(probs[7, labels[7]].item()))
    assert metrics.nll(probs, labels).item() == pytest.approx(per_image.mean().item())


def test_average_precision_by_hand():
    # descending: 0.8 ✓ (P 1, R ½), 0.4 ✗, 0.35 ✓ (P ⅔, R 1) → ½·1 + ½·⅔
    labels = torch.tensor([0, 0, 1, 1])
    assert metrics.average_precision(torch.tensor([0.1, 0.4, 0.35, 0.8]), labels) == pytest.approx(5 / 6)
    # a tie is one threshold: at 2 (P 1, R ½), at 1 both enter together (P ⅔, R 1)
    assert metrics.average_precision(torch.tensor([1.0, 1.0, 2.0]), torch.tensor([0, 1, 1])) == pytest.approx(5 / 6)
    assert metrics.average_precision(torch.tensor([0.1, 0.2, 0.3, 0.4]), labels) == 1.0


def test_fpr_at_tpr_by_hand():
    # torch-uncertainty's own test case: the threshold 0.9 keeps all positives and the 50 negatives at 0.95
    scores = torch.tensor([0.9] * 100 + [0.95] * 50 + [0.85] * 50)
    positive = torch.tensor([1] * 100 + [0] * 100)
    assert metrics.fpr_at_tpr(scores, positive) == 0.5
    # 20 positives 1..20: 19 of them (95 %) are ≥ 2, and so are the negatives 2.5 and 25
    scores = torch.cat([torch.arange(1.0, 21.0), torch.tensor([0.5, 1.5, 2.5, 25.0])])
    positive = torch.tensor([1] * 20 + [0] * 4)
    assert metrics.fpr_at_tpr(scores, positive) == 0.5
    assert metrics.fpr_at_tpr(scores, positive, tpr=1.0) == 0.75  # threshold 1: all but 0.5
    assert metrics.fpr_at_tpr(scores, positive, tpr=0.05) == 0.25  # threshold 20: only 25


def test_ood_detection_conventions_by_hand():
    # ID scores low, OOD high except one OOD image hiding among the ID ones
    id_scores, ood_scores = torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0.25, 0.8, 0.9])
    out = metrics.ood_detection(id_scores, ood_scores, tpr=2 / 3)
    assert out["auroc"] == pytest.approx(8 / 9)  # 0.25 beats 0.1 and 0.2 only
    # OOD positive, descending 0.9 ✓ 0.8 ✓ 0.3 ✗ 0.25 ✓: ⅓·1 + ⅓·1 + ⅓·¾
    assert out["aupr_out"] == pytest.approx(1 / 3 + 1 / 3 + 1 / 4)
    # ID positive on −score, descending 0.1 ✓ 0.2 ✓ 0.25 ✗ 0.3 ✓: ⅓ + ⅓ + ⅓·¾
    assert out["aupr_in"] == pytest.approx(1 / 3 + 1 / 3 + 1 / 4)
    assert out["fpr95"] == 0.0  # ⅔ of OOD flagged at threshold 0.8, no ID image above it
    assert metrics.ood_detection(id_scores, ood_scores)["fpr95"] == pytest.approx(1 / 3)  # threshold 0.25: ID 0.3


@pytest.mark.parametrize("decimals", [None, 1])
def test_ood_metrics_agree_with_torchmetrics(decimals):
    scores, positive = _random_scores(3000, seed=4, decimals=decimals)
    target = positive.long()
    assert metrics.auroc(scores, positive) == pytest.approx(binary_auroc(scores, target).item(), abs=1e-6)
    assert metrics.average_precision(scores, positive) == pytest.approx(
        binary_average_precision(scores, target).item(), abs=1e-6)
    assert metrics.average_precision(-scores, ~positive) == pytest.approx(
        binary_average_precision(-scores, 1 - target).item(), abs=1e-6)
    fpr, tpr, _ = binary_roc(scores, target)
    assert metrics.fpr_at_tpr(scores, positive) == pytest.approx(fpr[torch.argmax((tpr >= 0.95).int())].item(),
                                                                 abs=1e-6)


def test_ece_agrees_with_torchmetrics():
    probs, labels = _random_probs(5000, 10, seed=5)
    reference = multiclass_calibration_error(probs, labels, num_classes=10, n_bins=15, norm="l1")
    assert metrics.ece(probs, labels) == pytest.approx(reference.item(), abs=1e-6)  # torchmetrics sums in float32


def test_reliability_is_the_ece_binning():
    # the hand case of test_metrics.test_ece_by_hand: bins 13 (two examples), 11 and 9
    probs = torch.tensor([[0.9, 0.1], [0.12, 0.88], [0.75, 0.25], [0.35, 0.65]])
    labels = torch.tensor([0, 0, 1, 1])
    table = metrics.reliability(probs, labels)
    assert table["count"].nonzero().flatten().tolist() == [9, 11, 13]
    assert table["count"][13] == 2 and table["correct"][13] == 1
    assert table["confidence"][13].item() == pytest.approx(1.78)
    assert (table["lo"][13].item(), table["hi"][13].item()) == pytest.approx((13 / 15, 14 / 15))


def test_adaptive_ece_by_hand():
    # confidences 0.6 ✓ 0.7 ✗ | 0.8 ✓ 0.9 ✓ in two bins of two: ½·|½ − 0.65| + ½·|1 − 0.85|
    probs = torch.tensor([[0.9, 0.1], [0.3, 0.7], [0.8, 0.2], [0.6, 0.4]])
    labels = torch.tensor([0, 0, 0, 0])
    assert metrics.adaptive_ece(probs, labels, bins=2) == pytest.approx(0.15)
    table = metrics.reliability(probs, labels, bins=2, adaptive=True)
    assert table["count"].tolist() == [2, 2]
    assert table["lo"].tolist() + table["hi"].tolist() == pytest.approx([0.6, 0.8, 0.7, 0.9])
    # equal-width bins of 0.5 lump everything into one bin: |0.75 − 0.75| = 0
    assert metrics.ece(probs, labels, bins=2) == pytest.approx(0.0)


def test_adaptive_ece_matches_a_loop_over_equal_mass_runs():
    probs, labels = _random_probs(1003, 10, seed=6)  # 1003 = 15·66 + 13: runs of 67 and 66
    confidence, predicted = probs.max(-1)
    order = confidence.argsort()
    correct = (predicted == labels).double()[order]
    runs = zip(torch.tensor_split(confidence[order], 15), torch.tensor_split(correct, 15))
    reference = sum(len(c) / 1003 * abs(c.mean() - r.mean()) for c, r in runs)
    assert metrics.adaptive_ece(probs, labels) == pytest.approx(float(reference), abs=1e-12)
    assert sorted(set(metrics.reliability(probs, labels, adaptive=True)["count"].tolist())) == [66, 67]


def test_smoothed_votes_by_hand():
    # 3 members on 2 images of 3 classes: votes (2, 1, 0) and (0, 0, 3)
    members = torch.tensor([[[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]],
                            [[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]],
                            [[0.2, 0.7, 0.1], [0.0, 0.1, 0.9]]])
    smoothed = metrics.vote_probabilities(members, alpha=metrics.VOTE_SMOOTHING)
    assert smoothed.flatten().tolist() == pytest.approx([3 / 6, 2 / 6, 1 / 6, 1 / 6, 1 / 6, 4 / 6])
    # no member voted for class 1 on image 2: raw fractions hit the NLL floor, add-one smoothing gives log 6
    labels = torch.tensor([0, 1])
    assert metrics.nll_per_image(metrics.vote_probabilities(members), labels)[1].item() == pytest.approx(
        -math.log(metrics.NLL_FLOOR))
    assert metrics.nll_per_image(smoothed, labels)[1].item() == pytest.approx(math.log(6))
    with pytest.raises(ValueError, match="alpha"):
        metrics.smooth_votes(metrics.vote_counts(members), alpha=-1)
