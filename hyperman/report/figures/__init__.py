"""Every figure of the report, with when it can be drawn and what its caption says.

One module per kind of input: `evaluation` (one evaluate folder), `filters`
(regenerated nets), `comparisons` (sweep runs, distillation); `style` holds
what they share."""

from __future__ import annotations

from ... import outputs
from .comparisons import fig_distill, fig_lambda
from .evaluation import (fig_adversarial, fig_ensemble_accuracy, fig_ensemble_nll_ece, fig_member_histogram, fig_ood,
                         fig_paths, fig_reliability)
from .filters import fig_filter_montage, fig_filter_pca, gauge_filters
from .style import COLORS, plt_agg, save

FIGURES = [
    # stem, function, svg, needs, title, caption
    ("ensemble_accuracy", fig_ensemble_accuracy, True, None, "Ensemble accuracy vs size",
     "Test accuracy of mean-probability and majority-vote ensembles of growing size (log x; error bars: std over "
     "the random member draws) for the hypernetwork's samples and the deep ensemble, with the single net and the "
     "mean hypernet member as horizontal lines: the gap between a curve and the dotted member line is the "
     "ensemble gain."),
    ("ensemble_nll_ece", fig_ensemble_nll_ece, True, None, "NLL and ECE vs ensemble size",
     "Negative log-likelihood (left, nats per image) and expected calibration error (right, 15 bins) of the "
     "mean-probability ensembles against ensemble size (log x; error bars over draws), single net dashed: lower "
     "is better in both panels."),
    ("member_accuracy_hist", fig_member_histogram, False, None, "Accuracy of the sampled nets",
     "Histogram of the test accuracy of every sampled net, with vertical lines at the member mean, the single "
     "net, the hypernet ensemble and the deep ensemble: an ensemble line right of the whole histogram means the "
     "ensemble beats every member."),
    ("paths", fig_paths, True, None, "Accuracy along latent and direct paths",
     "Test accuracy at 0 ≤ t ≤ 1 along the latent path G((1−t)z₁ + t z₂) (blue) and the straight line between the "
     "two gauge-fixed nets (orange), thin lines per random pair and thick lines their mean, plus the straight "
     "line between two independently trained baselines (dashed): a dip in the middle is a loss barrier."),
    ("filter_pca", fig_filter_pca, False, "filters", "PCA of one conv1 and one conv2 filter",
     "Each dot is one sampled net's (gauge-fixed) filter projected on the first two principal components of all "
     "of them, coloured by that net's test accuracy; a spread-out cloud means the hypernetwork draws genuinely "
     "different filters, not one filter up to scale."),
    ("filter_montage", fig_filter_montage, False, "filters", "One conv1 filter across sampled nets",
     "The same conv1 filter (gauge-fixed weights, red positive, blue negative, one shared colour scale) in 25 "
     "sampled nets: similar pictures mean low diversity in this filter, varied pictures high diversity."),
    ("reliability", fig_reliability, True, "reliability", "Reliability diagram",
     "Top: accuracy against mean confidence in each of the 15 confidence bins for the hypernet ensemble, the "
     "single net and the deep ensemble (on the dotted diagonal = perfectly calibrated; below it = over-confident); "
     "bottom: share of the test images in each bin (log scale)."),
    ("ood", fig_ood, True, "ood", "Out-of-distribution detection",
     "Left: predictive entropy of the hypernet ensemble on in-distribution vs out-of-distribution test images "
     "(log density; well separated = easy to detect); right: ROC curves for entropy (solid) and mutual "
     "information (dashed) of each model, the area under a curve being its AUROC (1 = perfect, 0.5 = chance)."),
    ("adversarial", fig_adversarial, True, None, "FGSM flip rates",
     "Share of correctly classified test images whose prediction an FGSM step of size ε flips, for one net and "
     "for the votes of the hypernet and deep ensembles: a lower curve is more robust."),
    ("lambda_tradeoff", fig_lambda, True, "sweep", "The λ trade-off",
     "Mean member accuracy, ensemble gain and prediction disagreement against λ (log x; mean ± std over seeds), "
     "with the no-diversity run (λ = ∞) at the right end: smaller λ weights diversity more, which should raise "
     "disagreement and gain at some cost in member accuracy."),
    ("distill_comparison", fig_distill, False, "distill", "The distilled student against the others",
     "Test accuracy (left) and NLL (right) of the single net, the mean hypernet member, the hypernet ensemble, "
     "the deep ensemble, the distilled student (hatched) and its teacher: the student should sit near the "
     "ensembles, above the single net."),
]
SKIP_REASONS = {
    "filters": "no --checkpoint and --samples given",
    "reliability": "the --evaluate folder has no reliability.csv (rerun `hyperman evaluate` with this version)",
    "ood": "no OOD evaluation in --evaluate (no --ood-data, or no ood_scores.csv: rerun `hyperman evaluate`)",
    "sweep": "no --sweep runs given",
    "distill": "no --distill given",
}


def available(need: str | None, inputs: dict) -> bool:
    """Whether the inputs a figure needs (FIGURES' `needs`) were given; if not, SKIP_REASONS says why."""
    if need is None:
        return True
    if need == "filters":
        return inputs["cfg"].checkpoint is not None
    if need == "reliability":
        return inputs["tables"][outputs.RELIABILITY] is not None
    if need == "ood":
        return inputs["tables"][outputs.OOD_SCORES] is not None and "hypernet" in inputs["metrics"]["ood"]
    if need == "sweep":
        return bool(inputs["sweep"])
    if need == "distill":
        return inputs["distill"] is not None
    raise ValueError(need)

