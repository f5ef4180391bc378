"""The table of hyperman's stages: one small builder per stage kind, and each kind's outputs in one place.

`kinds()` maps a stage kind to its Snakemake rule's outputs (`outputs`, called with the rule's wildcards, or
with a job's values) and to the builder that makes the job's `Stage` from the validated params. The Snakemake
rules (workflow/rules/*.smk, through `pipeline.rule_outputs`) and dvc.yaml (workflow/dvc_yaml.py) both read
outputs from here; adding a stage kind is one output function, one builder and one entry. The baselines' stages
and folders come from hyperman.baseline_registry (workflow/baseline_stages.py): a registered plug-in baseline
is a kind of its own, with no edit here.

Run names: "main" is the configuration in params.yaml; sweep runs (workflow/sweep_grid.py) are named
"lambda<λ>-seed<s>" or "lambda<λ>-beta<β>-seed<s>" and override only train.lambda, train.function_weight,
train.diversity and train.seed; the seeds study's replicates (workflow/seeds_grid.py) are "seeds/rep<r>".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import baseline_stages
import seeds_grid
from baseline_stages import folder
from closure import stage_code
from stage_model import Job, Stage, data_dir, flags, suffix, value
from sweep_grid import run_overrides, sweep_runs

from hyperman.config import DistillConfig, EvalConfig, SampleConfig, TrainConfig
from hyperman.config.workflow import outputs

EVALUATE_TABLES = list(outputs.TABLES)  # every table: the pipeline always gives --ood-data
SWEPT = ("lambda", "seed", "diversity", "function_weight")  # what a sweep run's name sets


# ------------------------------------------------------------------ outputs: the one place that names them
def prepare_outputs(dataset: str = "{dataset}", **_: object) -> dict[str, str]:
    return {"data": data_dir(dataset) + "/"}


def train_outputs(run: str = "{run}", **_: object) -> dict[str, str]:
    return {"hypernet": f"results/{run}/hypernet/"}


def baseline_outputs(seed: object = "{seed}", **_: object) -> dict[str, str]:
    return {"baseline": folder("single_net", seed=seed)}


def snapshot_outputs(**_: object) -> dict[str, str]:
    return {"snapshot": folder("snapshot_ensemble")}


def noise_outputs(**_: object) -> dict[str, str]:
    return {"noise": folder("noise_ensemble")}


def sample_outputs(run: str = "{run}", **_: object) -> dict[str, str]:
    return {"samples": f"results/{run}/samples.pt", "throughput": f"results/{run}/samples.json"}


def evaluate_outputs(run: str = "{run}", **_: object) -> dict[str, str]:
    return outputs.evaluation_files(f"results/{run}/evaluate", EVALUATE_TABLES)


def distill_outputs(run: str = "{run}", **_: object) -> dict[str, str]:
    return {"student": f"results/{run}/distill/student.pt",
            "metrics": f"results/{run}/distill/{outputs.DISTILL_METRICS}"}


def report_outputs(run: str = "{run}", **_: object) -> dict[str, str]:
    return {"report": f"results/{run}/report/"}


def seeds_report_outputs(**_: object) -> dict[str, str]:
    return {"seeds": f"{seeds_grid.REPORT_DIR}/{outputs.SEEDS}", "table": f"{seeds_grid.REPORT_DIR}/{outputs.SEEDS_TABLE}"}


def _outs(job: Job, kind: str) -> dict[str, str]:
    return KINDS[kind].outputs(run=job.run, seed=job.seed, dataset=job.dataset)


# ------------------------------------------------------------------ builders: one per stage kind
def build_prepare(job: Job) -> Stage:
    dataset = job.dataset or job.config["data"]["dataset"]
    argv = ["hyperman", "prepare", "--dataset", dataset, "--out", data_dir(dataset),
            "--val-size", value(job.config, "data.val_size", 5000),
            "--seed", value(job.config, "data.split_seed", 0)]
    return Stage(f"prepare_{dataset.replace('-', '_')}", "prepare", argv, {},
                 KINDS["prepare"].outputs(dataset=dataset), ["data.val_size", "data.split_seed"],
                 stage_code("prepare"))


def build_train(job: Job) -> Stage:
    train = job.config["train"]
    in_seeds_study = seeds_grid.replicate(job.run) is not None  # the main run or a replicate of `make seeds`
    overrides = seeds_grid.train_overrides(job.run, train) if in_seeds_study else run_overrides(job.run, train)
    fixed = () if in_seeds_study else (*SWEPT, *overrides)  # a sweep run's name also sets its sweep.settings
    words, keys = flags(TrainConfig, {**train, **overrides}, "train", job.config, fixed=fixed)
    structure = []
    if not in_seeds_study:  # a sweep run: its name sets these (a replicate's seed is train.seed + r)
        keys = [k for k in keys if k.removeprefix("train.") not in fixed] + ["sweep"]
        structure = ["sweep"]
    argv = ["hyperman", "train", "--data", job.data, "--out", f"{job.base}/hypernet", *words, *job.limit("train")]
    return Stage("train" + suffix(job.run), "train", argv, {"data": [job.data + "/"]}, _outs(job, "train"),
                 keys + ["data.limit_train"], stage_code("train"), gpu=True, structure=structure)


def build_sample(job: Job) -> Stage:
    words, keys = flags(SampleConfig, job.config["sample"], "sample", job.config)
    outs = _outs(job, "sample")
    argv = ["hyperman", "sample", "--checkpoint", f"{job.base}/hypernet/hypernet.pt", "--out", outs["samples"],
            "--device", value(job.config, "train.device", "auto"), *words]
    return Stage("sample" + suffix(job.run), "sample", argv, {"hypernet": [f"{job.base}/hypernet/"]}, outs,
                 keys + ["train.device"], stage_code("sample"), gpu=True)


def build_evaluate(job: Job) -> Stage:
    words, keys = flags(EvalConfig, job.config["evaluate"], "evaluate", job.config)
    out = f"{job.base}/evaluate"
    extra = baseline_stages.evaluated(job)  # the registered baselines with a stage of their own
    argv = ["hyperman", "evaluate", "--checkpoint", f"{job.base}/hypernet/hypernet.pt",
            "--samples", f"{job.base}/samples.pt", "--baselines", *[f"{d}/baseline.pt" for d in job.baseline_dirs],
            *[arg for flag, path in extra for arg in (flag, path)],
            "--data", job.data, "--ood-data", job.ood, "--out", out, *words, *job.limit("test")]
    inputs = {"hypernet": [f"{job.base}/hypernet/"], "samples": [f"{job.base}/samples.pt"],
              "baselines": [d + "/" for d in job.baseline_dirs] + [path.rsplit("/", 1)[0] + "/" for _, path in extra],
              "data": [job.data + "/", job.ood + "/"]}
    return Stage("evaluate" + suffix(job.run), "evaluate", argv, inputs, _outs(job, "evaluate"),
                 keys + ["data.limit_test"], stage_code("evaluate"), metrics=[f"{out}/{outputs.METRICS}"],
                 plots=[f"{out}/{outputs.ENSEMBLE_CURVE}", f"{out}/{outputs.PATHS}"], gpu=True)


def build_distill(job: Job) -> Stage:
    words, keys = flags(DistillConfig, job.config["distill"], "distill", job.config, passthrough=("device",))
    outs = _outs(job, "distill")
    argv = ["hyperman", "distill", "--checkpoint", f"{job.base}/hypernet/hypernet.pt", "--data", job.data,
            "--ood-data", job.ood, "--out", f"{job.base}/distill", *words, *job.limit("train"), *job.limit("test")]
    return Stage("distill" + suffix(job.run), "distill", argv,
                 {"hypernet": [f"{job.base}/hypernet/"], "data": [job.data + "/", job.ood + "/"]}, outs,
                 keys + ["data.limit_train", "data.limit_test"], stage_code("distill"),
                 metrics=[outs["metrics"]], gpu=True)


def build_report(job: Job) -> Stage:
    base, sweep = job.base, sweep_runs(job.config)
    argv = ["hyperman", "report", "--evaluate", f"{base}/evaluate", "--distill", f"{base}/distill",
            "--checkpoint", f"{base}/hypernet/hypernet.pt", "--samples", f"{base}/samples.pt",
            "--out", f"{base}/report"]
    inputs = {"evaluation": list(_outs(job, "evaluate").values()), "distill": [_outs(job, "distill")["metrics"]],
              "samples": [f"{base}/samples.pt"], "hypernet": [f"{base}/hypernet/"]}
    if sweep:
        floor = (job.config.get("sweep") or {}).get("member_floor")
        argv += ["--sweep", *[f"results/{r}/evaluate" for r in sweep]]
        argv += ["--member-floor", value(job.config, "sweep.member_floor", floor)] if floor is not None else []
        inputs["sweep"] = [f"results/{r}/{path}" for r in sweep
                           for path in (f"evaluate/{outputs.METRICS}", "hypernet/")]
    return Stage("report" + suffix(job.run), "report", argv, inputs, _outs(job, "report"),
                 ["sweep"] if sweep else [], stage_code("report"), structure=["sweep"] if sweep else [])


def build_seeds_report(job: Job) -> Stage:
    """Every replicate's evaluation → mean ± sd and seed-aware intervals."""
    evaluations = [f"results/{r}/evaluate" for r in seeds_grid.replicate_runs(job.config)]
    argv = ["hyperman", "seeds-report", "--evaluate", *evaluations, "--out", seeds_grid.REPORT_DIR]
    outs = _outs(job, "seeds_report")
    return Stage("seeds_report", "seeds_report", argv,
                 {"evaluation": [f"{e}/{outputs.METRICS}" for e in evaluations]}, outs,
                 ["seeds.replicates"], stage_code("seeds_report"), metrics=[outs["seeds"]],
                 structure=["seeds.replicates"])


