"""The numbers the report states: the models compared, the headline table and the claims, each decided
from metrics.json and distill_metrics.json when the report is built."""

from __future__ import annotations

from .evidence import interval_claims
from .inputs import curve, value


def model_rows(inputs: dict) -> list[dict]:
    """Accuracy / NLL / ECE / OOD AUROC of every model the report compares (None where not measured)."""
    m, d = inputs["metrics"], inputs["distill"]
    hyper = curve(inputs["tables"], "hypernet_mean_prob")
    size, draws = int(hyper["size"][-1]), m["hypernet"]["ensemble"].get("draws", [1] * len(hyper["size"]))[-1]
    members = m["hypernet"]["members"]
    rows = [
        {"key": "single", "name": "single net (baseline 1)", "accuracy": m["single_net"]["accuracy"],
         "nll": m["single_net"]["nll"], "ece": m["single_net"]["ece"],
         "auroc_entropy": value(m, "ood.single_net.auroc_entropy"), "auroc_mi": None},
        {"key": "member", "name": "hypernet member (mean)", "accuracy": members["accuracy_mean"],
         "nll": members["nll_mean"], "ece": None, "auroc_entropy": None, "auroc_mi": None},
        {"key": "hyper", "name": f"hypernet ensemble ({size} nets{', mean of %d draws' % draws if draws > 1 else ''})",
         "accuracy": float(hyper["accuracy_mean"][-1]), "nll": float(hyper["nll_mean"][-1]),
         "ece": float(hyper["ece_mean"][-1]), "auroc_entropy": None, "auroc_mi": None},
        {"key": "deep", "name": f"deep ensemble ({m['deep_ensemble']['size']} nets)",
         "accuracy": m["deep_ensemble"]["accuracy"], "nll": m["deep_ensemble"]["nll"],
         "ece": m["deep_ensemble"]["ece"], "auroc_entropy": value(m, "ood.deep_ensemble.auroc_entropy"),
         "auroc_mi": value(m, "ood.deep_ensemble.auroc_mi")},
    ]
    if "hypernet" in m["ood"]:
        rows.insert(3, {"key": "hyper_ood", "name": f"hypernet ensemble ({m['ood']['hypernet']['members']} nets, OOD)",
                        "accuracy": m["hypernet"]["ensemble_gain_detail"]["ensemble_accuracy"]
                        if m["ood"]["hypernet"]["members"] == m["hypernet"]["ensemble_gain_detail"]["size"] else None,
                        "nll": None, "ece": None, "auroc_entropy": m["ood"]["hypernet"]["auroc_entropy"],
                        "auroc_mi": m["ood"]["hypernet"]["auroc_mi"]})
    if d is not None:
        rows.append({"key": "student", "name": "distilled student", **{k: d["distilled"][k] for k in
                     ("accuracy", "nll", "ece")}, "auroc_entropy": d["distilled"].get("ood_auroc_entropy"),
                     "auroc_mi": None})
        rows.append({"key": "teacher", "name": f"distillation teacher ({d['teacher']['nets']} nets, "
                     f"{d['teacher']['mode']})", **{k: d["teacher"][k] for k in ("accuracy", "nll", "ece")},
                     "auroc_entropy": d["teacher"].get("ood_auroc_entropy"), "auroc_mi": None})
    return rows


def pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.2f} %"


def pp(v) -> str:
    return "n/a" if v is None else f"{100 * v:+.2f} pp"


def num(v, digits: int = 4) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def secs(v) -> str:
    return "n/a" if v is None else f"{v:.1f} s"


