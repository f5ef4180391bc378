"""report.md: the tables, the claims and the figures, assembled; the report folder written atomically."""

from __future__ import annotations

import math
from pathlib import Path

from .. import metrics, stats
from ..files import replace_dir_atomically
from .choice import choice_section, settle
from .claims import claims, headline
from .evidence import control_statements, family_size, headline_table
from .figures import FIGURES, SKIP_REASONS, available, gauge_filters, plt_agg, save
from .ood import section as ood_section
from .inputs import ReportConfig, ReportError, load_inputs, value


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _p_floor(m: dict) -> str:
    """A warning when the resamples are too few for any claim to survive Holm: a bootstrap p-value is at least
    2 / (B + 1) (stats.bootstrap_p_value), and the smallest one must reach (1 − level) / claims."""
    resamples, family = value(m, "comparisons_notes.resamples"), family_size(m)
    if not resamples or not family or 2 / (resamples + 1) <= (1 - stats.LEVEL) / family:
        return ""
    return (f" **With {resamples} bootstrap resamples no p-value can fall below {2 / (resamples + 1):.3g}, above "
            f"the {(1 - stats.LEVEL) / family:.3g} that the first of {family} claims needs: no claim can hold; "
            f"rerun `hyperman evaluate` with --bootstrap-resamples ≥ {math.ceil(2 * family / (1 - stats.LEVEL))}.**")


def markdown(cfg: ReportConfig, inputs: dict, written: list[tuple], skipped: list[tuple]) -> str:
    m = inputs["metrics"]
    parts = [f"# hyperman report: {m['inputs'].get('target', '?')} on {m['inputs']['dataset']}", "",
             f"Inputs: evaluation `{cfg.evaluate}` ({m['hypernet']['num_nets']} sampled nets, "
             f"{m['inputs']['test_images']} test images)"
             + (f", distillation `{cfg.distill}`" if cfg.distill else "")
             + (f", {len(inputs['sweep'])} sweep runs" if inputs["sweep"] else "") + ". Accuracies are test-set "
             "percentages, gains in percentage points (pp), NLL in nats per image, "
             f"ECE with {metrics.ECE_BINS} bins.", "",
             "## Headline table", "",
             "Every model on the same test images. Under each value of another model: Δ = hypernetwork ensemble "
             "minus that model, with its paired-bootstrap 95 % interval over the test images "
             f"({m['comparisons_notes']['resamples']} resamples; accuracy in percentage points). OOD: "
             f"{m['models_notes']['ood']}. Shift: mean accuracy over the shift families and their intensities "
             "(clean included) on the first "
             f"{value(m, 'shift.images')} test images; every ensemble there uses its first "
             f"{value(m, 'shift.hypernet_nets')} members. Selective prediction: AURC (area under the risk–coverage "
             "curve: mean error rate of the images kept as the model abstains on its most uncertain ones; lower "
             "is better) and the accuracy on the 90, 95 and 99 % of the test images it is most sure of, ranked by "
             "predictive entropy and by mutual information (MI n/a for one net), each with its 95 % bootstrap "
             "interval over the test images (the members' row: means over nets, no interval). Training seconds: "
             "measured wall time; the noise ensemble's is its single net's.", "",
             _table(*headline_table(m)), "",
             "## Other numbers", "",
             _table(["quantity", "value", "source"], [[q, v, f"`{s}`"] for q, v, s in headline(inputs)]), "",
             ]
    if "skipped" in m["ood"]:
        parts += [f"OOD: {m['ood']['skipped']}.", ""]
    parts += ood_section(inputs, _table)
    parts += ["## Claims", "", "Each verdict is computed when the report is built, corrected for multiplicity with "
              f"Holm–Bonferroni over all {family_size(m)} claims below that have an interval (family-wise error "
              f"{100 * (1 - stats.LEVEL):g} %, on each claim's two-sided paired-bootstrap p-value): a claim holds "
              "only when its 95 % interval excludes 0 in the claimed direction and Holm rejects \"no difference\"; "
              "otherwise it is not shown (interval contains 0, or the correction keeps it) or does not hold "
              "(rejected, on the other side of 0)." + _p_floor(m), ""]
    parts += [f"- **{claim}** — *{verdict}*: {evidence}" for claim, verdict, evidence in claims(inputs)]
    parts += ["", "## Controls and paths (measurements, no verdict)", ""]
    parts += [f"- {statement}" for statement in control_statements(m)]
    if inputs["sweep"]:
        parts += choice_section(inputs, _table)
    parts += ["", "## Figures", ""]
    for k, (stem, title, caption, files) in enumerate(written, 1):
        extra = f" (vector: [{files[1]}]({files[1]}))" if len(files) > 1 else ""
        parts += [f"### Figure {k}: {title}", "", f"![{title}]({files[0]})", "",
                  f"`{files[0]}`{extra}. {caption}", ""]
    if skipped:
        parts += ["## Figures not drawn", ""]
        parts += [f"- `{stem}.png` ({title}): {reason}." for stem, title, reason in skipped]
        parts.append("")
    return "\n".join(parts)


def build_report(cfg: ReportConfig, log=print) -> dict:
    """Check the inputs, draw every figure whose inputs exist, write OUT/report.md; returns what was written."""
    inputs = load_inputs(cfg)
    inputs["cfg"] = cfg
    inputs["chosen"] = settle(inputs)[1] if inputs["sweep"] else None
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise ReportError(f"--out {out} exists and is not a folder")
    filters = None
    if available("filters", inputs):
        filters = gauge_filters(cfg)
    written, skipped = [], []

    def build(tmp: Path) -> None:
        plt = plt_agg()
        for stem, function, svg, need, title, caption in FIGURES:
            if not available(need, inputs):
                skipped.append((stem, title, SKIP_REASONS[need]))
                continue
            fig = function(plt, inputs, filters) if need == "filters" else function(plt, inputs)
            written.append((stem, title, caption, save(fig, tmp, stem, svg)))
            log(f"figure {stem}")
        (tmp / "report.md").write_text(markdown(cfg, inputs, written, skipped))

    replace_dir_atomically(out, build, "report")
    return {"figures": [f for *_, files in written for f in files], "skipped": [s for s, *_ in skipped],
            "report": str(out / "report.md")}
