"""The headline table and the claims that rest on intervals: the hypernetwork ensemble against every other
model, each difference with its paired-bootstrap 95 % interval (metrics.json `comparisons`).

A claim "holds" only when its interval excludes 0 in the claimed direction
AND it survives the Holm–Bonferroni correction over every claim the report
decides (their bootstrap p-values, stats.holm): with fifteen claims tested at
95 % each, one false "holds" would come in about half of the reports where no
difference is real (1 − 0.95¹⁵ ≈ 0.54). When the interval
contains 0 a claim is "not shown", when Holm keeps it "not shown after the
correction", and when it is rejected in the other direction it "does not
hold". The interval and both p-values are printed either way.
"""

from __future__ import annotations

from .. import baseline_registry, outputs, stats
from .inputs import value

# (metric, column title, scale for printing, unit, better when the hypernetwork ensemble's value is higher)
METRICS = (("accuracy", "accuracy", 100, "pp", True), ("nll", "NLL", 1, "", False), ("ece", "ECE", 1, "", False),
           ("brier", "Brier", 1, "", False), ("auroc", "AUROC", 1, "", True))
OOD_COLUMNS = (("aupr_in", "AUPR-in"), ("aupr_out", "AUPR-out"), ("fpr95", "FPR95"))
# selective prediction (metrics.json models.<name>.selective): (key, column title, scale)
SELECTIVE_COLUMNS = (("aurc", "AURC (entropy; MI)", 1), ("accuracy_at_90", "accuracy at 90 % coverage", 100),
                     ("accuracy_at_95", "at 95 % coverage", 100), ("accuracy_at_99", "at 99 % coverage", 100))
SCORE_NAMES = {"entropy": "entropy", "mutual_information": "MI"}


def model_label(name: str) -> str:
    """A model's name in the report (its registry entry's label; the name itself for a model the registry
    does not know, e.g. a sweep run's)."""
    return baseline_registry.labels().get(name, name)


def label(m: dict, name: str) -> str:
    """The model's name in the report, with its size (and for equal compute its members and epochs)."""
    entry = m["models"][name]
    return f"{model_label(name)} ({entry['members']} net{'s' if entry['members'] != 1 else ''})"


def difference(d: dict | None, scale: float = 1, unit: str = "") -> str:
    """'Δ +0.05 [−0.02, +0.12] pp' of one comparison entry (no interval: 'Δ +0.05 (no interval)')."""
    if d is None:
        return "n/a"
    unit = f" {unit}" if unit else ""
    if d.get("low") is None:
        return f"Δ {scale * d['estimate']:+.4g}{unit} (no interval)"
    return f"Δ {scale * d['estimate']:+.4g} [{scale * d['low']:+.4g}, {scale * d['high']:+.4g}]{unit}"


def _value(v, scale: float = 1) -> str:
    return "n/a" if v is None else (f"{100 * v:.2f} %" if scale == 100 else f"{v:.4f}")


def _estimate(d: dict, scale: float) -> str:
    """'99.91 % [99.85, 99.96]' (accuracy) or '0.00123 [0.00101, 0.0015]' (AURC) of one {estimate, low, high}."""
    if scale == 100:
        text = f"{100 * d['estimate']:.2f} %"
        return text if d.get("low") is None else f"{text} [{100 * d['low']:.2f}, {100 * d['high']:.2f}]"
    text = f"{d['estimate']:.3g}"
    return text if d.get("low") is None else f"{text} [{d['low']:.3g}, {d['high']:.3g}]"


def selective_cell(entry: dict, key: str, scale: float) -> str:
    """One selective-prediction cell: the value by entropy, then by MI ('MI n/a' for one net), each with its
    95 % bootstrap interval where it has one."""
    selective = entry.get("selective")
    if not selective:
        return "n/a"
    parts = []
    for score, name in SCORE_NAMES.items():
        d = (selective.get(score) or {}).get(key)
        parts.append(f"{_estimate(d, scale)} ({name})" if d else f"{name} n/a")
    return "<br>".join(parts)


def shift_accuracy(entry: dict) -> float | None:
    """Mean over the shift families of each family's mean accuracy over its intensities (clean included)."""
    means = entry.get("shift_mean")
    return sum(f["accuracy"] for f in means.values()) / len(means) if means else None


