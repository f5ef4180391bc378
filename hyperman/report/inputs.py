"""The report's inputs: what it is asked to do, reading metrics.json, the CSV tables, distill_metrics.json
and the sweep runs, and refusing a missing or malformed one with a message that names it."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import checkpoint, outputs, probes
from ..outputs import get
from ..checkpoint import CheckpointError
from ..errors import HypermanError
from ..config import LEVERS, TrainConfig  # λ of a checkpoint without `lam`; the levers' labels
from ..config.choices import diversity_terms
from ..files import sha256_file
from ..settings import path_setting, setting

EVAL_TABLES = {name: header for name, header in outputs.TABLES.items() if name not in outputs.REPORT_OPTIONAL}
OPTIONAL_TABLES = {**{name: outputs.TABLES[name] for name in outputs.REPORT_OPTIONAL},  # newer evaluations only
                   **outputs.EVIDENCE_TABLES}
REQUIRED_KEYS = outputs.REPORT_KEYS
SWEEP_KEYS = outputs.SWEEP_KEYS
DISTILL_KEYS = ["distilled.accuracy", "distilled.nll", "distilled.ece", "distilled.train_seconds",
                "teacher.accuracy", "teacher.nll", "teacher.ece", "teacher.nets", "teacher.mode"]


class ReportError(HypermanError):
    """An input of the report is missing or malformed; the message names it and says what to do."""


@dataclass
class ReportConfig:
    """What `hyperman report` reads; the one description of its flags (hyperman.settings)."""

    evaluate: Path = path_setting("output folder of `hyperman evaluate`")
    out: Path = path_setting("report folder (report.md and the figures)")
    distill: Path | None = path_setting("output folder of `hyperman distill` (its distill_metrics.json); omitted: "
                                        "no student", required=False)
    checkpoint: Path | None = path_setting("the evaluated hypernetwork (for the filter pictures; needs --samples)",
                                           required=False)
    samples: Path | None = path_setting("the evaluated samples file (for the filter pictures; needs --checkpoint)",
                                        required=False)
    sweep: list[Path] = setting([], "evaluate folders of the λ-sweep runs (λ and frontier figures)", param=False,
                                metavar="EVAL_DIR")
    sweep_labels: list[str] | None = setting(None, "'lambda=1000,seed=0[,beta=300]' per --sweep folder, in the "
                                             "same order (lambda=inf: no diversity; beta: the function-space "
                                             "entropy's weight); omitted: read from the hypernetwork "
                                             "checkpoint each run's metrics.json names", param=False,
                                             metavar="LABEL")
    member_floor: float = setting(0.0, "validation member accuracy (a fraction) a sweep setting needs before the "
                                       "report can choose it for its validation ensemble NLL (the workflow passes "
                                       "params.yaml's sweep.member_floor)", param=False)
    filter_nets: int = setting(3000, "sampled nets in the filter PCA", param=False)
    conv1_filter: int = setting(0, "conv1 filter to picture", param=False)
    conv2_filter: int = setting(0, "conv2 filter in the PCA", param=False)


def _json(path: Path, keys: list[str], what: str) -> dict:
    if not path.is_file():
        raise ReportError(f"{what}: {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except (ValueError, OSError) as error:
        raise ReportError(f"{what}: {path} is not readable JSON ({error})") from None
    missing = []
    for key in keys:
        try:
            get(data, key)
        except KeyError:
            missing.append(key)
    if missing:
        raise ReportError(f"{what}: {path} lacks {', '.join(missing)}; is it the right file (rerun the stage "
                          "that writes it)?")
    return data


def _number(text: str) -> float | str:
    if text == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        return text


def read_csv(path: Path, header: list[str]) -> list[dict]:
    """Rows of a CSV table with the expected header; numeric cells as float, empty cells as NaN."""
    if not path.is_file():
        raise ReportError(f"{path} does not exist (written by `hyperman evaluate`)")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != header:
            raise ReportError(f"{path} has columns {reader.fieldnames}, expected {header}")
        return [{k: (v if k in outputs.TEXT_COLUMNS else _number(v)) for k, v in row.items()}
                for row in reader]


def parse_label(text: str) -> dict:
    """'lambda=1000,seed=0' (lambda may be 'inf': no diversity) → {'lambda': 1000.0, 'seed': 0}; an optional
    'beta=300' (or 'function_weight=300': the function-space entropy's weight) → 'beta': 300.0."""
    out = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = {"function_weight": "beta"}.get(key.strip().lower(), key.strip().lower())
        if not sep or key not in ("lambda", "seed", "beta"):
            raise ReportError(f"--sweep-labels: {text!r} is not of the form 'lambda=1000,seed=0[,beta=300]'")
        try:
            out[key] = int(value) if key == "seed" else float(value)
        except ValueError:
            raise ReportError(f"--sweep-labels: bad {key} value in {text!r}") from None
    if "lambda" not in out:
        raise ReportError(f"--sweep-labels: {text!r} names no lambda")
    if not out["lambda"] > 0:
        raise ReportError(f"--sweep-labels: lambda must be > 0 or inf, got {text!r}")
    if not out.get("beta", 0.0) >= 0:
        raise ReportError(f"--sweep-labels: beta (the function-space weight) must be >= 0, got {text!r}")
    out.setdefault("seed", 0)
    return out


def label_from_checkpoint(metrics: dict, folder: Path, reference: dict | None = None) -> dict:
    """λ, seed (and β, and any lever off the main run's value) of a sweep run, from the config of the hypernetwork
    its metrics.json names. `reference` is the main run's train config (`checkpoint_config`): what every run of a
    study shares (a tiny test's steps, a GPU grid's batch) is the study's, not a lever; without it, TrainConfig's
    defaults."""
    path = Path(get(metrics, "inputs.checkpoint"))
    if not path.is_file():
        raise ReportError(f"--sweep {folder}: its metrics.json names the checkpoint {path}, which does not exist "
                          "(run the report from the folder the workflow ran in, or give --sweep-labels)")
    try:
        config = checkpoint.load(path, kind="hypernetwork")["config"]
    except (CheckpointError, KeyError, TypeError) as error:
        raise ReportError(f"--sweep {folder}: cannot read λ and seed from {path} ({error}); give --sweep-labels"
                          ) from None
    return label_of(config, reference)


def label_of(config: dict, reference: dict | None = None) -> dict:
    """λ, seed (and β, and any lever off the reference's value, TrainConfig's default where it has none) of a
    hypernetwork's train config."""
    terms = diversity_terms(config.get("diversity", True))  # bool in older checkpoints, a mode, a list today
    lam = float(config.get("lam", TrainConfig.lam)) if terms else math.inf
    beta = {"beta": float(config.get("function_weight", 0.0))} if "function" in terms else {}
    base = {**asdict(TrainConfig()), **(reference or {})}
    levers = {key: config[key] for key in LEVERS if key in config and config[key] != base[key]}
    return {"lambda": lam, "seed": int(config.get("seed", 0)), **beta, **({"settings": levers} if levers else {})}


def run_label(run: dict, seed: bool = False) -> str:
    """'λ=30000' or 'λ=10000, β=1000' (β only when the run has a function-space weight), 'no diversity'; then
    the levers off the main run's ('λ=30000, β=2, outlier_probes=16'); ', seed 1' appended when asked (a sweep
    over several seeds)."""
    text = f"λ={run['lambda']:g}" if math.isfinite(run["lambda"]) else "no diversity"
    text += f", β={run['beta']:g}" if "beta" in run else ""
    text += "".join(f", {key}={value}" for key, value in (run.get("settings") or {}).items())
    return text + (f", seed {run['seed']}" if seed else "")


def checkpoint_config(metrics: dict) -> dict | None:
    """The train config of the checkpoint an evaluation's metrics.json names; None when it cannot be read from
    here."""
    path = (metrics.get("inputs") or {}).get("checkpoint")
    if not path or not Path(path).is_file():
        return None
    try:
        return checkpoint.load(Path(path), kind="hypernetwork")["config"]
    except (CheckpointError, KeyError, TypeError):
        return None


def training_probes(metrics: dict) -> dict | None:
    """The probes the evaluated hypernetwork's function-space terms were trained on (`hyperman.probes.used`:
    families, counts, weights), read from the config of the checkpoint its metrics.json names; None when that
    checkpoint cannot be read from here (the report then shows what metrics.json records alone)."""
    return _probes_of(checkpoint_config(metrics))


def _probes_of(config: dict | None) -> dict | None:
    try:
        return probes.used(config) if config is not None else None
    except (KeyError, TypeError):  # an older checkpoint's config
        return None


def load_inputs(cfg: ReportConfig) -> dict:
    """Read and check every input before any figure is drawn."""
    ev = Path(cfg.evaluate)
    if not ev.is_dir():
        raise ReportError(f"--evaluate {ev} is not a folder (the --out of `hyperman evaluate`)")
    inputs = {"metrics": _json(ev / outputs.METRICS, REQUIRED_KEYS, "--evaluate")}
    inputs["tables"] = {name: read_csv(ev / name, header) for name, header in EVAL_TABLES.items()}
    for name, header in OPTIONAL_TABLES.items():
        inputs["tables"][name] = read_csv(ev / name, header) if (ev / name).is_file() else None
    curve_methods = {row["method"] for row in inputs["tables"][outputs.ENSEMBLE_CURVE]}
    needed = (outputs.CURVE_METHODS[0], outputs.CURVE_METHODS[-1])  # the hypernet's mean-prob rows, the single net
    if not set(needed) <= curve_methods:
        raise ReportError(f"{ev / outputs.ENSEMBLE_CURVE} has no {' or '.join(needed)} rows")
    if not inputs["tables"][outputs.MEMBER_ACCURACY]:
        raise ReportError(f"{ev / outputs.MEMBER_ACCURACY} is empty")

    inputs["distill"] = None
    if cfg.distill is not None:
        folder = Path(cfg.distill)
        inputs["distill"] = _json(folder / outputs.DISTILL_METRICS if folder.is_dir() else folder, DISTILL_KEYS,
                                  "--distill")

    if (cfg.checkpoint is None) != (cfg.samples is None):
        raise ReportError("the filter pictures need both --checkpoint and --samples (or neither)")
    if cfg.filter_nets < 1:
        raise ReportError(f"--filter-nets must be at least 1, got {cfg.filter_nets}")
    if cfg.checkpoint is not None:
        for what, path in (("--checkpoint", cfg.checkpoint), ("--samples", cfg.samples)):
            if not Path(path).is_file():
                raise ReportError(f"{what} {path} does not exist")

        digest = sha256_file(Path(cfg.checkpoint))
        evaluated = inputs["metrics"]["inputs"].get("checkpoint_sha256")
        if evaluated is not None and digest != evaluated:
            raise ReportError(f"--checkpoint {cfg.checkpoint} (sha256 {digest[:12]}…) is not the hypernetwork that "
                              f"--evaluate {ev} evaluated (sha256 {evaluated[:12]}…)")

    if not 0.0 <= cfg.member_floor <= 1.0:
        raise ReportError(f"--member-floor must be a fraction in [0, 1], got {cfg.member_floor}")
    sweep, inputs["reference"] = [], checkpoint_config(inputs["metrics"])  # the main run's, for the labels
    if cfg.sweep_labels is not None and len(cfg.sweep_labels) != len(cfg.sweep):
        raise ReportError(f"--sweep-labels gives {len(cfg.sweep_labels)} labels for {len(cfg.sweep)} --sweep folders")
    for k, folder in enumerate(cfg.sweep):
        folder = Path(folder)
        m = _json(folder / outputs.METRICS, SWEEP_KEYS, f"--sweep {folder}")
        label = (parse_label(cfg.sweep_labels[k]) if cfg.sweep_labels
                 else label_from_checkpoint(m, folder, inputs["reference"]))
        sweep.append({"folder": str(folder), **label, "member_accuracy": get(m, SWEEP_KEYS[0]),
                      "ensemble_gain": get(m, SWEEP_KEYS[1]), "disagreement": get(m, SWEEP_KEYS[2]), "metrics": m,
                      "probes": training_probes(m)})
    inputs["sweep"] = sweep
    inputs["probes"] = _probes_of(inputs["reference"])
    return inputs


def curve(tables: dict, method: str) -> dict[str, np.ndarray]:
    """The ensemble_curve.csv rows of one method, sorted by size, as one array per column."""
    rows = sorted((r for r in tables[outputs.ENSEMBLE_CURVE] if r["method"] == method), key=lambda r: r["size"])
    keys = EVAL_TABLES[outputs.ENSEMBLE_CURVE][1:]
    return {k: np.array([r[k] for r in rows], dtype=float) for k in keys}


def value(tree: dict | None, dotted: str) -> float | None:
    """tree[dotted], or None where the tree, the key or the value is missing (older or partial runs)."""
    if tree is None:
        return None
    try:
        value = get(tree, dotted)
    except KeyError:
        return None
    return None if value is None else value

