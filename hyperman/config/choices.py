"""The named choices of the settings (devices, distances, norms, ...): torch-free, so that a config can be built,
checked and turned into flags (the workflow, check-params) without loading torch.

The modules that act on a choice import its list from here (`hyperman.device` the devices, `hyperman.entropy` the
distances, `hyperman.probes` the probe families, ...), so every list is written once.
"""

from __future__ import annotations

from .. import datasets

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
FORWARD_METHODS = ("auto", "grouped", "loop", "channels_last")  # the batched target forward (hyperman.targets)

NORMS = ("batch", "layer", "none")  # G's hidden layers (hyperman.hypernetwork)
LATENT_DISTRIBUTIONS = ("uniform", "normal")
LAMBDA_SCHEDULES = ("constant", "linear", "exponential")

DISTANCES = ("l1", "l2")  # of the nearest-neighbour entropy estimator (hyperman.entropy)
DIVERSITY_MODES = ("weights", "function", "both", "none")
WEIGHT_ENTROPIES = ("joint", "per_layer")
FUNCTION_ESTIMATORS = ("kl", "kernel")  # nearest-neighbour (Kozachenko–Leonenko) or RBF kernel density
FUNCTION_SCALES = ("dimension", "unit")  # Ĥ_function's weight: β·d (d grows with the probes) or β alone
LAYER_PROFILES = ("flat", "rising")  # named per-layer weights of Ĥ_weights (or one number per layer)
# hyperman.probes' registry, by kind (it checks at import that its families are exactly these)
PROBE_FAMILIES = ("mixup", "augment")  # the data-like probes of Ĥ_function
OUTLIER_FAMILIES = ("erased", "affine", "elastic", "flipped", "lines", "grid", "smooth")  # label-destroying ones

TEACHERS = ("fixed", "fresh")  # distillation's teacher ensemble
STUDENT_INITS = ("member", "random")

DATASETS = datasets.DATASETS  # the registered datasets (hyperman.datasets, torch-free: the one list of names)


def diversity_mode(value: str | bool) -> str:
    """A `diversity` setting as one of DIVERSITY_MODES; the old booleans map true → weights, false → none."""
    if isinstance(value, bool):
        return "weights" if value else "none"
    text = str(value).lower()
    legacy = {"true": "weights", "yes": "weights", "1": "weights", "false": "none", "no": "none", "0": "none"}
    text = legacy.get(text, text)
    if text not in DIVERSITY_MODES:
        raise ValueError(f"unknown diversity {value!r}; use one of {', '.join(DIVERSITY_MODES)}")
    return text
