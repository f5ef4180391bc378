"""The GPU helper scripts, exercised on the CPU: the check refuses clearly without CUDA, the scan runs end to end."""

import json
import math
import os
import subprocess
import sys
import time

import pytest
import torch

from conftest import MNIST, ROOT

ENV = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
TINY = ("--device cpu --limit-train 300 --nets-per-step 4 --images-per-net 8 --latent-dim 8 --eval-every 3 "
        "--checkpoint-every 3 --lr 0.01 --lr-decay 0.99")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_gpu_check_refuses_clearly_without_cuda(tmp_path):
    result = subprocess.run(["bash", "scripts/gpu_check.sh", str(MNIST), str(tmp_path / "out")], cwd=ROOT, env=ENV,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "no CUDA device" in result.stderr
    assert not (tmp_path / "out").exists()


def _cut_limit_s() -> int:
    """The scan's time limit for the run it cuts: long enough for that run to start and write its first
    checkpoint (step 3) beside the two others, however loaded the machine is, and no longer. Scaled from a
    start-up measured now (a process importing the training code): 3 s on the idle 2-core machine, 10 to 30 s
    while it runs other jobs; three processes side by side on 2 cores start about twice as slowly as one. A
    fixed 40 s was both too short for the busiest machine and 25 s of waiting on an idle one."""
    tick = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import hyperman.training"], cwd=ROOT, env=ENV, check=True, timeout=300)
    return max(15, math.ceil(4 * (time.perf_counter() - tick)))


@pytest.mark.slow
def test_scan_trains_scores_and_tabulates_every_config(tmp_path):
    result = subprocess.run(
        ["bash", "scripts/scan_configs.sh", str(tmp_path), str(MNIST), f"plain|--steps 6 {TINY}",
         f"shifted|--steps 6 {TINY} --augment-shift 2 --norm layer", f"cut|--steps 100000 {TINY}"],
        cwd=ROOT, env={**ENV, "SCAN_TIMEOUT_S": str(_cut_limit_s()), "SCAN_REPORT_ARGS": "200 300"},
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert set(rows) == {"plain", "shifted", "cut"}
    assert rows["plain"][1] == "6" and rows["cut"][1].endswith("*")  # * = cut short by the time limit
    shifted = json.loads((tmp_path / "shifted" / "gpu_check.json").read_text())
    assert shifted["score_nets"] == 200 and shifted["score_images"] == 300
    assert len(shifted["score_worst_of_100"]) == 2
    assert min(shifted["score_worst_of_100"]) == shifted["score_member_acc_min"]
    assert 0.0 <= shifted["score_member_acc_min"] <= shifted["score_member_acc_mean"] <= shifted["score_member_acc_max"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_gpu_study_refuses_clearly_without_cuda(tmp_path):
    result = subprocess.run(["bash", "scripts/gpu_study.sh", "configs/tiny.yaml", str(tmp_path / "out")], cwd=ROOT,
                            env=ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "no CUDA device" in result.stderr
    assert not (tmp_path / "out").exists()
