"""`hyperman seeds-report` end to end on small synthetic metrics.json files of three replicates.

The files carry only what the seeds report reads (inputs, models, comparisons) with numbers chosen so that each
verdict is known in advance: the NLL difference against the deep ensemble is clearly negative (holds), the ECE
difference clearly positive (does not hold), the accuracy difference straddles 0 (not shown), and the members'
ECE has no interval (not shown, t interval only).
"""

from __future__ import annotations

import copy
import json
import math
import statistics
from pathlib import Path

import pytest

from hyperman import cli
from hyperman.seeds_report import summarise

Z = 1.959963984540054
T2 = 4.302652729911275  # t_{0.975}, 2 dof

# per replicate: the deep ensemble's accuracy, NLL, ECE, OOD AUROC and the differences (hypernet minus deep)
DEEP = [(0.990, 0.030, 0.004, 0.95), (0.992, 0.028, 0.005, 0.96), (0.991, 0.029, 0.003, 0.94)]
NLL_DIFF, NLL_HALF = [-0.010, -0.011, -0.012], [0.0005, 0.0006, 0.0004]
ECE_DIFF = [0.0100, 0.0101, 0.0102]
ACC_DIFF = [0.001, -0.002, 0.0005]


def _interval(estimate: float, half: float) -> dict:
    return {"estimate": estimate, "low": estimate - half, "high": estimate + half, "p_value": 0.5}


def _model(acc: float, nll: float, ece: float, auroc: float | None, members: int) -> dict:
    return {"accuracy": acc, "nll": nll, "ece": ece, "members": members,
            "ood": None if auroc is None else {"score": "mutual_information", "auroc": auroc}}


def metrics(r: int) -> dict:
    acc, nll, ece, auroc = DEEP[r]
    models = {"hypernet_ensemble": _model(acc + ACC_DIFF[r], nll + NLL_DIFF[r], ece + ECE_DIFF[r], auroc, 200),
              "hypernet_member": _model(0.985, 0.05, 0.01, 0.9, 200), "single_net": _model(0.988, 0.04, 0.006, 0.9, 1),
              "deep_ensemble": _model(acc, nll, ece, auroc, 5)}
    comparisons = {"deep_ensemble": {"accuracy": _interval(ACC_DIFF[r], 0.002),
                                     "nll": _interval(NLL_DIFF[r], NLL_HALF[r]),
                                     "ece": _interval(ECE_DIFF[r], 0.0002), "auroc": _interval(0.0, 0.01)},
                   "hypernet_member": {"accuracy": _interval(0.005, 0.001), "nll": _interval(-0.02, 0.001),
                                       "ece": {"estimate": 0.002 * (r + 1), "low": None, "high": None}, "auroc": None},
                   "single_net": {m: _interval(0.0, 0.01) for m in ("accuracy", "nll", "ece", "auroc")}}
    if r == 0:  # the default run also evaluates the snapshot ensemble: not in every replicate, left out
        models["snapshot_ensemble"] = _model(0.99, 0.03, 0.004, 0.9, 5)
        comparisons["snapshot_ensemble"] = {m: _interval(0.0, 0.01) for m in ("accuracy", "nll", "ece", "auroc")}
    return {"inputs": {"checkpoint": f"results/rep{r}/hypernet/hypernet.pt", "checkpoint_sha256": f"{r:064x}",
                       "baselines": [f"results/baselines/seed{s + 1000 * r}/baseline.pt" for s in range(5)],
                       "dataset": "mnist", "test_images": 10000},
            "models": models, "comparisons": comparisons}


def write(root: Path, all_metrics: list[dict]) -> list[str]:
    folders = []
    for r, m in enumerate(all_metrics):
        folder = root / f"rep{r}" / "evaluate"
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps(m))
        folders.append(str(folder))
    return folders


