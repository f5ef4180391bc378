"""`hyperman sample` and `hyperman evaluate` end to end on a tiny hypernetwork and tiny data."""

import csv
import json

import pytest
import torch

from hyperman import checkpoint, cli, metrics, outputs
from hyperman.data import load_dataset
from hyperman.evaluation import PARTS
from hyperman.evaluation.ood import score as ood_score
from hyperman.evaluation.ood_sets import OOD_SETS, Source, build_sets
from hyperman.sampling import regenerate_all
from hyperman.targets import get_target

from conftest import FASHION, MNIST
from evaluate_common import CONSTANT_LOGITS, _evaluate_args

REQUIRED = [
    "hypernet.members.accuracy_mean", "hypernet.members.accuracy_min", "hypernet.members.accuracy_max",
    "hypernet.ensemble.sizes", "hypernet.ensemble.accuracy", "hypernet.ensemble.nll", "hypernet.ensemble.ece",
    "deep_ensemble.size", "deep_ensemble.accuracy", "deep_ensemble.nll", "deep_ensemble.ece",
    "single_net.accuracy", "single_net.nll", "single_net.ece", "controls.gauge_check.gain", "hypernet.ensemble_gain",
    "diversity.hypernet.disagreement", "diversity.deep_ensemble.disagreement", "paths.latent.worst_accuracy",
    "paths.direct.worst_accuracy", "ood.hypernet.auroc_entropy", "ood.hypernet.auroc_mi",
    "ood.deep_ensemble.auroc_mi", "timing",
]

def _get(tree, dotted):
    for key in dotted.split("."):
        tree = tree[key]
    return tree


def test_samples_file_is_compact_and_regenerates_deterministically(trained):
    payload = checkpoint.load(trained["samples"], kind="samples")
    assert payload["latents"].shape == (12, 8) and payload["seed"] == 3
    assert len(payload["checkpoint_sha256"]) == 64
    report = json.loads(trained["samples"].with_suffix(".json").read_text())
    assert report["num_nets"] == 12 and report["nets_per_second"] > 0
    a = regenerate_all(trained["samples"], trained["checkpoint"], chunk=5)
    b = regenerate_all(trained["samples"], trained["checkpoint"], chunk=12)
    assert a.shape == (12, get_target("mnist_cnn").num_params) and torch.isfinite(a).all()
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)  # chunking changes at most the rounding


@pytest.fixture(scope="module")
def evaluated(trained, tmp_path_factory):
    """One `hyperman evaluate` run shared by the tests that read its outputs."""
    out = tmp_path_factory.mktemp("eval")
    assert cli.main(_evaluate_args(trained, out)) == 0
    tables = {}
    for name in ("member_accuracy", "ensemble_curve", "paths", "adversarial", "reliability", "ood_scores"):
        with open(out / f"{name}.csv") as handle:
            tables[name] = list(csv.DictReader(handle))
    return {"out": out, "metrics": json.loads((out / "metrics.json").read_text()), **tables}


def test_evaluate_end_to_end(evaluated):
    """Smoke test: every figure and table is there with its shape; the values are checked below and in
    test_evaluation_parts.py (each part on a case whose answer is known)."""
    result = evaluated["metrics"]
    for key in REQUIRED:
        _get(result, key)  # raises KeyError if missing
    ensemble = result["hypernet"]["ensemble"]
    assert ensemble["sizes"] == [1, 2, 5, 12]  # 1000 clipped to the 12 nets
    assert ensemble["draws"] == [3, 3, 3, 1]
    for name in ("accuracy", "nll", "ece"):
        assert len(ensemble[name]) == 4
    assert result["deep_ensemble"]["size"] == 2
    gauge = result["controls"]["gauge_check"]
    assert gauge["gain"] == 0 and gauge["flipped_predictions"] == 0
    assert result["ood"]["single_net"]["auroc_mi"] is None
    assert result["ood"]["ood_images"] == 100 and result["ood"]["in_images"] == 120  # --ood-images of --limit-test
    assert result["timing"]["baselines_train_seconds"] == 3.0

    rows = evaluated["ensemble_curve"]
    assert list(rows[0]) == ["method", "size", "accuracy_mean", "accuracy_std", "nll_mean", "nll_std", "ece_mean",
                             "ece_std"]
    methods = {row["method"] for row in rows}
    assert {"hypernet_mean_prob", "hypernet_majority_vote", "deep_ensemble_mean_prob", "single_net"} <= methods
    assert [r["size"] for r in rows if r["method"] == "deep_ensemble_mean_prob"] == ["1", "2"]
    assert len(evaluated["member_accuracy"]) == 12
    paths = evaluated["paths"]
    assert list(paths[0]) == ["kind", "pair", "t", "accuracy", "nll"]
    assert {r["kind"] for r in paths} == {"latent", "direct", "baseline_direct", "direct_aligned"}
    assert len(paths) == 2 * 2 * 4 + 4 + 4
    assert {r["model"] for r in evaluated["adversarial"]} == {"hypernet_single", "hypernet_vote", "single_net",
                                                              "deep_ensemble_vote"}
    assert not list(evaluated["out"].glob("*.tmp"))
    out = evaluated["out"]
    # every file hyperman.outputs names, with its columns, and one timing entry per part of the loop
    assert sorted(p.name for p in out.iterdir() if p.name != ".lock") == sorted(outputs.FILES)
    for name, header in outputs.TABLES.items():
        with open(out / name) as handle:
            assert next(csv.reader(handle)) == header, name
    assert list(evaluated["metrics"]["timing"]["parts_seconds"]) == [name for name, _ in PARTS]


