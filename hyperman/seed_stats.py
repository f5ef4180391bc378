"""Intervals over training seeds: how much of a difference survives retraining everything with other seeds.

Why: every interval of `hyperman evaluate` resamples the test images of ONE
trained hypernetwork and ONE deep ensemble; a second training seed moves both,
and the difference moves with them. The seeds study (`make seeds`) gives S
replicates, each with its own G and its own deep ensemble (disjoint baseline
seeds), all evaluated on the same test images. From replicate i's difference
d_i and its paired-bootstrap 95 % interval [low_i, high_i]:

- t interval: mean(d) ± t_{S−1} · sd(d) / √S — seed variation alone, for
  this test set (scipy.stats.t, S − 1 degrees of freedom);
- combined interval (seed AND test-image variation):
  mean(d) ± t_{S−1} · sqrt(var_between / S + mean(var_within)), where
  var_between = sd(d)² and var_within_i = ((high_i − low_i) / (2 z))² with
  z = Φ⁻¹(0.975) ≈ 1.96: each bootstrap interval read as a normal one.
  The test set is the SAME in every replicate, so its sampling error does
  not average out over seeds: var_within is not divided by S. That is
  conservative whatever the correlation between the replicates' errors
  (Cauchy–Schwarz: the variance of a mean of S errors is at most the mean of
  their variances), and the part of it that differs between replicates is
  in var_between already. Its two-sided p-value (t with S − 1 dof) lets the
  verdicts be corrected for multiplicity like the report's (stats.holm).

Torch-free and small on purpose: tests/test_seed_stats.py checks each number
against a hand computation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

LEVEL = 0.95  # two-sided coverage, as hyperman.stats.LEVEL


def _quantile(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return 1 - (1 - level) / 2


def mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    """(mean, sample standard deviation with S − 1 in the denominator; None for one value)."""
    if not values:
        raise ValueError("mean_sd needs at least one value")
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def within_variance(low: float, high: float, level: float = LEVEL) -> float:
    """The test-image variance of one replicate's difference, from its bootstrap interval read as a normal one."""
    from scipy import stats as scipy_stats  # here: every workflow call imports this module, few use scipy

    z = scipy_stats.norm.ppf(_quantile(level))
    return ((high - low) / (2 * z)) ** 2


def _interval(estimate: float, se: float, dof: int, level: float) -> dict:
    from scipy import stats as scipy_stats

    t = float(scipy_stats.t.ppf(_quantile(level), dof))
    p = 1.0 if se == 0 and estimate == 0 else (0.0 if se == 0 else
                                                 float(2 * scipy_stats.t.sf(abs(estimate) / se, dof)))
    return {"estimate": estimate, "low": estimate - t * se, "high": estimate + t * se, "se": se, "dof": dof,
            "t": t, "p_value": p}


def t_interval(differences: Sequence[float], level: float = LEVEL) -> dict:
    """mean ± t_{S−1}·sd/√S of the per-seed differences, with its two-sided p-value; needs S ≥ 2."""
    if len(differences) < 2:
        raise ValueError(f"a t interval over seeds needs at least 2 seeds, got {len(differences)}")
    mean, sd = mean_sd(differences)
    return _interval(mean, sd / math.sqrt(len(differences)), len(differences) - 1, level)


def combined_interval(estimates: Sequence[float], lows: Sequence[float], highs: Sequence[float],
                      level: float = LEVEL) -> dict:
    """mean ± t_{S−1}·sqrt(var_between/S + mean(var_within)): seeds and the shared test images (module doc)."""
    s = len(estimates)
    if s < 2 or len(lows) != s or len(highs) != s:
        raise ValueError(f"a combined interval needs ≥ 2 seeds, each with an estimate, low and high; got "
                         f"{s}, {len(lows)}, {len(highs)}")
    mean, sd = mean_sd(estimates)
    var_within = sum(within_variance(lo, hi, level) for lo, hi in zip(lows, highs)) / s
    out = _interval(mean, math.sqrt(sd ** 2 / s + var_within), s - 1, level)
    return {**out, "var_between": sd ** 2, "var_within": var_within}
