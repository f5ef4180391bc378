"""Figures and report.md from what `evaluate`, `distill` and a λ sweep wrote.

Nothing here computes a metric from a network except the filter pictures
(which regenerate θ = G(z) from the samples file): every number comes from
metrics.json, the evaluate CSV tables, distill_metrics.json and the sweep
runs' metrics.json (their names: hyperman.outputs), and every claim in
report.md is decided from those numbers when the report is built.

The output folder is built in a temporary sibling and renamed into place at
the end, so a failed report leaves no half-written folder (and an older
report stays as it was).

Modules: `inputs` (reading and checking), `claims` (the models compared, the
headline and the claims), `figures` (one module per kind of input),
`markdown` (assembly and the atomic write). Import the public names from here.
"""

from .claims import claims, headline, model_rows, num, pct, pp, secs
from .figures import (COLORS, FIGURES, SKIP_REASONS, fig_adversarial, fig_distill, fig_ensemble_accuracy,
                      fig_ensemble_nll_ece, fig_equal_compute, fig_filter_montage, fig_filter_pca, fig_frontier,
                      fig_lambda, fig_member_histogram, fig_models_comparison, fig_ood, fig_paths, fig_reliability,
                      fig_selective, fig_shift)
from .inputs import (DISTILL_KEYS, EVAL_TABLES, OPTIONAL_TABLES, REQUIRED_KEYS, SWEEP_KEYS, ReportConfig, ReportError,
                     get, label_from_checkpoint, load_inputs, parse_label, read_csv)
from .markdown import build_report, markdown

__all__ = ["COLORS", "DISTILL_KEYS", "EVAL_TABLES", "FIGURES", "OPTIONAL_TABLES", "REQUIRED_KEYS", "SKIP_REASONS",
           "SWEEP_KEYS", "ReportConfig", "ReportError", "build_report", "claims", "fig_adversarial", "fig_distill",
           "fig_ensemble_accuracy", "fig_ensemble_nll_ece", "fig_equal_compute", "fig_filter_montage",
           "fig_filter_pca", "fig_frontier", "fig_lambda", "fig_member_histogram", "fig_models_comparison", "fig_ood",
           "fig_paths", "fig_reliability", "fig_selective", "fig_shift", "get", "headline",
           "label_from_checkpoint", "load_inputs", "markdown", "model_rows", "num", "parse_label", "pct", "pp",
           "read_csv", "secs"]
