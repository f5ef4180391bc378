"""An evaluation's error and the check of its settings (EvalConfig itself: hyperman.config, torch-free)."""

from __future__ import annotations

import math
from pathlib import Path

from .. import baseline_registry
from ..config import EvalConfig
from ..config.evaluate import FIELD_NAMES
from ..errors import HypermanError

DIVERSITY_NETS = 100  # diversity, OOD, the adversarial vote and the ensemble gain use the first min(100, N) nets


class EvaluationError(HypermanError):
    """The inputs of an evaluation do not fit together (shapes, targets, sizes); the message says how."""


def baseline_paths(cfg: "EvalConfig") -> dict[str, Path]:
    """{registered baseline name: the file evaluate loads it from}, for those given (a field of EvalConfig
    named by the entry's evaluate_flag, or cfg.plugins), in the registry's order."""
    out = {}
    for entry in baseline_registry.loaded():
        path = getattr(cfg, entry.evaluate_flag, None) if entry.evaluate_flag in FIELD_NAMES else \
            cfg.plugins.get(entry.name)
        if path:
            out[entry.name] = Path(path)
    return out


def check_config(cfg: EvalConfig) -> None:
    """Refuse impossible settings before anything is loaded, naming every flag that is wrong."""
    problems = []
    if not cfg.baselines:
        problems.append("give at least one --baselines checkpoint")
    if not cfg.ensemble_sizes or min(cfg.ensemble_sizes) < 1:
        problems.append(f"--ensemble-sizes must be positive integers, got {cfg.ensemble_sizes}")
    for name in ("draws", "path_pairs", "symmetry_copies", "adversarial_images", "chunk", "bootstrap_resamples",
                 "shift_images", "shift_nets", "alignment_nets", "control_nets", "control_images",
                 "ood_synthetic_images", "ood_resamples"):
        if getattr(cfg, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    if cfg.path_points < 2:
        problems.append(f"--path-points must be at least 2, got {cfg.path_points}")
    if any(not math.isfinite(e) or e < 0 for e in cfg.adversarial_eps) or not cfg.adversarial_eps:
        problems.append(f"--adversarial-eps must be non-negative numbers, got {cfg.adversarial_eps}")
    for name in ("limit_test", "path_images", "ood_images"):
        if getattr(cfg, name) is not None and getattr(cfg, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    if problems:
        raise EvaluationError("; ".join(problems))
