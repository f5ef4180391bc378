"""The real `dvc repro` round trip on configs/tiny.yaml, in a file of its own so that pytest-xdist runs it beside
tests/test_workflow.py's Snakemake chain (the two longest tests) rather than after it."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml

from workflow_common import BIN, ROOT, _sha256, copy_repo, run


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.mark.slow
def test_dvc_repro_reruns_what_a_change_touches_and_push_pull_restore(tmp_path):
    """Real `dvc repro` on configs/tiny.yaml: the first run builds every stage, a second does nothing; an evaluation
    parameter changes the evaluate stage only; a code edit marks exactly the stages whose code it is; push, losing
    cache and outputs, then pull restores the checkpoint byte for byte; `dvc exp run -S` of a training parameter
    reruns exactly training and what lies downstream of it (not the baselines or the data), and `dvc metrics diff`
    shows the change. Each stage is a process that imports torch, so the test runs the chain once and then only
    the stages a change touches: 16 stage runs (the chain's 11, then the experiment's 5)."""
    repo = copy_repo(tmp_path / "repo", ROOT / "configs" / "tiny.yaml")
    run(["git", "init", "-q"], repo)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init", "--allow-empty"], repo)
    (repo / "dvc.yaml").write_text(run([str(BIN / "python"), "workflow/pipeline.py", "dvc-yaml"], repo).stdout)
    stages = set(yaml.safe_load((repo / "dvc.yaml").read_text())["stages"])
    first = run([str(BIN / "dvc"), "repro"], repo).stdout
    assert _ran(first) == stages and len(stages) == 11
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