def headline(inputs: dict) -> list[tuple[str, str, str]]:
    """(quantity, value, where it comes from) rows of the headline table."""
    m, d = inputs["metrics"], inputs["distill"]
    mem, gain = m["hypernet"]["members"], m["hypernet"]["ensemble_gain_detail"]
    sym, paths, timing = m["controls"]["gauge_check"], m["paths"], m["timing"]
    rows = [
        ("hypernet members: mean accuracy", pct(mem["accuracy_mean"]), "hypernet.members.accuracy_mean"),
        ("hypernet members: min accuracy", pct(mem["accuracy_min"]), "hypernet.members.accuracy_min"),
        ("hypernet members: max accuracy", pct(mem["accuracy_max"]), "hypernet.members.accuracy_max"),
        (f"hypernet ensemble of the first {gain['size']} nets: accuracy", pct(gain["ensemble_accuracy"]),
         "hypernet.ensemble_gain_detail.ensemble_accuracy"),
        (f"hypernet ensemble gain over its {gain['size']} members' mean", pp(m["hypernet"]["ensemble_gain"]),
         "hypernet.ensemble_gain"),
        (f"gauge check, a test of the code ({sym.get('copies', '?')} transforms of one net; "
         f"{sym['flipped_predictions']} flipped predictions)", pp(sym["gain"]), "controls.gauge_check.gain"),
        (f"deep ensemble ({m['deep_ensemble']['size']} nets): accuracy", pct(m["deep_ensemble"]["accuracy"]),
         "deep_ensemble.accuracy"),
        ("single net: accuracy", pct(m["single_net"]["accuracy"]), "single_net.accuracy"),
        ("worst accuracy on a latent path", pct(value(paths, "latent.worst_accuracy")),
         "paths.latent.worst_accuracy"),
        ("worst accuracy on a direct path", pct(value(paths, "direct.worst_accuracy")),
         "paths.direct.worst_accuracy"),
        ("worst accuracy on the direct path between two baselines (units not aligned)",
         pct(value(paths, "baseline_direct.worst_accuracy")), "paths.baseline_direct.worst_accuracy"),
        ("worst accuracy on the direct path between two baselines aligned by weight matching",
         pct(value(paths, "direct_aligned.worst_accuracy")), "paths.direct_aligned.worst_accuracy"),
        ("mean accuracy drop along a latent path (ends − worst)", pp(value(paths, "latent.mean_accuracy_drop")),
         "paths.latent.mean_accuracy_drop"),
        ("mean accuracy drop along a direct path (ends − worst)", pp(value(paths, "direct.mean_accuracy_drop")),
         "paths.direct.mean_accuracy_drop"),
    ]
    if d is not None:
        rows += [("distilled student: accuracy", pct(d["distilled"]["accuracy"]), "distill: distilled.accuracy"),
                 ("distilled student: NLL (nats/image)", num(d["distilled"]["nll"]), "distill: distilled.nll"),
                 ("distilled student: ECE", num(d["distilled"]["ece"]), "distill: distilled.ece")]
    rows += [("hypernetwork training wall time", secs(timing.get("hypernet_train_seconds")),
              "timing.hypernet_train_seconds"),
             (f"baselines training wall time (all {m['deep_ensemble']['size']})",
              secs(timing.get("baselines_train_seconds")), "timing.baselines_train_seconds"),
             ("evaluation wall time", secs(timing.get("total_seconds")), "timing.total_seconds")]
    if d is not None:
        rows.append(("distillation wall time", secs(d["distilled"]["train_seconds"]),
                     "distill: distilled.train_seconds"))
    return rows


def claims(inputs: dict) -> list[tuple[str, str, str]]:
    """(claim, verdict, evidence): every verdict from a 95 % interval (evidence.verdict); a claim without an
    interval is "not shown", whatever its point estimate."""
    m, d = inputs["metrics"], inputs["distill"]
    out = interval_claims(m)
    if d is None:
        out.append(("The distilled student beats the single net.", "not judged", "no --distill given."))
    else:
        s, single = d["distilled"], m["single_net"]
        out.append(("The distilled student beats the single net.", "not shown (no interval)",
                    f"accuracy {pct(s['accuracy'])} vs {pct(single['accuracy'])}, NLL {num(s['nll'])} vs "
                    f"{num(single['nll'])}, ECE {num(s['ece'])} vs {num(single['ece'])}; distill_metrics.json holds "
                    "no per-image results, so no paired interval."))
    return out
