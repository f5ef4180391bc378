"""The sweep settings' validation means with the training seed as a block, and the standard error of the
difference between two settings: a two-way additive model, figure = setting + seed, fitted by least squares.

Why: runs of different settings at the same seed share G's initialisation and the order of the data, and the
seed moves validation NLL more than the levers do (seed 1 of the default and of the outlier setting lie 0.010 and
0.014 above their seed 0). A lever tried on seed 0 alone, set against another setting's mean over seeds 0 and 1,
would win for its seed. With the seed as a block each setting's mean is its least-squares mean at the average
seed, and what the seeds and settings leave unexplained gives the errors. In a balanced grid (every setting on the
same seeds) the means are the plain means and the errors those of seed-paired differences. When the seeds cannot
be separated from the settings (a run of unknown seed, a setting alone on its seeds), the seed leaves the model:
the plain means, and the spread pooled over the settings (a one-way analysis of variance)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable

import numpy as np


@dataclass(frozen=True)
class BlockFit:
    """Each setting's mean at the average seed, their covariance, the residual std and its degrees of freedom;
    `blocked` says whether the seed was in the model."""
    means: tuple[float, ...]
    covariance: np.ndarray
    sigma: float
    dof: int
    blocked: bool

    def se_difference(self, a: int, b: int) -> float:
        """The standard error of mean[a] − mean[b] (0 where nothing is left to estimate the noise from)."""
        c = self.covariance
        return math.sqrt(max(c[a, a] + c[b, b] - 2 * c[a, b], 0.0))


def fit(settings: list[int], seeds: list[Hashable | None], values: list[float], n_settings: int) -> BlockFit:
    """Fit value = setting + seed over the runs (settings[i] in 0..n_settings−1, seeds[i] its training seed, None
    when unknown). Every setting must have at least one run."""
    if sorted(set(settings)) != list(range(n_settings)):
        raise ValueError("every setting needs at least one run")
    y = np.asarray(values, dtype=float)
    own = np.eye(n_settings)[settings]
    blocks = sorted(set(seeds), key=str) if None not in seeds else []
    seed_columns = np.array([[seed == block for block in blocks[1:]] for seed in seeds], dtype=float)
    design = np.hstack([own, seed_columns.reshape(len(y), -1)])
    blocked = bool(blocks[1:]) and np.linalg.matrix_rank(design) == design.shape[1]
    if not blocked:
        design = own
    inverse = np.linalg.inv(design.T @ design)
    coefficients = inverse @ design.T @ y
    dof = len(y) - design.shape[1]
    sigma = math.sqrt(float(((y - design @ coefficients) ** 2).sum()) / dof) if dof > 0 else 0.0
    # a setting's mean at the average seed: its own coefficient plus the mean of the seed effects (the first 0)
    at_average_seed = np.hstack([np.eye(n_settings), np.full((n_settings, design.shape[1] - n_settings),
                                                              1 / max(len(blocks), 1))])
    return BlockFit(means=tuple(float(m) for m in at_average_seed @ coefficients),
                    covariance=sigma ** 2 * at_average_seed @ inverse @ at_average_seed.T,
                    sigma=sigma, dof=dof, blocked=blocked)
