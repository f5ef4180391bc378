"""Every stage's settings, as dataclasses, and the named choices they take: torch-free.

Why a package of its own: the workflow plans jobs and check-params validates params.yaml from these classes,
and neither should load torch (or the training loop) for it. The field of a dataclass is the one description of a
setting (hyperman.settings: its flag, default, help, choices and bounds); params.yaml and its schema agree with it
(tests/test_settings.py). The modules that run a stage import its config from here.
"""

from .choices import (DATASETS, DEVICES, DISTANCES, DIVERSITY_MODES, FORWARD_METHODS, FUNCTION_ESTIMATORS,
                      FUNCTION_SCALES, LAMBDA_SCHEDULES, LATENT_DISTRIBUTIONS, LAYER_PROFILES, NORMS,
                      OUTLIER_FAMILIES, PRECISIONS, PROBE_FAMILIES, STUDENT_INITS, TEACHERS, WEIGHT_ENTROPIES,
                      diversity_mode)
from .evaluate import DEFAULT_EPS, DEFAULT_SIZES, PATH_FIELDS, EvalConfig
from .stages import DEFAULT_ALPHAS, BaselineConfig, DataConfig, DistillConfig, NoiseConfig, SampleConfig
from .train import LEVERS, TrainConfig

# params.yaml section → its config (the snapshot section overlays the baseline's: hyperman.params.UNDERLAY)
SECTIONS: dict[str, type] = {"data": DataConfig, "train": TrainConfig, "baseline": BaselineConfig,
                             "snapshot": BaselineConfig, "sample": SampleConfig, "evaluate": EvalConfig,
                             "distill": DistillConfig, "noise": NoiseConfig}

__all__ = ["DATASETS", "DEFAULT_ALPHAS", "DEFAULT_EPS", "DEFAULT_SIZES", "DEVICES", "DISTANCES", "DIVERSITY_MODES",
           "FORWARD_METHODS", "FUNCTION_ESTIMATORS", "FUNCTION_SCALES", "LAMBDA_SCHEDULES", "LATENT_DISTRIBUTIONS",
           "LAYER_PROFILES", "LEVERS", "NORMS", "OUTLIER_FAMILIES", "PATH_FIELDS", "PRECISIONS", "PROBE_FAMILIES",
           "SECTIONS", "STUDENT_INITS", "TEACHERS", "WEIGHT_ENTROPIES", "BaselineConfig", "DataConfig", "DistillConfig",
           "EvalConfig", "NoiseConfig", "SampleConfig", "TrainConfig", "diversity_mode"]
