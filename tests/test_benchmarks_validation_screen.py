"""benchmarks/validation_screen.py on the tiny trained models: the validation figures of a G and of a deep
ensemble of two baselines, and the choice among the hypernetworks."""

import importlib.util
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("validation_screen", ROOT / "benchmarks" / "validation_screen.py")
validation_screen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(validation_screen)


def test_the_screen_scores_g_and_the_deep_ensemble_on_validation_and_chooses_by_nll(real_data, tiny_models, capsys):
    common = ["--data", str(real_data["mnist"]), "--ood", str(real_data["fashion-mnist"]), "--nets", "4",
              "--ood-images", "200", "--baselines", str(tiny_models["b0"].parent), str(tiny_models["b1"].parent),
              "--hypernets", str(tiny_models["g"].parent)]
    result = validation_screen.main([*common, "--member-floor", "0.0"])
    printed = capsys.readouterr().out
    deep, g = result["rows"]
    assert deep["run"] == "deep ensemble" and deep["nets"] == 2 and g["nets"] == 4 and g["tflops"] > 0
    for row in (deep, g):
        assert 0 < row["member_min"] <= row["member_mean"] <= 1 and 0 < row["ensemble_acc"] <= 1
        assert 0 < row["ensemble_nll"] < math.log(10) + 1 and 0 <= row["disagreement"] <= 1  # barely trained nets
        assert 0 <= row["ood_auroc_mi"] <= 1
    assert deep["disagreement"] > 0  # two independently trained nets disagree somewhere
    assert result["choice"] == "g" and "choice (lowest validation ensemble NLL" in printed
    assert validation_screen.main([*common, "--member-floor", "0.999"])["choice"] is None  # nobody reaches it
    with pytest.raises(SystemExit):
        validation_screen.main(["--data", str(real_data["mnist"])])
