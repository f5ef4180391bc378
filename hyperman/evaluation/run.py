"""The evaluation as a loop over its parts, each timed; metrics.json and the CSV tables written atomically."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import torch

from .. import baseline_registry, checkpoint, metrics, out_folder, outputs
from ..device import resolve_device, synchronize
from ..files import write_text_atomic
from .adversarial import adversarial_part
from ..config import PATH_FIELDS, EvalConfig
from .config import baseline_paths
from .context import Context, Part, make_context, test_forward
from .comparisons import comparisons_part
from .controls import controls_part
from .diversity import diversity_part
from .ensembles import members_and_ensembles
from .equal_compute import equal_compute_part
from .inputs import load_inputs
from .models import models_part
from .ood import ood_part
from .paths import paths_part
from .selective import selective_part
from .shift import shift_part

# in this order: the parts draw from one random generator, and later parts read what earlier ones computed
PARTS: list[tuple[str, Part]] = [
    ("test_forward", test_forward), ("members_and_ensembles", members_and_ensembles), ("models", models_part),
    ("comparisons", comparisons_part), ("equal_compute", equal_compute_part), ("diversity", diversity_part),
    ("controls", controls_part), ("paths", paths_part), ("ood", ood_part), ("adversarial", adversarial_part),
    ("shift", shift_part), ("selective", selective_part),
]


def _finite(obj):
    """JSON has no NaN/inf: write them as null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _csv(header: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
    return buffer.getvalue()


@contextmanager
def _timed(parts: dict, name: str, device: torch.device):
    synchronize(device)
    tick = time.perf_counter()
    yield
    synchronize(device)
    parts[name] = time.perf_counter() - tick


def evaluate(cfg: EvalConfig, log=print) -> dict:
    """Run every evaluation and write OUT/metrics.json and the CSV tables; returns the metrics."""
    out = Path(cfg.out)
    out_folder.refuse_other_runs(out, "evaluate")  # its own earlier output is replaced: the usual rerun
    device = resolve_device(cfg.device)
    inputs = load_inputs(cfg, device)
    with checkpoint.OutputLock(out):
        for name in outputs.FILES:  # a failed run must not leave the previous run's figures behind
            (out / name).unlink(missing_ok=True)
        metrics_out, tables = _evaluate(cfg, inputs, device, log)
        for name, text in tables.items():
            write_text_atomic(out / name, text)
        write_text_atomic(out / outputs.METRICS, json.dumps(_finite(metrics_out), indent=1, allow_nan=False) + "\n")
    return metrics_out


def _evaluate(cfg: EvalConfig, inputs: dict, device: torch.device, log) -> tuple[dict, dict]:
    """Every part in turn over the same probabilities → (metrics.json content, CSV text by file name)."""
    start = time.perf_counter()
    ctx = make_context(cfg, inputs, device, log)
    log(f"evaluating {ctx.N} sampled nets and {ctx.K} baselines on {ctx.T} {inputs['dataset']} test images "
        f"({ctx.forward.method} forward on {device}, chunks of {ctx.forward.nets} nets × {ctx.forward.images} images)")
    sections, rows, seconds = {}, {}, {}
    for name, part in PARTS:
        with _timed(seconds, name, device):
            section, table_rows = part(ctx)
        log(f"part {name}: {seconds[name]:.1f} s")
        sections.update(section)
        rows.update(table_rows)
    log(f"test forward: {ctx.N * ctx.T / seconds['test_forward']:.0f} image·nets/s")
    result = {"inputs": _inputs_section(cfg, inputs), "config": {k: v for k, v in asdict(cfg).items()
                                                                 if k not in PATH_FIELDS},
              **sections, "timing": _timing(ctx, seconds, time.perf_counter() - start), "notes": _notes(ctx.M)}
    h, d, s = result["hypernet"], result["deep_ensemble"], result["single_net"]
    log(f"hypernet members {h['members']['accuracy_mean']:.4f} (min {h['members']['accuracy_min']:.4f}), "
        f"ensemble of {ctx.M} {h['ensemble_gain_detail']['ensemble_accuracy']:.4f}; deep ensemble of {ctx.K} "
        f"{d['accuracy']:.4f}; single net {s['accuracy']:.4f}; gauge check gain "
        f"{result['controls']['gauge_check']['gain']:.4g}"
        f"; {result['timing']['total_seconds']:.1f} s")
    return result, {name: _csv(outputs.TABLES[name], rows[name]) for name in outputs.TABLES if name in rows}


def _inputs_section(cfg: EvalConfig, inputs: dict) -> dict:
    samples, target = inputs["samples"], inputs["target"]
    return {"checkpoint": str(cfg.checkpoint), "checkpoint_sha256": samples["checkpoint_sha256"],
            "samples": str(cfg.samples), "samples_seed": samples.get("seed"),
            "baselines": [str(p) for p in cfg.baselines], "data": str(cfg.data), "dataset": inputs["dataset"],
            "test_images": len(inputs["y"]), "ood_data": str(cfg.ood_data) if cfg.ood_data else None,
            **_baseline_inputs(cfg),
            "target": target.name, "num_params": target.num_params}


def _baseline_inputs(cfg: EvalConfig) -> dict:
    """metrics.json `inputs`' file of every baseline evaluate loads by its registry entry (None: not given),
    under the entry's flag; the built-ins' in their order of old ("snapshots", then "noise")."""
    given = baseline_paths(cfg)
    entries = sorted(baseline_registry.loaded(), key=lambda e: e.evaluate_flag != "snapshots")  # stable
    return {e.evaluate_flag: str(given[e.name]) if e.name in given else None for e in entries}


def _timing(ctx: Context, parts: dict[str, float], total: float) -> dict:
    """metrics.json `timing`: seconds of every part, throughput of the test forward, training wall times."""
    inputs, target, image_nets = ctx.inputs, ctx.target, ctx.N * ctx.T
    base_seconds = [b["train_seconds"] for b in inputs["baselines"]]
    trained = inputs["hypernet_train_seconds"] is not None
    return {"parts_seconds": parts, "total_seconds": total, "device": str(ctx.device),
            "forward_method": ctx.forward.method, "chunk_nets": ctx.forward.nets, "chunk_images": ctx.forward.images,
            "test_forward_image_nets": image_nets, "image_nets_per_second": image_nets / parts["test_forward"],
            "gflops_per_second": image_nets * target.flops_per_image() / parts["test_forward"] / 1e9,
            "flops_per_image": target.flops_per_image(), "hypernet_train_seconds": inputs["hypernet_train_seconds"],
            "hypernet_train_summary": str(inputs["summary_path"]) if trained else None,
            "baselines_train_seconds": sum(base_seconds), "baseline_train_seconds": base_seconds}


def _notes(M: int) -> dict:
    return {"accuracy": "fractions in [0, 1]",
            "nll": f"nats per image, probabilities floored at {metrics.NLL_FLOOR:g}",
            "ece": f"{metrics.ECE_BINS} equal-width bins on the max probability",
            "majority_vote": f"ties go to the larger mean probability; hypernet.ensemble.majority_vote's NLL/ECE use "
                             f"the raw vote fractions, models.*.majority_vote's the vote fractions smoothed by "
                             f"{metrics.VOTE_SMOOTHING:g} pseudo-vote per class (metrics.smooth_votes)",
            "members_of_fixed_size": f"diversity, OOD, the adversarial vote and hypernet.ensemble_gain use "
                                     f"the first {M} sampled nets"}
