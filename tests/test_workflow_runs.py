"""The workflow for real: the whole chain on configs/tiny.yaml through Snakemake, then through DVC.

Every stage is a process that imports torch, so the chain is run once, by Snakemake (two jobs at a time); the DVC
round trip starts from a copy of its outputs, which `dvc commit` records and `dvc repro` then finds up to date
(the two tools agree on every stage's deps and outs), and DVC runs for real the stages a change touches. One file:
xdist keeps it on one worker, beside tests/test_workflow.py's planning tests on the others."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from workflow_common import BIN, ROOT, _sha256, copy_repo, run


@pytest.fixture(scope="module")
def snakemake_repo(tmp_path_factory) -> Path:
    """A copy of the repository on configs/tiny.yaml plus a one-run sweep that crosses λ, β and a lever of
    `sweep.settings` (a mixture latent of 2 components), after one real `snakemake --cores 2`."""
    repo = copy_repo(tmp_path_factory.mktemp("snakemake"), ROOT / "configs" / "tiny.yaml")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["sweep"] = {"enabled": True, "lambdas": [1000], "function_weights": [0.5],
                       "settings": {"latent_components": [2]}, "seeds": [0], "member_floor": 0.0}
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    run([str(BIN / "snakemake"), "--cores", "2"], repo)
    return repo


@pytest.mark.slow
def test_snakemake_runs_the_tiny_chain_and_a_sweep_and_a_second_run_does_nothing(snakemake_repo):
    """Real `snakemake` on configs/tiny.yaml with a one-run sweep over λ, β and a `sweep.settings` lever (the
    fixture's run): every stage of the main run and the sweep run's evaluation are written, the report draws the
    sweep's figures and chooses a setting, every rule's benchmark is kept, the self-contained HTML report holds the
    figures, a second run does nothing, and an edit of a module plans exactly the rules that import it. The HTML
    report is made before the edit, so no `--touch` is needed."""
    repo = snakemake_repo
    metrics = json.loads((repo / "results/main/evaluate/metrics.json").read_text())
    assert 0.0 <= metrics["hypernet"]["members"]["accuracy_mean"] <= 1.0
    assert (repo / "results/main/report/report.md").is_file()
    swept = json.loads((repo / "results/lambda1000-beta0.5-latent_components2-seed0/evaluate/metrics.json")
                       .read_text())
    assert swept["paths"]["latent_between"]["worst_accuracy"] is not None  # the mixture's paths, measured
    assert (repo / "results/main/report/lambda_tradeoff.png").is_file()  # the sweep's accuracy–diversity figure
    assert (repo / "results/main/report/frontier.png").is_file()
    report = (repo / "results/main/report/report.md").read_text()
    assert "Chosen for the ensemble: **λ=" in report  # floor 0: a setting is always chosen
    assert "λ=1000, β=0.5, latent_components=2" in report  # the lever names the run
    for rule in ("train", "sample", "evaluate", "distill", "report"):
        assert (repo / f"logs/benchmarks/main/{rule}.tsv").is_file()
    run([str(BIN / "snakemake"), "--report", "report.html", "--cores", "1"], repo)  # self-contained HTML
    html = (repo / "report.html").read_text(errors="replace")
    assert "ensemble_accuracy.png" in html and len(html) > 100_000
    again = run([str(BIN / "snakemake"), "--cores", "2"], repo)
    assert "Nothing to be done" in again.stdout + again.stderr
    # editing a module reruns exactly the stages that import it (and what depends on their outputs)
    with open(repo / "hyperman/augment.py", "a") as handle:
        handle.write("# an edit\n")
    planned = run([str(BIN / "snakemake"), "-n", "--cores", "1"], repo).stdout
    reasons = dict(re.findall(r"^rule (\w+):\n(?:.*\n)*?    reason: (.*)$", planned, flags=re.M))
    assert "hyperman/augment.py" in reasons["train"] and "hyperman/augment.py" in reasons["train_baseline"]
    assert "prepare" not in reasons


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.mark.slow
def test_dvc_records_the_snakemake_outputs_and_reruns_what_a_change_touches(snakemake_repo, tmp_path):
    """Real DVC on configs/tiny.yaml, from the Snakemake run's outputs: `dvc commit` records them and `dvc repro`
    then does nothing (both tools agree on every stage's deps and outs); an evaluation parameter changes the
    evaluate stage only; a code edit marks exactly the stages whose code it is; push, losing cache and outputs,
    then pull restores the checkpoint byte for byte; `dvc exp run -S` of a training parameter runs exactly
    training and what lies downstream of it (not the baselines or the data), and `dvc metrics diff` shows the
    change. DVC runs 5 stages (the experiment's); the commands it runs are Snakemake's (tests/test_workflow.py)."""
    repo = copy_repo(tmp_path / "repo", ROOT / "configs" / "tiny.yaml")  # today's code, the main run's params
    for folder in ("data", "results"):
        shutil.copytree(snakemake_repo / folder, repo / folder)
    run(["git", "init", "-q"], repo)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init", "--allow-empty"], repo)
    (repo / "dvc.yaml").write_text(run([str(BIN / "python"), "workflow/pipeline.py", "dvc-yaml"], repo).stdout)
    stages = set(yaml.safe_load((repo / "dvc.yaml").read_text())["stages"])
    assert len(stages) == 11 and json.loads(run([str(BIN / "dvc"), "status", "--json"], repo).stdout)  # no lock yet
    run([str(BIN / "dvc"), "commit", "--force"], repo)
    assert _ran(run([str(BIN / "dvc"), "repro"], repo).stdout) == set()

    # an evaluation parameter: `dvc status` names evaluate alone, not training upstream of it (what runs downstream
    # of a changed stage is checked by the experiment below, which runs it)
    text = (repo / "params.yaml").read_text()
    params = yaml.safe_load(text)
    params["evaluate"]["draws"] = 3
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    assert set(json.loads(run([str(BIN / "dvc"), "status", "--json"], repo).stdout)) == {"evaluate"}
    (repo / "params.yaml").write_text(text)

    # a code change: `dvc status` names the stages whose code it is, and only those and their descendants
    original = (repo / "hyperman/augment.py").read_text()
    (repo / "hyperman/augment.py").write_text(original + "# an edit\n")
    status = json.loads(run([str(BIN / "dvc"), "status", "--json"], repo).stdout)
    changed = {name for name, entries in status.items()
               if any("hyperman/augment.py" in (e.get("changed deps") or {}) for e in entries if isinstance(e, dict))}
    assert {"train", "train_baseline_seed0"} <= changed and not any(n.startswith("prepare") for n in changed)
    (repo / "hyperman/augment.py").write_text(original)

    # the default local remote: push, lose cache and outputs, pull restores the checkpoint byte for byte
    checkpoint = repo / "results/main/hypernet/hypernet.pt"
    digest = _sha256(checkpoint)
    run([str(BIN / "dvc"), "remote", "modify", "--local", "local", "url", str(tmp_path / "storage")], repo)
    run([str(BIN / "dvc"), "push"], repo)
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "results")
    run([str(BIN / "dvc"), "pull"], repo)
    assert _sha256(checkpoint) == digest

    # experiments: a training parameter reruns training and everything downstream of it, and nothing else;
    # dvc metrics diff shows the change
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "baseline run"], repo)
    experiment = run([str(BIN / "dvc"), "exp", "run", "-S", "train.steps=10"], repo).stdout
    assert _ran(experiment) == {"train", "sample", "evaluate", "distill", "report"}
    assert _sha256(checkpoint) != digest
    diff = run([str(BIN / "dvc"), "metrics", "diff", "--json"], repo).stdout
    assert "results/main/evaluate/metrics.json" in json.loads(diff)
