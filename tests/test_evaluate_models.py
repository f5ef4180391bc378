"""`hyperman evaluate` on every model at once: baselines with per-epoch checkpoints, snapshot and noise ensembles,
training FLOPs and the equal-compute curve, paired comparisons with intervals."""

import csv
import json

import pytest
import torch

from hyperman import checkpoint, cli, outputs
from hyperman.targets import get_target

from evaluate_common import _evaluate_args


@pytest.fixture(scope="module")
def evidence(trained):
    """Baseline folders with per-epoch checkpoints (baseline.pt = the last epoch), a snapshot and a noise
    ensemble, and a training summary of 5 s and 6 TFLOP: members cost [1, 2, 3] and [1.5, 3, 4.5] s and
    TFLOP after epochs 1-3, so the deep ensemble costs 7.5 TFLOP, 1.25x the hypernetwork's."""
    root, target = trained["root"] / "evidence", get_target("mnist_cnn")
    thetas = target.init(8, torch.Generator().manual_seed(7))
    baselines = []
    for k, seconds in enumerate(([1.0, 2.0, 3.0], [1.5, 3.0, 4.5])):
        folder = root / f"seed{k}"
        folder.mkdir(parents=True, exist_ok=True)
        epochs = thetas[3 * k:3 * k + 3]
        checkpoint.save(folder / "epochs.pt", {"kind": "target-epochs", "target": "mnist_cnn", "thetas": epochs,
                                               "seconds": seconds, "config": {}})
        checkpoint.save(folder / "baseline.pt", {"kind": "target", "target": "mnist_cnn", "theta": epochs[-1],
                                                 "train_seconds": seconds[-1], "config": {},
                                                 "train_flops": int(seconds[-1] * 1e12)})
        (folder / "baseline_summary.json").write_text(json.dumps({"compute": {"image_net_passes": 1000 * (k + 1)}}))
        baselines.append(folder / "baseline.pt")
    checkpoint.save(root / "snapshots.pt", {"kind": "snapshot-ensemble", "target": "mnist_cnn", "thetas": thetas[6:8],
                                            "seconds": [2.0, 4.0], "epochs": [1, 2], "config": {}})
    noise = thetas[2] + 0.01 * torch.randn(3, target.num_params, generator=torch.Generator().manual_seed(1))
    checkpoint.save(root / "noise_ensemble.pt", {"kind": "noise-ensemble", "target": "mnist_cnn", "thetas": noise,
                                                 "alpha": 0.01})
    summary = root / "train_summary.json"
    summary.write_text(json.dumps({"train_seconds": 5.0, "compute": {"train_flops": 6e12, "image_net_passes": 5000}}))
    (root / "baseline_summary.json").write_text(json.dumps({"compute": {"train_flops": 4e12,  # the snapshots'
                                                                        "image_net_passes": 2000}}))
    return {**trained, "baselines": baselines, "extra": ["--snapshots", str(root / "snapshots.pt"), "--noise",
                                                         str(root / "noise_ensemble.pt"), "--train-summary",
                                                         str(summary)]}


