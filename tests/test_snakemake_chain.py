"""The real `snakemake` run of the whole chain on configs/tiny.yaml, in a file of its own so that pytest-xdist
(one file per worker) runs it beside tests/test_dvc_repro.py's DVC round trip and the fast planning tests of
tests/test_workflow.py on the other workers, not before them."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from workflow_common import BIN, ROOT, copy_repo, run


@pytest.mark.slow
def test_snakemake_runs_the_tiny_chain_and_a_sweep_and_a_second_run_does_nothing(tmp_path):
    """Real `snakemake` on configs/tiny.yaml with a one-run sweep over λ, β and a `sweep.settings` lever: every
    stage of the main run and the sweep run's evaluation are written, the report draws the sweep's figures and chooses a setting, every rule's benchmark
    is kept, the self-contained HTML report holds the figures, a second run does nothing, and an edit of a module
    plans exactly the rules that import it. Four snakemake calls (each parses the Snakefile, which imports torch):
    the HTML report is made before the edit, so no `--touch` is needed."""
    repo = copy_repo(tmp_path, ROOT / "configs" / "tiny.yaml")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    # one sweep run that crosses λ, β and a lever of `sweep.settings` (a mixture latent of 2 components)
    params["sweep"] = {"enabled": True, "lambdas": [1000], "function_weights": [0.5],
                       "settings": {"latent_components": [2]}, "seeds": [0], "member_floor": 0.0}
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    run([str(BIN / "snakemake"), "--cores", "2"], repo)
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
