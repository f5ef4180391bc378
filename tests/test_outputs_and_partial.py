"""Issue 23's probes as tests: nothing of the user's is deleted or half-written (`--out`, `--force`,
`--resume`), and a checkpoint of a run that did not finish is never used as a finished one.

In-process (`hyperman.cli.main` with capsys) for speed; one tiny G and one tiny baseline are trained once for
the session (conftest.py `runs`), and the partial checkpoints are those with `finished` cleared, exactly what a
killed run leaves (tests/test_faults.py kills real runs).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from hyperman import checkpoint
from hyperman.cli import main

from user_errors_common import BASE, MNIST, TINY, TRAIN, _refused, _tree


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
    from hyperman import baseline, data, distillation, noise_ensemble, hypernet_io, out_folder, outputs, run_state, seeds_report

    assert out_folder.RUNS["train"] == (hypernet_io.CHECKPOINT, hypernet_io.SUMMARY)
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
