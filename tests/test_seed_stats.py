"""hyperman.seed_stats against numbers computed by hand.

The example: three seeds with differences 1, 2, 3 (mean 2, sd 1) and bootstrap intervals of half-widths
z·1, z·2 and 0 (z = 1.959964, so the within-seed variances are 1, 4 and 0). With 2 degrees of freedom
t_{0.975} = 4.302653 (the t table) and the t distribution has the closed form F(t) = 1/2 + t / (2·sqrt(2 + t²)),
which gives the p-values exactly.
"""

from __future__ import annotations

import math

import pytest

from hyperman import seed_stats

Z = 1.959963984540054
T2 = 4.302652729911275  # t_{0.975} with 2 degrees of freedom


def test_mean_and_sample_sd():
    assert seed_stats.mean_sd([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert seed_stats.mean_sd([0.5]) == (0.5, None)
    with pytest.raises(ValueError):
        seed_stats.mean_sd([])


def test_t_interval_of_the_per_seed_differences():
    out = seed_stats.t_interval([1.0, 2.0, 3.0])
    half = T2 / math.sqrt(3)  # sd 1 / √3 · t
    assert out["estimate"] == 2.0 and out["dof"] == 2
    assert out["low"] == pytest.approx(2 - half, abs=1e-9) and out["high"] == pytest.approx(2 + half, abs=1e-9)
    assert out["low"] == pytest.approx(-0.484138, abs=1e-6)  # 2 − 2.484138: this interval contains 0
    # t = 2 / (1/√3) = 2√3: p = 2(1 − F(2√3)) = 1 − 2√3/√14 = 1 − √(6/7)
    assert out["p_value"] == pytest.approx(1 - math.sqrt(6 / 7), abs=1e-9)
    with pytest.raises(ValueError, match="at least 2 seeds"):
        seed_stats.t_interval([1.0])


def test_combined_interval_counts_the_shared_test_set_in_full():
    estimates = [1.0, 2.0, 3.0]
    lows, highs = [1 - Z, 2 - 2 * Z, 3.0], [1 + Z, 2 + 2 * Z, 3.0]
    out = seed_stats.combined_interval(estimates, lows, highs)
    assert out["var_between"] == pytest.approx(1.0) and out["var_within"] == pytest.approx(5 / 3)
    assert out["se"] == pytest.approx(math.sqrt(2))  # sqrt(1/3 + 5/3): var_within not divided by S
    assert out["low"] == pytest.approx(2 - T2 * math.sqrt(2), abs=1e-9)
    assert out["high"] == pytest.approx(8.084870, abs=1e-6)  # 2 + 4.302653·1.414214
    assert out["p_value"] == pytest.approx(1 - 1 / math.sqrt(2), abs=1e-9)  # t = √2: 2(1 − F(√2)) = 1 − √2/2
    wider = seed_stats.t_interval(estimates)
    assert out["low"] < wider["low"] and out["high"] > wider["high"]  # test images widen the seeds' interval


def test_within_variance_reads_a_bootstrap_interval_as_a_normal_one():
    assert seed_stats.within_variance(-Z, Z) == pytest.approx(1.0)
    assert seed_stats.within_variance(0.0, 2 * 2.575829303549, level=0.99) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="level"):
        seed_stats.within_variance(0.0, 1.0, level=1.5)


def test_a_clear_difference_excludes_zero_and_has_a_small_p():
    out = seed_stats.combined_interval([-0.010, -0.011, -0.012], [-0.0105, -0.0115, -0.0125],
                                       [-0.0095, -0.0105, -0.0115])
    assert out["high"] < 0 and out["p_value"] < 0.01
    with pytest.raises(ValueError, match="≥ 2 seeds"):
        seed_stats.combined_interval([1.0], [0.0], [2.0])
