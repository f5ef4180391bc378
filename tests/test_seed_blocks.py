"""hyperman/report/seed_blocks.py: the settings' means with the training seed as a block. The figures are the
MNIST sweep's validation NLL (default and outlier probes on seeds 0 and 1)."""

from __future__ import annotations

import pytest

from hyperman.report.seed_blocks import fit

DEFAULT, OUTLIER = (0.0366, 0.0470), (0.0362, 0.0499)


def test_a_balanced_grid_keeps_the_plain_means_and_pairs_the_seeds():
    f = fit([0, 0, 1, 1], [0, 1, 0, 1], [*DEFAULT, *OUTLIER], 2)
    assert f.blocked and f.dof == 1
    assert f.means == pytest.approx((0.0418, 0.04305))
    # the seed-paired differences are −0.0004 and +0.0029: their std / √2 is the error, far below the unpaired one
    assert f.se_difference(1, 0) == pytest.approx(abs(0.0029 + 0.0004) / 2, rel=1e-6)
    unpaired = fit([0, 0, 1, 1], [None, 1, 0, 1], [*DEFAULT, *OUTLIER], 2)  # a run of unknown seed: no blocks
    assert not unpaired.blocked and unpaired.means == pytest.approx(f.means)
    assert unpaired.se_difference(1, 0) > 4 * f.se_difference(1, 0)


def test_a_lever_on_seed_0_alone_is_raised_by_the_seed_0_luck_the_others_show():
    """0.0400 at seed 0 is below the default's plain mean (0.0418) but 0.0034 above its seed 0: at the average
    seed it is 0.0034 + the default's mean, not a winner."""
    f = fit([0, 0, 1, 1, 2], [0, 1, 0, 1, 0], [*DEFAULT, *OUTLIER, 0.0400], 3)
    assert f.blocked
    seed_effect = ((DEFAULT[1] - DEFAULT[0]) + (OUTLIER[1] - OUTLIER[0])) / 2
    assert f.means[2] == pytest.approx(0.0400 + seed_effect / 2)
    assert f.means[2] > f.means[0] + f.se_difference(2, 0)


def test_seeds_that_cannot_be_told_from_settings_leave_the_model():
    """Each setting alone on its own seed: the seed and the setting cannot be separated, so the means are the
    plain ones and there is nothing to estimate the noise from."""
    f = fit([0, 1], [0, 1], [0.03, 0.04], 2)
    assert not f.blocked and f.means == pytest.approx((0.03, 0.04)) and f.se_difference(0, 1) == 0
    with pytest.raises(ValueError, match="every setting needs at least one run"):
        fit([0, 0], [0, 1], [0.03, 0.04], 2)
