"""Reading and cross-checking every input of an evaluation before any heavy work."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .. import baseline_registry, checkpoint
from ..baseline import EPOCHS, load_epochs
from ..baseline import load_snapshots as load_snapshot_file
from ..baseline import SUMMARY as BASELINE_SUMMARY
from ..checkpoint import CheckpointError
from ..data import load_dataset
from ..noise_ensemble import load_noise_ensemble
from ..sampling import load_samples
from ..targets import Target, get_target
from ..hypernet_io import SUMMARY, load_hypernetwork
from ..config import EvalConfig
from .config import EvaluationError, baseline_paths, check_config


def _load_baseline(path: Path, target: Target) -> dict:
    payload = checkpoint.load(path, kind="target")
    checkpoint.require_finished(path, payload)
    if payload.get("target") != target.name:
        raise CheckpointError(f"baseline {path} is a {payload.get('target')!r} net but the hypernetwork "
                              f"generates {target.name!r}; train the baselines for the same target")
    theta = payload.get("theta")
    if not isinstance(theta, torch.Tensor) or theta.dim() != 1 or theta.numel() != target.num_params:
        shape = tuple(theta.shape) if isinstance(theta, torch.Tensor) else type(theta).__name__
        raise CheckpointError(f"baseline {path}: 'theta' must be a 1-D tensor of {target.num_params} weights "
                              f"({target.name}), got {shape}")
    if not torch.isfinite(theta).all():
        raise CheckpointError(f"baseline {path} holds non-finite weights; retrain it")
    seconds = payload.get("train_seconds")
    if not isinstance(seconds, (int, float)) or seconds < 0:
        raise CheckpointError(f"baseline {path} has no valid 'train_seconds' (got {seconds!r})")
    # absent in baselines trained before FLOPs were counted; the passes come from the summary beside it
    return {"theta": theta.float(), "train_seconds": float(seconds), "train_flops": _count(payload.get("train_flops")),
            "train_passes": _count(_summary_compute(path.parent, BASELINE_SUMMARY).get("image_net_passes"))}


def _load_images(root: Path, target: Target, limit_test: int | None, what: str):
    data = load_dataset(root, limit_train=1, limit_test=limit_test)  # limit_train=1: do not decode the train split
    if tuple(data.image_shape) != tuple(target.input_shape):
        raise EvaluationError(f"{what} {root} holds {data.image_shape} images but target {target.name} takes "
                              f"{target.input_shape}")
    return data.name, torch.from_numpy(data.test_x), torch.from_numpy(data.test_y)


def _hypernet_summary(cfg: EvalConfig) -> tuple[Path, float | None, dict | None]:
    """The training summary beside the checkpoint (or --train-summary): its path, wall time and compute (FLOPs),
    None where there is no summary (or it predates the FLOP count)."""
    summary_path = Path(cfg.train_summary) if cfg.train_summary else Path(cfg.checkpoint).parent / SUMMARY
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text())
            return summary_path, float(summary["train_seconds"]), summary.get("compute")
        except (ValueError, KeyError, TypeError) as error:
            raise EvaluationError(f"{summary_path} is not a training summary with 'train_seconds' ({error})") from None
    if cfg.train_summary:
        raise EvaluationError(f"--train-summary {summary_path} does not exist")
    return summary_path, None, None


def _summary_compute(folder: Path, name: str) -> dict:
    """A stage's JSON summary's `compute` in `folder` (train_flops, image_net_passes, ...): {} when absent or
    older than the FLOP count."""
    try:
        found = json.loads((Path(folder) / name).read_text())["compute"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return found if isinstance(found, dict) else {}


def _count(value) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _checked_weights(thetas: torch.Tensor, target: Target, what: str) -> torch.Tensor:
    if thetas.dim() != 2 or thetas.shape[1] != target.num_params or not torch.isfinite(thetas).all():
        raise EvaluationError(f"{what} holds weights of shape {tuple(thetas.shape)} (or non-finite ones), not "
                              f"(nets, {target.num_params}) of {target.name}; retrain it for this target")
    return thetas.float()


def _load_epochs(baselines: list[Path], target: Target) -> list[tuple[torch.Tensor, list[float]]] | None:
    """Every baseline's per-epoch records (epochs.pt beside baseline.pt): all of them, or None when none has one
    (older baselines: no equal-compute grid); a mix is an error, since the grid needs every seed."""
    paths = [Path(p).parent / EPOCHS for p in baselines]
    present = [p.is_file() for p in paths]
    if not any(present):
        return None
    if not all(present):
        missing = [str(p) for p, ok in zip(paths, present) if not ok]
        raise EvaluationError(f"{', '.join(missing)} missing: retrain those baselines with `hyperman train-baseline`"
                              " so that every --baselines folder holds its per-epoch checkpoints")
    records = []
    for baseline, path in zip(baselines, paths):  # epochs.pt must be the record of the baseline.pt beside it
        thetas, seconds = load_epochs(path, checkpoint.load(baseline, kind="target").get("config"))
        records.append((_checked_weights(thetas, target, str(path)), seconds))
    return records


def load_snapshots(path: Path, target: Target, baselines: list[dict]) -> dict:
    """The snapshot ensemble's members and cost (its registry entry's loader): its own training's seconds,
    FLOPs and passes (the summary beside snapshots.pt)."""
    thetas, seconds = load_snapshot_file(path)
    cost = _summary_compute(path if path.is_dir() else path.parent, BASELINE_SUMMARY)
    return {"theta": _checked_weights(thetas, target, f"--snapshots {path}"), "train_seconds": seconds[-1],
            "train_flops": _count(cost.get("train_flops")), "train_passes": _count(cost.get("image_net_passes")),
            "detail": {}}


def load_noise(path: Path, target: Target, baselines: list[dict]) -> dict:
    """The noise ensemble's members (its registry entry's loader); its cost is the single net's (seed 0)."""
    thetas, alpha = load_noise_ensemble(path)
    single = baselines[0]
    return {"theta": _checked_weights(thetas, target, f"--noise {path}"), "train_seconds": single["train_seconds"],
            "train_flops": single["train_flops"], "train_passes": single["train_passes"],
            "detail": {"alpha": alpha,
                       "train_cost_note": "the single net's; choosing α costs validation forwards only"}}