def headline_table(m: dict) -> tuple[list[str], list[list[str]]]:
    """One row per model: its values, and under each the hypernetwork ensemble minus it with the interval."""
    header = ["model", *[title for _, title, *_ in METRICS[:4]], "AUROC (OOD score)",
              *[title for _, title in OOD_COLUMNS], *[title for _, title, _ in SELECTIVE_COLUMNS],
              "shift: mean accuracy", "training TFLOP (× G's)",
              "test MFLOP per image", "training seconds"]
    rows, hyper_flops = [], m["models"].get(outputs.HEADLINE, {}).get("train_flops")
    for name in outputs.MODEL_NAMES:
        if name not in m["models"]:
            continue
        entry, comparison = m["models"][name], m["comparisons"].get(name)
        cells = [label(m, name)]
        for metric, _, scale, unit, _ in METRICS:
            v = entry["ood"]["auroc"] if metric == "auroc" and entry.get("ood") else entry.get(metric)
            cell = _value(v, scale)
            if metric == "auroc" and entry.get("ood"):
                cell += f" ({'MI' if entry['ood']['score'] == 'mutual_information' else 'entropy'})"
            if comparison is not None:
                cell += "<br>" + difference(comparison.get(metric), scale, unit)
            cells.append(cell)
        cells += [_value((entry.get("ood") or {}).get(key)) for key, _ in OOD_COLUMNS]
        cells += [selective_cell(entry, key, scale) for key, _, scale in SELECTIVE_COLUMNS]
        cells += [_value(shift_accuracy(entry), 100), tflops(entry.get("train_flops"), hyper_flops),
                  "n/a" if entry.get("test_flops_per_image") is None else f"{entry['test_flops_per_image'] / 1e6:.1f}",
                  "n/a" if entry.get("train_seconds") is None else f"{entry['train_seconds']:.1f}"]
        rows.append(cells)
    return header, rows


def tflops(flops: float | None, reference: float | None) -> str:
    """'61.99 (1.00×)': training FLOPs in TFLOP and as a multiple of the hypernetwork's."""
    if flops is None:
        return "n/a"
    return f"{flops / 1e12:.2f}" + (f" ({flops / reference:.2f}×)" if reference else "")


def verdict(d: dict | None, higher_is_better: bool, correction: dict | None = None) -> str:
    """holds / not shown / does not hold: the interval's side of 0, and (a claim being one of a family) the
    Holm–Bonferroni decision `correction` ({reject, adjusted_p}, stats.holm) over the whole family: a claim
    whose uncorrected interval excludes 0 but that Holm keeps is "not shown"."""
    if d is None or d.get("low") is None:
        return "not shown (no interval)"
    better = d["low"] > 0 if higher_is_better else d["high"] < 0
    worse = d["high"] < 0 if higher_is_better else d["low"] > 0
    if not (better or worse):
        return "not shown (the interval contains 0)"
    if correction is None:
        return "not shown (no p-value to correct for multiplicity: rerun `hyperman evaluate`)"
    if not correction["reject"]:
        return "not shown after the Holm correction (the uncorrected 95 % interval excludes 0)"
    return "holds" if better else "does not hold (the interval lies on the other side of 0)"


WORDS = {"accuracy": "is more accurate than", "nll": "has a lower NLL than",
         "auroc": "detects OOD images better (AUROC) than"}


def _candidates(m: dict) -> list[tuple[str, dict, bool, str]]:
    """(claim, interval entry, higher is better, evidence) of every claim the comparisons can decide."""
    out = []
    for name, comparison in m["comparisons"].items():
        for metric, _, scale, unit, higher in METRICS:
            if metric not in WORDS or comparison.get(metric) is None:
                continue
            d = comparison[metric]
            evidence = f"hypernetwork ensemble minus {label(m, name)}: {difference(d, scale, unit)}"
            if d.get("low") is not None:
                evidence += " (95 % paired bootstrap interval over the test images)"
            if metric == "accuracy" and comparison.get("mcnemar"):
                evidence += f"; McNemar p = {comparison['mcnemar']['p_value']:.3g}"
            out.append((f"The hypernetwork ensemble {WORDS[metric]} the {label(m, name)}.", d, higher, evidence))
    return out


def _tested(d: dict) -> bool:
    return d.get("low") is not None and d.get("p_value") is not None


def family_size(m: dict) -> int:
    """How many claims the Holm correction is taken over: those with an interval and a bootstrap p-value."""
    return sum(_tested(d) for _, d, _, _ in _candidates(m))


