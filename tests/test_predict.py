"""`hyperman predict` (issue 22): real MNIST test digits written as PNG/JPEG files are classified above chance by a
tiny G, every input format gives the same predictions, abstention keeps the asked-for fraction of held-out
validation images, and every bad input is one line, exit 2, nothing written."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hyperman import cli
from hyperman.data import idx_bytes, load_dataset
from user_errors_common import _refused

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT / "data" / "mnist"


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _predict(*argv: str) -> None:
    assert cli.main(["predict", *argv, "--device", "cpu"]) == 0


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> dict:
    """150 MNIST test digits: as 28×28 greyscale PNGs and, every third one, as a 56×56 RGB JPEG (converted and
    resized back on reading); also the first 30 as .npy and IDX."""
    data = load_dataset(MNIST, limit_test=150)
    pixels = (data.test_x[:, 0] * 255).round().astype(np.uint8)
    folder = tmp_path_factory.mktemp("digits")
    for i, image in enumerate(pixels):
        if i % 3 == 2:
            Image.fromarray(image).convert("RGB").resize((56, 56)).save(folder / f"{i:03d}.jpg", quality=95)
        else:
            Image.fromarray(image).save(folder / f"{i:03d}.png")
    arrays = tmp_path_factory.mktemp("arrays")
    np.save(arrays / "first30.npy", pixels[:30])
    (arrays / "first30-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(pixels[:30])))
    return {"folder": folder, "labels": data.test_y, "arrays": arrays, "pixels": pixels}


def test_pngs_and_jpegs_of_real_digits_are_classified_above_chance(tiny_models, digits, tmp_path):
    out = tmp_path / "preds.csv"
    _predict("--checkpoint", str(tiny_models["g"]), "--inputs", str(digits["folder"]), "--num-nets", "8",
             "--out", str(out))
    rows = _rows(out)
    assert [r["input"] for r in rows] == sorted(p.name for p in digits["folder"].iterdir())
    predicted = np.array([int(r["class"]) for r in rows])
    accuracy = float((predicted == digits["labels"]).mean())
    assert accuracy > 0.4, accuracy  # chance is 0.1; this G reaches ~0.65 on validation
    assert all(r["abstain"] == "" for r in rows)  # no --coverage: no threshold, no verdict
    for r in rows:
        assert 0.1 <= float(r["confidence"]) <= 1 and float(r["mutual_information"]) >= -1e-9
        assert float(r["mutual_information"]) <= float(r["entropy"]) + 1e-6
        assert float(r["vote_share"]) in {k / 8 for k in range(1, 9)}
    details = json.loads((tmp_path / "preds.json").read_text())
    assert details["count"] == 150 and details["num_nets"] == 8 and details["threshold"] is None
    assert details["checkpoint"][0]["path"] == str(tiny_models["g"]) and len(details["checkpoint"][0]["sha256"]) == 64


def test_npy_idx_and_png_inputs_give_the_same_predictions(tiny_models, digits, tmp_path):
    pngs = tmp_path / "pngs"
    pngs.mkdir()
    for i, image in enumerate(digits["pixels"][:30]):
        Image.fromarray(image).save(pngs / f"{i:03d}.png")
    inverted = tmp_path / "inverted"  # dark digits on light paper, read back with --invert true
    inverted.mkdir()
    for i, image in enumerate(digits["pixels"][:30]):
        Image.fromarray(255 - image).save(inverted / f"{i:03d}.png")
    results = {}
    for name, path, invert in [("npy", digits["arrays"] / "first30.npy", "false"),
                               ("idx", digits["arrays"] / "first30-idx3-ubyte.gz", "false"), ("png", pngs, "false"),
                               ("inverted", inverted, "true"), ("not_inverted", inverted, "false")]:
        _predict("--checkpoint", str(tiny_models["b0"]), "--inputs", str(path), "--invert", invert,
                 "--out", str(tmp_path / f"{name}.csv"))
        results[name] = [{k: v for k, v in r.items() if k != "input"} for r in _rows(tmp_path / f"{name}.csv")]
    assert results["npy"] == results["idx"] == results["png"] == results["inverted"]
    assert results["not_inverted"] != results["npy"]
    assert len(results["npy"]) == 30 and all(float(r["mutual_information"]) == 0 for r in results["npy"])


def test_abstention_keeps_the_coverage_on_held_out_validation_images(tiny_models, tmp_path, uncertainty="mi"):
    """The threshold comes from the first 1,000 validation images; on the next 1,000, which it never saw, the model
    abstains on about 1 − coverage of them."""
    data = load_dataset(MNIST)
    np.save(tmp_path / "held_out.npy", data.val_x[1000:2000])
    out = tmp_path / "preds.csv"
    _predict("--checkpoint", str(tiny_models["g"]), "--inputs", str(tmp_path / "held_out.npy"), "--num-nets", "6",
             "--coverage", "0.8", "--uncertainty", uncertainty, "--data", str(MNIST), "--limit-val", "1000",
             "--out", str(out))
    rows = _rows(out)
    details = json.loads((tmp_path / "preds.json").read_text())
    abstain = np.array([r["abstain"] == "true" for r in rows])
    assert {r["abstain"] for r in rows} <= {"true", "false"}
    assert abs(abstain.mean() - 0.2) < 0.05, abstain.mean()
    assert details["validation"]["images"] == 1000 and abs(details["validation"]["kept_fraction"] - 0.8) < 0.01
    scores = np.array([float(r["mutual_information" if uncertainty == "mi" else "entropy"]) for r in rows])
    t = details["threshold"]
    assert np.all(scores[abstain] >= t - 1e-6) and np.all(scores[~abstain] <= t + 1e-6)
    assert details["abstained"] == int(abstain.sum()) and details["coverage"] == 0.8


def test_a_single_net_abstains_by_entropy(tiny_models, digits, tmp_path):
    out = tmp_path / "preds.csv"
    _predict("--checkpoint", str(tiny_models["b0"]), "--inputs", str(digits["arrays"] / "first30.npy"),
             "--coverage", "0.9", "--uncertainty", "entropy", "--data", str(MNIST), "--limit-val", "500",
             "--out", str(out))
    details = json.loads((tmp_path / "preds.json").read_text())
    assert details["validation"]["images"] == 500 and abs(details["validation"]["kept_fraction"] - 0.9) < 0.01
    for row in _rows(out):
        assert row["abstain"] == str(float(row["entropy"]) > details["threshold"]).lower() or \
            abs(float(row["entropy"]) - details["threshold"]) < 1e-6


def _bad_inputs(tmp: Path) -> dict[str, tuple[Path, str]]:
    (tmp / "empty").mkdir()
    (tmp / "broken").mkdir()
    (tmp / "broken" / "a.png").write_bytes(b"not a png at all")
    np.save(tmp / "cifar_shaped.npy", np.zeros((3, 32, 32, 3), dtype=np.uint8))
    np.save(tmp / "scaled_255.npy", np.full((2, 28, 28), 200.0, dtype=np.float32))
    np.save(tmp / "objects.npy", np.array([{"a": 1}], dtype=object))
    (tmp / "notes.txt").write_text("hello")
    return {"empty": (tmp / "empty", "no PNG or JPEG"), "broken": (tmp / "broken", "a.png is not a readable"),
            "shape": (tmp / "cifar_shaped.npy", "(N, 1, 28, 28) or (N, 28, 28)"),
            "range": (tmp / "scaled_255.npy", "[0, 1]"), "pickle": (tmp / "objects.npy", "not a readable .npy"),
            "text": (tmp / "notes.txt", "not an unsigned-byte IDX"), "missing": (tmp / "nothing", "does not exist")}


@pytest.mark.parametrize("case", ["empty", "broken", "shape", "range", "pickle", "text", "missing"])
def test_bad_inputs_are_one_line_exit_2_and_nothing_written(tiny_models, tmp_path, capsys, case):
    path, words = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out" / "preds.csv"
    _refused(capsys, ["predict", "--checkpoint", str(tiny_models["b0"]), "--inputs", str(path), "--out", str(out),
                      "--device", "cpu"], str(path.name), words)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_settings_are_refused_before_anything_is_written(tiny_models, digits, tmp_path, capsys):
    out = tmp_path / "preds.csv"
    common = ["predict", "--inputs", str(digits["arrays"] / "first30.npy"), "--out", str(out), "--device", "cpu"]
    _refused(capsys, [*common, "--checkpoint", str(tiny_models["g"]), "--coverage", "0.9"], "--coverage needs --data")
    _refused(capsys, [*common, "--checkpoint", str(tiny_models["b0"]), "--coverage", "0.9", "--data", str(MNIST)],
             "one net", "--uncertainty entropy")
    _refused(capsys, [*common, "--checkpoint", str(tiny_models["g"]), "--coverage", "1.5", "--data", str(MNIST)],
             "--coverage must be")
    _refused(capsys, [*common, "--checkpoint", str(tiny_models["b0"]), "--num-nets", "2"], "has 1 net")
    _refused(capsys, [*common, "--checkpoint", str(tiny_models["gp"])], "partial checkpoint", "--allow-partial")
    assert not out.exists() and not out.with_suffix(".json").exists()


@pytest.mark.parametrize("stage", ["predict", "export"])
def test_help_describes_every_flag(stage):
    parser = cli.build_parser(stage)
    sub = next(a for a in parser._actions if a.dest == "stage").choices[stage]
    for action in sub._actions:
        assert action.help and len(action.help) > 10, action.option_strings