def test_seeds_report_end_to_end(tmp_path):
    folders = write(tmp_path, [metrics(r) for r in range(3)])
    out = tmp_path / "report"
    assert cli.main(["seeds-report", "--evaluate", *folders, "--out", str(out)]) == 0
    summary = json.loads((out / "seeds.json").read_text())
    table = (out / "seeds.md").read_text()
    assert summary["seeds"] == 3 and len(summary["replicates"]) == 3
    assert set(summary["models"]) == {"hypernet_ensemble", "hypernet_member", "single_net", "deep_ensemble"}
    assert summary["notes"]["skipped"]["models"] == ["snapshot_ensemble"] and "snapshot_ensemble" in table

    deep = summary["models"]["deep_ensemble"]
    accuracies = [d[0] for d in DEEP]
    assert deep["accuracy"]["mean"] == pytest.approx(statistics.mean(accuracies))
    assert deep["accuracy"]["sd"] == pytest.approx(statistics.stdev(accuracies))  # 0.001
    assert deep["auroc"]["mean"] == pytest.approx(0.95) and deep["auroc"]["sd"] == pytest.approx(0.01)
    assert "| deep ensemble (5 nets) | 99.10 % ± 0.10 pp | 0.0290 ± 0.0010 | 0.0040 ± 0.0010 | 0.9500 ± 0.0100 |" \
        in table

    # NLL against the deep ensemble, by hand: mean −0.011, sd 0.001; within variances (half/z)²
    nll = summary["comparisons"]["deep_ensemble"]["nll"]
    se_t = 0.001 / math.sqrt(3)
    assert nll["t_interval"]["low"] == pytest.approx(-0.011 - T2 * se_t)
    assert nll["t_interval"]["high"] == pytest.approx(-0.011 + T2 * se_t)
    within = statistics.mean((h / Z) ** 2 for h in NLL_HALF)
    se = math.sqrt(0.001 ** 2 / 3 + within)
    assert nll["combined"]["low"] == pytest.approx(-0.011 - T2 * se)
    assert nll["combined"]["high"] == pytest.approx(-0.011 + T2 * se) and nll["combined"]["high"] < 0
    assert nll["verdict"] == "holds"
    assert summary["comparisons"]["deep_ensemble"]["ece"]["verdict"].startswith("does not hold")
    assert summary["comparisons"]["deep_ensemble"]["accuracy"]["verdict"] == "not shown (the interval contains 0)"
    member_ece = summary["comparisons"]["hypernet_member"]["ece"]
    assert member_ece["combined"] is None and member_ece["verdict"].startswith("not shown (no per-seed bootstrap")
    assert member_ece["t_interval"]["estimate"] == pytest.approx(0.004)
    assert summary["comparisons"]["hypernet_member"]["auroc"] is None
    # Holm over every claim with a combined interval: deep 4 + single 4 + members 2 (accuracy, NLL)
    assert "Holm–Bonferroni over 10 claims" in summary["notes"]["verdict"]
    family = sorted(row["combined"]["p_value"] for c in summary["comparisons"].values() for row in c.values()
                    if row is not None and row["combined"] is not None)
    rank = family.index(nll["combined"]["p_value"])  # 2: the ECE and the members' NLL are clearer
    assert len(family) == 10 and nll["holm"]["adjusted_p"] == pytest.approx(
        max(min(1.0, (10 - i) * family[i]) for i in range(rank + 1)))
    assert "| deep ensemble (5 nets) | NLL | -0.01, -0.011, -0.012 |" in table and "*holds*" in table
    assert "Combined interval" in table and "conservative" in table


def test_a_partial_input_passes_its_warning_on(tmp_path):
    runs = [metrics(r) for r in range(2)]
    runs[1]["warnings"] = ["hypernet.pt is partial (step 20 of 100)"]
    out = tmp_path / "report"
    assert cli.main(["seeds-report", "--evaluate", *write(tmp_path, runs), "--out", str(out)]) == 0
    assert "step 20 of 100" in json.dumps(json.loads((out / "seeds.json").read_text())["warnings"])
    assert "**Warning**" in (out / "seeds.md").read_text()


def _same_checkpoint(runs):
    runs[1]["inputs"]["checkpoint_sha256"] = runs[0]["inputs"]["checkpoint_sha256"]


def _shared_baseline(runs):
    runs[2]["inputs"]["baselines"][0] = runs[0]["inputs"]["baselines"][3]


def _other_test_set(runs):
    runs[1]["inputs"]["test_images"] = 500


def _missing_key(runs):
    del runs[2]["comparisons"]


@pytest.mark.parametrize("spoil, words", [
    (_same_checkpoint, "evaluate the same hypernetwork"), (_shared_baseline, "share the baseline"),
    (_other_test_set, "evaluate every replicate with the same evaluate settings"),
    (_missing_key, "lacks comparisons"),
])
def test_evaluations_that_are_no_replicates_are_refused(tmp_path, capsys, spoil, words):
    runs = [copy.deepcopy(metrics(r)) for r in range(3)]
    spoil(runs)
    out = tmp_path / "report"
    out.mkdir()
    (out / "seeds.md").write_text("the previous table\n")
    assert cli.main(["seeds-report", "--evaluate", *write(tmp_path, runs), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err
    assert (out / "seeds.md").read_text() == "the previous table\n" and not (out / "seeds.json").exists()


def test_one_replicate_is_refused(tmp_path, capsys):
    assert cli.main(["seeds-report", "--evaluate", *write(tmp_path, [metrics(0)]), "--out",
                     str(tmp_path / "o")]) == 2
    assert "needs at least 2 --evaluate folders" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_summarise_leaves_out_a_metric_a_replicate_lacks():
    runs = [{"path": f"r{r}", "metrics": metrics(r)} for r in range(3)]
    runs[2]["metrics"]["models"]["single_net"]["ood"] = None
    summary = summarise(runs)
    assert summary["models"]["single_net"]["auroc"] is None and summary["models"]["single_net"]["nll"] is not None
