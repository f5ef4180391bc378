"""The workflow: Snakemake and DVC describe the same stages, and the chain runs through both.

These tests compare the committed dvc.yaml, the Snakemake dry-run plan and
workflow/pipeline.py. Real runs of the whole chain on configs/tiny.yaml are in
a file of its own: tests/test_workflow_runs.py (Snakemake, then DVC from its outputs).
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
import dvc_yaml  # noqa: E402
import pipeline  # noqa: E402
from dvc.parsing.context import Context  # noqa: E402

from workflow_common import BIN, copy_repo, run  # noqa: E402


def snakemake_plan(cwd: Path, *extra: str) -> dict[str, dict]:
    """Parse `snakemake -n -p --forceall`: rule, inputs, outputs and shell command of every job."""
    out = run([str(BIN / "snakemake"), "-n", "-p", "--forceall", "--cores", "1", *extra], cwd).stdout
    jobs = {}
    for block in re.split(r"\n(?=rule \w+:)", out)[1:]:
        rule = block.split(":", 1)[0].split()[1]
        fields = dict(re.findall(r"^    (input|output): (.*)$", block, flags=re.M))
        shell = re.search(r"^Shell command: (.*)$", block, flags=re.M)
        if rule == "all" or shell is None:
            continue
        command = re.sub(r"^OMP_NUM_THREADS=\S+ OMP_WAIT_POLICY=\S+ ", "", shell.group(1))
        command = re.sub(r" > logs/\S+ 2>&1$", "", command)
        outputs = fields["output"].split(", ")
        jobs[outputs[0]] = {"rule": rule, "inputs": set(fields.get("input", "").split(", ")) - {""},
                            "outputs": set(outputs), "command": command}
    return jobs


def check_plan_matches(cwd: Path, config: dict, *extra: str, plan: dict[str, dict] | None = None) -> None:
    plan = plan or snakemake_plan(cwd, *extra)
    dvc_stages = pipeline.dvc_yaml(config)["stages"]
    stages = pipeline.all_stages(config)
    assert len(plan) == len(stages) == len(dvc_stages)
    for stage in stages:
        outputs = {p.rstrip("/") for p in stage.outputs.values()}
        job = next(j for j in plan.values() if j["outputs"] == outputs)
        assert job["rule"] == stage.rule
        assert job["command"] == stage.shell(), stage.name
        assert job["inputs"] == {p.rstrip("/") for p in stage.input_files()} | set(stage.code), stage.name
        entry = dvc_stages[stage.name]
        if stage.computed_params():  # a value computed from params (a replicate's seed): the planner runs it
            assert entry["cmd"] == f"python workflow/pipeline.py run {stage.name}"
            assert set(entry["deps"]) == job["inputs"] | set(dvc_yaml.PLANNER), stage.name
        else:  # the real hyperman command, as DVC renders it from params.yaml
            assert entry["cmd"].startswith("hyperman "), stage.name
            shown = {m.split("[")[0] for m in re.findall(r"\$\{([^}]+)\}", entry["cmd"])}
            assert set(stage.params) - set(stage.structure) <= shown, stage.name  # every key it reads, templated
            assert all(any(k == p or k.startswith(p + ".") for p in stage.params) for k in shown), stage.name
            assert Context(config).resolve(entry["cmd"], key="cmd") == stage.shell(), stage.name
            assert set(entry["deps"]) == job["inputs"], stage.name
        dvc_outs = set(entry["outs"]) | {next(iter(m)) for m in entry.get("metrics", []) + entry.get("plots", [])}
        assert dvc_outs == outputs, stage.name
        assert entry.get("params", []) == stage.params


def test_committed_dvc_yaml_is_generated_from_the_pipeline():
    generated = run([sys.executable, "workflow/pipeline.py", "dvc-yaml"], ROOT).stdout
    assert (ROOT / "dvc.yaml").read_text() == generated, "dvc.yaml is stale: run `make dvc.yaml`"


def test_snakemake_and_dvc_agree_on_every_stage():
    config = yaml.safe_load((ROOT / "params.yaml").read_text())
    check_plan_matches(ROOT, config)


def test_the_dvc_command_runs_the_same_hyperman_command():
    """`pipeline.py run NAME` (what dvc.yaml runs) looks NAME up among the stages that `list` prints; `show NAME`
    prints what `run NAME` would execute. One `list` covers every stage, `show` one stage from the middle of the
    list, the one with the most flags (each call is a process that imports torch: several seconds)."""
    config = yaml.safe_load((ROOT / "params.yaml").read_text())
    stages = pipeline.all_stages(config)
    listed = run([sys.executable, "workflow/pipeline.py", "list"], ROOT).stdout.splitlines()
    assert listed == [f"{stage.name}\t{stage.shell()}" for stage in stages]
    train = next(s for s in stages if s.name == "train")
    assert train not in (stages[0], stages[-1])
    shown = run([sys.executable, "workflow/pipeline.py", "show", "train"], ROOT).stdout.strip()
    assert shown == train.shell()


def test_a_sweep_expands_into_runs(tmp_path):
    config = yaml.safe_load((ROOT / "params.yaml").read_text())
    config["sweep"] = {**config["sweep"], "enabled": True, "lambdas": [1000, 100000, "inf"], "function_weights": [],
                       "settings": None, "seeds": [0, 1]}  # merged over params.yaml: None clears its settings
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    plan = snakemake_plan(ROOT, "--configfile", str(path))
    trains = sorted(j["command"] for j in plan.values() if j["rule"] == "train")
    assert len(trains) == 7  # main + 3 λ × 2 seeds
    assert sum("--diversity none" in c for c in trains) == 2
    assert sum("--lambda 100000.0 " in c for c in trains) == 2
    report = next(j for j in plan.values() if j["rule"] == "report")
    assert "--sweep" in report["command"] and "results/lambdainf-seed1/evaluate" in report["command"]
    check_plan_matches(ROOT, config, plan=plan)  # the same plan: each snakemake call parses the Snakefile anew


def test_the_frontier_sweep_is_opt_in_and_crosses_lambda_beta_settings_and_seeds():
    """params.yaml's sweep is off in the default study and `make sweep`'s overlay turns it on: λ × β × settings ×
    seeds, less the point that is the main run, each run training with its own values, the report choosing with
    the floor."""
    default = snakemake_plan(ROOT)
    assert sum(j["rule"] == "train" for j in default.values()) == 1
    assert "--member-floor" not in next(j for j in default.values() if j["rule"] == "report")["command"]
    config = yaml.safe_load((ROOT / "params.yaml").read_text())
    sweep, train = config["sweep"], config["train"]
    settings = sweep.get("settings") or {}
    alternatives = settings if isinstance(settings, list) else [settings]  # a list: one lever at a time
    names = list(dict.fromkeys(name for alt in alternatives for name in alt if name != "seeds"))
    plan = snakemake_plan(ROOT, "--configfile", "workflow/frontier.yaml")

    def word(value) -> float | str:
        try:
            return float(value)
        except ValueError:
            return str(value)

    def flag(command: str, name: str) -> float | str:
        return word(re.search(rf"--{name.replace('_', '-')} (\S+)", command).group(1))

    axes = ["lambda", "function_weight", *names, "seed"]
    trained = sorted((tuple(flag(j["command"], a) for a in axes) for j in plan.values() if j["rule"] == "train"),
                     key=str)
    points = {tuple(word(v) for v in point) for alt in alternatives for point in itertools.product(
        sweep["lambdas"], sweep["function_weights"], *(alt.get(n, [train[n]]) for n in names),
        alt.get("seeds") or sweep["seeds"] or [train["seed"]])}
    grid = sorted(points, key=str)
    main = tuple(word(train[a]) for a in axes)
    assert main in grid and trained == grid  # each point trained once: the main run is the point it equals
    report = next(j for j in plan.values() if j["rule"] == "report")["command"]
    assert f"--member-floor {sweep['member_floor']}" in report
    assert report.count("/evaluate") == len(grid)  # main (--evaluate) and every other point (--sweep)
    merged = {**config, "sweep": {**sweep, "enabled": True}}
    check_plan_matches(ROOT, merged, plan=plan)


def test_the_seeds_study_is_opt_in_and_plans_its_replicates():
    """`make seeds` (workflow/seeds.yaml over params.yaml): replicate 0 is the main run itself; replicate r trains G
    with train.seed + r and its own deep ensemble (baseline.seeds + r × stride), samples and evaluates it without
    the snapshot and noise ensembles, and the seeds report reads every replicate, the main run first. The default
    study plans none of it (the default plan of
    test_the_frontier_sweep_is_opt_in_and_crosses_lambda_beta_settings_and_seeds)."""
    config = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert config["seeds"]["enabled"] is False and not pipeline.seed_runs(config)
    assert not any(s.rule == "seeds_report" for s in pipeline.all_stages(config))
    merged = {**config, "seeds": {**config["seeds"], "enabled": True}}
    replicates, stride = config["seeds"]["replicates"], config["seeds"]["baseline_seed_stride"]
    plan = snakemake_plan(ROOT, "--configfile", "workflow/seeds.yaml")
    by_rule = lambda rule: [j for j in plan.values() if j["rule"] == rule]  # noqa: E731
    trains = {next(iter(j["outputs"])): j["command"] for j in by_rule("train")}
    assert len(trains) == replicates
    for r in range(replicates):
        folder = "results/main" if r == 0 else f"results/seeds/rep{r}"
        assert f"--seed {config['train']['seed'] + r} " in trains[f"{folder}/hypernet"]
    seeds = sorted(int(re.search(r"--seed (\d+)", j["command"]).group(1)) for j in by_rule("train_baseline"))
    assert seeds == sorted(s + r * stride for r in range(replicates) for s in config["baseline"]["seeds"])
    assert len(set(seeds)) == len(seeds)  # disjoint deep ensembles
    evaluates = {next(o for o in j["outputs"] if o.endswith("metrics.json")): j["command"]
                 for j in by_rule("evaluate")}
    assert len(evaluates) == replicates
    rep1 = evaluates["results/seeds/rep1/evaluate/metrics.json"]
    assert "--snapshots" not in rep1 and "--noise" not in rep1
    first = config["baseline"]["seeds"][0] + stride
    assert re.search(r"--baselines (\S+)", rep1).group(1) == f"results/baselines/seed{first}/baseline.pt"
    assert "--snapshots" in evaluates["results/main/evaluate/metrics.json"]
    assert len(by_rule("distill")) == len(by_rule("report")) == len(by_rule("sample")) - replicates + 1 == 1
    (report,) = by_rule("seeds_report")
    assert report["command"] == ("hyperman seeds-report --evaluate results/main/evaluate "
                                 + " ".join(f"results/seeds/rep{r}/evaluate" for r in range(1, replicates))
                                 + " --out results/seeds/report")
    check_plan_matches(ROOT, merged, "--configfile", "workflow/seeds.yaml", plan=plan)


def test_replicates_sharing_a_baseline_seed_are_refused():
    config = yaml.safe_load((ROOT / "params.yaml").read_text())
    config["seeds"] = {**config["seeds"], "enabled": True, "baseline_seed_stride": 3}  # seeds 0..4, 3..7: overlap
    with pytest.raises(pipeline.HypermanError, match="seeds.baseline_seed_stride 3 must exceed max - min of "
                                                     r"baseline.seeds \(4\)"):
        pipeline.seed_runs(config)
    assert pipeline.seed_runs({**config, "seeds": {**config["seeds"], "baseline_seed_stride": 5}}) == [
        f"seeds/rep{r}" for r in range(1, config["seeds"]["replicates"])]


def test_a_beta_of_zero_turns_the_function_space_term_off_and_names_parse_back():
    train = {"lambda": 30000, "function_weight": 2.0, "diversity": "both", "seed": 0}
    config = {"train": train, "sweep": {"lambdas": [1e4, "inf"], "function_weights": [0, 2], "seeds": [3]}}
    runs = pipeline.sweep_runs(config)
    assert runs == ["lambda10000-beta0-seed3", "lambda10000-beta2-seed3", "lambdainf-seed3"]
    assert pipeline.run_overrides(runs[0], train) == {"lambda": 1e4, "seed": 3, "function_weight": 0.0,
                                                      "diversity": "weights"}
    assert pipeline.run_overrides(runs[1], train)["diversity"] == "both"
    assert pipeline.run_overrides(runs[2], train) == {"diversity": "none", "seed": 3}
    assert pipeline.run_overrides("lambda1000-beta2-seed0", {**train, "diversity": "none"})["diversity"] == "function"
    assert pipeline.sweep_runs({"train": train, "sweep": {"lambdas": [1e-5], "seeds": [0]}}) == ["lambda0.00001-seed0"]
    assert pipeline.sweep_runs({**config, "sweep": {**config["sweep"], "enabled": False}}) == []
    legacy = {"train": {"lambda": 1e4, "diversity": True, "seed": 3}, "sweep": config["sweep"]}  # weights only
    assert pipeline.sweep_runs(legacy) == ["lambda10000-beta2-seed3", "lambdainf-seed3"]  # β = 0 is the main run
    with pytest.raises(ValueError, match="bad run name"):
        pipeline.run_overrides("lambda1000-gamma2-seed0", train)


def test_bad_params_stop_snakemake_with_the_key(tmp_path):
    config = yaml.safe_load((ROOT / "params.yaml").read_text())
    config["train"]["steps"] = -5
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run([str(BIN / "snakemake"), "-n", "--cores", "1", "--configfile", str(path)], ROOT, check=False)
    assert result.returncode != 0
    assert "train.steps: bad value -5" in result.stdout + result.stderr


CLI_NAME = {"train_baseline": "train-baseline", "train_snapshot": "train-snapshot", "noise_ensemble": "noise-ensemble",
            "seeds_report": "seeds-report"}


STAGE_KINDS = ["prepare", "train", "train_baseline", "train_snapshot", "noise_ensemble", "sample", "evaluate",
               "distill", "report", "seeds_report"]

# One interpreter imports the third-party packages (none of them imports hyperman), then forks a child per stage
# that imports `hyperman.cli` and builds the stage's parser, as `hyperman <stage>` does: each child starts with no
# hyperman module loaded, so its list is what that stage really imports, at one torch import for all stages.
IMPORT_PROBE = """
import json, os, sys
import numpy, scipy, torch, yaml
loaded = {}
for kind, command in json.loads(sys.argv[1]).items():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        from hyperman import cli
        cli.build_parser(command)
        with os.fdopen(write, "w") as out:
            json.dump(sorted(m.__file__ for n, m in list(sys.modules.items())
                             if n.split(".")[0] == "hyperman" and getattr(m, "__file__", None)), out)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as inp:
        loaded[kind] = json.load(inp)
    assert os.waitpid(pid, 0)[1] == 0, kind