@pytest.fixture(scope="module")
def images():
    """The 120 MNIST and 120 Fashion-MNIST test images that `evaluated` scores."""
    mnist, fashion = (load_dataset(root, limit_train=1, limit_test=120) for root in (MNIST, FASHION))
    return torch.from_numpy(mnist.test_x), torch.from_numpy(mnist.test_y), torch.from_numpy(fashion.test_x)


def test_every_baseline_figure_has_its_known_answer(evaluated, images):
    """The two baselines predict a constant class (1 and 7, see `trained`), so every baseline figure follows from
    the labels alone: accuracy = the label's frequency, ECE = |confidence − frequency|, no FGSM gradient (no
    flip), entropy equal on every image (OOD AUROC 0.5), every pair of predictions different (disagreement 1)."""
    result, y = evaluated["metrics"], images[1]
    p0, p1 = CONSTANT_LOGITS[0].softmax(-1).double(), CONSTANT_LOGITS[1].softmax(-1).double()
    f1, f7 = float((y == 1).double().mean()), float((y == 7).double().mean())
    mean = (p0 + p1) / 2  # larger at class 7 than at class 1
    single = result["single_net"]
    assert single["accuracy"] == pytest.approx(f1)
    assert single["nll"] == pytest.approx(float(-torch.log(p0[y]).mean()))
    assert single["ece"] == pytest.approx(abs(float(p0[1]) - f1))
    deep = result["deep_ensemble"]
    assert deep["accuracy"] == pytest.approx(f7) and deep["majority_vote"]["accuracy"] == pytest.approx(f7)  # tie → 7
    assert deep["nll"] == pytest.approx(float(-torch.log(mean[y]).mean()))
    assert deep["ece"] == pytest.approx(abs(float(mean[7]) - f7))
    assert deep["members"]["accuracy_min"] == pytest.approx(min(f1, f7))
    assert deep["ensemble_gain"] == pytest.approx(f7 - (f1 + f7) / 2)
    diversity = result["diversity"]["deep_ensemble"]
    assert diversity["disagreement"] == 1.0
    kl = sum(float((p * (p / mean).log()).sum()) for p in (p0, p1)) / 2
    assert diversity["kl_to_mean"] == pytest.approx(kl)
    centred = [b - b.mean() for b in CONSTANT_LOGITS]  # the gauge: zero hidden units, output biases centred
    assert diversity["nn_l1_mean"] == pytest.approx(float((centred[0] - centred[1]).abs().sum()), rel=1e-6)  # 5.8
    for model in ("single_net", "deep_ensemble"):
        assert result["ood"][model]["auroc_entropy"] == 0.5
    assert result["ood"]["deep_ensemble"]["auroc_mi"] == 0.5
    # on every OOD set, constant scores: AUROC ½, FPR95 1 (every ID image ties with the threshold), AUPR-out the
    # OOD share, and intervals of width 0
    assert list(result["ood"]["sets"]) == list(OOD_SETS)
    for name, entry in result["ood"]["sets"].items():
        n_ood = 100 if name == "other_dataset" else 60
        assert entry["images"] == n_ood and entry["trained_toward"] is False
        assert entry["models"]["single_net"]["mutual_information"] is None
        for model, score in (("single_net", "entropy"), ("deep_ensemble", "entropy"),
                             ("deep_ensemble", "mutual_information")):
            cells = entry["models"][model][score]
            for metric, expected in (("auroc", 0.5), ("fpr95", 1.0), ("aupr_out", n_ood / (120 + n_ood))):
                assert cells[metric]["estimate"] == pytest.approx(expected, abs=1e-12), (name, model, metric)
                assert cells[metric]["low"] == pytest.approx(expected) == cells[metric]["high"]
    first = y[:40]
    for model, label in (("single_net", 1), ("deep_ensemble_vote", 7)):
        assert result["adversarial"][model]["correct"] == int((first == label).sum())
        assert result["adversarial"][model]["flipped"] == [0, 0]
    # the direct path between them: biases (2/3, 1/3) of the way still favour class 1, (1/3, 2/3) class 7
    path = [float(r["accuracy"]) for r in evaluated["paths"] if r["kind"] == "baseline_direct"]
    assert path == pytest.approx([f1, f1, f7, f7], abs=1e-6)
    summary = result["paths"]["baseline_direct"]
    assert summary["worst_accuracy"] == pytest.approx(min(f1, f7))
    assert summary["mean_endpoint_accuracy"] == pytest.approx((f1 + f7) / 2)
    assert summary["mean_accuracy_drop"] == pytest.approx((f1 + f7) / 2 - min(f1, f7))
    for model, confidence, accuracy in (("single_net", p0[1], f1), ("deep_ensemble_2", mean[7], f7)):
        filled = [r for r in evaluated["reliability"] if r["model"] == model and int(r["count"])]
        assert len(filled) == 1 and int(filled[0]["count"]) == 120  # one bin holds every image
        assert float(filled[0]["confidence_mean"]) == pytest.approx(float(confidence), rel=1e-5)
        assert float(filled[0]["accuracy"]) == pytest.approx(accuracy, rel=1e-5)
    # selective prediction: every image has the same score, so abstaining cannot help: the risk is the error rate
    # at every coverage (ties in every order), AURC = 1 − accuracy, and the single net has no MI ranking
    for model, score, accuracy in (("single_net", "entropy", f1), ("deep_ensemble", "entropy", f7),
                                   ("deep_ensemble", "mutual_information", f7)):
        selective = result["models"][model]["selective"][score]
        assert selective["aurc"]["estimate"] == pytest.approx(1 - accuracy, abs=1e-12), (model, score)
        for key in ("accuracy_at_90", "accuracy_at_95", "accuracy_at_99"):
            assert selective[key]["estimate"] == pytest.approx(accuracy, abs=1e-12), (model, score, key)
    assert result["models"]["single_net"]["selective"]["mutual_information"] is None
    entropies = [float(r["entropy"]) for r in evaluated["ood_scores"] if r["model"] == "single_net"]
    assert entropies == pytest.approx([float(-(p0 * p0.log()).sum())] * 220, rel=1e-5)  # 120 MNIST + 100 Fashion


