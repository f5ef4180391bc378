"""Issue 23's probes as tests: every user error is one line and exit 2, nothing of the user's is deleted or
half-written, and a checkpoint of a run that did not finish is never used as a finished one.

In-process (`hyperman.cli.main` with capsys) for speed; one tiny G and one tiny baseline are trained once for
the module, and the partial checkpoints are those with `finished` cleared, exactly what a killed run leaves
(tests/test_faults.py kills real runs).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

from hyperman import checkpoint
from hyperman.cli import main

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT / "data" / "mnist"
TINY = ["--nets-per-step", "4", "--images-per-net", "16", "--eval-nets", "4", "--limit-train", "300",
        "--latent-dim", "16", "--device", "cpu"]
TRAIN = ["train", "--data", str(MNIST), *TINY, "--steps", "3", "--checkpoint-every", "1", "--eval-every", "3"]
BASE = ["--data", str(MNIST), "--epochs", "1", "--limit-train", "300", "--batch-size", "100", "--device", "cpu"]


def _error(capsys, stage: str) -> str:
    """The one-line error of a failed call (its last stderr line), with no traceback anywhere."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"hyperman {stage}: error: "), err
    return line


def _refused(capsys, argv: list[str], *words: str) -> str:
    assert main(argv) == 2
    line = _error(capsys, argv[0])
    for word in words:
        assert word in line, line
    return line


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _partial_copy(source: Path, target: Path, **changes) -> Path:
    """A copy of a finished checkpoint marked as a run that stopped early (what a killed run leaves)."""
    payload = checkpoint.load(source)
    payload.pop("format")
    checkpoint.save(target, {**payload, "finished": False, **changes})
    return target


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A finished G (3 steps) with samples, a finished baseline (1 epoch) and their partial twins."""
    root = tmp_path_factory.mktemp("runs")
    assert main([*TRAIN, "--out", str(root / "g")]) == 0
    assert main(["sample", "--checkpoint", str(root / "g" / "hypernet.pt"), "--out", str(root / "samples.pt"),
                 "--num-nets", "4", "--device", "cpu"]) == 0
    assert main(["train-baseline", *BASE, "--out", str(root / "b0")]) == 0
    (root / "gp").mkdir()
    _partial_copy(root / "g" / "hypernet.pt", root / "gp" / "hypernet.pt", step=1)
    (root / "bp").mkdir()
    _partial_copy(root / "b0" / "baseline.pt", root / "bp" / "baseline.pt")
    shutil.copy(root / "b0" / "epochs.pt", root / "bp" / "epochs.pt")
    return {"root": root, "g": root / "g" / "hypernet.pt", "gp": root / "gp" / "hypernet.pt",
            "samples": root / "samples.pt", "b0": root / "b0" / "baseline.pt", "bp": root / "bp" / "baseline.pt"}


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


# --------------------------------------------------------------------------- outputs never destroy inputs
@pytest.mark.parametrize("stage", ["train", "train-baseline", "train-snapshot", "evaluate", "distill",
                                   "noise-ensemble", "prepare"])
def test_an_out_that_is_a_file_is_refused_and_kept(runs, tmp_path, capsys, stage):
    user = tmp_path / "f"
    user.write_text("data\n")
    r = runs
    argv = {"train": TRAIN, "train-baseline": ["train-baseline", *BASE],
            "train-snapshot": ["train-snapshot", *BASE, "--snapshot-cycles", "1"],
            "evaluate": ["evaluate", "--checkpoint", str(r["g"]), "--samples", str(r["samples"]), "--baselines",
                         str(r["b0"]), "--data", str(MNIST), "--limit-test", "50", "--device", "cpu"],
            "distill": ["distill", "--checkpoint", str(r["g"]), "--data", str(MNIST), "--epochs", "1",
                        "--limit-train", "300", "--device", "cpu"],
            "noise-ensemble": ["noise-ensemble", "--baseline", str(r["b0"]), "--data", str(MNIST), "--members", "2",
                               "--alphas", "0.05", "--device", "cpu"],
            "prepare": ["prepare", "--dataset", "mnist", "--from", str(MNIST)]}[stage]
    _refused(capsys, [*argv, "--out", str(user)], "is an existing file, not a folder")
    assert user.read_text() == "data\n"


def test_sample_out_must_be_a_file_path(runs, tmp_path, capsys):
    _refused(capsys, ["sample", "--checkpoint", str(runs["g"]), "--out", str(tmp_path), "--device", "cpu"],
             "is a folder")
    user = tmp_path / "f"
    user.write_text("data\n")
    _refused(capsys, ["sample", "--checkpoint", str(runs["g"]), "--out", str(user / "s.pt"), "--device", "cpu"],
             "is a file, not a folder")
    assert user.read_text() == "data\n"


def _aside(run: Path) -> list[Path]:
    """The OUT.previous-<UTC time> folders --force made beside `run`."""
    return sorted(run.parent.glob(f"{run.name}.previous-*"))


def _without_lock(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in tree.items() if name != ".lock"}


def test_a_failed_fresh_start_leaves_the_finished_run_as_it_was(runs, tmp_path, capsys, monkeypatch):
    """Refused settings touch nothing; a forced fresh run that fails after writing checkpoints leaves the old run
    intact beside it."""
    run = tmp_path / "run"
    shutil.copytree(runs["g"].parent, run)
    before = _tree(run)
    _refused(capsys, [*TRAIN, "--out", str(run), "--lambda", "nan"], "--lambda")
    assert _tree(run) == before

    import hyperman.training as training

    def fail(*args, **kwargs):
        raise training.TrainingError("loss became nan at step 2")

    monkeypatch.setattr(training, "validate", fail)  # the fresh run fails at its last step, checkpoints written
    _refused(capsys, [*TRAIN, "--out", str(run), "--seed", "5", "--force"], "loss became nan")
    [aside] = _aside(run)
    assert _tree(aside) == _without_lock(before)


# a fresh start (no --resume) of each training stage, with what a run of it leaves in its folder
FRESH = {"train": (TRAIN, "g"), "train-baseline": (["train-baseline", *BASE], "b0"),
         "train-snapshot": (["train-snapshot", *BASE, "--snapshot-cycles", "1"], "b0")}


@pytest.mark.parametrize("stage", [*FRESH, "distill"])
def test_a_fresh_start_into_a_run_is_refused_and_changes_nothing(runs, tmp_path, capsys, stage):
    run = tmp_path / "run"
    if stage == "distill":  # refused before anything is read from the folder: its student.pt only needs to exist
        argv = ["distill", "--checkpoint", str(runs["g"]), "--data", str(MNIST), "--epochs", "1", "--limit-train",
                "300", "--device", "cpu"]
        run.mkdir()
        shutil.copy(runs["b0"], run / "student.pt")
    else:
        argv, source = FRESH[stage]
        shutil.copytree(runs["root"] / source, run)
    before = _tree(run)
    assert main([*argv, "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"hyperman {stage}: error: --out {run} already holds a {stage} run")
    assert all(word in err[0] for word in ("--resume", "--force", "another --out")), err
    assert _tree(run) == before and not _aside(run)


@pytest.mark.parametrize("stage", FRESH)
def test_force_moves_the_earlier_run_aside_and_starts_afresh(runs, tmp_path, capsys, stage):
    argv, source = FRESH[stage]
    run = tmp_path / "run"
    shutil.copytree(runs["root"] / source, run)
    (run / "notes.txt").write_text("mine\n")  # not the run's: stays where it is
    before = _without_lock(_tree(run))
    assert main([*argv, "--out", str(run), "--force"]) == 0
    [aside] = _aside(run)
    assert f"moved the earlier run in {run} to {aside}" in capsys.readouterr().err
    assert _tree(aside) == {name: data for name, data in before.items() if name != "notes.txt"}
    assert (run / "notes.txt").read_text() == "mine\n"
    new = run / ("hypernet.pt" if stage == "train" else "baseline.pt")
    assert checkpoint.load(new)["finished"] is True


def test_resume_into_a_finished_run_still_works(runs, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(runs["g"].parent, run)
    assert main([*TRAIN, "--out", str(run), "--resume"]) == 0
    assert not _aside(run) and checkpoint.load(run / "hypernet.pt")["finished"] is True


def test_a_folder_without_a_run_is_used_as_it_is(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine\n")
    assert main(["train-baseline", *BASE, "--out", str(run)]) == 0
    assert (run / "notes.txt").read_text() == "mine\n" and (run / "baseline.pt").exists() and not _aside(run)


@pytest.mark.parametrize("stage, folder, words", [
    ("evaluate", "g", "holds a train run (hypernet.pt"), ("evaluate", "b0", "holds a train-baseline run"),
    ("noise-ensemble", "g", "holds a train run"), ("noise-ensemble", "notes", "holds other files (notes.txt)"),
    ("prepare", "b0", "holds a train-baseline run"), ("train", "b0", "holds a train-baseline run"),
    ("train-baseline", "g", "holds a train run"),
])
def test_an_out_holding_another_kind_of_run_is_refused(runs, tmp_path, capsys, stage, folder, words):
    """Evaluate and noise-ensemble replace their own earlier output (the usual rerun), never another run."""
    r, run = runs, tmp_path / "run"
    if folder == "notes":
        run.mkdir()
        (run / "notes.txt").write_text("mine\n")
    else:
        shutil.copytree(r["root"] / folder, run)
    argv = {"evaluate": ["evaluate", "--checkpoint", str(r["g"]), "--samples", str(r["samples"]), "--baselines",
                         str(r["b0"]), "--data", str(MNIST), "--limit-test", "50", "--device", "cpu"],
            "noise-ensemble": ["noise-ensemble", "--baseline", str(r["b0"]), "--data", str(MNIST), "--members", "2",
                               "--alphas", "0.05", "--device", "cpu"],
            "prepare": ["prepare", "--dataset", "mnist", "--from", str(MNIST)],
            "train": [*TRAIN, "--force"], "train-baseline": ["train-baseline", *BASE, "--force"]}[stage]
    before = _tree(run)
    _refused(capsys, [*argv, "--out", str(run)], words, "another --out" if folder != "notes" else "new or empty")
    assert _tree(run) == before and not _aside(run)


def test_noise_ensemble_replaces_its_own_earlier_output(runs, tmp_path, capsys):
    argv = ["noise-ensemble", "--baseline", str(runs["b0"]), "--data", str(MNIST), "--out", str(tmp_path / "n"),
            "--members", "2", "--alphas", "0.05", "--device", "cpu"]
    assert main(argv) == 0
    assert main([*argv, "--seed", "1"]) == 0
    assert checkpoint.load(tmp_path / "n" / "noise_ensemble.pt")["seed"] == 1


def test_the_run_files_out_folder_knows_are_those_the_stages_write():
    from hyperman import baseline, data, distillation, noise_ensemble, out_folder, outputs, run_state, seeds_report

    assert out_folder.RUNS["train"] == (run_state.CHECKPOINT, run_state.SUMMARY)
    assert out_folder.COMPANIONS["train"][0] == run_state.LOG
    assert out_folder.RUNS["train-baseline"] == (baseline.CHECKPOINT, baseline.EPOCHS, baseline.SNAPSHOTS,
                                                 baseline.SUMMARY)
    assert out_folder.RUNS["distill"] == (distillation.CHECKPOINT, distillation.METRICS)
    assert out_folder.RUNS["evaluate"] == (outputs.METRICS,)
    assert out_folder.RUNS["noise-ensemble"] == (noise_ensemble.MEMBERS, noise_ensemble.SUMMARY)
    assert out_folder.RUNS["prepare"] == (data.MANIFEST,)
    assert out_folder.RUNS["seeds-report"] == (seeds_report.SEEDS, seeds_report.SEEDS_TABLE)


def test_a_failed_run_leaves_no_lock_in_a_new_folder(tmp_path, capsys):
    (tmp_path / "nodata").mkdir()
    _refused(capsys, ["train", "--data", str(tmp_path / "nodata"), *TINY, "--out", str(tmp_path / "new")],
             "manifest.json")
    assert not (tmp_path / "new").exists()


def test_an_unwritable_out_is_one_line(tmp_path, capsys):
    if os.geteuid() == 0:  # root writes anywhere it may; /sys refuses even root
        out = Path("/sys/hyperman-test-out")
    else:
        (tmp_path / "ro").mkdir(mode=0o555)
        out = tmp_path / "ro" / "run"
    _refused(capsys, [*TRAIN, "--out", str(out)], "cannot write")


def test_a_full_disk_is_one_line_and_leaves_no_temporary_file(tmp_path, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:595] . unexpected pos 64 vs 0\nmore")

    monkeypatch.setattr(torch, "save", full)
    _refused(capsys, [*TRAIN, "--out", str(tmp_path / "run")], "cannot write checkpoint", "disk full")
    assert not list((tmp_path / "run").glob(".*.tmp"))


def test_checkpoints_are_ordinary_files(runs):
    assert runs["g"].stat().st_mode & 0o777 == 0o644
    assert runs["b0"].stat().st_mode & 0o777 == 0o644


# --------------------------------------------------------------------------- finished vs partial
def test_every_checkpoint_says_whether_its_run_finished(runs):
    assert checkpoint.load(runs["g"])["finished"] is True
    assert checkpoint.load(runs["b0"])["finished"] is True
    assert checkpoint.load(runs["b0"].parent / "epochs.pt")["finished"] is True
    assert checkpoint.is_finished(checkpoint.load(runs["gp"])) is False


def test_a_partial_g_is_refused_by_sample_evaluate_and_distill(runs, tmp_path, capsys):
    r = runs
    for argv in (["sample", "--checkpoint", str(r["gp"]), "--out", str(tmp_path / "s.pt"), "--device", "cpu"],
                 ["distill", "--checkpoint", str(r["gp"]), "--data", str(MNIST), "--out", str(tmp_path / "d"),
                  "--device", "cpu"]):
        _refused(capsys, argv, "partial checkpoint", "step 1 of 3", "--resume", "--allow-partial")
    assert not (tmp_path / "s.pt").exists() and not (tmp_path / "d").exists()


def test_allow_partial_uses_it_and_warns_in_every_output(runs, tmp_path, capsys):
    out = tmp_path / "s.pt"
    assert main(["sample", "--checkpoint", str(runs["gp"]), "--out", str(out), "--num-nets", "3", "--device", "cpu",
                 "--allow-partial"]) == 0
    assert "partial checkpoint" in checkpoint.load(out, kind="samples")["warnings"][0]
    assert "partial checkpoint" in json.loads(out.with_suffix(".json").read_text())["warnings"][0]
    # the policy does not carry over to the next call
    _refused(capsys, ["evaluate", "--checkpoint", str(runs["gp"]), "--samples", str(out), "--baselines",
                      str(runs["b0"]), "--data", str(MNIST), "--out", str(tmp_path / "e"), "--device", "cpu"],
             "partial checkpoint")


def test_a_partial_baseline_is_refused_by_noise_ensemble_and_evaluate(runs, tmp_path, capsys):
    r = runs
    _refused(capsys, ["noise-ensemble", "--baseline", str(r["bp"]), "--data", str(MNIST), "--out",
                      str(tmp_path / "n"), "--members", "2", "--alphas", "0.05", "--device", "cpu"],
             "partial checkpoint", "train-baseline")
    _refused(capsys, ["evaluate", "--checkpoint", str(r["g"]), "--samples", str(r["samples"]), "--baselines",
                      str(r["bp"]), "--data", str(MNIST), "--out", str(tmp_path / "e"), "--device", "cpu"],
             "partial checkpoint")
    assert not (tmp_path / "n").exists() and not (tmp_path / "e").exists()


def test_epochs_of_another_seed_beside_a_baseline_are_refused(runs, tmp_path, capsys):
    folder = tmp_path / "b"
    shutil.copytree(runs["b0"].parent, folder)
    record = checkpoint.load(folder / "epochs.pt")
    record.pop("format")
    checkpoint.save(folder / "epochs.pt", {**record, "config": {**record["config"], "seed": 7}})
    _refused(capsys, ["evaluate", "--checkpoint", str(runs["g"]), "--samples", str(runs["samples"]), "--baselines",
                      str(folder / "baseline.pt"), "--data", str(MNIST), "--out", str(tmp_path / "e"),
                      "--device", "cpu"], "another run")
    _refused(capsys, ["train-baseline", *BASE, "--out", str(folder), "--resume"], "another run")


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
