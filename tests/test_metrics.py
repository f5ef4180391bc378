"""Metrics against hand-computed answers on tiny cases, and the symmetry control on a real net."""

import math

import pytest
import torch

from hyperman import metrics
from hyperman.evaluation import Forward, symmetry_control
from hyperman.targets import get_target

from conftest import MNIST


def test_accuracy_and_nll_by_hand():
    probs = torch.tensor([[0.5, 0.5], [0.25, 0.75], [0.9, 0.1]])
    labels = torch.tensor([0, 1, 1])
    assert metrics.accuracy(probs, labels).item() == pytest.approx(2 / 3)  # argmax tie → class 0
    expected = (math.log(2) + math.log(4 / 3) + math.log(10)) / 3
    assert metrics.nll(probs, labels).item() == pytest.approx(expected)
    # per member when given (M, T, C); a zero probability is floored, not infinite
    members = torch.stack([probs, torch.tensor([[1.0, 0.0]] * 3)])
    assert metrics.accuracy(members, labels).tolist() == pytest.approx([2 / 3, 1 / 3])
    assert metrics.nll(members, labels)[1].item() == pytest.approx(-2 / 3 * math.log(metrics.NLL_FLOOR))


def test_ece_by_hand():
    # confidences 0.9 ✓ and 0.88 ✗ share the bin (13/15, 14/15]; 0.75 ✗ is in (11/15, 12/15]; 0.65 ✓ in (9/15, 10/15]
    probs = torch.tensor([[0.9, 0.1], [0.12, 0.88], [0.75, 0.25], [0.35, 0.65]])
    labels = torch.tensor([0, 0, 1, 1])
    expected = 2 / 4 * abs(0.5 - 0.89) + 1 / 4 * 0.75 + 1 / 4 * abs(1 - 0.65)
    assert metrics.ece(probs, labels) == pytest.approx(expected)  # 0.47
    # perfectly calibrated: confidence 1 and always right
    assert metrics.ece(torch.eye(3), torch.arange(3)) == 0


def test_ece_matches_the_textbook_loop_over_bins():
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(3 * torch.randn(500, 10, generator=g), -1)
    labels = torch.randint(10, (500,), generator=g)
    confidence, predicted = probs.max(-1)
    correct = (predicted == labels).float()
    edges = torch.linspace(0, 1, 16)
    reference = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            reference += inside.float().mean() * (correct[inside].mean() - confidence[inside].mean()).abs()
    assert metrics.ece(probs, labels) == pytest.approx(float(reference), abs=1e-6)


def test_auroc_by_hand():
    labels = torch.tensor([0, 0, 1, 1])
    # positive 0.35 beats 0.1 but not 0.4; positive 0.8 beats both: 3 of 4 pairs
    assert metrics.auroc(torch.tensor([0.1, 0.4, 0.35, 0.8]), labels) == pytest.approx(0.75)
    assert metrics.auroc(torch.tensor([0.1, 0.2, 0.3, 0.4]), labels) == 1.0
    assert metrics.auroc(torch.tensor([0.4, 0.3, 0.2, 0.1]), labels) == 0.0
    # ties count one half: (0.5 + 1) / 2
    assert metrics.auroc(torch.tensor([1.0, 1.0, 2.0]), torch.tensor([0, 1, 1])) == pytest.approx(0.75)
    assert metrics.auroc(torch.ones(6), torch.tensor([0, 1, 0, 1, 0, 1])) == 0.5
    with pytest.raises(ValueError, match="positive and one negative"):
        metrics.auroc(torch.ones(3), torch.zeros(3))


def test_entropy_and_mutual_information_by_hand():
    confident_apart = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])  # two members, one example
    assert metrics.predictive_entropy(confident_apart).item() == pytest.approx(math.log(2))
    assert metrics.mutual_information(confident_apart).item() == pytest.approx(math.log(2))
    same = torch.tensor([[[0.5, 0.5]], [[0.5, 0.5]]])
    assert metrics.predictive_entropy(same).item() == pytest.approx(math.log(2))
    assert metrics.mutual_information(same).item() == pytest.approx(0.0, abs=1e-12)
    # averaged over members, KL to the mean equals the mutual information
    g = torch.Generator().manual_seed(1)
    probs = torch.softmax(torch.randn(5, 7, 4, generator=g), -1)
    assert metrics.kl_to_mean(probs) == pytest.approx(metrics.mutual_information(probs).mean().item())
    assert metrics.kl_to_mean(confident_apart) == pytest.approx(math.log(2))