def test_hypernet_figures_match_a_direct_computation(trained, evaluated, images):
    """The sampled nets regenerated and run through target.forward by hand give the same member figures,
    full-ensemble figures, disagreement and OOD AUROC; every path starts and ends at a sampled net. (The
    20-step hypernetwork's nets nearly all predict one class, so accuracies hardly differ: the NLLs, which
    differ for every net, carry the comparison.)"""
    result, (x, y, ood_x) = evaluated["metrics"], images
    target = get_target("mnist_cnn")
    theta = regenerate_all(trained["samples"], trained["checkpoint"])
    with torch.no_grad():
        probs, ood = (target.forward(theta, batch, "channels_last").softmax(-1) for batch in (x, ood_x[:100]))
    member, member_nll = metrics.accuracy(probs, y), metrics.nll(probs, y)
    table = evaluated["member_accuracy"]
    assert [float(r["accuracy"]) for r in table] == pytest.approx(member.tolist(), abs=1e-6)
    assert [float(r["nll"]) for r in table] == pytest.approx(member_nll.tolist(), rel=1e-5)
    assert result["hypernet"]["members"]["accuracy_mean"] == pytest.approx(float(member.mean()))
    assert result["hypernet"]["members"]["nll_max"] == pytest.approx(float(member_nll.max()), rel=1e-5)
    mean = probs.double().mean(0)
    ensemble = float(metrics.accuracy(mean, y))
    hypernet = result["hypernet"]
    assert hypernet["ensemble"]["accuracy"][-1] == pytest.approx(ensemble)  # all 12 nets, one draw
    assert hypernet["ensemble"]["nll"][-1] == pytest.approx(float(metrics.nll(mean, y)), rel=1e-5)
    assert hypernet["ensemble"]["ece"][-1] == pytest.approx(metrics.ece(mean, y), abs=1e-5)
    assert hypernet["ensemble"]["accuracy_std"][-1] == 0
    assert hypernet["ensemble_gain"] == pytest.approx(ensemble - float(member.mean()))
    assert result["diversity"]["hypernet"]["kl_to_mean"] == pytest.approx(metrics.kl_to_mean(probs), rel=1e-4)
    labels = torch.cat([torch.zeros(120), torch.ones(100)])  # --ood-images 100
    both = torch.cat([probs, ood], 1)
    assert result["ood"]["hypernet"]["auroc_entropy"] == pytest.approx(
        metrics.auroc(metrics.predictive_entropy(both), labels), abs=1e-3)
    assert result["ood"]["hypernet"]["auroc_mi"] == pytest.approx(
        metrics.auroc(metrics.mutual_information(both), labels), abs=1e-3)
    # the synthetic sets rebuilt from the seed and scored by hand: the registry's numbers, inside their intervals
    sets = build_sets(Source(x, ood_x[:100], "fashion-mnist"), 60, seed=0)
    for name, images in sets.items():
        with torch.no_grad():
            set_probs = target.forward(theta, images, "channels_last").softmax(-1)
        cells = result["ood"]["sets"][name]["models"]["hypernet_ensemble"]
        for score in ("entropy", "mutual_information"):
            ours = ood_score(probs[:12], score), ood_score(set_probs, score)
            expected = metrics.ood_detection(*ours)
            for metric in ("auroc", "aupr_out", "fpr95"):
                cell = cells[score][metric]
                assert cell["estimate"] == pytest.approx(expected[metric], abs=2e-2), (name, score, metric)
                assert 0 <= cell["low"] <= cell["high"] <= 1  # a percentile interval need not hold the estimate
    nlls = member_nll.tolist()
    worst = {}
    for kind in ("latent", "direct"):
        for pair in range(2):
            rows = [r for r in evaluated["paths"] if r["kind"] == kind and r["pair"] == str(pair)]
            for end in (rows[0], rows[-1]):  # the path's ends are sampled nets
                assert min(abs(float(end["nll"]) - n) / n for n in nlls) < 1e-5, (kind, pair, end)
            worst[kind] = max(worst.get(kind, 0.0), *(float(r["nll"]) for r in rows))
        assert result["paths"][kind]["worst_nll"] == pytest.approx(worst[kind], rel=1e-5)


