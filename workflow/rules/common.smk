# Helpers shared by the rules: every rule reads its command, inputs and
# outputs from the stage table (workflow/stage_table.py, through
# workflow/pipeline.py), which dvc.yaml is generated from too, so Snakemake
# and DVC cannot drift apart.
import os
from pathlib import Path

from hyperman.config.workflow import dataset_wildcard

# The {dataset} wildcard matches the registered datasets (hyperman.datasets, the one list of names).
DATASET_PATTERN = dataset_wildcard()


def stage_of(kind, **fixed):
    """The pipeline.Stage for a job, from its wildcards."""

    def get(wildcards):
        kwargs = dict(fixed)
        if "run" in wildcards.keys():
            kwargs["run"] = wildcards.run
        if "seed" in wildcards.keys():
            kwargs["seed"] = int(wildcards.seed)
        if "dataset" in wildcards.keys():
            kwargs["dataset"] = wildcards.dataset
        return pipeline.stage(config, kind, **kwargs)

    return get


def inputs_of(kind):
    get = stage_of(kind)
    return lambda wildcards: {name: [p.rstrip("/") for p in paths] for name, paths in get(wildcards).inputs.items()}


def outputs_of(kind, wrap=None):
    """A rule's named outputs from the stage table, with its wildcards; a folder (ending in "/") is a
    directory(); `wrap` maps an output's name to a further wrapper (e.g. report(...))."""
    wrap = wrap or {}
    out = {}
    for name, path in pipeline.rule_outputs(kind).items():
        path = directory(path.rstrip("/")) if path.endswith("/") else path
        out[name] = wrap[name](path) if name in wrap else path
    return out


def command_of(kind):
    get = stage_of(kind)
    return lambda wildcards: get(wildcards).shell()


def _nvidia_gpu():
    """Whether this machine shows an NVIDIA GPU to its processes, read off the driver's files: importing torch
    to ask (torch.cuda.is_available) would cost every snakemake call seconds, and the answer only decides how
    jobs queue, not where they run (each stage resolves --device auto itself)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    return Path("/dev/nvidia0").exists() or any(Path("/proc/driver/nvidia/gpus").glob("*"))


def gpus(section):
    """GPUs a job of this stage takes: 1 when its --device resolves to CUDA, else 0.

    GPU-capable rules declare `resources: gpu=gpus(...)` and the default
    profile allows gpu=1 at a time, so GPU jobs queue for the one GPU while
    CPU-only runs keep running independent jobs (baseline seeds) in parallel."""
    device = config[section].get("device", "auto")
    if device != "auto":
        return int(device == "cuda")
    return int(_nvidia_gpu())


wildcard_constraints:
    dataset=DATASET_PATTERN,
    run="main|lambda([0-9.]+|inf)(-beta[0-9.]+)?(-[a-z_]+[A-Za-z0-9_.]+)*-seed[0-9]+|seeds/rep[0-9]+",
    seed="[0-9]+",
