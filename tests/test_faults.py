"""Fault injection on `hyperman train`: SIGKILL at random points, corrupt checkpoints, two runs on one folder.

Everything goes through the CLI in a subprocess, as a crash, a full disk or a
second terminal would meet it."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hyperman import checkpoint
from hyperman.config import TrainConfig
from hyperman.hypernet_io import build_model

from conftest import MNIST, ROOT

pytestmark = pytest.mark.slow
STEPS = 12
TINY = ["--nets-per-step", "4", "--images-per-net", "4", "--latent-dim", "8", "--limit-train", "300",
        "--eval-every", "5", "--eval-nets", "4", "--checkpoint-every", "1", "--lr", "1e-2", "--device", "cpu"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
EXPECTED_KEYS = {"format", "kind", "model", "optimizer", "step", "config", "generator", "eval_generator",
                 "torch_rng", "elapsed_s"}


def _command(out: Path, *extra: str, steps: int = STEPS) -> list[str]:
    return [sys.executable, "-m", "hyperman", "train", "--data", str(MNIST), "--out", str(out),
            "--steps", str(steps), *TINY, *extra]


def _run(out: Path, *extra: str, steps: int = STEPS) -> subprocess.CompletedProcess:
    return subprocess.run(_command(out, *extra, steps=steps), cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=300)


def _start(out: Path, *extra: str, steps: int = STEPS) -> subprocess.Popen:
    # stderr carries one "step k/N" progress line per step (no terminal: plain lines, every step for N < 40)
    return subprocess.Popen(_command(out, *extra, steps=steps), cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_step(process: subprocess.Popen, step: int) -> bool:
    """Read progress lines until step `step` is done; False if the run ended first."""
    for line in process.stderr:
        if line.startswith("step ") and int(line.split()[1].split("/")[0]) >= step:
            return True
    return False


def _assert_checkpoint_is_whole_or_absent(out: Path) -> int:
    """After a kill, hypernet.pt is absent or a complete checkpoint; any leftover is a hidden temp file.
    Returns the checkpoint's step (0 if none)."""
    stray = {p.name for p in out.iterdir()} - {"hypernet.pt", "train_log.jsonl", ".lock", "train_summary.json"}
    assert all(name.startswith(".") and name.endswith(".tmp") for name in stray), stray
    path = out / "hypernet.pt"
    if not path.exists():
        return 0
    payload = checkpoint.load(path, kind="hypernetwork")  # raises if torn: that would be the bug
    assert EXPECTED_KEYS <= payload.keys()
    config = TrainConfig(**payload["config"])
    assert payload["model"].keys() == build_model(config).state_dict().keys()
    assert 1 <= payload["step"] <= STEPS
    return payload["step"]


def _log(out: Path) -> list[dict]:
    records = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    for record in records:
        record.pop("elapsed_s")  # wall time, the one thing allowed to differ
    return records


def test_sigkill_at_random_points_then_resume_is_bit_identical(tmp_path):
    straight = _run(tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr

    out, rng = tmp_path / "killed", random.Random(20)
    done = 0  # step of the last checkpoint
    for planned in sorted(rng.sample(range(2, STEPS - 2), 3)):
        process = _start(out, "--resume")
        target = max(planned, done + 1)  # kill somewhere after this step ...
        reached = _wait_for_step(process, target)
        time.sleep(rng.uniform(0.0, 0.15))  # ... up to about one step later: mid-step or mid-checkpoint
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()
        assert reached, f"the run ended before step {target}; make the test run longer"
        done = _assert_checkpoint_is_whole_or_absent(out)
        assert done < STEPS

    final = _run(out, "--resume")
    assert final.returncode == 0, final.stderr
    assert f"resuming from step {done}" in final.stderr
    assert not list(out.glob(".*.tmp")), "stray temp files of killed writes were left behind"

    a = checkpoint.load(tmp_path / "straight" / "hypernet.pt", kind="hypernetwork")
    b = checkpoint.load(out / "hypernet.pt", kind="hypernetwork")
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:  # bit-identical, batch-norm running statistics included
        assert torch.equal(a["model"][key], b["model"][key]), key
    for state_a, state_b in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(state_a[name], state_b[name]) for name in state_a)
    assert _log(out) == _log(tmp_path / "straight")  # validation draws included


@pytest.fixture(scope="module")
def two_steps(tmp_path_factory) -> Path:
    """One finished 2-step run, trained once (a process that imports torch) for both kinds of damage."""
    out = tmp_path_factory.mktemp("two_steps")
    result = _run(out, steps=2)
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_corrupt_checkpoint_is_named_not_a_torch_traceback(tmp_path, two_steps, damage):
    """A truncated or bit-flipped checkpoint is refused on --resume with one line naming it, and left as it was.
    Each damage gets its own copy of the shared 2-step run."""
    shutil.copytree(two_steps, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "hypernet.pt"
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[:len(data) // 2]
    else:  # inside the tensor data: torch.load itself would not notice
        middle = len(data) // 2
        data[middle:middle + 8] = bytes(b ^ 0xFF for b in data[middle:middle + 8])
    path.write_bytes(bytes(data))

    result = _run(tmp_path, "--resume", steps=4)
    assert result.returncode == 2
    assert str(path) in result.stderr and "corrupt" in result.stderr
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == bytes(data)  # left for the user to inspect, not overwritten


def test_a_second_run_on_the_same_folder_is_refused(tmp_path):
    first = _start(tmp_path, steps=10_000)
    try:
        assert _wait_for_step(first, 1), "the first run did not start"
        log_before = (tmp_path / "train_log.jsonl").read_text()
        second = _run(tmp_path, steps=3)
        assert first.poll() is None, "the first run should still be training"
    finally:
        first.kill()
        first.wait()
        first.stderr.close()
    assert second.returncode == 2
    assert "another hyperman run is writing to" in second.stderr and str(tmp_path) in second.stderr
    assert "Traceback" not in second.stderr
    # the second run wrote nothing: the first run's log only grew by its own lines
    assert (tmp_path / "train_log.jsonl").read_text().startswith(log_before)
