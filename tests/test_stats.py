"""Paired bootstrap and McNemar: known answers, the vectorised resamples against explicit ones, coverage."""

import math

import pytest
import torch

from hyperman import metrics, stats


def _probs(n: int, seed: int, sharpness: float = 3.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(sharpness * torch.randn(n, 10, generator=g, dtype=torch.float64), -1)


def _explicit_resample(counts_row: torch.Tensor) -> torch.Tensor:
    """The image indices a row of counts stands for (image i repeated counts[i] times)."""
    return torch.repeat_interleave(torch.arange(len(counts_row)), counts_row.long())


def test_resample_counts_are_seeded_draws_of_n():
    rows = list(stats.resample_counts(50, 7, torch.Generator().manual_seed(3)))
    again = list(stats.resample_counts(50, 7, torch.Generator().manual_seed(3)))
    counts = torch.cat(rows)
    assert counts.shape == (7, 50) and counts.sum(1).tolist() == [50.0] * 7
    assert torch.equal(counts, torch.cat(again))
    with pytest.raises(ValueError, match="n ≥ 1"):
        next(stats.resample_counts(0, 5, torch.Generator()))


def test_identical_models_differ_by_exactly_zero():
    probs, labels = _probs(300, 0), torch.randint(10, (300,), generator=torch.Generator().manual_seed(1))
    out = stats.paired_differences(probs, probs.clone(), labels, resamples=200)
    for name in ("accuracy", "nll", "brier", "ece"):
        assert out[name] == {"estimate": 0.0, "low": 0.0, "high": 0.0, "excludes_zero": False}, name
    assert out["mcnemar"] == {"a_only": 0, "b_only": 0, "p_value": 1.0}
    scores = torch.rand(40)
    auroc = stats.bootstrap_auroc_difference(scores[:20], scores[20:], scores[:20], scores[20:], resamples=100)
    assert (auroc["estimate"], auroc["low"], auroc["high"]) == (0.0, 0.0, 0.0)


def test_better_on_exactly_k_images():
    # a is right on all 1000 images, b wrong on k = 30 of them: difference 0.03, clearly non-zero
    correct_a = torch.ones(1000, dtype=torch.bool)
    correct_b = correct_a.clone()
    correct_b[::33][:30] = False
    out = stats.bootstrap_mean_difference(correct_a.double(), correct_b.double(), resamples=1000, seed=2)
    assert out["estimate"] == pytest.approx(0.03)
    assert out["excludes_zero"] and out["low"] > 0
    # the binomial standard error sqrt(p(1 − p)/n) = 0.0054 sets the width: ±1.96 SE ≈ 0.021
    assert out["high"] - out["low"] == pytest.approx(2 * 1.96 * math.sqrt(0.03 * 0.97 / 1000), rel=0.15)
    assert stats.mcnemar(correct_a, correct_b) == {"a_only": 30, "b_only": 0, "p_value": 2 / 2 ** 30}


def test_vectorised_ece_and_auroc_equal_the_metrics_on_explicit_resamples():
    probs, labels = _probs(200, 3), torch.randint(10, (200,), generator=torch.Generator().manual_seed(4))
    counts = next(stats.resample_counts(200, 5, torch.Generator().manual_seed(5)))
    ece = stats.ece_resamples(probs, labels, counts)
    id_scores, ood_scores = torch.rand(60).round(decimals=1), torch.rand(80).round(decimals=1) + 0.2  # with ties
    id_counts = next(stats.resample_counts(60, 5, torch.Generator().manual_seed(6)))
    ood_counts = next(stats.resample_counts(80, 5, torch.Generator().manual_seed(7)))
    auroc = stats.auroc_resamples(id_scores, ood_scores, id_counts, ood_counts)
    for r in range(5):
        index = _explicit_resample(counts[r])
        assert ece[r].item() == pytest.approx(metrics.ece(probs[index], labels[index]), abs=1e-12)
        resampled_id = id_scores[_explicit_resample(id_counts[r])]
        resampled_ood = ood_scores[_explicit_resample(ood_counts[r])]
        assert auroc[r].item() == pytest.approx(metrics.ood_detection(resampled_id, resampled_ood)["auroc"], abs=1e-12)


def test_paired_differences_estimates_are_the_metric_differences():
    labels = torch.randint(10, (500,), generator=torch.Generator().manual_seed(8))
    a, b = _probs(500, 9), _probs(500, 10, sharpness=1.0)
    out = stats.paired_differences(a, b, labels, resamples=300)
    assert out["nll"]["estimate"] == pytest.approx(float(metrics.nll(a, labels) - metrics.nll(b, labels)))
    assert out["brier"]["estimate"] == pytest.approx(float(metrics.brier(a, labels) - metrics.brier(b, labels)))
    assert out["ece"]["estimate"] == pytest.approx(metrics.ece(a, labels) - metrics.ece(b, labels))
    # the same resamples as the single-metric functions with the same seed
    alone = stats.bootstrap_ece_difference(a, b, labels, resamples=300)
    assert (out["ece"]["low"], out["ece"]["high"]) == pytest.approx((alone["low"], alone["high"]))


def test_interval_coverage_on_synthetic_data_with_a_known_difference():
    # per-image accuracies 0.90 and 0.85, correlated through shared hard images: true difference 0.05
    g = torch.Generator().manual_seed(11)
    covered, trials = 0, 100
    for trial in range(trials):
        hard = torch.rand(400, generator=g)
        redrawn = torch.where(torch.rand(400, generator=g) < 0.2, torch.rand(400, generator=g), hard)  # still U(0, 1)
        out = stats.bootstrap_mean_difference((hard < 0.90).double(), (redrawn < 0.85).double(), resamples=300,
                                              seed=trial)
        covered += out["low"] <= 0.05 <= out["high"]
    # nominal 0.95 (standard error 0.022 over 100 trials): an interval half or twice as wide fails
    assert 0.88 <= covered / trials <= 0.99


def test_auroc_difference_finds_a_better_detector():
    g = torch.Generator().manual_seed(12)
    id_noise, ood_noise = torch.randn(500, generator=g), torch.randn(500, generator=g)
    # a separates ID from OOD by 2 standard deviations, b by 1, on the same images
    out = stats.bootstrap_auroc_difference(id_noise, ood_noise + 2, id_noise, ood_noise + 1, resamples=500)
    true_difference = 0.5 * (math.erfc(-2 / 2) - math.erfc(-1 / 2))  # Φ(2/√2) − Φ(1/√2)
    assert out["excludes_zero"] and out["low"] <= true_difference <= out["high"]


def test_mcnemar_against_the_binomial_by_hand_and_scipy():
    # 3 a-only and 9 b-only images: P(X ≤ 3 | n = 12) = (1 + 12 + 66 + 220) / 4096
    a = torch.tensor([1] * 3 + [0] * 9 + [1] * 20 + [0] * 5, dtype=torch.bool)
    b = torch.tensor([0] * 3 + [1] * 9 + [1] * 20 + [0] * 5, dtype=torch.bool)
    assert stats.mcnemar(a, b) == {"a_only": 3, "b_only": 9, "p_value": pytest.approx(2 * 299 / 4096)}
    assert stats.binomial_two_sided(6, 12) == 1.0
    scipy_stats = pytest.importorskip("scipy.stats")
    for k, n in ((0, 1), (5, 40), (37, 90), (480, 1000)):
        assert stats.binomial_two_sided(k, n) == pytest.approx(scipy_stats.binomtest(k, n).pvalue, rel=1e-9)


def test_unpaired_inputs_are_refused():
    with pytest.raises(ValueError, match="same images"):
        stats.bootstrap_mean_difference(torch.zeros(5), torch.zeros(6))
    with pytest.raises(ValueError, match="level"):
        stats.interval(0.0, torch.zeros(3), level=95)
