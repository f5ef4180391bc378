"""hyperman.config: every stage's settings, torch-free, and the lists of choices the torch modules use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hyperman import config, data, probes
from hyperman.errors import HypermanError
from hyperman.params import ParamsError, check_sections

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_configs_loads_no_torch():
    """The workflow and check-params build configs without torch: a fresh interpreter that imports
    hyperman.config (and builds every config) has neither torch nor numpy nor the training loop loaded."""
    code = ("import json, sys, hyperman.config as c; [cls() for cls in (c.TrainConfig, c.BaselineConfig, "
            "c.SampleConfig, c.NoiseConfig, c.DistillConfig, c.DataConfig)]; print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    loaded = set(json.loads(result.stdout))
    assert "hyperman.config" in loaded
    heavy = {name for name in loaded if name.split(".")[0] in ("torch", "numpy", "torchvision")
             or name in ("hyperman.training", "hyperman.objective", "hyperman.data")}
    assert not heavy, sorted(heavy)[:10]


def test_the_registries_name_the_same_choices():
    """The lists in hyperman.config.choices are the ones the modules that act on them hold."""
    assert probes.DATA_FAMILIES == config.PROBE_FAMILIES and probes.OUTLIER_FAMILIES == config.OUTLIER_FAMILIES
    assert tuple(data.TORCHVISION_FOLDER) == config.DATASETS == tuple(data.IMAGE_SHAPES)


def test_every_params_section_has_its_config():
    import yaml

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert set(config.SECTIONS) <= set(params)
    assert config.DataConfig().val_size == params["data"]["val_size"]


@pytest.mark.parametrize("key, value, words", [("val_size", 0, "data.val_size"),
                                                ("split_seed", -1, "data.split_seed"), ("dataset", "svhn", "data.dataset"),
                                                ("limit_train", -1, "data.limit_train")])
def test_the_data_section_is_checked_by_its_config(key, value, words):
    params = {"data": {"dataset": "mnist", "ood_dataset": "fashion-mnist", key: value}}
    with pytest.raises(ParamsError, match=words):
        check_sections(params)


@pytest.mark.parametrize("value, mode", [("both", "both"), (True, "weights"), ("false", "none")])
def test_diversity_mode_maps_the_old_booleans(value, mode):
    assert config.diversity_mode(value) == mode


def _refusals():
    """(the stage's own check, a config with one bad value, the flag its message must name)."""
    from hyperman import baseline, distillation, noise_ensemble, objective
    from hyperman.evaluation import config as evaluation

    paths = dict(checkpoint=Path("c"), samples=Path("s"), baselines=[Path("b")], data=Path("d"), out=Path("o"))
    return [(objective.check_settings, config.TrainConfig(probe_family="gauss"), "--probe-family"),
            (objective.check_settings, config.TrainConfig(function_eps=0.0), "--function-eps"),
            (baseline.check_config, config.BaselineConfig(lr=2.0), "--lr"),
            (distillation.check_config, config.DistillConfig(temperature=float("nan")), "--temperature"),
            (distillation.check_config, config.DistillConfig(teacher="stale"), "--teacher"),
            (noise_ensemble.check_config, config.NoiseConfig(alphas=[]), "--alphas"),
            (noise_ensemble.check_config, config.NoiseConfig(limit_val=0), "--limit-val"),
            (evaluation.check_config, config.EvalConfig(**paths, path_points=1), "--path-points"),
            (evaluation.check_config, config.EvalConfig(**{**paths, "baselines": []}), "--baselines")]


@pytest.mark.parametrize("index", range(9))
def test_every_stage_check_is_the_settings_check(index):
    """One validation style: each stage's check refuses a value with hyperman.settings' message (the bounds and
    choices declared on the field, or the config's cross_problems), whatever error class the stage raises."""
    from hyperman import settings

    check, bad, flag = _refusals()[index]
    expected = settings.problems(bad)
    assert expected and flag in expected[0]
    with pytest.raises((ValueError, HypermanError)) as refused:
        check(bad)
    assert expected[0] in str(refused.value)


def test_a_good_config_passes_every_check():
    from hyperman import settings

    for cls in (config.TrainConfig, config.BaselineConfig, config.SampleConfig, config.NoiseConfig,
                config.DistillConfig, config.DataConfig):
        assert settings.problems(cls()) == [], cls.__name__
