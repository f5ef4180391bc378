"""README "Extending → A new diversity term", for real: a toy term added through the registry trains the tiny
config, shows up in the log, and changes what G learns (a term that did nothing would leave G as it was)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch

from hyperman import checkpoint
from hyperman.config import TrainConfig
from hyperman.config.choices import DIVERSITY_TERMS
from hyperman.diversity_terms import TERMS, StepNets, Term, listed
from hyperman.objective import check_settings
from hyperman.training import TrainingError, train

from conftest import MNIST

TINY = dict(steps=3, nets_per_step=4, images_per_net=8, eval_every=3, eval_nets=4, checkpoint_every=3,
            limit_train=300, latent_dim=8, lr=1e-2, lr_decay=0.99, augment_shift=0, device="cpu")
quiet = lambda message: None  # noqa: E731


@dataclass
class SpreadTerm(Term):
    """The README's example: the mean log standard deviation of every weight over the step's nets (a crude
    entropy of a Gaussian fit), weighted by its own setting."""

    name: ClassVar[str] = "spread"
    weight_scale: float = 0.5  # its own setting: the term's weight

    def weight(self, step: StepNets) -> float:
        return self.weight_scale

    def entropy(self, step: StepNets) -> torch.Tensor:
        return step.theta.std(0).clamp_min(1e-12).log().mean()


@pytest.fixture
def spread(monkeypatch):
    """SpreadTerm registered for one test (the README registers with @register at import)."""
    monkeypatch.setitem(TERMS, SpreadTerm.name, SpreadTerm)
    return SpreadTerm


def _final(folder):
    payload = checkpoint.load(folder / "hypernet.pt", kind="hypernetwork")
    log = [json.loads(line) for line in (folder / "train_log.jsonl").read_text().splitlines()]
    return payload, log


def test_a_toy_term_trains_the_tiny_config_and_changes_g(tmp_path, spread):
    train(TrainConfig(diversity=["weights"], **TINY), MNIST, tmp_path / "without", log=quiet)
    train(TrainConfig(diversity=["weights", "spread"], **TINY), MNIST, tmp_path / "with", log=quiet)
    (plain, _), (extended, log) = _final(tmp_path / "without"), _final(tmp_path / "with")
    assert extended["config"]["diversity"] == ["weights", "spread"]
    assert all("entropy_spread" in r and torch.isfinite(torch.tensor(r["entropy_spread"])) for r in log)
    for r in log:  # the logged parts add up to the loss: the term entered it with its weight
        assert r["loss"] == pytest.approx(r["lambda"] * r["ce"] - r["entropy"] - 0.5 * r["entropy_spread"],
                                          rel=1e-5, abs=1e-3)
    changed = [k for k in plain["model"] if not torch.equal(plain["model"][k], extended["model"][k])]
    assert changed, "the toy term left G exactly as without it: it does nothing"


def test_an_unregistered_term_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="--diversity 'spread' is not one of weights, function"):
        check_settings(TrainConfig(diversity=["weights", "spread"]))
    with pytest.raises(TrainingError, match="--diversity 'spread'"):
        train(TrainConfig(diversity="spread", **TINY), MNIST, tmp_path, log=quiet)
    assert not (tmp_path / "hypernet.pt").exists()


@pytest.mark.parametrize("old, terms", [("both", ["weights", "function"]), ("none", []), ("weights", ["weights"]),
                                        (True, ["weights"]), (["function", "both"], ["function", "weights"])])
def test_the_old_modes_map_to_lists(old, terms):
    assert TrainConfig(diversity=old).diversity == terms


def test_the_settings_choices_are_the_built_in_terms():
    """`diversity`'s flag and schema choices (hyperman.config.choices, torch-free) name the registry's terms."""
    assert DIVERSITY_TERMS == listed()


def test_the_checkpoint_spells_an_old_mode_as_before():
    """A run of before the registry stores the same config, so its checkpoint is the same bytes (DVC reruns
    nothing); a list that is no old mode is stored as the list, and both load back as lists."""
    assert TrainConfig().stored()["diversity"] == "both"
    assert TrainConfig(diversity=["function"]).stored()["diversity"] == "function"
    assert TrainConfig(diversity=["weights", "spread"]).stored()["diversity"] == ["weights", "spread"]
    for given in ("none", ["weights", "spread"]):
        config = TrainConfig(diversity=given)
        assert TrainConfig(**config.stored()) == config
