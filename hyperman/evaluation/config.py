"""An evaluation's error and the check of its settings (EvalConfig itself: hyperman.config, torch-free)."""

from __future__ import annotations

from pathlib import Path

from .. import baseline_registry, settings
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
    """Refuse impossible settings before anything is loaded, naming every flag that is wrong: the bounds declared
    on EvalConfig's fields and its cross-field rule (hyperman.settings.check)."""
    problems = settings.problems(cfg)
    if problems:
        raise EvaluationError("; ".join(problems))
