"""README "Extending → A new baseline", for real: a toy baseline (a net trained for one epoch) registered from
this file through hyperman.baseline_registry alone, trained by its own `hyperman` subcommand and evaluated
beside the other models on the tiny config, with no edit anywhere in the package.

This module is the toy's "module": its entry names this file's `add_arguments`/`run` as the stage and `load` as
evaluate's loader, exactly as a baseline in hyperman/baselines/ would name its own."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest

from hyperman import baseline_registry, checkpoint, cli, outputs
from hyperman.baseline_registry import COMPARISONS_CSV, MODELS_CSV, SHIFT_CSV, Baseline

from conftest import MNIST
from evaluate_common import _evaluate_args

TOY = Baseline("one_epoch_net", "one-epoch net", "#bcbd22", "*", (MODELS_CSV, COMPARISONS_CSV, SHIFT_CSV),
               section="one_epoch", command="train-one-epoch", stage=__name__,
               help="train one target net for a single epoch (the README's example baseline)",
               folder="results/baselines/one_epoch", files=("baseline.pt",), evaluate_flag="one_epoch",
               loader=f"{__name__}:load")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The toy stage's flags: `hyperman train-one-epoch --data D --out O [--limit-train N] [--seed S]`."""
    parser.add_argument("--data", required=True, type=Path, help="prepared dataset folder")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--limit-train", type=int, default=None, help="the first N training images")
    parser.add_argument("--seed", type=int, default=0, help="seed of init and data order")


def run(args: argparse.Namespace) -> int:
    """One epoch of the ordinary baseline training (hyperman.baseline), nothing else."""
    from hyperman.baseline import train_baseline
    from hyperman.config import BaselineConfig

    config = BaselineConfig(epochs=1, batch_size=32, seed=args.seed, limit_train=args.limit_train, augment_shift=0)
    train_baseline(config, args.data, args.out, "cpu", log=lambda message: None)
    return 0


def load(path: Path, target, baselines: list[dict]) -> dict:
    """evaluate's loader: the net's weights as a one-member model, and what its training cost."""
    payload = checkpoint.load(path, kind="target")
    return {"theta": payload["theta"].float()[None], "train_seconds": float(payload["train_seconds"]),
            "train_flops": payload.get("train_flops"), "train_passes": None, "detail": {"epochs": 1}}


@pytest.fixture
def toy():
    baseline_registry.register(TOY)
    try:
        yield TOY
    finally:
        baseline_registry.unregister(TOY.name)


def test_a_registered_baseline_trains_and_is_evaluated_beside_the_others(toy, trained, tmp_path, capsys):
    from hyperman.report.evidence import model_label
    from hyperman.report.figures.style import model_color, model_marker

    folder = tmp_path / toy.output_folder()
    assert cli.main(["train-one-epoch", "--data", str(MNIST), "--out", str(folder), "--limit-train", "1000"]) == 0
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--help"])
    assert "--one-epoch PATH" in capsys.readouterr().out  # evaluate's flag, from the entry
    out = tmp_path / "evaluate"
    args = _evaluate_args(trained, out, "--one-epoch", str(folder / toy.files[0]), "--ensemble-sizes", "1", "2",
                          "--shift-nets", "2", "--bootstrap-resamples", "20", "--adversarial-images", "20",
                          ood=False)
    assert cli.main(args) == 0
    result = json.loads((out / outputs.METRICS).read_text())
    net, single = result["models"]["one_epoch_net"], result["models"]["single_net"]
    assert list(result["models"])[-1] == "one_epoch_net" and net["members"] == 1 and net["epochs"] == 1
    assert 0.25 < net["accuracy"] < 1 and net["accuracy"] != single["accuracy"]  # trained, not a constant net
    assert 0 < net["nll"] < single["nll"] and net["train_seconds"] > 0
    assert set(net["shift_mean"]) and result["inputs"]["one_epoch"] == str(folder / "baseline.pt")
    comparison = result["comparisons"]["one_epoch_net"]["accuracy"]
    assert comparison["low"] <= comparison["estimate"] <= comparison["high"]
    with open(out / outputs.MODELS) as handle:
        rows = {row["model"]: row for row in csv.DictReader(handle)}
    assert float(rows["one_epoch_net"]["accuracy"]) == pytest.approx(net["accuracy"], rel=1e-5)
    assert model_label("one_epoch_net") == "one-epoch net"
    assert (model_color("one_epoch_net"), model_marker("one_epoch_net")) == ("#bcbd22", "*")


def test_without_its_flag_evaluate_leaves_the_baseline_out(toy):
    from hyperman.evaluation.config import baseline_paths
    from hyperman.stages.evaluate import add_arguments as evaluate_arguments, config_from_args

    parser = argparse.ArgumentParser()
    evaluate_arguments(parser)
    base = ["--checkpoint", "g.pt", "--samples", "s.pt", "--baselines", "b.pt", "--data", "d", "--out", "o"]
    assert baseline_paths(config_from_args(parser.parse_args(base))) == {}
    given = config_from_args(parser.parse_args(base + ["--one-epoch", "t/baseline.pt", "--noise", "n.pt"]))
    assert baseline_paths(given) == {"noise_ensemble": Path("n.pt"), "one_epoch_net": Path("t/baseline.pt")}
