"""Selective prediction (hyperman.evaluation.selective): the risk–coverage curve and AURC against hand-computed
orderings, a brute force over every order of tied images, torch-uncertainty's definition, and the bootstrap's
closed form against resamples expanded image by image."""

import itertools
import math

import pytest
import torch
from torchmetrics.utilities.compute import _auc_compute

from hyperman.evaluation.context import Model
from hyperman.evaluation.selective import (COVERAGES, aurc, bootstrap_selective, coverage_key, kept, model_selective,
                                           risk_coverage, selective_resamples)


def _brute_force(scores: list[float], errors: list[float]) -> torch.Tensor:
    """The curve averaged over every order of the images that agrees with the scores (ties in every order)."""
    curves = []
    for order in itertools.permutations(range(len(scores))):
        if all(scores[a] <= scores[b] for a, b in zip(order, order[1:])):
            kept_errors = torch.cumsum(torch.tensor([errors[i] for i in order], dtype=torch.float64), 0)
            curves.append(kept_errors / torch.arange(1, len(order) + 1))
    return torch.stack(curves).mean(0)


def test_perfect_ordering_ranks_every_error_last():
    errors = torch.tensor([0, 1, 0, 0, 1, 0, 0, 0, 0, 1], dtype=torch.float64)  # 3 errors in 10
    scores = errors + 0.01 * torch.arange(10)  # every error less confident than every correct image
    risks = risk_coverage(scores, errors)
    assert risks[:7].eq(0).all()  # the 7 correct images come first
    expected = [(k - 7) / k for k in range(8, 11)]
    assert risks[7:].tolist() == pytest.approx(expected)
    assert aurc(scores, errors) == pytest.approx(sum(expected) / 10)


def test_worst_ordering_ranks_every_error_first():
    errors = torch.tensor([0, 1, 0, 0, 1, 0, 0, 0, 0, 1], dtype=torch.float64)
    scores = -errors - 0.01 * torch.arange(10)  # every error more confident than every correct image
    risks = risk_coverage(scores, errors)
    assert risks[:3].eq(1).all() and risks[3:].tolist() == pytest.approx([3 / k for k in range(4, 11)])
    assert aurc(scores, errors) == pytest.approx((3 + sum(3 / k for k in range(4, 11))) / 10)
    assert aurc(scores, errors) > aurc(-scores, errors)


def test_no_ordering_information_gives_the_error_rate_everywhere():
    errors = torch.tensor([1, 0, 0, 1, 0], dtype=torch.float64)
    risks = risk_coverage(torch.zeros(5), errors)  # one tied group: any order is as likely as any other
    assert risks.tolist() == pytest.approx([0.4] * 5)
    assert aurc(torch.zeros(5), errors) == pytest.approx(0.4)
    assert aurc(torch.rand(5), torch.zeros(5)) == 0 and aurc(torch.rand(5), torch.ones(5)) == 1


def test_ties_are_the_expectation_over_their_orders():
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        scores = torch.randint(0, 3, (7,), generator=g).double()  # 7 images in at most 3 tied groups
        errors = torch.randint(0, 2, (7,), generator=g).double()
        expected = _brute_force(scores.tolist(), errors.tolist())
        assert torch.allclose(risk_coverage(scores, errors), expected, atol=1e-12)
        # the input order does not matter
        shuffled = torch.randperm(7, generator=g)
        assert torch.allclose(risk_coverage(scores[shuffled], errors[shuffled]), expected, atol=1e-12)