def interval_claims(m: dict) -> list[tuple[str, str, str]]:
    """(claim, verdict, evidence) for accuracy, NLL and OOD AUROC against every model compared, decided after
    Holm–Bonferroni over all of them (family-wise error 1 − stats.LEVEL) on their bootstrap p-values."""
    candidates = _candidates(m)
    tested = [i for i, (_, d, _, _) in enumerate(candidates) if _tested(d)]
    corrections = dict(zip(tested, stats.holm([candidates[i][1]["p_value"] for i in tested])))
    out = []
    for i, (claim, d, higher, evidence) in enumerate(candidates):
        correction = corrections.get(i)
        if correction is not None:
            evidence += (f"; bootstrap p = {d['p_value']:.3g}, Holm-adjusted over {len(tested)} claims "
                         f"p = {correction['adjusted_p']:.3g}")
        out.append((claim, verdict(d, higher, correction), evidence))
    return out


def control_statements(m: dict) -> list[str]:
    """What the controls and the paths measured, stated without a verdict (they carry no interval)."""
    out = []
    match = value(m, "equal_compute")
    if match and match.get("ratio") is not None:
        deep = match["deep_ensemble"]
        out.append(f"Equal compute in FLOPs: the deep ensemble's {deep['members']} members, each trained on its own "
                   f"full schedule, cost {deep['train_flops'] / 1e12:.2f} TFLOP of training, the hypernetwork "
                   f"{match['hypernet']['train_flops'] / 1e12:.2f} TFLOP (ratio {match['ratio']:.3f}: "
                   + ("within" if match["within_tolerance"] else "OUTSIDE") + f" ±{100 * match['tolerance']:.0f} %; "
                   "validation passes counted apart). Wall seconds are shown for reference only.")
    elif match:
        out.append(f"Equal compute in FLOPs: not measured ({match.get('note')}).")
    gauge = value(m, "controls.gauge_check")
    if gauge:
        passed = gauge["flipped_predictions"] == 0
        out.append(f"Gauge check (a test of the symmetry code, not evidence about the hypernetwork: transforms of "
                   f"one net gain 0 by construction): {'passed' if passed else 'FAILED'}, gain "
                   f"{100 * gauge['gain']:+.2f} pp, {gauge['flipped_predictions']} of {gauge['images']} predictions "
                   "flipped.")
    for name, what in (("hypernet", "sampled nets (aligned to sampled net 0)"),
                       ("hypernet_equal_size", "sampled nets (aligned to sampled net 0; as many as the baselines)"),
                       ("baselines", "baselines (aligned to baseline 0)")):
        a = value(m, f"controls.alignment.{name}")
        if a and a.get("residual_fraction") is not None:
            out.append(f"Alignment control, {a['nets']} {what}: after weight matching "
                       f"{100 * a['residual_fraction']:.1f} % of the L1 distance remains (mean "
                       f"{a['distance_before_mean']:.4g} → {a['distance_after_mean']:.4g}); they disagree with the reference on "
                       f"{100 * a['disagreement_mean']:.2f} % of the test images.")
    r = value(m, "controls.random_direction.hypernet")
    if r:
        out.append(f"Random-direction control ({r['nets']} sampled nets, {r['images']} images): the step to the "
                   f"nearest sampled neighbour changes {100 * r['neighbour_changed_mean']:.2f} % of the predictions, "
                   f"random steps of the same per-layer size {100 * r['random_changed_mean']:.2f} %.")
    return out + _path_statement(m)


def _path_statement(m: dict) -> list[str]:
    p = m["paths"]
    if value(p, "latent.worst_accuracy") is None:
        return []
    text = (f"Paths (first {p.get('images', '?')} test images): worst accuracy along latent paths "
            f"{100 * p['latent']['worst_accuracy']:.2f} %, along direct paths between the same sampled nets "
            f"{100 * p['direct']['worst_accuracy']:.2f} % (mean drop from the ends "
            f"{100 * p['latent']['mean_accuracy_drop']:.2f} pp vs {100 * p['direct']['mean_accuracy_drop']:.2f} pp)")
    if p.get("direct_aligned"):
        text += (f"; between two independent baselines {100 * p['baseline_direct']['worst_accuracy']:.2f} % unaligned "
                 f"and {100 * p['direct_aligned']['worst_accuracy']:.2f} % after weight matching")
    return [text + "."]