@dataclass(frozen=True)
class Kind:
    """A stage kind: its outputs (from wildcards or a job's values) and its builder."""

    outputs: Callable[..., dict[str, str]]
    build: Callable[[Job], Stage]


KINDS: dict[str, Kind] = {
    "prepare": Kind(prepare_outputs, build_prepare),
    "train": Kind(train_outputs, build_train),
    "train_baseline": Kind(baseline_outputs, baseline_stages.build_train_baseline),
    "train_snapshot": Kind(snapshot_outputs, baseline_stages.build_train_snapshot),
    "noise_ensemble": Kind(noise_outputs, baseline_stages.build_noise_ensemble),
    "sample": Kind(sample_outputs, build_sample),
    "evaluate": Kind(evaluate_outputs, build_evaluate),
    "distill": Kind(distill_outputs, build_distill),
    "report": Kind(report_outputs, build_report),
    "seeds_report": Kind(seeds_report_outputs, build_seeds_report),
}


def kinds() -> dict[str, Kind]:
    """Every stage kind: the built-in ones, then one per registered plug-in baseline (baseline_stages)."""
    plugins = {kind: Kind(lambda _name=baseline_stages.plugin_name(kind), **_: {_name: folder(_name)}, build)
               for kind, build in baseline_stages.plugin_builders().items()}
    return {**KINDS, **plugins}