def test_evaluate_without_ood_data_says_so(trained, evaluated, tmp_path):
    out = tmp_path / "eval"
    assert cli.main(_evaluate_args(trained, out, "--forward", "grouped", ood=False)) == 0
    result = json.loads((out / "metrics.json").read_text())
    assert "skipped" in result["ood"]
    assert not (out / outputs.OOD_SCORES).exists() and (out / outputs.RELIABILITY).is_file()
    assert result["timing"]["forward_method"] == "grouped"
    # the grouped forward scores every net as the default (channels_last) one does
    assert (out / "member_accuracy.csv").read_text() == (evaluated["out"] / "member_accuracy.csv").read_text()
    assert result["single_net"] == evaluated["metrics"]["single_net"]


def test_bad_checkpoint_path_fails_cleanly(trained, tmp_path, capsys):
    out = tmp_path / "eval"
    args = _evaluate_args(trained, out)
    args[args.index("--checkpoint") + 1] = str(tmp_path / "missing.pt")
    assert cli.main(args) == 2
    assert "hyperman evaluate: error:" in capsys.readouterr().err
    assert not (out / "metrics.json").exists()


def test_samples_from_another_checkpoint_are_refused(trained, tmp_path, capsys):
    other = tmp_path / "other.pt"
    payload = checkpoint.load(trained["checkpoint"])
    payload["step"] += 1  # same model, different file: a different sha256
    checkpoint.save(other, payload)
    out = tmp_path / "eval"
    args = _evaluate_args(trained, out)
    args[args.index("--checkpoint") + 1] = str(other)
    assert cli.main(args) == 2
    assert "different hypernetwork" in capsys.readouterr().err
    assert not (out / "metrics.json").exists()


def test_baseline_of_the_wrong_size_is_refused(trained, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    checkpoint.save(bad, {"kind": "target", "target": "mnist_cnn", "theta": torch.zeros(10), "train_seconds": 1.0,
                          "config": {}})
    out = tmp_path / "eval"
    args = _evaluate_args(trained, out)
    args[args.index("--baselines") + 1] = str(bad)
    assert cli.main(args) == 2
    assert "1-D tensor of 20018 weights" in capsys.readouterr().err
    assert not (out / "metrics.json").exists()
    assert cli.main(["sample", "--checkpoint", str(bad), "--out", str(tmp_path / "s.pt")]) == 2
    assert "expected 'hypernetwork'" in capsys.readouterr().err