def load_inputs(cfg: EvalConfig, device: torch.device) -> dict:
    """Read and cross-check every input before any heavy work; raise with a clear message."""
    check_config(cfg)
    try:
        model, train_config = load_hypernetwork(cfg.checkpoint, device)
    except (KeyError, TypeError, RuntimeError) as error:
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(f"{cfg.checkpoint} does not hold a loadable hypernetwork ({error})") from None
    target = get_target(train_config.target)
    samples = load_samples(cfg.samples, cfg.checkpoint, model)
    baselines = [_load_baseline(Path(p), target) for p in cfg.baselines]
    summary_path, hypernet_seconds, hypernet_compute = _hypernet_summary(cfg)
    others = {name: baseline_registry.resolve(baseline_registry.get(name).loader)(path, target, baselines)
              for name, path in baseline_paths(cfg).items()}  # every other baseline, by its registry entry
    name, x, y = _load_images(cfg.data, target, cfg.limit_test, "--data")
    ood = _load_images(cfg.ood_data, target, cfg.limit_test, "--ood-data") if cfg.ood_data else None
    return {"model": model, "train_config": train_config, "target": target, "samples": samples,
            "baselines": baselines, "summary_path": summary_path, "hypernet_train_seconds": hypernet_seconds,
            "hypernet_compute": hypernet_compute,
            "dataset": name, "x": x, "y": y, "ood": ood, "epochs": _load_epochs(cfg.baselines, target),
            "others": others}