def _rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_evaluate_every_model_with_equal_compute_and_intervals(evidence, tmp_path):
    out = tmp_path / "eval"
    assert cli.main(_evaluate_args(evidence, out, *evidence["extra"])) == 0
    result = json.loads((out / "metrics.json").read_text())
    models = result["models"]
    assert list(models) == ["hypernet_ensemble", "hypernet_ensemble_k", "hypernet_member", "single_net",
                            "noise_ensemble", "snapshot_ensemble", "deep_ensemble"]
    # the grid's last cell is the deep ensemble (baseline.pt = the last epoch), to the printed digits
    grid = {(int(r["members"]), int(r["epochs"])): r for r in _rows(out / outputs.EQUAL_COMPUTE)}
    assert sorted(grid) == [(k, e) for k in (1, 2) for e in (1, 2, 3)]
    assert float(grid[2, 3]["seconds"]) == 7.5 and float(grid[1, 2]["seconds"]) == 2.0
    assert float(grid[2, 3]["train_flops"]) == 7.5e12 and float(grid[1, 2]["train_flops"]) == 2e12
    for name in ("accuracy", "nll"):
        assert float(grid[2, 3][name]) == pytest.approx(models["deep_ensemble"][name], rel=1e-5)
    assert float(grid[2, 3]["ood_auroc"]) == pytest.approx(models["deep_ensemble"]["ood"]["auroc"], rel=1e-5)
    match = result["equal_compute"]
    assert match["hypernet"]["train_flops"] == 6e12 and match["deep_ensemble"]["train_flops"] == 7.5e12
    assert match["ratio"] == pytest.approx(1.25) and match["within_tolerance"] is False  # 25 % more: flagged
    assert models["hypernet_ensemble_k"]["members"] == 2 == models["deep_ensemble"]["members"]
    assert models["hypernet_ensemble_k"]["test_flops_per_image"] == models["deep_ensemble"]["test_flops_per_image"]
    assert models["hypernet_ensemble"]["test_flops_per_image"] == (models["hypernet_ensemble"]["members"]
                                                                   * get_target("mnist_cnn").flops_per_image())
    assert models["snapshot_ensemble"]["train_flops"] == 4e12 and models["single_net"]["train_flops"] == 3e12
    passes = {name: m["train_image_net_passes"] for name, m in models.items()}  # from each stage's summary
    assert passes == {"hypernet_ensemble": 5000, "hypernet_ensemble_k": 5000, "hypernet_member": 5000,
                      "single_net": 1000, "noise_ensemble": 1000, "snapshot_ensemble": 2000, "deep_ensemble": 3000}
    assert models["single_net"]["ood"]["score"] == "entropy"
    assert models["deep_ensemble"]["ood"]["score"] == "mutual_information"
    assert models["snapshot_ensemble"]["train_seconds"] == 4.0 and models["noise_ensemble"]["alpha"] == 0.01
    # every model compared with the hypernetwork ensemble; the table holds the same numbers
    assert sorted(result["comparisons"]) == sorted(set(models) - {"hypernet_ensemble"})
    acc = result["comparisons"]["single_net"]["accuracy"]
    assert acc["estimate"] == pytest.approx(models["hypernet_ensemble"]["accuracy"] - models["single_net"]["accuracy"])
    assert acc["low"] <= acc["estimate"] <= acc["high"]
    rows = {(r["model"], r["metric"]): r for r in _rows(out / outputs.COMPARISONS)}
    assert float(rows["single_net", "accuracy"]["low"]) == pytest.approx(acc["low"], rel=1e-5)
    assert {r["model"] for r in _rows(out / outputs.MODELS)} == set(models)
    shifted = {r["model"] for r in _rows(out / outputs.SHIFT)}
    assert shifted == set(models) - {"hypernet_member", "hypernet_ensemble_k"}
    assert set(models["noise_ensemble"]["shift_mean"]) == {"rotation", "translation", "gaussian_noise"}
    assert result["controls"]["alignment"]["baselines"]["nets"] == 1
    assert result["controls"]["alignment"]["hypernet_equal_size"]["nets"] == 1
    assert result["paths"]["direct_aligned"]["worst_accuracy"] is not None
    # the same numbers as the older sections, from the same probabilities; weight distances on equal set sizes
    assert models["deep_ensemble"]["accuracy"] == pytest.approx(result["deep_ensemble"]["accuracy"])
    assert models["hypernet_ensemble"]["accuracy"] == pytest.approx(
        result["hypernet"]["ensemble_gain_detail"]["ensemble_accuracy"])
    assert result["diversity"]["hypernet"]["nn_l1_nets"] == result["diversity"]["deep_ensemble"]["nn_l1_nets"] == 2
    _check_selective(result, out)


def _check_selective(result, out):
    """Selective prediction for every model: AURC and accuracy at 90/95/99 % coverage by entropy (and by MI for
    ensembles) with intervals, and the curves in selective.csv ending at each model's accuracy."""
    models, curves = result["models"], {}
    for row in _rows(out / outputs.SELECTIVE):
        curves.setdefault((row["model"], row["score"]), []).append((float(row["coverage"]), float(row["risk"])))
    for name, entry in models.items():
        selective = entry["selective"]
        scores = ["entropy"] + (["mutual_information"] if entry["members"] > 1 and name != "hypernet_member" else [])
        assert [s for s in ("entropy", "mutual_information") if selective[s] is not None] == scores, name
        for score in scores:
            s = selective[score]
            assert set(s) == {"aurc", "accuracy_at_90", "accuracy_at_95", "accuracy_at_99"}
            if name == "hypernet_member":
                continue  # a mean over nets: no interval, no curve
            for value in s.values():
                assert value["low"] <= value["estimate"] <= value["high"], (name, score)
            curve = curves[name, score]
            assert curve[-1][0] == 1.0 and curve[-1][1] == pytest.approx(1 - entry["accuracy"], abs=1e-6)
            # 120 test images: 90 % keeps the 108 most confident, a point of the 200-point curve
            assert 1 - dict(curve)[0.9] == pytest.approx(s["accuracy_at_90"]["estimate"], abs=1e-6)
    assert "n/a" in models["single_net"]["selective"]["note"]
    assert set(curves) == {(n, s) for n in models if n != "hypernet_member" for s in ("entropy", "mutual_information")
                           if models[n]["selective"][s] is not None}
    assert "aurc" in result["selective_notes"]


def test_a_model_compared_with_itself_differs_by_exactly_zero():
    from hyperman.evaluation import Model, compare
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(3, 50, 10, generator=g), -1)
    ood = torch.softmax(torch.randn(3, 30, 10, generator=g), -1)
    model = Model(probs, ood, 1.0)
    result = compare(model, model, torch.randint(0, 10, (50,), generator=g), 200, 0)
    for metric in ("accuracy", "nll", "ece", "brier", "auroc"):
        assert (result[metric]["estimate"], result[metric]["low"], result[metric]["high"]) == (0.0, 0.0, 0.0)
        assert result[metric]["excludes_zero"] is False
    assert result["mcnemar"]["p_value"] == 1.0


def test_flops_match_states_the_ratio_and_flags_more_than_ten_percent():
    from hyperman.evaluation import flops_match
    assert flops_match(100.0, 109.0)["within_tolerance"] is True
    assert flops_match(100.0, 89.0) == {"ratio": 0.89, "within_tolerance": False, "tolerance": 0.1}
    assert flops_match(None, 1.0)["ratio"] is None  # older inputs: no verdict rather than a wrong one