def test_the_curve_and_aurc_agree_with_torch_uncertainty_without_ties():
    """torch-uncertainty (AURC in torch_uncertainty.metrics.classification; not a dependency) sorts by confidence
    and takes cumsum(errors) / k as the curve, and its AURC is the trapezoid over coverages 1/n, …, 1 divided by
    1 − 1/n; ours is the mean of the same n risks (Geifman & El-Yaniv), which differs by at most 1/(n − 1)."""
    g = torch.Generator().manual_seed(1)
    n = 500
    probs = torch.softmax(3 * torch.randn(n, 10, generator=g), -1)
    labels = torch.randint(0, 10, (n,), generator=g)
    confidence = probs.max(-1).values.double()
    errors = (probs.argmax(-1) != labels).double()
    theirs = errors[confidence.argsort(descending=True)].cumsum(0) / torch.arange(1, n + 1)
    ours = risk_coverage(-confidence, errors)
    assert torch.allclose(ours, theirs, atol=1e-12)
    coverage = torch.arange(1, n + 1, dtype=torch.float64) / n
    their_aurc = float(_auc_compute(coverage, theirs) / (1 - 1 / n))
    assert abs(aurc(-confidence, errors) - their_aurc) <= 1 / (n - 1)
    # the exact relation: trapezoid = (sum − (first + last) / 2) / n
    assert aurc(-confidence, errors) == pytest.approx(
        (their_aurc * (1 - 1 / n) * n + (theirs[0] + theirs[-1]).item() / 2) / n, abs=1e-12)


def test_kept_rounds_up_and_keeps_at_least_one():
    assert kept(0.95, 100) == 95 and kept(0.9, 120) == 108 and kept(0.99, 120) == 119 and kept(0.001, 10) == 1
    assert coverage_key(0.9) == "accuracy_at_90" and coverage_key(0.99) == "accuracy_at_99"
    with pytest.raises(ValueError):
        kept(0.0, 10)


def test_bootstrap_resamples_equal_the_curve_of_the_expanded_resample():
    g = torch.Generator().manual_seed(2)
    n = 40
    scores = torch.randint(0, 8, (n,), generator=g).double()  # with ties
    errors = (torch.rand(n, generator=g) < 0.3).double()
    counts = torch.zeros(3, n, dtype=torch.float64)
    counts[0] = 1  # the test set itself
    counts[1:] = torch.zeros(2, n, dtype=torch.float64).scatter_add_(
        1, torch.randint(n, (2, n), generator=g), torch.ones(2, n, dtype=torch.float64))
    drawn = selective_resamples(scores, errors, counts)
    for r in range(3):
        index = torch.arange(n).repeat_interleave(counts[r].long())  # every drawn image as often as drawn
        risks = risk_coverage(scores[index], errors[index])
        # the resamples are float32 (speed): exact counts, risks to about 1e-7
        assert drawn["aurc"][r].item() == pytest.approx(risks.mean().item(), abs=1e-6)
        for c in COVERAGES:
            assert drawn[coverage_key(c)][r].item() == pytest.approx(risks[kept(c, n) - 1].item(), abs=1e-6)


def test_bootstrap_intervals_hold_the_estimate_and_accuracy_at_full_coverage_is_the_accuracy():
    g = torch.Generator().manual_seed(3)
    n = 300
    scores, errors = torch.rand(n, generator=g).double(), (torch.rand(n, generator=g) < 0.2).double()
    out = bootstrap_selective(scores, errors, 200, 0, coverages=(0.9, 1.0))
    for entry in out.values():
        assert entry["low"] <= entry["estimate"] <= entry["high"]
    assert out["accuracy_at_100"]["estimate"] == pytest.approx(1 - errors.mean().item())
    assert out == bootstrap_selective(scores, errors, 200, 0, coverages=(0.9, 1.0))  # seeded


def test_a_single_net_has_no_mutual_information_score():
    g = torch.Generator().manual_seed(4)
    probs = torch.softmax(torch.randn(1, 60, 10, generator=g), -1)
    labels = torch.randint(0, 10, (60,), generator=g)
    single = model_selective(Model(probs, None, None), labels, 50, 0)
    assert single["mutual_information"] is None and "n/a" in single["note"]
    assert set(single["entropy"]) == {"aurc", *map(coverage_key, COVERAGES)}
    ensemble = model_selective(Model(torch.cat([probs, probs.flip(1)]), None, None), labels, 50, 0)
    assert ensemble["mutual_information"] is not None and not math.isnan(ensemble["mutual_information"]["aurc"]
                                                                          ["estimate"])
