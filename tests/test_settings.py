"""One source per setting: the config dataclasses against the CLI, params.yaml and the schema."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from hyperman import settings
from hyperman.device import DEVICES, PRECISIONS
from hyperman.entropy import DISTANCES
from hyperman.hypernetwork import LATENT_DISTRIBUTIONS, NORMS
from hyperman.targets import TARGETS
from hyperman.baseline import BaselineConfig
from hyperman.distillation import DistillConfig
from hyperman.evaluation import EvalConfig
from hyperman.noise_ensemble import NoiseConfig
from hyperman.sampling import SampleConfig
from hyperman.training import LAMBDA_SCHEDULES, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
SCHEMA = yaml.safe_load((ROOT / "workflow" / "schemas" / "params.schema.yaml").read_text())
# params.yaml section → (config class, keys of the section that the pipeline itself uses)
SECTIONS = {"train": (TrainConfig, set()), "sample": (SampleConfig, set()), "evaluate": (EvalConfig, set()),
            "distill": (DistillConfig, {"device"}), "baseline": (BaselineConfig, {"seeds", "device"}),
            "noise": (NoiseConfig, {"device"})}
# settings that params.yaml keeps in another section (the snapshot ensemble's cycles live in `snapshot`)
ELSEWHERE = {"baseline": {"snapshot_cycles"}}


REQUIRED_PATHS = {"evaluate": ["--checkpoint", "c", "--samples", "s", "--baselines", "b", "--data", "d", "--out", "o"]}


def _parse(cls: type, argv: list[str]):
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser, cls)
    return settings.from_args(cls, parser.parse_args(argv))


@pytest.mark.parametrize("section", SECTIONS)
def test_params_yaml_gives_the_dataclass_defaults(section):
    """params.yaml's values, passed as the workflow passes them, build exactly the default config."""
    cls, pipeline_only = SECTIONS[section]
    values = {k: v for k, v in PARAMS[section].items() if k not in pipeline_only}
    argv, _ = settings.to_argv(cls, values, section)
    paths = REQUIRED_PATHS.get(section, [])
    assert _parse(cls, argv + paths) == _parse(cls, paths)  # params.yaml's values are the CLI's defaults
    if not paths:
        assert _parse(cls, argv) == cls()  # and the dataclass's


def test_the_snapshot_section_agrees_with_the_baseline_config():
    assert PARAMS["snapshot"]["snapshot_cycles"] >= 1
    epochs = PARAMS["snapshot"].get("epochs", PARAMS["baseline"]["epochs"])
    assert epochs % PARAMS["snapshot"]["snapshot_cycles"] == 0


def test_a_changed_default_is_caught():
    """The comparison above can fail: one value off in the section gives another config."""
    values = {**PARAMS["train"], "lambda": PARAMS["train"]["lambda"] * 2}
    assert _parse(TrainConfig, settings.to_argv(TrainConfig, values, "train")[0]) != TrainConfig()


@pytest.mark.parametrize("section", SECTIONS)
def test_schema_keys_and_choices_come_from_the_dataclass(section):
    cls, pipeline_only = SECTIONS[section]
    fields = {settings.key_of(f): f for f in settings.settings_of(cls) if f.metadata["param"]}
    properties = SCHEMA["properties"][section]["properties"]
    assert set(properties) - pipeline_only == set(fields) - ELSEWHERE.get(section, set())
    for key, field in fields.items():
        if field.metadata["choices"] is not None:
            rule = properties[key]
            if "$ref" in rule:  # a shared definition, e.g. #/$defs/device
                rule = SCHEMA["$defs"][rule["$ref"].rsplit("/", 1)[1]]
            if "anyOf" in rule:  # e.g. diversity: the modes, or the old booleans
                rule = next(option for option in rule["anyOf"] if "enum" in option)
            assert rule.get("enum") == list(field.metadata["choices"]), key


def test_choices_are_the_registries():
    by_name = {f.name: f.metadata["choices"] for f in settings.settings_of(TrainConfig)}
    assert by_name["target"] == tuple(TARGETS)
    assert by_name["norm"] == NORMS and by_name["precision"] == PRECISIONS and by_name["device"] == DEVICES
    assert by_name["distance"] == DISTANCES and by_name["latent_dist"] == LATENT_DISTRIBUTIONS
    assert by_name["lambda_schedule"] == LAMBDA_SCHEDULES


def test_a_stray_params_key_is_refused():
    with pytest.raises(KeyError, match="train.nonsense"):
        settings.to_argv(TrainConfig, {"nonsense": 1}, "train")
