"""`torchrun --nproc-per-node 2 -m hyperman train` (gloo, CPU) makes the same updates as one process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hyperman import checkpoint

from conftest import MNIST, ROOT

pytestmark = pytest.mark.slow
TORCHRUN = Path(sys.executable).parent / "torchrun"
TINY = ["--steps", "3", "--nets-per-step", "4", "--images-per-net", "4", "--latent-dim", "8",
        "--limit-train", "300", "--eval-every", "1000", "--eval-nets", "4", "--checkpoint-every", "3",
        "--augment-shift", "2", "--device", "cpu"]
# One thread per process: two ranks on a small machine, and reproducible reductions.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _train(out: Path, processes: int, *extra: str) -> subprocess.CompletedProcess:
    args = ["-m", "hyperman", "train", "--data", str(MNIST), "--out", str(out), *TINY, *extra]
    if processes == 1:
        command = [sys.executable, *args]
    else:  # --standalone: a private rendezvous on a free local port
        command = [str(TORCHRUN), "--standalone", "--nproc-per-node", str(processes), *args]
    return subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("objective", [[], ["--diversity", "both", "--probes", "4", "--weight-entropy", "per_layer",
                                             "--entropy-queue", "4", "--function-weight", "2"]],
                         ids=["weights", "every_lever"])
def test_two_processes_give_the_weights_of_one(tmp_path, objective):
    single, multi = _train(tmp_path / "single", 1, *objective), _train(tmp_path / "multi", 2, *objective)
    assert single.returncode == 0, single.stderr
    assert multi.returncode == 0, multi.stderr
    a = checkpoint.load(tmp_path / "single" / "hypernet.pt", kind="hypernetwork")["model"]
    b = checkpoint.load(tmp_path / "multi" / "hypernet.pt", kind="hypernetwork")["model"]
    assert a.keys() == b.keys()
    for key in a:  # batch-norm running statistics included
        torch.testing.assert_close(b[key], a[key], atol=1e-5, rtol=0, msg=key)
    # rank 0 alone wrote: one log line per step, one summary that knows it ran on 2 processes
    log = [json.loads(line) for line in (tmp_path / "multi" / "train_log.jsonl").read_text().splitlines()]
    assert [record["step"] for record in log] == [1, 2, 3]
    assert json.loads((tmp_path / "multi" / "train_summary.json").read_text())["world_size"] == 2


def test_nets_per_step_must_divide_by_the_number_of_processes(tmp_path):
    result = _train(tmp_path, 2, "--nets-per-step", "5")
    assert result.returncode != 0
    assert "--nets-per-step 5 does not divide by the 2 processes" in result.stderr
    assert not (tmp_path / "hypernet.pt").exists()
