"""What an evaluation is asked to do (EvalConfig), its error, and the check of the settings."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import HypermanError

DEFAULT_SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
DEFAULT_EPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3)
DIVERSITY_NETS = 100  # diversity, OOD, the adversarial vote and the ensemble gain use the first min(100, N) nets


class EvaluationError(HypermanError):
    """The inputs of an evaluation do not fit together (shapes, targets, sizes); the message says how."""


@dataclass
class EvalConfig:
    checkpoint: Path
    samples: Path
    baselines: list[Path]
    data: Path
    out: Path
    ood_data: Path | None = None
    train_summary: Path | None = None
    sizes: list[int] = field(default_factory=lambda: list(DEFAULT_SIZES))
    draws: int = 5
    path_pairs: int = 10
    path_points: int = 40
    path_images: int | None = None
    adversarial_eps: list[float] = field(default_factory=lambda: list(DEFAULT_EPS))
    adversarial_images: int = 1000
    symmetry_copies: int = 100
    seed: int = 0
    device: str = "auto"
    limit_test: int | None = None
    forward: str = "auto"
    chunk: int = 256
    memory_mb: int | None = None


PATH_FIELDS = ("checkpoint", "samples", "baselines", "data", "out", "ood_data", "train_summary")  # not in "config"


def check_config(cfg: EvalConfig) -> None:
    """Refuse impossible settings before anything is loaded, naming every flag that is wrong."""
    problems = []
    if not cfg.baselines:
        problems.append("give at least one --baselines checkpoint")
    if not cfg.sizes or min(cfg.sizes) < 1:
        problems.append(f"--sizes must be positive integers, got {cfg.sizes}")
    for name in ("draws", "path_pairs", "symmetry_copies", "adversarial_images", "chunk"):
        if getattr(cfg, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    if cfg.path_points < 2:
        problems.append(f"--path-points must be at least 2, got {cfg.path_points}")
    if any(not math.isfinite(e) or e < 0 for e in cfg.adversarial_eps) or not cfg.adversarial_eps:
        problems.append(f"--adversarial-eps must be non-negative numbers, got {cfg.adversarial_eps}")
    for name in ("limit_test", "path_images"):
        if getattr(cfg, name) is not None and getattr(cfg, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    if problems:
        raise EvaluationError("; ".join(problems))
