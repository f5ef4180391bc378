"""Issue 23's probes as tests: every user error is one line and exit 2 (settings, manifests, empty checkpoints,
the workflow's own CLI). Outputs and partial checkpoints: tests/test_outputs_and_partial.py.

In-process (`hyperman.cli.main` with capsys) for speed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from hyperman.cli import main

from user_errors_common import BASE, MNIST, ROOT, TINY, TRAIN, _refused


# --------------------------------------------------------------------------- settings: one line, exit 2, no folder
@pytest.mark.parametrize("flags, words", [
    (["--lambda", "nan"], "--lambda must be a finite number > 0, got nan"),
    (["--lambda", "inf"], "--lambda"), (["--lambda", "-5"], "--lambda"), (["--latent-dim", "0"], "--latent-dim"),
    (["--lr-decay", "-1"], "--lr-decay"), (["--steps", "0"], "--steps"), (["--steps", "-1"], "--steps"),
    (["--eval-every", "0"], "--eval-every"), (["--nets-per-step", "0"], "--nets-per-step"),
    (["--nets-per-step", "1"], "--nets-per-step must be an integer >= 2"), (["--eval-nets", "0"], "--eval-nets"),
    (["--eval-nets", "1"], "--eval-nets"), (["--checkpoint-every", "0"], "--checkpoint-every"),
    (["--lr", "-1"], "--lr"), (["--lr", "nan"], "--lr"), (["--images-per-net", "0"], "--images-per-net"),
])
def test_a_bad_train_setting_is_one_line_and_writes_nothing(tmp_path, capsys, flags, words):
    line = _refused(capsys, [*TRAIN, "--out", str(tmp_path / "run"), *flags], words)
    assert "learning rate" not in line or flags[0] == "--lr"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, words", [
    (["train-snapshot", *BASE, "--epochs", "10", "--snapshot-cycles", "3"], "not a multiple of --snapshot-cycles"),
    (["train-baseline", *BASE, "--lr", "nan"], "--lr"),
    (["distill", "--checkpoint", "g.pt", "--data", str(MNIST), "--temperature", "0"], "--temperature"),
])
def test_bad_settings_of_other_stages(tmp_path, capsys, argv, words):
    _refused(capsys, [*argv, "--out", str(tmp_path / "run")], words)
    assert not (tmp_path / "run").exists()


def test_a_fraction_for_a_count_is_refused_by_argparse(capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*TRAIN, "--out", "x", "--steps", "10.0"])
    assert exit_.value.code == 2


def test_check_params_refuses_nan_and_a_fraction(tmp_path, capsys):
    import yaml

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"].update(lr=float("nan"), steps=10.0)
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    assert main(["check-params", str(tmp_path / "p.yaml")]) == 2
    err = capsys.readouterr().err
    assert "train.lr must be a finite number" in err and "train.steps must be an integer" in err
    assert "Traceback" not in err



# --------------------------------------------------------------------------- manifests and empty checkpoints
def _data_copy(tmp_path: Path, manifest_text: str) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    (root / "MNIST").symlink_to(MNIST / "MNIST")
    (root / "manifest.json").write_text(manifest_text)
    return root


def _altered_index() -> str:
    manifest = json.loads((MNIST / "manifest.json").read_text())
    manifest["validation"]["indices"][0] += 1 if manifest["validation"]["indices"][1] > 1 else 0
    return json.dumps(manifest)


def _manifest(**changes):
    """A function giving the real manifest with `changes`: called in the test, after conftest has prepared the
    data (a fresh clone has no data/ when the tests are collected)."""
    def text() -> str:
        manifest = json.loads((MNIST / "manifest.json").read_text())
        manifest.update(changes)
        return json.dumps(manifest)
    return text


@pytest.mark.parametrize("text, words", [
    ("garbage{", "not JSON"), ("", "not JSON"), ("[]", "holds a list"), ("{}", "unknown dataset"),
    (_manifest(validation={"size": 3}), "no validation indices"), (_manifest(dataset="foo"), "unknown dataset"),
    (_manifest(validation={"size": 1, "seed": 0, "indices": [10 ** 6]}), "validation ind"),
    (_altered_index, "do not match its manifest_sha256"),
])
def test_a_bad_manifest_is_one_line(tmp_path, capsys, text, words):
    data = _data_copy(tmp_path, text() if callable(text) else text)
    _refused(capsys, ["train", "--data", str(data), *TINY, "--out", str(tmp_path / "run")], "manifest.json", words,
             "hyperman prepare")
    assert not (tmp_path / "run").exists()


def test_prepare_over_a_broken_manifest_prepares_again(tmp_path, capsys):
    data = _data_copy(tmp_path, "[]")
    assert main(["prepare", "--dataset", "mnist", "--from", str(MNIST), "--out", str(data)]) == 0
    assert json.loads((data / "manifest.json").read_text())["validation"]["size"] == 5000


@pytest.mark.parametrize("size", ["-5", "0", "100000"])
def test_prepare_refuses_an_impossible_validation_size(tmp_path, capsys, size):
    _refused(capsys, ["prepare", "--dataset", "mnist", "--from", str(MNIST), "--out", str(tmp_path / "d"),
                      "--val-size", size], "--val-size")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("stage", ["sample", "noise-ensemble"])
def test_an_empty_checkpoint_is_one_line(tmp_path, capsys, stage):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    argv = {"sample": ["sample", "--checkpoint", str(empty), "--out", str(tmp_path / "s.pt")],
            "noise-ensemble": ["noise-ensemble", "--baseline", str(empty), "--data", str(MNIST), "--out",
                               str(tmp_path / "n")]}[stage]
    _refused(capsys, [*argv, "--device", "cpu"], "corrupt or truncated")


# --------------------------------------------------------------------------- the workflow's CLI and help texts
@pytest.fixture(scope="module")
def pipeline():
    sys.path.insert(0, str(ROOT / "workflow"))  # as tests/test_workflow.py imports it
    try:
        import pipeline
    finally:
        sys.path.remove(str(ROOT / "workflow"))
    return pipeline


@pytest.mark.parametrize("text", [None, "train: [", "data: 3"])
def test_pipeline_with_a_missing_or_bad_params_file(pipeline, tmp_path, capsys, text):
    path = tmp_path / "p.yaml"
    if text is not None:
        path.write_text(text)
    assert pipeline.main(["list", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pipeline.py: error: ") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("stage", ["distill", "report"])
def test_help_says_exit_status_2(stage, capsys):
    with pytest.raises(SystemExit):
        main([stage, "--help"])
    out = capsys.readouterr().out
    assert "status 1" not in out and "status 2" in out
