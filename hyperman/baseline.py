"""Conventional training of one target network: the single-net and deep-ensemble baselines.

A weak baseline would flatter the method, so this one is the ordinary strong
recipe: PyTorch's default initialisation, Adam with a one-cycle learning-rate
schedule (warm-up then cosine decay), batch 128. The net is trained through
the same functional forward the hypernetwork's samples use, and saved in the
shared "target" checkpoint format (flat θ) that evaluate and distill read.

Every epoch's θ and the cumulative training seconds at its end are kept in
OUT/epochs.pt as well, so that ensembles of k members after e epochs can be
scored against their training cost (the equal-compute curve) without
training again. With ``snapshot_cycles`` = M the one-cycle schedule becomes
Huang et al.'s (2017) cyclic cosine schedule with M restarts: the nets at the
ends of the cycles are a snapshot ensemble at the compute of one net
(OUT/snapshots.pt, `load_snapshots`; `hyperman train-snapshot`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from . import checkpoint, compute, metrics, out_folder
from .config import BaselineConfig
from .augment import random_shift
from .data import load_dataset
from .device import resolve_device, to_device
from .errors import ConfigError
from .files import write_json_atomic
from .forward import Forward
from . import settings
from .targets import Target, get_target, resolve_forward

CHECKPOINT = "baseline.pt"
SUMMARY = "baseline_summary.json"
EPOCHS = "epochs.pt"  # every epoch's θ (E, D) and cumulative training seconds, next to CHECKPOINT
SNAPSHOTS = "snapshots.pt"  # with snapshot_cycles: θ at the end of every cycle (M, D) and its seconds


def load_target_net(path: Path, device: torch.device | str = "cpu") -> tuple[Target, torch.Tensor, dict]:
    """(target, θ (D,), payload) from a "target" checkpoint (baseline or distilled student)."""
    payload = checkpoint.load(path, kind="target")
    checkpoint.require_finished(path, payload)
    target = get_target(payload["target"])
    theta = payload["theta"].to(device)
    if theta.shape != (target.num_params,):
        raise checkpoint.CheckpointError(f"{path}: θ has shape {tuple(theta.shape)}, "
                                         f"{target.name} needs ({target.num_params},)")
    return target, theta, payload


def accuracy(target: Target, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of the one net θ (D,) on (x, y), through the shared chunked forward (hyperman.forward)."""
    return float(Forward(target, "auto", theta.device).scores(theta.detach()[None], x, y)[0][0])


@torch.no_grad()
def ensemble_scores(target: Target, thetas: torch.Tensor, x: torch.Tensor, y: torch.Tensor, batch: int = 2000) -> dict:
    """Accuracy and NLL of the mean-probability ensemble of thetas (M, D), and its mean member accuracy:
    the validation figures by which the number of snapshot cycles (and the learning rate) are chosen."""
    method = resolve_forward("auto", thetas.device)
    probs = torch.cat([target.forward(thetas, x[i:i + batch], method).float().softmax(-1).cpu()
                       for i in range(0, len(x), batch)], dim=1)
    mean, y = probs.double().mean(0), y.cpu()
    return {"accuracy": float(metrics.accuracy(mean, y)), "nll": float(metrics.nll(mean, y)),
            "member_accuracy_mean": float(metrics.accuracy(probs, y).mean())}


def check_config(config: BaselineConfig) -> None:
    """Refuse a config that cannot train, before anything is written; the message names the flag
    (the bounds declared on BaselineConfig's fields and its cross-field rule, hyperman.settings.check)."""
    settings.check(config)


def _schedule(optimizer: torch.optim.Optimizer, config: BaselineConfig, steps_per_epoch: int):
    """One-cycle (warm-up, cosine decay) for a single net; with `snapshot_cycles` = M, cosine annealing
    restarted M times (Huang et al. 2017), each cycle a whole number of epochs so that its snapshot is an
    epoch's θ."""
    if config.snapshot_cycles:
        cycle = config.epochs // config.snapshot_cycles * steps_per_epoch
        return torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=cycle)
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=config.epochs * steps_per_epoch,
                                               pct_start=0.15)