def test_disagreement_and_majority_vote_by_hand():
    onehot = lambda preds: torch.nn.functional.one_hot(torch.tensor(preds), 3).float()  # noqa: E731
    members = torch.stack([onehot([0, 1]), onehot([0, 0]), onehot([1, 1])])
    # pairs (1,2) differ on 1 of 2, (1,3) on 1 of 2, (2,3) on 2 of 2
    assert metrics.disagreement(members) == pytest.approx((0.5 + 0.5 + 1) / 3)
    assert metrics.disagreement(members[:1].repeat(4, 1, 1)) == 0
    assert metrics.majority_vote(members).tolist() == [0, 1]
    # a 1:1 tie goes to the class with the larger mean probability
    tie = torch.tensor([[[0.6, 0.4]], [[0.3, 0.7]]])
    assert metrics.majority_vote(tie).tolist() == [1]
    assert metrics.vote_probabilities(members).tolist() == [[2 / 3, 1 / 3, 0], [1 / 3, 2 / 3, 0]]


def test_symmetry_control_is_exactly_zero_on_a_real_net():
    from hyperman.data import load_dataset

    target = get_target("mnist_cnn")
    data = load_dataset(MNIST, limit_train=1, limit_test=500)
    x, y = torch.from_numpy(data.test_x), torch.from_numpy(data.test_y)
    theta = target.init(1, torch.Generator().manual_seed(7))[0]
    for method, images in (("channels_last", 500), ("grouped", 200)):  # grouped is slow on the CPU
        forward = Forward(target, method, torch.device("cpu"))
        result = symmetry_control(forward, theta, x[:images], y[:images], 20, torch.Generator().manual_seed(8))
        assert result["flipped_predictions"] == 0, result
        assert result["gain"] == 0.0
        assert result["copy_accuracy_min"] == result["copy_accuracy_max"] == result["net_accuracy"]
        assert result["max_abs_prob_diff"] < 1e-5


# --------------------------------------------------------------------------- calibration bins, ROC, PCA
def test_reliability_table_rebuilds_the_ece():
    g = torch.Generator().manual_seed(2)
    probs = torch.softmax(3 * torch.randn(400, 10, generator=g), -1)
    labels = torch.randint(10, (400,), generator=g)
    table = metrics.reliability(probs, labels)
    assert table["count"].sum() == 400 and len(table["count"]) == metrics.ECE_BINS
    assert metrics.calibration_error(table) == pytest.approx(metrics.ece(probs, labels), abs=1e-12)
    # the hand case of test_ece_by_hand: bins (13/15, 14/15] holds 2 (one right), (11/15, 12/15] holds 1
    hand = metrics.reliability(torch.tensor([[0.9, 0.1], [0.12, 0.88], [0.75, 0.25], [0.35, 0.65]]),
                               torch.tensor([0, 0, 1, 1]))
    assert hand["count"][13] == 2 and hand["correct"][13] == 1 and hand["confidence"][13] == pytest.approx(1.78)
    assert hand["count"][11] == 1


def test_roc_curve_by_hand_and_its_area_is_the_auroc():
    fpr, tpr = metrics.roc_curve(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
    assert fpr.tolist() == [0, 0, 0.5, 0.5, 1] and tpr.tolist() == [0, 0.5, 0.5, 1, 1]
    g = torch.Generator().manual_seed(3)
    scores = torch.randint(0, 20, (300,), generator=g).double()  # many ties
    positive = torch.randint(0, 2, (300,), generator=g)
    fpr, tpr = metrics.roc_curve(scores, positive)
    area = float(((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2).sum())
    assert area == pytest.approx(metrics.auroc(scores, positive), abs=1e-12)
    assert metrics.ood_auroc(scores[positive == 0], scores[positive == 1]) == pytest.approx(area, abs=1e-12)


def test_pca_finds_the_direction_of_a_line():
    t = torch.linspace(-2, 2, 9, dtype=torch.float64)
    direction = torch.tensor([3.0, 4.0], dtype=torch.float64) / 5
    proj, share = metrics.pca(t[:, None] * direction + torch.tensor([1.0, -1.0]))
    assert share.tolist() == pytest.approx([1.0, 0.0], abs=1e-12)
    assert proj[:, 0].abs().tolist() == pytest.approx(t.abs().tolist())  # the sign of a component is arbitrary
    assert proj[:, 1].abs().max() < 1e-12
    proj, share = metrics.pca(torch.ones(4, 1), k=2)  # fewer components than asked: zero-padded
    assert proj.shape == (4, 2) and share.tolist() == [0.0, 0.0]
