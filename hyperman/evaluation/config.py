"""An evaluation's error and the check of its settings (EvalConfig itself: hyperman.config, torch-free)."""

from __future__ import annotations

from .. import settings
from ..config import EvalConfig
from ..errors import HypermanError

DIVERSITY_NETS = 100  # diversity, OOD, the adversarial vote and the ensemble gain use the first min(100, N) nets


class EvaluationError(HypermanError):
    """The inputs of an evaluation do not fit together (shapes, targets, sizes); the message says how."""


def check_config(cfg: EvalConfig) -> None:
    """Refuse impossible settings before anything is loaded, naming every flag that is wrong: the bounds declared
    on EvalConfig's fields and its cross-field rule (hyperman.settings.check)."""
    problems = settings.problems(cfg)
    if problems:
        raise EvaluationError("; ".join(problems))
