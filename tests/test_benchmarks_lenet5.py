"""benchmarks/lenet5_reference.py on a smoke-sized run: 2 members × 1 epoch on 300 real MNIST images."""

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("lenet5_reference", ROOT / "benchmarks" / "lenet5_reference.py")
lenet5_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lenet5_reference)  # in-process: a subprocess per call would spend its time importing torch


def test_the_lenet5_reference_writes_every_figure_beside_the_published_table(real_data, tmp_path, capsys):
    out = tmp_path / "lenet5.json"
    smoke = ["--members", "2", "--epochs", "1", "--limit-train", "300", "--resamples", "200",
             "--data", str(real_data["mnist"]), "--device", "cpu", "--threads", str(torch.get_num_threads())]
    assert lenet5_reference.main(["--out", str(out), *smoke]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["target"] == "lenet5" and result["members"] == 2 and result["test_images"] == 10_000
    assert result["baseline_config"]["epochs"] == 1 and result["machine"]["threads"] == torch.get_num_threads()
    assert len(result["train_seconds"]) == 2 and all(s > 0 for s in result["train_seconds"])
    single, ensemble = result["single"], result["ensemble"]
    for name in ("accuracy", "nll", "ece"):
        for score in (single["member0"][name], ensemble[name]):
            assert score["low"] <= score["estimate"] <= score["high"], name
        assert math.isclose(single["mean"][name], sum(single["per_member"][name]) / 2)
        assert single["per_member"][name][0] == single["member0"][name]["estimate"]
    for value in (single["mean"]["accuracy"], single["mean"]["ece"], ensemble["accuracy"]["estimate"],
                  ensemble["ece"]["estimate"], ensemble["ece_10_bins"]):
        assert 0 <= value <= 1
    assert 0 < ensemble["nll"]["estimate"] < math.log(10) + 1  # a barely trained net: near chance, finite
    assert result["published"]["ensemble"] == {"accuracy": 0.994, "nll": 0.016, "ece": 0.005}
    assert "| accuracy (%) |" in printed and "| 99.4 |" in printed
    assert (tmp_path / "lenet5_members" / "seed1" / "baseline.pt").is_file()

    # the members' folder holds another recipe (1 epoch): refused in one line, the JSON left as it was
    before = out.read_text()
    assert lenet5_reference.main(["--out", str(out), *smoke[:2], "--epochs", "2", *smoke[4:]]) == 2
    error = capsys.readouterr().err.strip()
    assert "cannot resume" in error and len(error.splitlines()) == 1
    assert out.read_text() == before
    with pytest.raises(SystemExit) as refused:
        lenet5_reference.main(["--out", str(out), "--members", "0"])
    assert refused.value.code == 2 and "--members must be at least 1" in capsys.readouterr().err
