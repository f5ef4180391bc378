"""The report's OOD section: every model × every OOD set of the registry × {MI, entropy}, AUROC / AUPR-out /
FPR95 with their bootstrap intervals (metrics.json `ood.sets`), and which probes each hypernetwork was trained
with. A set that equals a hypernetwork's training probe family is said so above the table and its hypernetwork
cells are marked "trained toward": a detector scored on what it was trained to flag measures no generalisation.
"""

from __future__ import annotations

from ..evaluation.ood_sets import title
from .evidence import model_label
from .inputs import value

SCORES = (("mutual_information", "MI"), ("entropy", "entropy"))
METRICS = (("auroc", "AUROC"), ("aupr_out", "AUPR-out"), ("fpr95", "FPR95"))
TOWARD = "trained toward"


def cell(entry: dict | None) -> str:
    """'0.912 [0.901, 0.925]' of one metric (no interval: the estimate alone; absent: –)."""
    if entry is None:
        return "–"
    if entry.get("low") is None:
        return f"{entry['estimate']:.3f}"
    return f"{entry['estimate']:.3f} [{entry['low']:.3f}, {entry['high']:.3f}]"


def outliers_text(used: dict | None) -> str:
    """'; outlier probes `lines`, `grid` (8 per step, weight 2)' from the checkpoint's probes
    (report.inputs.training_probes); empty without outlier probes or when the checkpoint was not read."""
    outlier = (used or {}).get("outlier")
    if not outlier:
        return ""
    warmup = f", warm-up {used['warmup_steps']} steps" if used.get("warmup_steps") else ""
    return (f"; outlier probes {', '.join(f'`{f}`' for f in outlier['families'])} ({outlier['probes']} per step, "
            f"weight {outlier['weight']:g}{warmup})")


def probes_line(m: dict, who: str, used: dict | None = None) -> str:
    """What one hypernetwork's function-space terms were trained on: metrics.json `ood.trained_with` (the
    data-like family) and, when its checkpoint could be read (`used`), the outlier families."""
    trained = value(m, "ood.trained_with")
    if trained is None:
        return f"{who}: not recorded (an evaluation older than the OOD registry: rerun `hyperman evaluate`)"
    if not trained["function_term"] and not (used or {}).get("outlier"):
        return f"{who}: no probes (diversity `{trained['diversity']}` has no function-space term)"
    toward = [title(n) for n, e in (value(m, "ood.sets") or {}).items() if e["trained_toward"]]
    data = f"probe family `{trained['probe_family']}`" if trained["function_term"] else "no data-like probes"
    return (f"{who}: {data}" + (f" ({TOWARD} the OOD set {', '.join(toward)})" if toward else "")
            + outliers_text(used))


def table(m: dict) -> tuple[list[str], list[list[str]]]:
    """(header, rows): one row per (set, model); MI is '–' for a single net (its MI is 0 everywhere)."""
    header = ["OOD set", "model", *[f"{short} {metric}" for _, short in SCORES for _, metric in METRICS]]
    rows = []
    other = value(m, "ood.out_of_distribution")
    for name, entry in m["ood"]["sets"].items():
        for model, result in entry["models"].items():
            toward = f" ({TOWARD})" if result.get("trained_toward") else ""
            rows.append([title(name, other) + f" ({entry['images']})", model_label(model) + toward,
                         *[cell((result.get(score) or {}).get(metric)) for score, _ in SCORES for metric, _ in METRICS]])
    return header, rows


def section(inputs: dict, render) -> list[str]:
    """The report's OOD section (markdown lines); `render(header, rows)` draws a table."""
    m = inputs["metrics"]
    sets = value(m, "ood.sets")
    if not sets:
        return ["## Out-of-distribution detection", "", "No OOD sets in this evaluation (older metrics.json): rerun "
                "`hyperman evaluate`.", ""]
    probes = [probes_line(m, "this hypernetwork", inputs.get("probes"))]
    probes += [probes_line(run["metrics"], f"sweep run `{run['folder']}`", run.get("probes"))
               for run in inputs.get("sweep") or []]
    toward = [title(n, value(m, "ood.out_of_distribution")) for n, e in sets.items() if e["trained_toward"]]
    lines = ["## Out-of-distribution detection", "",
             f"Every model on {len(sets)} OOD sets against the {value(m, 'ood.id_images')} in-distribution test "
             f"images. Positive class: {m['ood']['positive_class']}. Scores: {m['ood']['scores']}. Intervals: "
             f"{m['ood']['interval']}. Higher AUROC and AUPR-out, lower FPR95 are better. The sets: "
             + "; ".join(f"{title(n, value(m, 'ood.out_of_distribution'))}: {e['description']}"
                         for n, e in sets.items()) + ".", "",
             "Probes of each hypernetwork's function-space term: " + "; ".join(probes) + ".", ""]
    if toward:
        lines += [f"**Trained toward:** this hypernetwork's probes are drawn like {', '.join(toward)}, so its cells "
                  f"on {'that set' if len(toward) == 1 else 'those sets'} are marked *{TOWARD}*: they measure what "
                  "its training pushed toward, not detection of the unseen.", ""]
    else:
        lines += ["No OOD set equals the probe family this hypernetwork was trained with.", ""]
    return lines + [render(*table(m)), ""]