def _check_resumable(path: Path, payload: dict, config: BaselineConfig) -> dict:
    """The per-epoch record of the run in `path`, cut to its last finished epoch; refuse another config."""
    saved = BaselineConfig(**payload["config"])
    changed = checkpoint.changed_settings(asdict(saved), config)
    if changed:
        raise checkpoint.CheckpointError(f"cannot resume {path}: it was trained with different {', '.join(changed)} "
                                         f"(its config: {asdict(saved)}); rerun without --resume or restore them")
    record_path = path.parent / EPOCHS
    if not record_path.is_file():
        raise checkpoint.CheckpointError(f"cannot resume {path}: {record_path} (every epoch's weights) is missing; "
                                         f"delete {path.parent} and train again")
    record = checkpoint.load(record_path, kind="target-epochs")
    if record.get("config") != payload["config"]:
        raise checkpoint.CheckpointError(f"cannot resume {path}: {record_path} beside it was written by another run "
                                         f"({record.get('config')}); delete {path.parent} and train again")
    done = payload["epoch"]
    if len(record["seconds"]) < done:
        raise checkpoint.CheckpointError(f"cannot resume {path}: {record_path} holds {len(record['seconds'])} epochs, "
                                         f"the checkpoint {done}; delete {path.parent} and train again")
    return {"thetas": list(record["thetas"][:done]), "seconds": record["seconds"][:done],
            "history": record["history"][:done]}