print(json.dumps(loaded))
"""


@pytest.fixture(scope="module")
def stage_imports() -> dict[str, set[str]]:
    """Each stage kind → the repository files of the hyperman modules `hyperman <stage>` imports."""
    commands = json.dumps({kind: CLI_NAME.get(kind, kind) for kind in STAGE_KINDS})
    loaded = json.loads(run([sys.executable, "-c", IMPORT_PROBE, commands], ROOT).stdout)
    return {kind: {str(Path(f).resolve().relative_to(ROOT)) for f in files} for kind, files in loaded.items()}


@pytest.mark.parametrize("kind", STAGE_KINDS)
def test_every_module_a_stage_loads_is_one_of_its_code_inputs(kind, stage_imports):
    """The computed dependencies against what Python really imports for `hyperman <stage>`."""
    loaded = stage_imports[kind]
    code = set(pipeline.stage_code(kind))
    assert "hyperman/cli.py" in loaded and len(loaded) > 3, loaded  # the probe saw the stage's imports
    assert loaded <= code, f"{kind} imports {sorted(loaded - code)} but they are not among its inputs"
    assert f"hyperman/stages/{kind}.py" in code


def test_a_stage_does_not_depend_on_code_it_never_runs():
    """Precision of the derived inputs: editing the report or the data preparation reruns no training."""
    assert not [f for f in pipeline.stage_code("train") if f.startswith(("hyperman/report", "hyperman/evaluation"))]
    assert not {"hyperman/training.py", "hyperman/hypernetwork.py"} & set(pipeline.stage_code("prepare"))
    assert "hyperman/augment.py" in set(pipeline.stage_code("train")) & set(pipeline.stage_code("train_baseline"))


# ---------------------------------------------------------------------------------------- slow, real runs
TOY_BASELINE = '''"""A toy plug-in baseline: registered here, planned by the workflow with no other edit."""
from hyperman.baseline_registry import MODELS_CSV, Baseline, register

register(Baseline("toy_net", "toy net", "#bcbd22", "*", (MODELS_CSV,), section="toy", command="train-toy",
                  stage=__name__, folder="results/baselines/toy", files=("baseline.pt",), evaluate_flag="toy_net",
                  loader=f"{__name__}:load", needs=("data", "single_net")))
'''


def test_a_registered_baseline_is_planned_from_the_registry(tmp_path):
    """README "Extending → A new baseline": a module in hyperman/baselines/, its params section and the schema's
    rule, and both workflows plan its stage (its subcommand, folder and section's flags) and hand its file to
    evaluate, with no edit in workflow/."""
    from hyperman.params import SCHEMA_PATH

    repo = copy_repo(tmp_path, ROOT / "configs" / "tiny.yaml")
    (repo / "hyperman/baselines/toy_net.py").write_text(TOY_BASELINE)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    (repo / "params.yaml").write_text(yaml.safe_dump({**params, "toy": {"seed": 3, "widths": [8, 16]}}))
    schema_file = repo / SCHEMA_PATH.relative_to(ROOT)
    schema = yaml.safe_load(schema_file.read_text())
    schema["properties"]["toy"] = {"type": "object"}
    schema_file.write_text(yaml.safe_dump(schema))
    command = ("hyperman train-toy --data data/mnist --out results/baselines/toy --baseline "
               "results/baselines/seed0/baseline.pt --seed 3 --widths 8 16")
    plan = snakemake_plan(repo)
    assert plan["results/baselines/toy"]["rule"] == "toy_net" and plan["results/baselines/toy"]["command"] == command
    assert {"data/mnist", "results/baselines/seed0", "hyperman/baselines/toy_net.py"} <= \
        plan["results/baselines/toy"]["inputs"]
    evaluate = next(j for j in plan.values() if j["rule"] == "evaluate")
    assert "--toy-net results/baselines/toy/baseline.pt" in evaluate["command"]
    assert "results/baselines/toy" in evaluate["inputs"]
    stages = yaml.safe_load(run([sys.executable, "workflow/pipeline.py", "dvc-yaml"], repo).stdout)["stages"]
    assert stages["toy_net"]["cmd"] == command.replace("--seed 3 --widths 8 16",
                                                       "--seed ${toy.seed} --widths ${toy.widths[0]} ${toy.widths[1]}")
    assert stages["toy_net"]["params"] == ["toy.seed", "toy.widths"] and stages["toy_net"]["outs"] == [
        "results/baselines/toy"]
    assert "results/baselines/toy" in stages["evaluate"]["deps"]


def test_planning_imports_no_torch():
    """Every snakemake call parses the Snakefile, which imports the planner: planning (`pipeline.py list` and
    dvc-yaml, the Snakefile's rule helpers) must not load torch (seconds each call on a 2-core CPU). In a fresh
    interpreter, since this test process has imported torch long ago."""
    probe = ("import contextlib, io, runpy, sys\n"
             "sys.argv = ['workflow/pipeline.py', 'list']\n"
             "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
             "    try:\n"
             "        runpy.run_path('workflow/pipeline.py', run_name='__main__')\n"
             "    except SystemExit as stop:\n"
             "        assert stop.code == 0, stop.code\n"
             "import pipeline\n"
             "pipeline.dvc_yaml(pipeline.load_params())\n"
             "assert out.getvalue().startswith('prepare_mnist\\t'), out.getvalue()[:200]\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'torchvision'}))")
    loaded = run([sys.executable, "-c", probe], ROOT).stdout.strip()
    assert loaded == "[]", f"planning imported {loaded}"


def test_no_function_of_the_workflow_is_over_40_lines():
    """The pipeline as a table: small builders, not one long if-chain (issue 21). Counts every function and
    method of workflow/*.py, decorators and docstring included."""
    import ast

    long = []
    for path in sorted((ROOT / "workflow").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if node.end_lineno - first + 1 > 40:
                    long.append(f"{path.name}:{node.name} ({node.end_lineno - first + 1} lines)")
    assert not long, long
