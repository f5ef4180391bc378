"""The names of what `hyperman evaluate` writes: files, CSV columns, and the metrics.json keys others read.

One definition for the evaluation (which writes them), the report (which
reads them), workflow/pipeline.py and the Snakemake rules (which declare
them as outputs). Deliberately free of torch; the one hyperman module it reads,
the baseline registry (the models' names), is torch-free too, so that the
workflow can import it cheaply.
"""

from __future__ import annotations

from . import baseline_registry

METRICS = "metrics.json"
MEMBER_ACCURACY = "member_accuracy.csv"
ENSEMBLE_CURVE = "ensemble_curve.csv"
PATHS = "paths.csv"
ADVERSARIAL = "adversarial.csv"
RELIABILITY = "reliability.csv"
OOD_SCORES = "ood_scores.csv"
MODELS = "models.csv"
COMPARISONS = "comparisons.csv"
EQUAL_COMPUTE = "equal_compute.csv"
SHIFT = "shift.csv"
SELECTIVE = "selective.csv"

# the scores of every model's mean-probability ensemble (metrics.json models.<name>.<score>, models.csv's columns
# after `model`); hyperman.evaluation.models.SCORES computes them, in this order (tested)
SCORE_COLUMNS = ("accuracy", "nll", "ece", "adaptive_ece", "brier")

# columns of every evaluation table, in the order the workflow declares them
TABLES: dict[str, list[str]] = {
    ENSEMBLE_CURVE: ["method", "size", "accuracy_mean", "accuracy_std", "nll_mean", "nll_std", "ece_mean", "ece_std"],
    PATHS: ["kind", "pair", "t", "accuracy", "nll"],
    ADVERSARIAL: ["model", "eps", "images", "correct", "flipped", "flip_rate"],
    MEMBER_ACCURACY: ["net", "accuracy", "nll"],
    RELIABILITY: ["model", "bin", "bin_lower", "bin_upper", "count", "confidence_mean", "accuracy"],
    OOD_SCORES: ["model", "split", "image", "entropy", "mutual_information"],
    MODELS: ["model", *SCORE_COLUMNS, "ood_auroc", "ood_aupr_in", "ood_aupr_out", "ood_fpr95", "train_seconds",
             "train_flops", "test_flops_per_image", "members"],
    COMPARISONS: ["model", "metric", "estimate", "low", "high", "excludes_zero"],
    EQUAL_COMPUTE: ["members", "epochs", "train_flops", "seconds", "accuracy", "nll", "ood_auroc"],  # header only
    # without epochs.pt
    SHIFT: ["family", "intensity", "model", "kind", "accuracy", "nll", "ece"],
    SELECTIVE: ["model", "score", "coverage", "risk"],  # risk–coverage curves (evaluation.selective)
}
TEXT_COLUMNS = ("method", "kind", "model", "split", "metric", "family", "excludes_zero", "score")  # the rest: numbers
OOD_ONLY = (OOD_SCORES,)  # written only when the evaluation is given --ood-data
# None when absent: the report skips their figures
REPORT_OPTIONAL = (RELIABILITY, OOD_SCORES, MODELS, COMPARISONS, EQUAL_COMPUTE, SHIFT, SELECTIVE)
# the tables the report's evidence figures read (hyperman.report.figures.evidence): those the models of the
# baseline registry contribute rows to, in TABLES' order (optional for the report, as REPORT_OPTIONAL says)
EVIDENCE_TABLES = {name: TABLES[name] for name in TABLES
                   if any(name in entry.evidence for entry in baseline_registry.BUILTIN)}
FILES = (METRICS, *TABLES)  # everything one evaluation writes (and removes before it starts)
SEEDS = "seeds.json"  # what `hyperman seeds-report` writes: the numbers, and the tables (torch-free, for the workflow)
SEEDS_TABLE = "seeds.md"
DISTILL_METRICS = "distill_metrics.json"  # what `hyperman distill` writes beside student.pt; the report reads it

HEADLINE = baseline_registry.BUILTIN[0].name  # hypernet_ensemble: compared with every other model


def __getattr__(name: str):
    """MODEL_NAMES: the models of models.csv / metrics.json `models`, in the report's order (the first is
    compared with the rest), read from the baseline registry when asked, so that a baseline registered after
    this import (a plug-in, a test's toy) is among them."""
    if name == "MODEL_NAMES":
        return baseline_registry.model_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# rows of ensemble_curve.csv
CURVE_METHODS = ("hypernet_mean_prob", "hypernet_majority_vote", "deep_ensemble_mean_prob",
                 "deep_ensemble_majority_vote", "single_net")

# metrics.json keys the report needs (dotted paths); a run without one of them is refused
REPORT_KEYS = [
    "inputs.dataset", "inputs.test_images", "hypernet.num_nets", "hypernet.members.accuracy_mean",
    "hypernet.members.accuracy_min", "hypernet.members.accuracy_max", "hypernet.members.nll_mean",
    "hypernet.ensemble.sizes", "hypernet.ensemble_gain", "hypernet.ensemble_gain_detail.ensemble_accuracy",
    "hypernet.ensemble_gain_detail.size", "deep_ensemble.size", "deep_ensemble.accuracy", "deep_ensemble.nll",
    "deep_ensemble.ece", "single_net.accuracy", "single_net.nll", "single_net.ece", "controls.gauge_check.gain",
    "controls.gauge_check.flipped_predictions", "paths", "ood", "timing", "models", "comparisons",
]
# metrics.json keys the report reads from each λ-sweep run: member accuracy, ensemble gain, disagreement
SWEEP_KEYS = ["hypernet.members.accuracy_mean", "hypernet.ensemble_gain", "diversity.hypernet.disagreement"]


def evaluation_files(folder: str, tables: list[str] | tuple[str, ...] | None = None) -> dict[str, str]:
    """{name without extension: folder/file} of metrics.json and the tables (all by default)."""
    names = (METRICS, *(TABLES if tables is None else tables))
    return {name.split(".")[0]: f"{folder}/{name}" for name in names}


def get(tree: dict, dotted: str):
    """tree["a"]["b"] for "a.b" (a metrics.json key path); KeyError naming the whole path where one is missing."""
    for key in dotted.split("."):
        if not isinstance(tree, dict) or key not in tree:
            raise KeyError(dotted)
        tree = tree[key]
    return tree
