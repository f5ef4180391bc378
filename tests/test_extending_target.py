"""README, "Extending": "A new target network", run for real: a toy target registered through the target registry
(hyperman.target_spec.REGISTRY) is accepted wherever a target is named, and G trains on it on the tiny config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hyperman import cli, settings, target_spec
from hyperman.params import SCHEMA_PATH, target_problems
from hyperman.target_spec import Conv, Dense, TargetSpec
from hyperman.targets import get_target
from hyperman.config import TrainConfig
from hyperman.hypernet_io import load_hypernetwork

from conftest import MNIST

ROOT = Path(__file__).resolve().parents[1]
# The worked example: one 3×3 convolution of 4 units with max-pool 2, then a dense layer of 16 units.
TOY = TargetSpec((1, 28, 28), (Conv(4, 3, 2),), (Dense(16),))


@pytest.fixture
def toy(monkeypatch) -> str:
    monkeypatch.setitem(target_spec.REGISTRY, "toy_cnn", TOY)
    return "toy_cnn"


def test_a_registered_target_is_a_target_everywhere(toy):
    target = get_target(toy)
    assert target.name == toy and target.input_shape == (1, 28, 28)
    # conv 1→4 (3×3 + bias), dense 4·14·14 → 16, output 16 → 10
    assert target.num_params == (9 * 4 + 4) + (4 * 14 * 14 * 16 + 16) + (16 * 10 + 10)
    assert target_spec.parse("conv4k3p2-fc16@1x28x28") == (toy, TOY)  # the same spec is called by its name
    assert target_spec.problem(toy, "--target") is None
    assert target_problems({"data": {"dataset": "mnist"}, "train": {"target": toy}}) == []
    assert "takes 1x28x28 images" in target_problems({"data": {"dataset": "cifar10"}, "train": {"target": toy}})[0]


def test_the_schema_names_every_registered_target():
    # params.yaml's `train.target` is free text checked against the registry; the schema's description lists
    # the registered names for a reader, so it is tied here.
    description = yaml.safe_load(SCHEMA_PATH.read_text())["properties"]["train"]["properties"]["target"]["description"]
    assert all(name in description for name in target_spec.REGISTRY)


def test_g_trains_on_a_registered_target_on_the_tiny_config(toy, tmp_path):
    tiny = yaml.safe_load((ROOT / "configs" / "tiny.yaml").read_text())
    section = {**tiny["train"], "target": toy, "steps": 3, "eval_every": 3, "checkpoint_every": 3, "device": "cpu"}
    argv, _ = settings.to_argv(TrainConfig, section, "train", passthrough=("device",))
    out = tmp_path / "g"
    assert cli.main(["train", "--data", str(MNIST), "--limit-train", str(tiny["data"]["limit_train"]),
                     "--out", str(out), *argv]) == 0
    model, config = load_hypernetwork(out / "hypernet.pt")
    assert config.target == toy and model.target.num_params == get_target(toy).num_params
