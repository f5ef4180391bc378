"""params.yaml validation: every kind of bad value names the key, the value and what is allowed."""

import copy
from pathlib import Path

import pytest
import yaml

from hyperman import cli
from hyperman.params import ParamsError, check_sections, load, validate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def params():
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_the_shipped_params_are_valid(params):
    """params.yaml and every file in configs/: a whole params file as it is, an overlay (fewer sections, e.g.
    configs/fashion_mnist.yaml) merged over params.yaml the way `snakemake --configfile` merges it."""
    from snakemake.utils import update_config

    assert validate(params) is params
    for extra in sorted((ROOT / "configs").glob("*.yaml")):
        overlay = yaml.safe_load(extra.read_text())
        if set(overlay) >= set(params):
            load(extra)
        else:
            merged = copy.deepcopy(params)
            update_config(merged, overlay)
            assert merged != params, extra
            check_sections(validate(merged))


@pytest.mark.parametrize("path, value, expected", [
    (("train", "bogus"), 1, "train.bogus: unknown key; allowed keys:"),
    (("train", "steps"), "many", "train.steps: bad value 'many'; allowed: type integer"),
    (("train", "steps"), 0, "train.steps: bad value 0; allowed: type integer, >= 1"),
    (("train", "lr"), 2.0, "train.lr: bad value 2.0; allowed: type number, > 0, <= 1"),
    (("data", "dataset"), "mnst", "data.dataset: bad value 'mnst'; allowed: 'mnist', 'fashion-mnist', 'cifar10'"),
    (("train", "distance"), "l3", "train.distance: bad value 'l3'; allowed: 'l1', 'l2'"),
    (("baseline", "seeds"), [], "baseline.seeds: bad value []; allowed:"),
    (("sweep", "lambdas"), [-1], "sweep.lambdas.0: bad value -1"),
    (("seeds", "replicates"), 1, "seeds.replicates: bad value 1; allowed: type integer, >= 2"),
])
def test_bad_values_name_the_key(params, path, value, expected):
    bad = copy.deepcopy(params)
    bad[path[0]][path[1]] = value
    with pytest.raises(ParamsError) as error:
        validate(bad)
    assert expected in str(error.value)


def test_missing_section_is_named(params):
    del params["train"]
    with pytest.raises(ParamsError, match="'train' is a required property"):
        validate(params)


def test_check_params_cli_exits_non_zero(params, tmp_path, capsys):
    params["train"]["lambda"] = -3
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    assert cli.main(["check-params", str(path)]) == 2
    assert "train.lambda: bad value -3" in capsys.readouterr().err
    assert cli.main(["check-params", str(ROOT / "params.yaml")]) == 0
