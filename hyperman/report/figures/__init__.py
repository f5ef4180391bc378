"""Every figure of the report, with when it can be drawn and what its caption says.

One module per kind of input: `evaluation` (one evaluate folder), `evidence`
(its issue-12 tables: equal compute, shift, comparisons), `filters`
(regenerated nets), `comparisons` (sweep runs, distillation), `frontier` (sweep
runs against the baselines); `style` holds what they share."""

from __future__ import annotations

from ... import outputs
from .comparisons import fig_distill, fig_lambda
from .evidence import fig_equal_compute, fig_models_comparison, fig_shift
from .evaluation import (fig_adversarial, fig_ensemble_accuracy, fig_ensemble_nll_ece, fig_member_histogram, fig_ood,
                         fig_paths, fig_reliability)
from .filters import fig_filter_montage, fig_filter_pca, gauge_filters
from .frontier import fig_frontier
from .selective import fig_selective
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
     "line between two independently trained baselines before (dashed) and after (dotted) aligning their units by "
     "weight matching: a dip in the middle is a loss barrier, and one that shrinks after alignment was partly a "
     "permutation mismatch."),
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
    ("selective", fig_selective, True, "selective", "Selective prediction: risk against coverage",
     "Error rate of the test images a model answers (selective risk) when it abstains on the ones its "
     "uncertainty ranks worst, against the share it answers (coverage), for the hypernetwork ensemble, the deep "
     "ensemble at equal training FLOPs and the single net; left ranked by predictive entropy, right by mutual "
     "information (none for the single net: one net's MI is 0 everywhere). At 100 % coverage every curve ends at "
     "the model's error rate; a curve that falls faster to the left ranks its own mistakes as more uncertain. "
     "The legend gives each curve's area (AURC, the mean risk over all coverages; lower is better) with its 95 % "
     "bootstrap interval over test images; tied scores are taken in every order (the expected curve). Dotted: "
     "the 90, 95 and 99 % coverages of the headline table."),
    ("adversarial", fig_adversarial, True, None, "FGSM flip rates",
     "Share of correctly classified test images whose prediction an FGSM step of size ε flips, for one net and "
     "for the votes of the hypernet and deep ensembles: a lower curve is more robust."),
    ("equal_compute", fig_equal_compute, True, "equal_compute", "The deep ensemble at equal training FLOPs",
     "Test accuracy, NLL and OOD AUROC (mutual information) of deep ensembles of the first k members (one line "
     "per k, darker = more members) after e epochs each (points; some are marked e=… on the largest ensemble's "
     "line), against their summed training FLOPs (log x; hyperman.compute), from the per-epoch checkpoints; the "
     "star is the hypernetwork ensemble at its own training FLOPs (dotted line). Points before the last epoch "
     "are read off one schedule mid-way (learning rate not yet decayed), so they understate what a net trained "
     "for that many epochs reaches; the last epoch is each member's full schedule. No intervals: whether a gap "
     "is more than noise is for the comparison intervals to say."),
    ("shift", fig_shift, True, "shift", "Accuracy and calibration under distribution shift",
     "Accuracy, NLL and ECE (columns) against the intensity of each shift (rows: rotation, translation, Gaussian "
     "noise; intensity 0 is the clean test set) for every model's mean-probability ensemble (solid) and the "
     "hypernetwork's mean member (dashed), on the subset of test images the benchmark used: a flatter curve "
     "degrades more gracefully, and an NLL/ECE that grows slower than the error means the model knows it is "
     "unsure. These are synthetic shifts of the test images (after Ovadia et al. 2019), not natural ones, "
     "and one image subset without intervals: small gaps between lines are not evidence."),
    ("models_comparison", fig_models_comparison, True, "comparisons", "Paired differences with intervals",
     "Forest plot of the hypernetwork ensemble minus each model (rows) on accuracy (pp), NLL, ECE, Brier score "
     "and OOD AUROC (panels): the point is the difference on the test set, the bar its paired-bootstrap 95 % "
     "interval over test images, the vertical line 0; a filled marker means the interval excludes 0, i.e. the "
     "difference is resolved, a hollow one that it is not. Each panel's title says which sign favours the "
     "hypernetwork. The intervals cover the resampling of test images, not the randomness of training (one "
     "seed), so they understate the full uncertainty."),
    ("lambda_tradeoff", fig_lambda, True, "sweep", "The λ trade-off",
     "Mean member accuracy, ensemble gain and prediction disagreement against λ (log x; mean ± std over seeds), "
     "with the no-diversity run (λ = ∞) at the right end, one line per weight β of the function-space entropy "
     "where the sweep varies it: smaller λ weights diversity more, which should raise disagreement and gain at "
     "some cost in member accuracy."),
    ("frontier", fig_frontier, True, "sweep", "The accuracy–diversity frontier",
     "Mean member accuracy (x) against the members' pairwise disagreement, the ensemble's NLL and its OOD AUROC "
     "by mutual information (panels), one circle per sweep run labelled with its λ (and β, the weight of the "
     "function-space entropy, coloured by β), the hollow star the main run's hypernetwork, and the main run's "
     "baselines as their own markers (a dashed line where only their level is known, not their members' "
     "accuracy; a single net's OOD score is its predictive entropy); a red ring marks the setting the report "
     "chooses by validation ensemble NLL (its section \"Which setting is best for the ensemble\"). Right is "
     "more accurate members; up is more diverse members (disagreement: a means, not a goal), better OOD "
     "detection (AUROC), worse NLL: the runs nearest the best corner of each panel form the frontier, and where the baselines sit against it is the "
     "comparison. "
     "One point per run and seed, no intervals; the sweep runs may use fewer test images or nets than the main "
     "run, so compare positions, not third decimals."),
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
    "equal_compute": f"the --evaluate folder has no (or an empty) {outputs.EQUAL_COMPUTE} (written by `hyperman "
                     "evaluate` when its baselines hold per-epoch checkpoints, epochs.pt)",
    "shift": f"the --evaluate folder has no (or an empty) {outputs.SHIFT} (rerun `hyperman evaluate` with this "
             "version)",
    "comparisons": f"the --evaluate folder has no (or an empty) {outputs.COMPARISONS} (rerun `hyperman evaluate` "
                   "with this version)",
    "selective": f"the --evaluate folder has no (or an empty) {outputs.SELECTIVE} (rerun `hyperman evaluate` "
                 "with this version)",
}
EVIDENCE_NEEDS = {"equal_compute": outputs.EQUAL_COMPUTE, "shift": outputs.SHIFT,
                  "comparisons": outputs.COMPARISONS, "selective": outputs.SELECTIVE}  # need → the table it needs


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
    if need in EVIDENCE_NEEDS:
        return bool(inputs["tables"].get(EVIDENCE_NEEDS[need]))
    raise ValueError(need)

