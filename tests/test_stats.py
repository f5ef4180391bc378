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
        assert out[name] == {"estimate": 0.0, "low": 0.0, "high": 0.0, "excludes_zero": False, "p_value": 1.0}, name
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


def test_ood_detection_resamples_equal_the_metrics_on_explicit_resamples():
    """auroc, aupr_out and fpr95 of the vectorised resamples = metrics.ood_detection of the images drawn, ties
    included (rounded scores), and the full sets (all counts 1) give the full-set metrics."""
    g = torch.Generator().manual_seed(4)
    id_scores, ood_scores = torch.rand(60, generator=g).round(decimals=1), (torch.rand(25, generator=g) + 0.3).round(decimals=1)
    id_counts = torch.cat(list(stats.resample_counts(60, 6, g)))
    ood_counts = torch.cat(list(stats.resample_counts(25, 6, g)))
    drawn = stats.ood_detection_resamples(id_scores, ood_scores, id_counts, ood_counts)
    for r in range(6):
        expected = metrics.ood_detection(id_scores[_explicit_resample(id_counts[r])],
                                         ood_scores[_explicit_resample(ood_counts[r])])
        for name in stats.OOD_METRICS:
            assert drawn[name][r].item() == pytest.approx(expected[name], abs=1e-12), (name, r)
    full = stats.ood_detection_resamples(id_scores, ood_scores, torch.ones(1, 60, dtype=torch.float64),
                                         torch.ones(1, 25, dtype=torch.float64))
    expected = metrics.ood_detection(id_scores, ood_scores)
    assert {name: full[name].item() for name in stats.OOD_METRICS} == pytest.approx(
        {name: expected[name] for name in stats.OOD_METRICS}, abs=1e-12)


def test_bootstrap_ood_detection_brackets_the_estimate_and_is_seeded():
    g = torch.Generator().manual_seed(5)
    id_scores, ood_scores = torch.randn(400, generator=g), torch.randn(150, generator=g) + 1.0
    out = stats.bootstrap_ood_detection(id_scores, ood_scores, resamples=300, seed=2)
    assert out == stats.bootstrap_ood_detection(id_scores, ood_scores, resamples=300, seed=2)
    full = metrics.ood_detection(id_scores, ood_scores)
    for name in stats.OOD_METRICS:
        assert out[name]["estimate"] == full[name]
        assert out[name]["low"] < out[name]["estimate"] < out[name]["high"], name
    # two unit-variance normals one sd apart: AUROC Φ(1/√2) ≈ 0.760, inside a ~±0.05 interval
    assert out["auroc"]["low"] < 0.760 < out["auroc"]["high"] and out["auroc"]["high"] - out["auroc"]["low"] < 0.12


def test_bootstrap_p_value_agrees_with_the_interval():
    assert stats.bootstrap_p_value(torch.zeros(99)) == 1.0  # identical models
    assert stats.bootstrap_p_value(torch.ones(99)) == pytest.approx(2 / 100)  # every resample above 0
    samples = torch.cat([-torch.ones(3), torch.ones(96)])  # 3 of 99 at or below 0: p = 2·4/100
    assert stats.bootstrap_p_value(samples) == pytest.approx(0.08)
    assert stats.interval(0.5, samples)["p_value"] == pytest.approx(0.08)


def test_holm_against_a_hand_computed_example():
    """p = (0.015, 0.04, 0.03, 0.005), alpha 0.05, m = 4. Sorted: 0.005 ≤ 0.05/4 = 0.0125 rejected;
    0.015 ≤ 0.05/3 = 0.0167 rejected (Bonferroni, 0.015 > 0.0125, would keep it); 0.03 > 0.05/2 = 0.025
    kept, and so is 0.04 (Holm stops at the first kept one, although 0.04 ≤ 0.05/1). Adjusted:
    4·0.005 = 0.02, 3·0.015 = 0.045, 2·0.03 = 0.06, max(0.06, 1·0.04) = 0.06."""
    out = stats.holm([0.015, 0.04, 0.03, 0.005], alpha=0.05)
    assert [o["reject"] for o in out] == [True, False, False, True]
    assert [o["adjusted_p"] for o in out] == pytest.approx([0.045, 0.06, 0.06, 0.02])
    assert stats.holm([]) == []
    with pytest.raises(ValueError, match="p-values"):
        stats.holm([1.5])


def test_bootstrap_scores_of_one_model_bracket_its_metrics_with_the_binomial_width():
    """Estimates are the metrics on all images; the accuracy interval is about ± 1.96 · √(p(1 − p)/n)."""
    g = torch.Generator().manual_seed(5)
    n, p = 4000, 0.9
    labels = torch.randint(10, (n,), generator=g)
    right = torch.rand(n, generator=g) < p
    predicted = torch.where(right, labels, (labels + 1) % 10)
    probs = torch.full((n, 10), 0.02).scatter_(1, predicted[:, None], 0.82)
    probs = probs + 0.05 * torch.rand(n, 10, generator=g)
    probs = probs / probs.sum(-1, keepdim=True)
    out = stats.bootstrap_scores(probs, labels, resamples=1000, seed=1)
    assert out["accuracy"]["estimate"] == pytest.approx(float(metrics.accuracy(probs, labels)))
    assert out["nll"]["estimate"] == pytest.approx(float(metrics.nll(probs, labels)))
    assert out["ece"]["estimate"] == pytest.approx(metrics.ece(probs, labels))
    for name in ("accuracy", "nll", "ece"):
        assert out[name]["low"] < out[name]["estimate"] < out[name]["high"], name
    acc = out["accuracy"]["estimate"]
    expected = 2 * 1.96 * math.sqrt(acc * (1 - acc) / n)
    assert out["accuracy"]["high"] - out["accuracy"]["low"] == pytest.approx(expected, rel=0.15)
    assert stats.bootstrap_scores(probs, labels, resamples=1000, seed=1) == out  # seeded