def plugin_kinds(config: dict) -> list[str]:
    """The plug-in baselines' kinds this study runs (the Snakefile defines one rule each)."""
    return [baseline_stages.kind_of(e) for e in baseline_stages.optional(config)
            if baseline_stages.kind_of(e) not in KINDS]


def stage(config: dict, kind: str, run: str = "main", seed: int | None = None,
          dataset: str | None = None) -> Stage:
    """The stage `kind` ('prepare', 'train', ...) of run `run`, from the validated params."""
    table = kinds()
    if kind not in table:
        raise ValueError(f"unknown stage kind {kind!r}; kinds: {', '.join(table)}")
    return table[kind].build(Job(config, run, seed, dataset))


def all_stages(config: dict) -> list[Stage]:
    """Every stage of the study, in order: what `snakemake --cores all` and `dvc repro` run."""
    data_cfg = config["data"]
    datasets = list(dict.fromkeys([data_cfg["dataset"], data_cfg["ood_dataset"]]))
    stages = [stage(config, "prepare", dataset=d) for d in datasets]
    replicates = seeds_grid.seed_runs(config)
    baseline_seeds = [s for run in ["main", *replicates] for s in seeds_grid.baseline_seeds(config, run)]
    stages += [stage(config, "train_baseline", seed=s) for s in baseline_seeds]
    stages += [stage(config, baseline_stages.kind_of(entry)) for entry in baseline_stages.optional(config)]
    for run in ["main"] + sweep_runs(config) + replicates:
        stages += [stage(config, kind, run) for kind in ("train", "sample", "evaluate")]
    stages += [stage(config, "distill"), stage(config, "report")]
    if replicates:
        stages.append(stage(config, "seeds_report"))
    return stages
