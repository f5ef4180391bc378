"""One source per setting: the config dataclasses against the CLI, params.yaml and the schema."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from hyperman import probes, settings
from hyperman.config import (DISTANCES, DEVICES, FUNCTION_ESTIMATORS, FUNCTION_SCALES, LAMBDA_SCHEDULES,
                             LATENT_DISTRIBUTIONS, NORMS, PRECISIONS, BaselineConfig, DataConfig, DistillConfig,
                             EvalConfig, NoiseConfig, SampleConfig, TrainConfig)
from hyperman.targets import TARGETS
from hyperman.params import SCHEMA_PATH

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())
# params.yaml section → (config class, keys of the section that the pipeline itself uses)
SECTIONS = {"data": (DataConfig, set()), "train": (TrainConfig, set()), "sample": (SampleConfig, set()), "evaluate": (EvalConfig, set()),
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


def test_the_seeds_section_agrees_with_the_schema():
    """The seeds study has no stage config (workflow/seeds_grid.py reads it): params.yaml gives exactly the
    schema's keys, within its bounds, off in the default study, and its stride keeps the replicates' baseline seeds
    apart (hyperman.params.seeds_problems, which check-params and Snakemake apply)."""
    from hyperman.params import seeds_problems, validate

    rule = SCHEMA["properties"]["seeds"]
    assert set(PARAMS["seeds"]) == set(rule["properties"]) and set(rule["required"]) <= set(PARAMS["seeds"])
    assert PARAMS["seeds"]["enabled"] is False and PARAMS["seeds"]["replicates"] >= rule["properties"]["replicates"][
        "minimum"]
    assert validate(PARAMS) is PARAMS and seeds_problems(PARAMS) == []
    spread = max(PARAMS["baseline"]["seeds"]) - min(PARAMS["baseline"]["seeds"])
    assert PARAMS["seeds"]["baseline_seed_stride"] > spread
    assert seeds_problems({**PARAMS, "seeds": {**PARAMS["seeds"], "baseline_seed_stride": spread}})


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
            if rule.get("type") == "array":  # a list setting, e.g. outlier_families: its items' choices
                rule = rule["items"]
            assert rule.get("enum") == list(field.metadata["choices"]), key


def test_choices_are_the_registries():
    by_name = {f.name: f.metadata["choices"] for f in settings.settings_of(TrainConfig)}
    target = next(f for f in settings.settings_of(TrainConfig) if f.name == "target")
    assert all(name in target.metadata["help"] for name in TARGETS)  # any spec goes: the help names the registry
    assert by_name["norm"] == NORMS and by_name["precision"] == PRECISIONS and by_name["device"] == DEVICES
    assert by_name["distance"] == DISTANCES and by_name["latent_dist"] == LATENT_DISTRIBUTIONS
    assert by_name["lambda_schedule"] == LAMBDA_SCHEDULES
    assert by_name["probe_family"] == probes.DATA_FAMILIES and by_name["outlier_families"] == probes.OUTLIER_FAMILIES
    assert by_name["function_estimator"] == FUNCTION_ESTIMATORS and by_name["function_scale"] == FUNCTION_SCALES


def test_a_stray_params_key_is_refused():
    with pytest.raises(KeyError, match="train.nonsense"):
        settings.to_argv(TrainConfig, {"nonsense": 1}, "train")


def _rule(rule: dict) -> dict:
    """A schema property with its shared definition ($ref) and, for an array, its items' rule resolved."""
    if "$ref" in rule:
        rule = {**SCHEMA["$defs"][rule["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in rule.items() if k != "$ref"}}
    if rule.get("type") == "array":
        return _rule(rule["items"])
    return rule


@pytest.mark.parametrize("section", SECTIONS)
def test_schema_bounds_are_the_dataclass_bounds(section):
    """Every minimum/maximum (exclusive or not) of a params key is the one declared on its config field, and a
    field with a bound has it in the schema: check-params and the CLI refuse the same values."""
    cls, _ = SECTIONS[section]
    for field in settings.settings_of(cls):
        if not field.metadata["param"]:
            continue
        key = settings.key_of(field)
        home = "snapshot" if key in ELSEWHERE.get(section, set()) else section
        rule = _rule(SCHEMA["properties"][home]["properties"][key])
        schema_bounds = {name: rule[word] for name, word in settings.SCHEMA_BOUNDS.items() if word in rule}
        assert schema_bounds == field.metadata["bounds"] or (home != section and schema_bounds["minimum"] == 1), key


@pytest.mark.parametrize("section, key, value, words", [
    ("train", "steps", 10.0, "train.steps must be an integer >= 1, got 10.0 (not a whole number; write 10)"),
    ("train", "lr", float("nan"), "train.lr must be a finite number > 0 and <= 1, got nan"),
    ("train", "lambda", float("inf"), "train.lambda must be a finite number > 0, got inf"),
    ("train", "eval_every", 0, "train.eval_every"),
    ("snapshot", "snapshot_cycles", 3, "snapshot.epochs 10 is not a multiple of snapshot.snapshot_cycles 3"),
    ("distill", "temperature", float("nan"), "distill.temperature"),
    ("seeds", "baseline_seed_stride", 4, "seeds.baseline_seed_stride 4 must exceed max - min of baseline.seeds (4)"),
])
def test_check_params_refuses_what_the_schema_lets_through(tmp_path, section, key, value, words):
    from hyperman.params import ParamsError, load

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params[section][key] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(ParamsError) as error:
        load(path)
    assert words in str(error.value)


@pytest.mark.parametrize("argv, words", [
    (["--lambda", "nan"], "--lambda must be a finite number > 0, got nan"),
    (["--lambda", "-5"], "--lambda must be a finite number > 0, got -5"),
    (["--latent-dim", "0"], "--latent-dim must be an integer >= 1, got 0"),
    (["--lr-decay", "-1"], "--lr-decay must be a finite number > 0 and <= 1, got -1"),
    (["--steps", "0"], "--steps must be an integer >= 1"),
    (["--nets-per-step", "1"], "--nets-per-step must be an integer >= 2"),
    (["--eval-nets", "1"], "--eval-nets must be an integer >= 2"),
    (["--eval-every", "0"], "--eval-every must be an integer >= 1"),
    (["--checkpoint-every", "0"], "--checkpoint-every must be an integer >= 1"),
    (["--images-per-net", "0"], "--images-per-net must be an integer >= 1"),
    (["--lr", "inf"], "--lr must be a finite number > 0 and <= 1, got inf"),
])
def test_the_cli_refuses_the_same_values_by_flag(argv, words):
    from hyperman.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        _parse(TrainConfig, argv)
    assert words in str(error.value) and "\n" not in str(error.value)
