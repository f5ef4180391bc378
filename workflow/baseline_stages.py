"""The baselines' stages, planned from hyperman.baseline_registry: which run, what they write, what evaluate gets.

A registered baseline with a `hyperman` subcommand (`staged()`) is a stage when its params.yaml section is
there (the single net's `baseline` section always is); its output folder is the entry's `folder`, and
`hyperman evaluate` is given the entry's file with the entry's flag. The built-in ones have builders of their
own (seeds, the snapshot section over the baseline's, the single net a noise ensemble perturbs); a plug-in
(hyperman/baselines/) gets the generic `build_plugin`: `hyperman <command> --data D --out FOLDER` (plus
`--baseline` when it needs the single net) and its section's keys as flags, through its config class when the
entry names one, else one `--key value` per key. So adding a baseline plans its stage with no edit here.
"""

from __future__ import annotations

import functools

import seeds_grid
from closure import module_code, stage_code
from stage_model import Job, Stage, flags, value

from hyperman import baseline_registry
from hyperman.config import BaselineConfig, NoiseConfig

ALWAYS = ("single_net", "distilled_student")  # planned by the table itself, every study


def folder(name: str, **pattern: object) -> str:
    """A registered baseline's output folder (ending in "/", as the stage table writes folders)."""
    return baseline_registry.get(name).output_folder(**pattern) + "/"


def _baseline_flags(job: Job) -> tuple[list[str], list[str]]:
    section = {k: v for k, v in job.config["baseline"].items() if k != "seeds"}
    return flags(BaselineConfig, section, "baseline", job.config, passthrough=("device",))


def build_train_baseline(job: Job) -> Stage:
    words, keys = _baseline_flags(job)
    out = folder("single_net", seed=job.seed)
    argv = ["hyperman", "train-baseline", "--data", job.data, "--out", out.rstrip("/"),
            "--seed", str(job.seed), "--target", job.target(), *words, *job.limit("train")]
    return Stage(f"train_baseline_seed{job.seed}", "train_baseline", argv, {"data": [job.data + "/"]},
                 {"baseline": out}, keys + ["train.target", "data.limit_train"], stage_code("train_baseline"),
                 gpu=True)


def build_train_snapshot(job: Job) -> Stage:
    """The same training as one baseline net, with a cyclic schedule: M snapshots."""
    words, keys = _baseline_flags(job)
    section = {k: v for k, v in job.config["snapshot"].items() if k != "seed"}
    more, more_keys = flags(BaselineConfig, section, "snapshot", job.config)
    out = folder("snapshot_ensemble")
    argv = ["hyperman", "train-snapshot", "--data", job.data, "--out", out.rstrip("/"),
            "--seed", value(job.config, "snapshot.seed", 0), "--target", job.target(), *words, *more,
            *job.limit("train")]
    return Stage("train_snapshot", "train_snapshot", argv, {"data": [job.data + "/"]}, {"snapshot": out},
                 keys + more_keys + ["snapshot.seed", "train.target", "data.limit_train"],
                 stage_code("train_snapshot"), gpu=True)


def build_noise_ensemble(job: Job) -> Stage:
    """Gaussian perturbations of the single net (baseline seed 0)."""
    words, keys = flags(NoiseConfig, job.config["noise"], "noise", job.config, passthrough=("device",))
    single, out = job.baseline_dirs[0], folder("noise_ensemble")
    argv = ["hyperman", "noise-ensemble", "--baseline", f"{single}/baseline.pt", "--data", job.data,
            "--out", out.rstrip("/"), *words]
    return Stage("noise_ensemble", "noise_ensemble", argv, {"baseline": [single + "/"], "data": [job.data + "/"]},
                 {"noise": out}, keys, stage_code("noise_ensemble"), gpu=True)


def _plugin_flags(entry: baseline_registry.Baseline, job: Job) -> tuple[list[str], list[str]]:
    """A plug-in's section as flags: through its config class, or one `--key value` per key."""
    section = job.config.get(entry.section) or {}
    if entry.config is not None:
        return flags(baseline_registry.resolve(entry.config), section, entry.section, job.config)
    words, keys = [], []
    for key, raw in section.items():
        items = raw if isinstance(raw, list) else [raw]
        expr = f"{entry.section}.{key}"
        words += ["--" + key.replace("_", "-"),
                  *(value(job.config, expr, item, i if isinstance(raw, list) else None)
                    for i, item in enumerate(items))]
        keys.append(expr)
    return words, keys


def build_plugin(entry: baseline_registry.Baseline, job: Job) -> Stage:
    """A plug-in baseline's stage (hyperman/baselines/): its subcommand, data, folder and section's flags."""
    out = folder(entry.name)
    inputs = {"data": [job.data + "/"]} if "data" in entry.needs else {}
    argv = ["hyperman", entry.command, *(["--data", job.data] if "data" in entry.needs else []),
            "--out", out.rstrip("/")]
    if "single_net" in entry.needs:
        argv += ["--baseline", f"{job.baseline_dirs[0]}/baseline.pt"]
        inputs["baseline"] = [job.baseline_dirs[0] + "/"]
    words, keys = _plugin_flags(entry, job)
    return Stage(kind_of(entry), kind_of(entry), argv + words, inputs, {entry.name: out}, keys,
                 module_code(entry.stage), gpu=True)


BUILT_IN = {"train_baseline": build_train_baseline, "train_snapshot": build_train_snapshot,
            "noise_ensemble": build_noise_ensemble}


def kind_of(entry: baseline_registry.Baseline) -> str:
    """The stage kind (and Snakemake rule) of a staged baseline: its stage module's name."""
    return entry.stage.rsplit(".", 1)[-1]


def optional(config: dict) -> list[baseline_registry.Baseline]:
    """The staged baselines this study runs beside the single net: those whose params section is there."""
    return [entry for entry in baseline_registry.staged()
            if entry.name not in ALWAYS and entry.section is not None and entry.section in config]


def plugin_builders() -> dict[str, object]:
    """{kind: builder} of every registered plug-in baseline with a stage (the built-ins have their own)."""
    return {kind_of(entry): functools.partial(build_plugin, entry) for entry in baseline_registry.staged()
            if entry.name not in ALWAYS and kind_of(entry) not in BUILT_IN}


def plugin_name(kind: str) -> str:
    """The registered name of the plug-in baseline whose stage kind is `kind`."""
    return next(entry.name for entry in baseline_registry.staged() if kind_of(entry) == kind)


def evaluated(job: Job) -> list[tuple[str, str]]:
    """(evaluate's flag, the file) of every baseline evaluate loads from its own stage's output, for this run:
    those whose section is there; a seeds replicate evaluates the headline models only."""
    if seeds_grid.replicate(job.run):
        return []
    return [("--" + entry.evaluate_flag.replace("_", "-"), entry.output_file())
            for entry in baseline_registry.loaded() if entry.section is not None and entry.section in job.config]
