"""The SLURM profile (workflow/profiles/slurm): it parses, plans a sweep, and really submits through sbatch.

No SLURM here, so the submission test puts tiny fake `sbatch`/`sacct`/`sinfo`/...
scripts on PATH: sbatch records its arguments and hands out job ids, sacct
reports every job as FAILED. That drives the real snakemake-executor-plugin-slurm
code path (resources → sbatch flags) without a cluster.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "workflow" / "profiles" / "slurm"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "OMP_NUM_THREADS": "1"}
GPU_RULES = ("train", "train_baseline", "sample", "evaluate", "distill")

pytestmark = pytest.mark.skipif(shutil.which("snakemake", path=str(BIN)) is None,
                                reason="snakemake is not installed in this environment")


def sweep_config(tmp_path: Path) -> Path:
    config = yaml.safe_load((ROOT / "params.yaml").read_text())
    config["sweep"] = {**config["sweep"], "enabled": True, "lambdas": [1000, "inf"], "function_weights": [],
                       "settings": None, "seeds": [0, 1]}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_profile_parses_and_asks_for_gpus():
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["jobs"] >= 1
    for key in ("slurm_partition", "runtime", "mem_mb", "cpus_per_task"):
        assert key in profile["default-resources"]
    for rule in GPU_RULES:
        assert profile["set-resources"][rule]["gpu"] == 1, rule
        assert profile["set-threads"][rule] == profile["set-resources"][rule]["cpus_per_task"], rule
    # every rule named in the profile exists in the workflow
    rules = set(re.findall(r"^rule (\w+):", "".join(p.read_text() for p in (ROOT / "workflow/rules").glob("*.smk")),
                           flags=re.M))
    assert set(profile["set-resources"]) <= rules and set(profile["set-threads"]) <= rules


def test_snakemake_reads_the_profile_and_it_lifts_the_local_gpu_cap():
    from snakemake.cli import parse_args

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        _, args = parse_args(["-n", "--profile", str(PROFILE), "--workflow-profile", "none"])
    finally:
        os.chdir(cwd)
    assert args.executor == "slurm"
    assert args.resources["gpu"].value > 1  # profiles/default's gpu=1 is a single-machine limit
    assert {rule: r.value for rule, r in args.set_threads.items()} == {"train": 4, "train_baseline": 2, "sample": 4,
                                                                      "evaluate": 4, "distill": 4}


def _jobs(output: str) -> list[dict]:
    jobs = []
    for block in re.split(r"\n(?=rule \w+:)", output)[1:]:
        rule = block.split(":", 1)[0].split()[1]
        resources = re.search(r"^    resources: (.*)$", block, flags=re.M)
        shell = re.search(r"^Shell command: (.*)$", block, flags=re.M)
        jobs.append({"rule": rule, "command": shell.group(1) if shell else "",
                     "resources": dict(item.split("=", 1) for item in resources.group(1).split(", "))
                     if resources else {}})
    return jobs


@pytest.mark.parametrize("workflow_profile", [[], ["--workflow-profile", "none"]])
def test_a_dry_run_with_the_profile_plans_the_sweep(tmp_path, workflow_profile):
    result = subprocess.run([str(BIN / "snakemake"), "-n", "-p", "--forceall", "--profile", str(PROFILE),
                             *workflow_profile, "--configfile", str(sweep_config(tmp_path))],
                            cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs = _jobs(result.stdout)
    trains = [j for j in jobs if j["rule"] == "train"]
    assert len(trains) == 5  # main + 2 λ × 2 seeds
    assert sum("--diversity none" in j["command"] for j in trains) == 2
    for job in jobs:
        if job["rule"] in GPU_RULES:
            assert job["resources"]["gpu"] == "1" and job["resources"]["slurm_partition"] == "gpu", job
        elif job["rule"] in ("prepare", "report"):
            assert "gpu" not in job["resources"] and job["resources"]["slurm_partition"] == "cpu", job
    assert {j["resources"]["runtime"] for j in trains} == {"240"}


FAKES = {
    # sbatch --parsable prints the job id; we also record the whole call. The
    # plugin submits jobs concurrently, so each call gets its own id (its PID)
    # and its own file: a shared counter and log raced and lost a job under load.
    "sbatch": 'printf "%s" "$*" > "$FAKE_SLURM_DIR/$$.call"\necho "$$"\n',
    # sacct -X --parsable2 --format=JobIdRaw,State: every job failed (nothing runs here)
    "sacct": 'for f in "$FAKE_SLURM_DIR"/*.call; do [ -e "$f" ] && echo "$(basename "$f" .call)|FAILED"; done\n'
             'exit 0\n',
    "squeue": "exit 0\n",
    "sinfo": 'printf "PARTITION\\ncpu*\\ngpu\\n"\n',
    "scontrol": 'echo "MinJobAge = 300 sec"\n',
    "scancel": "exit 0\n",
    "sacctmgr": "echo testaccount\n",
    "sshare": "echo testaccount\n",
}


def _copy_repo(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        if name.startswith(("data/", "results/", "logs/")) or not (ROOT / name).is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    return dest


def test_the_profile_submits_gpu_jobs_through_sbatch(tmp_path):
    fakes = tmp_path / "bin"
    fakes.mkdir()
    for name, body in FAKES.items():
        path = fakes / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    repo = _copy_repo(tmp_path / "repo")
    (repo / "data" / "mnist").mkdir(parents=True)  # newer than the code: no prepare job for it
    calls_dir = tmp_path / "sbatch_calls"
    calls_dir.mkdir()
    env = {**ENV, "PATH": f"{fakes}{os.pathsep}{ENV['PATH']}", "FAKE_SLURM_DIR": str(calls_dir)}
    # two jobs: train (GPU rule) and prepare of the OOD set (CPU rule)
    result = subprocess.run([str(BIN / "snakemake"), "--profile", str(PROFILE), "--workflow-profile", "none",
                             "--slurm-init-seconds-before-status-checks", "1", "--slurm-status-attempts", "1",
                             "--slurm-no-account", "--latency-wait", "1", "--retries", "0",
                             "results/main/hypernet", "data/fashion-mnist"],
                            cwd=repo, env=env, capture_output=True, text=True, timeout=180)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "SLURM-job" in output, output[-3000:]  # the fake cluster fails every job
    calls = {}
    for call in calls_dir.glob("*.call"):
        args = call.read_text()
        rule = re.search(r"--comment rule_(\w+?)_wildcards", args).group(1)
        calls[rule] = args
    assert set(calls) == {"train", "prepare"}, (calls, output[-3000:])
    train, prepare = calls["train"], calls["prepare"]
    assert "--gpus=1" in train and "-p gpu" in train and "-t 240" in train and "--mem 16000" in train
    assert "--cpus-per-task=4" in train
    assert "--gpus" not in prepare and "-p cpu" in prepare and "--cpus-per-task=2" in prepare
    assert "--allowed-rules train" in train and "--executor slurm-jobstep" in train
