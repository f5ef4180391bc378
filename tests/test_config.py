"""hyperman.config: every stage's settings, torch-free, and the lists of choices the torch modules use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hyperman import config, data, probes
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
                                                ("split_seed", -1, "data.split_seed"),
                                                ("limit_train", -1, "data.limit_train")])
def test_the_data_section_is_checked_by_its_config(key, value, words):
    params = {"data": {"dataset": "mnist", "ood_dataset": "fashion-mnist", key: value}}
    with pytest.raises(ParamsError, match=words):
        check_sections(params)


@pytest.mark.parametrize("value, mode", [("both", "both"), (True, "weights"), ("false", "none")])
def test_diversity_mode_maps_the_old_booleans(value, mode):
    assert config.diversity_mode(value) == mode
