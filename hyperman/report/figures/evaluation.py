"""Figures drawn from one evaluation: ensembles vs size, members, paths, reliability, OOD, FGSM."""

from __future__ import annotations

import numpy as np
import torch

from ... import metrics, outputs
from ..inputs import curve, value
from .style import COLORS, model_color, pretty


def fig_ensemble_accuracy(plt, inputs: dict):
    t, m = inputs["tables"], inputs["metrics"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method, label, color, marker in (("hypernet_mean_prob", "hypernet, mean probability", COLORS["hyper"], "o"),
                                         ("hypernet_majority_vote", "hypernet, majority vote", COLORS["vote"], "s"),
                                         ("deep_ensemble_mean_prob", "deep ensemble, mean probability",
                                          COLORS["deep"], "^"),
                                         ("deep_ensemble_majority_vote", "deep ensemble, majority vote",
                                          COLORS["deep"], "v")):
        c = curve(t, method)
        if len(c["size"]):
            ax.errorbar(c["size"], 100 * c["accuracy_mean"], yerr=100 * c["accuracy_std"], label=label,
                        color=color, marker=marker, ms=4, capsize=3, lw=1.5,
                        ls="--" if "vote" in method and "deep" in method else "-")
    ax.axhline(100 * m["single_net"]["accuracy"], color=COLORS["single"], ls="--", lw=1.2, label="single net")
    ax.axhline(100 * m["hypernet"]["members"]["accuracy_mean"], color=COLORS["member"], ls=":", lw=1.2,
               label="hypernet member (mean)")
    ax.set_xscale("log")
    ax.set_xlabel("ensemble size (nets, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Ensemble accuracy vs size ({m['inputs']['dataset']}, {m['inputs']['test_images']} test images)")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def fig_ensemble_nll_ece(plt, inputs: dict):
    t, m = inputs["tables"], inputs["metrics"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, ylabel, single in ((axes[0], "nll", "NLL (nats per image)", m["single_net"]["nll"]),
                                    (axes[1], "ece", "ECE (15 bins, fraction)", m["single_net"]["ece"])):
        for method, label, color, marker in (("hypernet_mean_prob", "hypernet ensemble", COLORS["hyper"], "o"),
                                             ("deep_ensemble_mean_prob", "deep ensemble", COLORS["deep"], "^")):
            c = curve(t, method)
            if len(c["size"]):
                ax.errorbar(c["size"], c[f"{key}_mean"], yerr=c[f"{key}_std"], label=label, color=color,
                            marker=marker, ms=4, capsize=3)
        ax.axhline(single, color=COLORS["single"], ls="--", lw=1.2, label="single net")
        ax.set_xscale("log")
        ax.set_xlabel("ensemble size (nets, log scale)")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    axes[0].set_title("Negative log-likelihood vs size (mean probability)")
    axes[1].set_title("Expected calibration error vs size")
    fig.tight_layout()
    return fig


def fig_member_histogram(plt, inputs: dict):
    m = inputs["metrics"]
    acc = 100 * np.array([r["accuracy"] for r in inputs["tables"][outputs.MEMBER_ACCURACY]], dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = max(5, min(40, int(np.sqrt(len(acc))) * 2))
    ax.hist(acc, bins=bins, color=COLORS["hyper"], alpha=0.7, edgecolor="white",
            label=f"hypernet members (N = {len(acc)})")
    gain = m["hypernet"]["ensemble_gain_detail"]
    for value, label, color, ls in ((m["hypernet"]["members"]["accuracy_mean"], "member mean", COLORS["member"], ":"),
                                    (m["single_net"]["accuracy"], "single net", COLORS["single"], "--"),
                                    (gain["ensemble_accuracy"], f"hypernet ensemble of {gain['size']}",
                                     COLORS["hyper"], "-"),
                                    (m["deep_ensemble"]["accuracy"], f"deep ensemble of {m['deep_ensemble']['size']}",
                                     COLORS["deep"], "-.")):
        ax.axvline(100 * value, color=color, ls=ls, lw=1.6, label=f"{label}: {100 * value:.2f} %")
    ax.set_xlabel("test accuracy (%)")
    ax.set_ylabel("number of sampled nets")
    ax.set_title("Accuracy of the sampled nets")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def fig_paths(plt, inputs: dict):
    rows = inputs["tables"][outputs.PATHS]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for kind, label, color, ls in (("latent", "latent path G((1−t)z₁ + t z₂)", COLORS["latent"], "-"),
                                   ("direct", "direct path (1−t)θ₁ + tθ₂", COLORS["direct"], "-"),
                                   ("baseline_direct", "direct path between two baselines", COLORS["single"], "--"),
                                   ("direct_aligned", "the same baselines after weight matching", COLORS["single"],
                                    ":")):
        pairs = sorted({r["pair"] for r in rows if r["kind"] == kind})
        curves = []
        for p in pairs:
            pts = sorted((r["t"], r["accuracy"]) for r in rows if r["kind"] == kind and r["pair"] == p)
            t, a = np.array(pts).T
            curves.append(a)
            if len(pairs) > 1:
                ax.plot(t, 100 * a, color=color, lw=0.7, alpha=0.35)
        if curves:
            ax.plot(t, 100 * np.mean(curves, axis=0), color=color, lw=2.5, ls=ls,
                    label=f"{label}: {'mean of %d pairs' % len(curves) if len(curves) > 1 else 'one pair'}")
    ax.set_xlabel("interpolation coefficient t (0 = first net, 1 = second net)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy along latent and direct paths\n(thin lines: single pairs, thick lines: their mean)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, frameon=False)
    return fig


def fig_reliability(plt, inputs: dict):
    rows = inputs["tables"][outputs.RELIABILITY]
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, (ax, hx) = plt.subplots(2, 1, figsize=(6, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 100], [0, 100], color="black", lw=0.8, ls=":", label="perfect calibration")
    width = 100 / metrics.ECE_BINS / (len(models) + 1)
    for k, model in enumerate(models):
        mr = sorted((r for r in rows if r["model"] == model), key=lambda r: r["bin"])
        total = sum(r["count"] for r in mr)
        full = [r for r in mr if r["count"]]
        count, confidence, correct = torch.tensor([[r["count"], r["count"] * r["confidence_mean"],
                                                    r["count"] * r["accuracy"]] for r in full], dtype=torch.float64).T
        ece = metrics.calibration_error({"count": count, "confidence": confidence, "correct": correct})
        color, name = model_color(model), pretty(model)
        ax.plot([100 * r["confidence_mean"] for r in full], [100 * r["accuracy"] for r in full], marker="o", ms=4,
                color=color, lw=1.5, label=f"{name} (ECE {ece:.4f})")
        centers = np.array([100 * (r["bin_lower"] + r["bin_upper"]) / 2 for r in mr])
        hx.bar(centers + (k - (len(models) - 1) / 2) * width, [100 * r["count"] / total for r in mr], width=width,
               color=color, label=name)
    ax.set_ylabel("accuracy in the bin (%)")
    ax.set_title(f"Reliability diagram ({metrics.ECE_BINS} confidence bins)")
    ax.legend(fontsize=8, loc="upper left")
    hx.set_yscale("log")
    hx.set_ylabel("images (%)")
    hx.set_xlabel("confidence = max probability (%)")
    ax.set_xlim(0, 100)
    fig.tight_layout()
    return fig


def fig_ood(plt, inputs: dict):
    rows, m = inputs["tables"][outputs.OOD_SCORES], inputs["metrics"]
    ood = m["ood"]
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, (hx, rx) = plt.subplots(1, 2, figsize=(11, 5.2))
    hyper = next((name for name in models if name.startswith("hypernet")), models[0])
    data = {(r["model"], r["split"]): [] for r in rows}
    mi = {(r["model"], r["split"]): [] for r in rows}
    for r in rows:
        data[r["model"], r["split"]].append(r["entropy"])
        mi[r["model"], r["split"]].append(r["mutual_information"])
    lo = min(min(data[hyper, "in"]), min(data[hyper, "ood"]))
    hi = max(max(data[hyper, "in"]), max(data[hyper, "ood"]))
    bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 40)
    for split, label, color in (("in", f"in-distribution ({ood['in_distribution']})", COLORS["hyper"]),
                                ("ood", f"out-of-distribution ({ood['out_of_distribution']})", COLORS["direct"])):
        hx.hist(data[hyper, split], bins=bins, density=True, alpha=0.55, color=color, label=label)
    hx.set_yscale("log")
    hx.set_xlabel("predictive entropy of the hypernet ensemble (nats)")
    hx.set_ylabel("density (log scale)")
    hx.set_title(f"OOD scores of the {pretty(hyper)}")
    hx.legend(fontsize=8)
    rx.plot([0, 1], [0, 1], color="black", lw=0.8, ls=":", label="chance")
    for model in models:
        color = model_color(model)
        for kind, values, ls in (("entropy", data, "-"), ("mutual information", mi, "--")):
            scores = torch.tensor(values[model, "in"] + values[model, "ood"], dtype=torch.float64)
            if scores.isnan().all():
                continue
            positive = torch.cat([torch.zeros(len(values[model, "in"])), torch.ones(len(values[model, "ood"]))])
            fpr, tpr = metrics.roc_curve(scores, positive)
            rx.plot(fpr.numpy(), tpr.numpy(), color=color, ls=ls, lw=1.5,
                    label=f"{pretty(model)}, {kind} (AUROC {metrics.auroc(scores, positive):.3f})")
    rx.set_xlabel("false-positive rate (in-distribution flagged as OOD)")
    rx.set_ylabel("true-positive rate (OOD flagged)")
    rx.set_title("ROC curves of OOD detection")
    rx.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    fig.tight_layout()
    return fig


def fig_adversarial(plt, inputs: dict):
    rows = inputs["tables"][outputs.ADVERSARIAL]
    labels = {"hypernet_single": ("one hypernet net", COLORS["hyper"], "--"),
              "hypernet_vote": ("hypernet vote", COLORS["hyper"], "-"),
              "single_net": ("single net", COLORS["single"], "--"),
              "deep_ensemble_vote": ("deep ensemble vote", COLORS["deep"], "-")}
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for model in dict.fromkeys(r["model"] for r in rows):
        pts = sorted((r["eps"], r["flip_rate"], r["images"]) for r in rows if r["model"] == model)
        eps, rate = np.array([p[0] for p in pts]), np.array([p[1] for p in pts], dtype=float)
        label, color, ls = labels.get(model, (model.replace("_", " "), None, "-"))
        nets = value(inputs["metrics"], f"adversarial.{model}.nets")
        ax.plot(eps, 100 * rate, marker="o", ms=4, color=color, ls=ls,
                label=f"{label}{f' ({nets} nets)' if nets and nets > 1 else ''}")
    ax.set_xlabel("FGSM step ε (pixel intensities in [0, 1])")
    ax.set_ylabel("correct predictions flipped (%)")
    ax.set_title(f"FGSM robustness ({int(rows[0]['images'])} test images)" if rows else "FGSM robustness")
    ax.legend(fontsize=8)
    return fig