def train_baseline(config: BaselineConfig, data_dir: Path, out: Path, device_name: str = "auto",
                   resume: bool = False, log=None, force: bool = False) -> dict:
    """Train one net; checkpoint after every epoch (atomic), resumable exactly.

    Writes OUT/epochs.pt (every epoch's θ and cumulative seconds, see
    `load_epochs`) before OUT/baseline.pt, so a crash between the two leaves a
    record at least as long as the checkpoint, which resume cuts back."""
    out = Path(out)
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    check_config(config)
    device = resolve_device(device_name)
    stage = "train-snapshot" if config.snapshot_cycles else "train-baseline"
    with checkpoint.OutputLock(out):
        out_folder.claim(out, stage, resume, force, log)
        target = get_target(config.target)
        data = load_dataset(data_dir, limit_train=config.limit_train)
        if tuple(data.image_shape) != target.input_shape:
            raise ConfigError(f"target {target.name} takes {target.input_shape} images, {data_dir} holds "
                             f"{data.image_shape}; pick a matching --target (a spec's @CxHxW is its input)")
        x, y = to_device(torch.from_numpy(data.train_x), device), to_device(torch.from_numpy(data.train_y), device)
        vx, vy = to_device(torch.from_numpy(data.val_x), device), to_device(torch.from_numpy(data.val_y), device)
        generator = torch.Generator().manual_seed(config.seed)
        theta = torch.nn.Parameter(target.init(1, generator)[0].to(device))
        optimizer = torch.optim.Adam([theta], lr=config.lr)
        steps_per_epoch = (len(y) + config.batch_size - 1) // config.batch_size
        schedule = _schedule(optimizer, config, steps_per_epoch)
        start_epoch, elapsed = 0, 0.0
        record: dict = {"thetas": [], "seconds": [], "history": []}
        path = out / CHECKPOINT
        if resume and path.exists():
            payload = checkpoint.load(path, kind="target", map_location=device)
            record = _check_resumable(path, payload, config)
            checkpoint.restore_single_net(payload, theta, optimizer, generator, schedule)
            start_epoch, elapsed = payload["epoch"], payload["train_seconds"]
            log(f"resuming {path} at epoch {start_epoch}")
        method = resolve_forward("auto", device)
        for epoch in range(start_epoch, config.epochs):
            tick = time.perf_counter()
            order = torch.randperm(len(y), generator=generator).to(device)
            total = 0.0
            for i in range(steps_per_epoch):
                index = order[i * config.batch_size:(i + 1) * config.batch_size]
                images = random_shift(x[index], config.augment_shift, generator)
                loss = F.cross_entropy(target.forward(theta[None], images, method)[0], y[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                total += loss.item()
            elapsed += time.perf_counter() - tick
            val = accuracy(target, theta.detach(), vx, vy)
            weights = theta.detach().cpu().clone()
            record["thetas"].append(weights)
            record["seconds"].append(elapsed)
            record["history"].append({"epoch": epoch + 1, "loss": total / steps_per_epoch, "val_acc": val})
            log(f"baseline seed {config.seed} epoch {epoch + 1}/{config.epochs}: loss "
                f"{total / steps_per_epoch:.4f} val acc {val:.4f} ({elapsed:.0f} s)")
            checkpoint.save(out / EPOCHS, {"kind": "target-epochs", "target": target.name, "config": asdict(config),
                                           "thetas": torch.stack(record["thetas"]), "seconds": record["seconds"],
                                           "history": record["history"], "finished": epoch + 1 == config.epochs})
            checkpoint.save(path, {"kind": "target", "target": target.name, "theta": weights,
                                   "train_seconds": elapsed, "config": asdict(config), "epoch": epoch + 1,
                                   "train_flops": compute.baseline_cost(target, len(y), epoch + 1, 0).train_flops,
                                   "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                                   "generator": generator.get_state(), "finished": epoch + 1 == config.epochs})
        summary = {"seed": config.seed, "epochs": config.epochs, "train_seconds": elapsed,
                   "val_acc": accuracy(target, theta.detach(), vx, vy), "history": record["history"],
                   "compute": compute.baseline_cost(target, len(y), config.epochs, len(vy)).as_dict()}
        if config.snapshot_cycles:
            summary["snapshot_epochs"] = _save_snapshots(out, target, config, record)
            snapshots = torch.stack([record["thetas"][e - 1] for e in summary["snapshot_epochs"]]).to(device)
            summary["snapshot_ensemble_val"] = ensemble_scores(target, snapshots, vx, vy)
        write_json_atomic(out / SUMMARY, summary)
        return summary


def _save_snapshots(out: Path, target: Target, config: BaselineConfig, record: dict) -> list[int]:
    """OUT/snapshots.pt: θ at the end of every learning-rate cycle (M, D) and the cumulative seconds then."""
    per_cycle = config.epochs // config.snapshot_cycles
    index = list(range(per_cycle - 1, config.epochs, per_cycle))
    checkpoint.save(out / SNAPSHOTS, {"kind": "snapshot-ensemble", "target": target.name, "config": asdict(config),
                                      "thetas": torch.stack([record["thetas"][i] for i in index]),
                                      "seconds": [record["seconds"][i] for i in index],
                                      "epochs": [i + 1 for i in index], "finished": True})
    return [i + 1 for i in index]


def load_epochs(path: Path, config: dict | None = None) -> tuple[torch.Tensor, list[float]]:
    """Every epoch's weights (E, D) and the cumulative training seconds (E,) at the end of each epoch.

    `path` is OUT/epochs.pt or the folder OUT of a `train-baseline` run. Row e
    is θ after epoch e + 1; the seconds count training steps only (not the
    per-epoch validation), like the checkpoint's train_seconds. With `config` (the stored config of the
    baseline.pt beside it), a record of another run (another seed) is refused."""
    return _load_weights(path, EPOCHS, "target-epochs", config)


def load_snapshots(path: Path) -> tuple[torch.Tensor, list[float]]:
    """A snapshot ensemble's members (M, D) and the cumulative training seconds (M,) when each was taken.

    `path` is OUT/snapshots.pt or the folder OUT of a `train-snapshot` run. The
    ensemble of the first m snapshots cost seconds[m − 1]; all of them cost
    seconds[-1], the compute of one net trained for the same epochs."""
    return _load_weights(path, SNAPSHOTS, "snapshot-ensemble")


def _load_weights(path: Path, name: str, kind: str, config: dict | None = None) -> tuple[torch.Tensor, list[float]]:
    path = Path(path)
    path = path / name if path.is_dir() else path
    payload = checkpoint.load(path, kind=kind)
    checkpoint.require_finished(path, payload)
    if config is not None and payload.get("config") != config:
        raise checkpoint.CheckpointError(f"{path} was written by another run than the {CHECKPOINT} beside it (its "
                                         f"config {payload.get('config')}, the checkpoint's {config}); train that "
                                         f"baseline again into an empty folder")
    target = get_target(payload["target"])
    thetas, seconds = payload["thetas"], [float(s) for s in payload["seconds"]]
    if thetas.dim() != 2 or thetas.shape != (len(seconds), target.num_params):
        raise checkpoint.CheckpointError(f"{path}: weights of shape {tuple(thetas.shape)} do not fit "
                                         f"{len(seconds)} epochs of {target.name} ({target.num_params} weights)")
    return thetas, seconds


def ensemble_at(records: list[tuple[torch.Tensor, list[float]]], members: int,
                epoch: int) -> tuple[torch.Tensor, float]:
    """A deep ensemble read off per-epoch records (`load_epochs` of each seed): its first `members` nets
    after `epoch` epochs (members, D), and what they cost: the sum of their training seconds up to that
    epoch (members are trained one after another on one device), the x axis of the equal-compute curve."""
    if not 1 <= members <= len(records) or not all(1 <= epoch <= len(seconds) for _, seconds in records[:members]):
        raise ConfigError(f"asked for {members} members after {epoch} epochs, but there are {len(records)} runs of "
                         f"{[len(seconds) for _, seconds in records]} epochs")
    thetas = torch.stack([weights[epoch - 1] for weights, _ in records[:members]])
    return thetas, sum(seconds[epoch - 1] for _, seconds in records[:members])
