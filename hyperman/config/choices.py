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
DIVERSITY_TERMS = ("weights", "function")  # the built-in terms `diversity` lists (hyperman.diversity_terms)
DIVERSITY_MODES = (*DIVERSITY_TERMS, "both", "none")  # what `diversity` takes: terms, or the old modes
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


def diversity_label(value: str | bool | list | tuple | None) -> str:
    """`diversity` in words: the old mode's name where the terms are one (both, weights, function, none), else
    the names joined by "+" (metrics.json and the report keep the names they had before the registry)."""
    names = diversity_terms(value)
    modes = {(): "none", ("weights",): "weights", ("function",): "function", ("weights", "function"): "both"}
    return modes.get(tuple(names), "+".join(names))


def diversity_terms(value: str | bool | list | tuple | None) -> list[str]:
    """`diversity` as the list of its terms' names: a list as given (each item may be an old mode), the old
    modes both → [weights, function], none → [], weights / function → [that one], the old booleans true →
    [weights], false → []. Names are not checked here (a term may be registered at run time:
    hyperman.diversity_terms); a name given twice counts once."""
    items = value if isinstance(value, (list, tuple)) else [value]
    names: list[str] = []
    for item in items:
        if isinstance(item, bool):
            item = "weights" if item else "none"
        text = str(item).lower()
        text = {"true": "weights", "yes": "weights", "1": "weights", "false": "none", "no": "none",
                "0": "none"}.get(text, text)
        for name in {"both": ["weights", "function"], "none": []}.get(text, [text]):
            if name not in names:
                names.append(name)
    return names
