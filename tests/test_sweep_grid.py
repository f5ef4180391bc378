"""workflow/sweep_grid.py: the sweep crosses any scalar train setting (`sweep.settings`, issue 20's levers) with
λ × β × seeds, names each run so that the name parses back, plans the run's training with those flags, and
refuses a grid a run name cannot carry. Planning only: no training here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
import pipeline  # noqa: E402
import sweep_grid  # noqa: E402

TRAIN = {"lambda": 30000, "function_weight": 2.0, "diversity": "both", "seed": 0, "outlier_probes": 0,
         "layer_weights": "flat", "latent_components": 1}


def _config(settings: dict, **sweep) -> dict:
    return {"train": TRAIN, "sweep": {"lambdas": [30000], "function_weights": [2], "settings": settings, **sweep}}


def test_settings_cross_lambda_and_beta_and_every_name_parses_back_to_its_overrides():
    runs = pipeline.sweep_runs(_config({"outlier_probes": [0, 16], "layer_weights": ["flat", "rising"]},
                                       seeds=[0]))
    # the all-default combination is the main run itself: the report counts it once
    assert runs == ["lambda30000-beta2-outlier_probes0-layer_weightsrising-seed0",
                    "lambda30000-beta2-outlier_probes16-layer_weightsflat-seed0",
                    "lambda30000-beta2-outlier_probes16-layer_weightsrising-seed0"]
    assert pipeline.run_overrides(runs[1], TRAIN) == {"lambda": 30000.0, "seed": 0, "function_weight": 2.0,
                                                      "diversity": "both", "outlier_probes": 16,
                                                      "layer_weights": "flat"}
    # the longest setting name wins (probes vs outlier_probes), a float keeps its value, no β is fine too
    assert pipeline.run_overrides("lambda1000-probes8-function_eps0.001-seed2", TRAIN) == {
        "lambda": 1000.0, "seed": 2, "probes": 8, "function_eps": 0.001}
    assert pipeline.run_overrides("lambdainf-latent_components4-seed1", TRAIN) == {
        "diversity": "none", "seed": 1, "latent_components": 4}
    with pytest.raises(ValueError, match="bad run name"):
        pipeline.run_overrides("lambda1000-gamma2-seed0", TRAIN)


def test_a_list_of_settings_tries_each_lever_alone_around_the_main_run():
    alternatives = [{}, {"outlier_probes": [16]}, {"latent_components": [4]},
                    {"layer_weights": ["rising"], "outlier_probes": [0, 16]}]
    runs = pipeline.sweep_runs(_config(alternatives, seeds=[0, 1]))
    assert runs == ["lambda30000-beta2-seed1",  # {} at seed 0 is the main run itself
                    "lambda30000-beta2-outlier_probes16-seed0", "lambda30000-beta2-outlier_probes16-seed1",
                    "lambda30000-beta2-latent_components4-seed0", "lambda30000-beta2-latent_components4-seed1",
                    "lambda30000-beta2-layer_weightsrising-outlier_probes0-seed0",
                    "lambda30000-beta2-layer_weightsrising-outlier_probes0-seed1",
                    "lambda30000-beta2-layer_weightsrising-outlier_probes16-seed0",
                    "lambda30000-beta2-layer_weightsrising-outlier_probes16-seed1"]
    overrides = pipeline.run_overrides("lambda30000-beta2-latent_components4-seed1", TRAIN)
    assert overrides["latent_components"] == 4 and "outlier_probes" not in overrides  # the others stay the main run's
    # an alternative's own seeds: screened on one seed, next to the settings above on two
    screened = pipeline.sweep_runs(_config([{"outlier_probes": [16]}, {"function_every": [2], "seeds": [0]}],
                                           seeds=[0, 1]))
    assert screened == ["lambda30000-beta2-outlier_probes16-seed0", "lambda30000-beta2-outlier_probes16-seed1",
                        "lambda30000-beta2-function_every2-seed0"]
    with pytest.raises(pipeline.HypermanError, match=r"sweep.settings\[\].seeds: \[-1\]; give a non-empty list"):
        pipeline.sweep_runs(_config([{"function_every": [2], "seeds": [-1]}]))
    with pytest.raises(pipeline.HypermanError, match="a crossed mapping takes sweep.seeds"):
        pipeline.sweep_runs(_config({"function_every": [2], "seeds": [0]}))
    with pytest.raises(pipeline.HypermanError, match=r"sweep.settings\[1\]: 4; each alternative must be a mapping"):
        pipeline.sweep_runs(_config([{"outlier_probes": [16]}, 4]))
    with pytest.raises(pipeline.HypermanError, match="sweep.settings.lam: not a sweepable"):
        pipeline.sweep_runs(_config([{"outlier_probes": [16]}, {"lam": [1]}]))


def test_a_sweep_of_settings_alone_varies_them_around_the_main_run():
    config = {"train": TRAIN, "sweep": {"settings": {"latent_components": [1, 4]}}}
    assert pipeline.sweep_runs(config) == ["lambda30000-latent_components4-seed0"]


def test_the_planned_training_of_a_settings_run_carries_its_flags():
    config = yaml.safe_load((ROOT / "params.yaml").read_text())
    config["sweep"] = {**config["sweep"], "enabled": True, "lambdas": [], "function_weights": [],
                       "settings": {"outlier_probes": [16], "latent_components": [4]}, "seeds": []}
    (run,) = pipeline.sweep_runs(config)
    assert run == f"lambda{config['train']['lambda']}-outlier_probes16-latent_components4-seed0"
    words = [str(word) for word in pipeline.stage(config, "train", run=run).argv]
    flag = {words[i]: words[i + 1] for i in range(len(words) - 1) if words[i].startswith("--")}
    assert flag["--outlier-probes"] == "16" and flag["--latent-components"] == "4"
    assert flag["--out"] == f"results/{run}/hypernet"
    main = [str(word) for word in pipeline.stage(config, "train").argv]
    assert main[main.index("--outlier-probes") + 1] == "0" and main[main.index("--latent-components") + 1] == "1"


@pytest.mark.parametrize("settings, message", [
    ({"lam": [1000]}, "sweep.settings.lam: not a sweepable train setting"),
    ({"seed": [1, 2]}, "axes of their own"),
    ({"eval_every": [500]}, "not a sweepable train setting"),  # how a run computes, not what it trains
    ({"outlier_families": [["lines"]]}, "not a sweepable train setting"),
    ({"outlier_probes": []}, "non-empty list"),
    ({"outlier_probes": [1.5]}, "whole number"),
    ({"layer_weights": ["0.5,1,1,2"]}, "a word of letters, digits, _"),
    ({"outlier_weight": ["high"]}, "a number >= 0"),
])
def test_a_grid_a_run_name_cannot_carry_is_refused_with_the_key(settings, message):
    with pytest.raises(pipeline.HypermanError, match=message):
        pipeline.sweep_runs(_config(settings))


def test_the_schema_takes_the_settings_section():
    from hyperman.config.workflow import ParamsError, validate

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["sweep"]["settings"] = {"outlier_probes": [0, 16], "layer_weights": ["rising"]}
    validate(params)
    params["sweep"]["settings"] = [{"outlier_probes": [16]}, {"layer_weights": ["rising"]}]
    validate(params)
    params["sweep"]["settings"] = {"outlier_probes": [-1]}
    with pytest.raises(ParamsError, match="sweep.settings.outlier_probes.0: bad value -1; allowed: .*>= 0"):
        validate(params)
    params["sweep"]["settings"] = [{"latent_components": [4]}, {"outlier_probes": [-1]}]
    with pytest.raises(ParamsError, match="sweep.settings.1.outlier_probes.0: bad value -1"):
        validate(params)
