"""`hyperman report` end to end: tiny hypernetwork → sample → evaluate → distill → report."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hyperman import checkpoint, cli
from hyperman.report import FIGURES, ReportConfig, claims, label_from_checkpoint, load_inputs, parse_label
from hyperman.targets import get_target
from conftest import PAPER
from hyperman.config import TrainConfig
from hyperman.training import train

from conftest import FASHION, MNIST

ROOT = Path(__file__).resolve().parent.parent

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module", autouse=True)
def stages():
    """Register the stages here, so the tests do not depend on the edit to cli.STAGES."""
    with pytest.MonkeyPatch.context() as patch:
        for name, module in (("sample", "sample"), ("evaluate", "evaluate"), ("distill", "distill"),
                             ("report", "report")):
            patch.setitem(cli.STAGES, name, (f"hyperman.stages.{module}", name))
        yield


@pytest.fixture(scope="module")
def run(tmp_path_factory, stages):
    """The real pipeline at tiny scale: 12 nets, 120 test images, a 1-epoch student on 100 images."""
    root = tmp_path_factory.mktemp("pipeline")
    train(TrainConfig(steps=20, nets_per_step=4, images_per_net=8, eval_every=10, eval_nets=4, limit_train=500,
                      latent_dim=8, **PAPER), MNIST, root / "train", "cpu", log=lambda message: None)
    ckpt = root / "train" / "hypernet.pt"
    target = get_target("mnist_cnn")
    baselines = []
    for k in range(2):  # two "epochs" each (random nets): enough for the equal-compute grid and figure
        folder = root / f"baseline{k}"
        thetas = target.init(2, torch.Generator().manual_seed(k))
        checkpoint.save(folder / "epochs.pt", {"kind": "target-epochs", "target": "mnist_cnn", "config": {},
                                               "thetas": thetas, "seconds": [0.5 + k, 1.0 + k], "history": []})
        checkpoint.save(folder / "baseline.pt", {"kind": "target", "target": "mnist_cnn", "train_seconds": 1.0 + k,
                                                 "config": {}, "theta": thetas[-1]})
        baselines.append(str(folder / "baseline.pt"))
    samples = root / "samples.pt"
    assert cli.main(["sample", "--checkpoint", str(ckpt), "--num-nets", "12", "--seed", "3", "--out", str(samples),
                     "--device", "cpu"]) == 0
    common = ["--checkpoint", str(ckpt), "--samples", str(samples), "--baselines", *baselines, "--data", str(MNIST),
              "--limit-test", "120", "--ensemble-sizes", "1", "2", "5", "12", "--draws", "3", "--path-pairs", "2",
              "--path-points", "5", "--adversarial-images", "30", "--adversarial-eps", "0.1", "0.3",
              "--symmetry-copies", "4", "--bootstrap-resamples", "50", "--shift-images", "30", "--shift-nets", "2",
              "--alignment-nets", "2", "--control-nets", "2", "--control-images", "30", "--ood-synthetic-images", "60",
              "--ood-resamples", "30", "--device", "cpu"]  # the synthetic OOD sets' defaults were most of the time
    assert cli.main(["evaluate", *common, "--out", str(root / "eval"), "--ood-data", str(FASHION)]) == 0
    assert cli.main(["evaluate", *common, "--out", str(root / "eval_no_ood")]) == 0
    assert cli.main(["distill", "--checkpoint", str(ckpt), "--data", str(MNIST), "--out", str(root / "distill"),
                     "--teacher-nets", "2", "--epochs", "1", "--batch-size", "50", "--limit-train", "100",
                     "--limit-test", "120", "--ood-data", str(FASHION), "--device", "cpu"]) == 0
    return {"root": root, "checkpoint": ckpt, "samples": samples, "eval": root / "eval",
            "eval_no_ood": root / "eval_no_ood", "distill": root / "distill"}


def _valid_png(path: Path) -> None:
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 2000, path
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100, (path, image.shape)


def test_full_report(run, tmp_path):
    out = tmp_path / "report"
    assert cli.main(["report", "--evaluate", str(run["eval"]), "--distill", str(run["distill"]),
                     "--checkpoint", str(run["checkpoint"]), "--samples", str(run["samples"]),
                     "--sweep", str(run["eval"]), str(run["eval_no_ood"]), str(run["eval"]),
                     "--sweep-labels", "lambda=1000,seed=0", "lambda=1000,seed=1", "lambda=inf,seed=0",
                     "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    for stem, _, svg, *_ in FIGURES:
        _valid_png(out / f"{stem}.png")
        assert f"{stem}.png" in md
        if svg:
            assert (out / f"{stem}.svg").read_text().lstrip().startswith("<?xml")
            assert f"{stem}.svg" in md
    assert "Figures not drawn" not in md
    assert not list(tmp_path.glob(".report.*"))  # no temp folder left behind

    m = json.loads((run["eval"] / "metrics.json").read_text())
    d = json.loads((run["distill"] / "distill_metrics.json").read_text())
    pct = lambda v: f"{100 * v:.2f} %"  # noqa: E731
    for value in (m["hypernet"]["members"]["accuracy_mean"], m["hypernet"]["members"]["accuracy_min"],
                  m["hypernet"]["members"]["accuracy_max"], m["hypernet"]["ensemble_gain_detail"]["ensemble_accuracy"],
                  m["deep_ensemble"]["accuracy"], m["single_net"]["accuracy"], m["paths"]["latent"]["worst_accuracy"],
                  m["paths"]["direct"]["worst_accuracy"], d["distilled"]["accuracy"]):
        assert pct(value) in md
    assert f"{100 * m['hypernet']['ensemble_gain']:+.2f} pp" in md
    assert f"{100 * m['controls']['gauge_check']['gain']:+.2f} pp" in md
    models = m["models"]
    for value in (models["single_net"]["nll"], models["single_net"]["ece"], models["deep_ensemble"]["nll"],
                  models["deep_ensemble"]["brier"], d["distilled"]["nll"], d["distilled"]["ece"],
                  models["hypernet_ensemble"]["ood"]["auroc"], models["deep_ensemble"]["ood"]["aupr_out"],
                  models["single_net"]["ood"]["fpr95"]):
        assert f"{value:.4f}" in md
    assert f"{m['timing']['hypernet_train_seconds']:.1f} s" in md and f"{d['distilled']['train_seconds']:.1f} s" in md
    # one claim per comparison and metric (accuracy, NLL, AUROC; AUROC without OOD for members), plus the student
    assert "## Claims" in md and md.count("— *") == 3 * len(m["comparisons"]) + 1
    family = sum(d is not None and d.get("low") is not None for c in m["comparisons"].values()
                 for d in (c["accuracy"], c["nll"], c["auroc"]))
    assert f"Holm–Bonferroni over all {family} claims" in md and family >= 6
    # 50 resamples: no bootstrap p-value below 2/51 ≈ 0.039 > 0.05/family, so the report says no claim can hold
    assert "With 50 bootstrap resamples no p-value can fall below 0.0392" in md and "— *holds*" not in md
    # the OOD table: every set × every model, MI and entropy, with intervals, and the probes G was trained with
    assert "## Out-of-distribution detection" in md and "| OOD set | model | MI AUROC |" in md
    for name, entry in m["ood"]["sets"].items():
        for model, result in entry["models"].items():
            auroc = result["entropy"]["auroc"]
            expected = (f"{auroc['estimate']:.3f} [{auroc['low']:.3f}, {auroc['high']:.3f}]"
                        if auroc["low"] is not None else f"{auroc['estimate']:.3f}")
            assert expected in md, (name, model)
    assert md.count("| fashion-mnist test set (") == len(m["ood"]["sets"]["other_dataset"]["models"])
    assert "this hypernetwork: no probes (diversity `weights` has no function-space term)" in md
    assert "(trained toward)" not in md
    assert "## Headline table" in md and "deep ensemble (2 nets)" in md and "training TFLOP" in md
    # selective prediction: AURC and accuracy at 90/95/99 % coverage by entropy and MI, with intervals
    assert "| AURC (entropy; MI) | accuracy at 90 % coverage | at 95 % coverage | at 99 % coverage |" in md
    for name in ("hypernet_ensemble", "deep_ensemble", "single_net"):
        selective = models[name]["selective"]
        a = selective["entropy"]["accuracy_at_95"]
        assert f"{100 * a['estimate']:.2f} % [{100 * a['low']:.2f}, {100 * a['high']:.2f}] (entropy)" in md, name
        if name != "single_net":
            aurc = selective["mutual_information"]["aurc"]
            assert f"{aurc['estimate']:.3g} [{aurc['low']:.3g}, {aurc['high']:.3g}] (MI)" in md, name
    row = next(line for line in md.splitlines() if line.startswith("| single net (1 net)"))
    assert row.count("MI n/a") == 4  # one net: no MI ranking in any of the four columns
    assert "Selective prediction: risk against coverage" in md and "selective.png" in md
    assert "## Which setting is best for the ensemble" in md and "| no diversity |" in md
    assert "Chosen for the ensemble: **" in md  # floor 0 and real validation figures: a setting is chosen


def test_missing_optional_inputs_skip_their_figures(run, tmp_path):
    out = tmp_path / "report"
    assert cli.main(["report", "--evaluate", str(run["eval_no_ood"]), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    drawn = {p.stem for p in out.glob("*.png")}
    assert drawn == {"ensemble_accuracy", "ensemble_nll_ece", "member_accuracy_hist", "paths", "reliability",
                     "adversarial", "equal_compute", "shift", "models_comparison", "selective"}
    for stem in ("filter_pca", "filter_montage", "ood", "lambda_tradeoff", "distill_comparison"):
        assert f"`{stem}.png`" in md.split("## Figures not drawn")[1]
    assert "not judged" in md  # the student claim, without --distill


def test_bad_required_input_exits_1_and_keeps_the_old_report(run, tmp_path, capsys):
    out = tmp_path / "report"
    assert cli.main(["report", "--evaluate", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "hyperman report: error:" in capsys.readouterr().err and not out.exists()

    broken = tmp_path / "broken"
    shutil.copytree(run["eval"], broken)
    (broken / "paths.csv").write_text("kind,t\nlatent,0\n")
    out.mkdir()
    (out / "old.txt").write_text("previous report")
    assert cli.main(["report", "--evaluate", str(broken), "--out", str(out)]) == 2
    assert "paths.csv has columns" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "report"]  # no temp folder left

    assert cli.main(["report", "--evaluate", str(run["eval"]), "--checkpoint", str(run["checkpoint"]),
                     "--out", str(out)]) == 2
    assert "both --checkpoint and --samples" in capsys.readouterr().err
    assert cli.main(["report", "--evaluate", str(run["eval"]), "--sweep", str(run["eval"]), "--sweep-labels",
                     "lambda=10,seed=0", "lambda=1,seed=0", "--out", str(out)]) == 2
    assert "2 labels for 1 --sweep" in capsys.readouterr().err
    assert (out / "old.txt").exists()


def test_sweep_label_comes_from_the_checkpoint_the_run_names(run):
    from hyperman.report.inputs import checkpoint_config

    metrics = json.loads((run["eval"] / "metrics.json").read_text())
    reference = checkpoint_config(metrics)  # the main run's config: what the study's runs share is no lever
    assert label_from_checkpoint(metrics, run["eval"], reference) == {"lambda": 1000.0, "seed": 0}
    # without a main run to compare with, the tiny study's own budget shows as a lever off TrainConfig's default
    assert label_from_checkpoint(metrics, run["eval"])["settings"]["steps"] == reference["steps"] != TrainConfig.steps
    assert parse_label("lambda=inf,seed=2") == {"lambda": float("inf"), "seed": 2}


def test_a_sweep_label_without_lambda_takes_the_one_default(tmp_path):
    # A checkpoint config without `lam` was trained with TrainConfig's default, not with a second default here.
    path = tmp_path / "hypernet.pt"
    checkpoint.save(path, {"kind": "hypernetwork", "config": {"diversity": "weights", "seed": 3}})
    label = label_from_checkpoint({"inputs": {"checkpoint": str(path)}}, tmp_path)
    assert label == {"lambda": TrainConfig.lam, "seed": 3} and TrainConfig.lam == 30000.0


def test_claims_follow_the_intervals(run):
    inputs = load_inputs(ReportConfig(evaluate=run["eval"], out=Path("unused"), distill=run["distill"]))
    comparisons = inputs["metrics"]["comparisons"]
    for comparison in comparisons.values():
        # accuracy: the interval excludes 0 above, NLL: it contains 0, AUROC: it lies below 0; p-values small
        # enough to survive Holm over the 3 × 4 claims (12 × 0.001 < 0.05)
        comparison["accuracy"] = {"estimate": 0.01, "low": 0.002, "high": 0.02, "excludes_zero": True,
                                  "p_value": 0.001}
        comparison["nll"] = {"estimate": -0.01, "low": -0.03, "high": 0.01, "excludes_zero": False, "p_value": 0.4}
        comparison["auroc"] = {"estimate": -0.05, "low": -0.08, "high": -0.02, "excludes_zero": True,
                               "p_value": 0.001}
    verdicts = {(claim.split(" the ")[-1], verdict) for claim, verdict, _ in claims(inputs)[:-1]}
    assert {v for _, v in verdicts} == {"holds", "not shown (the interval contains 0)",
                                         "does not hold (the interval lies on the other side of 0)"}
    per_claim = [(claim, verdict) for claim, verdict, _ in claims(inputs)[:-1]]
    assert all(v == "holds" for c, v in per_claim if "more accurate" in c)
    assert all(v.startswith("not shown") for c, v in per_claim if "lower NLL" in c)
    assert all(v.startswith("does not hold") for c, v in per_claim if "AUROC" in c)
    # the NLL claim is "not shown" although its estimate favours the hypernetwork: the interval decides
    evidence = [e for c, _, e in claims(inputs) if "lower NLL" in c][0]
    assert "Δ -0.01 [-0.03, +0.01]" in evidence
    assert claims(inputs)[-1][1] == "not shown (no interval)"  # the student: no per-image results


def test_a_claim_that_holds_uncorrected_is_not_shown_after_holm(run):
    """Twelve claims, each interval excluding 0 in the claimed direction. Ten have p = 0.001 (12 × 0.001 < 0.05:
    they hold), the single net's accuracy and NLL p = 0.03 and 0.04: at 95 % alone both would hold, but Holm
    compares the smaller of them with 0.05/2 = 0.025 and keeps both (adjusted p = 2 × 0.03 = 0.06). Without
    p-values (an older metrics.json) no verdict is taken uncorrected: the claim is not shown."""
    inputs = load_inputs(ReportConfig(evaluate=run["eval"], out=Path("unused"), distill=run["distill"]))
    comparisons = inputs["metrics"]["comparisons"]
    for name, comparison in comparisons.items():
        for metric, sign in (("accuracy", 1), ("nll", -1), ("auroc", 1)):
            p = {"accuracy": 0.03, "nll": 0.04}.get(metric, 0.001) if name == "single_net" else 0.001
            comparison[metric] = {"estimate": sign * 0.05, "low": sign * 0.02 if sign > 0 else -0.08,
                                  "high": 0.08 if sign > 0 else -0.02, "excludes_zero": True, "p_value": p}
    assert len(comparisons) == 4
    per_claim = {claim: (verdict, evidence) for claim, verdict, evidence in claims(inputs)[:-1]}
    single = {c: v for c, v in per_claim.items() if c.endswith("the single net (1 net).")}
    assert len(single) == 3 and len(per_claim) == 12
    for claim, (verdict, evidence) in single.items():
        if "AUROC" in claim:
            assert verdict == "holds"
        else:
            assert verdict == "not shown after the Holm correction (the uncorrected 95 % interval excludes 0)", claim
            assert "bootstrap p = 0.0" in evidence and "Holm-adjusted over 12 claims p = 0.06" in evidence
    assert sum(v == "holds" for v, _ in per_claim.values()) == 10
    for comparison in comparisons.values():
        for metric in ("accuracy", "nll", "auroc"):
            del comparison[metric]["p_value"]
    assert all(v.startswith("not shown (no p-value") for _, v, _ in claims(inputs)[:-1])


def test_a_set_equal_to_the_probes_is_marked_trained_toward(run):
    """A G whose function-space term drew uniform-noise probes: the report says so, and its cells on the uniform
    noise set (only those, and only the hypernetwork's) read "trained toward"."""
    from hyperman.report.markdown import _table
    from hyperman.report.ood import section
    inputs = load_inputs(ReportConfig(evaluate=run["eval"], out=Path("unused")))
    m = inputs["metrics"]
    m["ood"]["trained_with"] = {"probe_family": "noise", "function_term": True, "diversity": "both"}
    m["ood"]["sets"]["uniform_noise"]["trained_toward"] = True
    for model in ("hypernet_ensemble", "hypernet_member"):
        m["ood"]["sets"]["uniform_noise"]["models"][model]["trained_toward"] = True
    md = "\n".join(section(inputs, _table))
    assert "this hypernetwork: probe family `noise` (trained toward the OOD set uniform noise)" in md
    assert "**Trained toward:** this hypernetwork's probes are drawn like uniform noise" in md
    marked = [line for line in md.splitlines() if "(trained toward)" in line]
    assert len(marked) == 2 and all(line.startswith("| uniform noise (") for line in marked)
    assert "| uniform noise (" in md.split("hypernetwork ensemble (trained toward)")[0].splitlines()[-1]


def test_the_targets_benchmark_prints_a_verdict_per_target_of_a_finished_evaluation(run, tmp_path):
    """benchmarks/diversity_targets.py on a real (tiny) evaluation: every target gets a line and a verdict that
    follows the metrics (the member floor, the NLL claim only "met" when its interval lies below 0 and Holm
    agrees, both OOD scores on the real OOD set), the sweep folder a line of its own; a missing evaluation is
    refused with exit code 2; a run trained on Fashion-MNIST shows its members without the MNIST floors."""
    script = [sys.executable, str(ROOT / "benchmarks/diversity_targets.py")]
    out = subprocess.run([*script, "--evaluate", str(run["eval"]), "--sweep", str(run["eval"])], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    metrics = json.loads((run["eval"] / "metrics.json").read_text())
    members = metrics["models"]["hypernet_member"]["accuracy"]
    line = next(x for x in out if x.startswith("mean member"))
    assert ("NOT met" in line) == (members < 0.988)
    nll = metrics["comparisons"]["deep_ensemble"]["nll"]
    line = next(x for x in out if x.startswith("ensemble NLL below"))
    assert "Holm-adjusted p" in line and f"{nll['estimate']:+.4f}" in line
    met = "  met  " in line  # the verdict column ("NOT met" has no two spaces before "met")
    assert met <= (nll["high"] < 0)  # never "met" unless the interval lies below 0
    assert sum(x.startswith("OOD AUROC (MI) on other dataset") for x in out) == 1
    assert sum(x.startswith("OOD AUROC (entropy) on other dataset") for x in out) == 1
    assert not any("uniform noise" in x for x in out)  # synthetic sets are not the target's "real" sets
    assert any(x.startswith("worst of every 100") and "fewer than 100 nets" in x for x in out)  # 12 nets
    assert out[-1].startswith(f"{run['eval']}: members ")
    hyper_nll = metrics["models"]["hypernet_ensemble"]["nll"]
    assert f"NLL {hyper_nll:.4f} (Δ {nll['estimate']:+.4f} [{nll['low']:+.4f}, {nll['high']:+.4f}])" in out[-1]
    missing = subprocess.run([*script, "--evaluate", str(tmp_path / "none")], capture_output=True, text=True)
    assert missing.returncode == 2 and "make run" in missing.stderr
    # trained on Fashion-MNIST: the MNIST member floors do not apply, the members are shown without a verdict
    fashion = tmp_path / "fashion"
    shutil.copytree(run["eval"], fashion)
    metrics["inputs"]["dataset"] = "fashion-mnist"
    (fashion / "metrics.json").write_text(json.dumps(metrics))
    out = subprocess.run([*script, "--evaluate", str(fashion), "--sweep"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    line = next(x for x in out if x.startswith("mean member"))
    assert "no target on fashion-mnist" in line and "met" not in line and "nets)" in line
    assert any(x.startswith("ensemble NLL below") for x in out)  # the comparison with the deep ensemble stays
