"""Conventional training of one target network: the single-net and deep-ensemble baselines.

A weak baseline would flatter the method, so this one is the ordinary strong
recipe: PyTorch's default initialisation, Adam with a one-cycle learning-rate
schedule (warm-up then cosine decay), batch 128. The net is trained through
the same functional forward the hypernetwork's samples use, and saved in the
shared "target" checkpoint format (flat θ) that evaluate and distill read.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F

from . import checkpoint
from .data import load_dataset
from .augment import random_shift
from .device import resolve_device, to_device
from .files import write_json_atomic
from .forward import Forward
from .targets import Target, get_target, resolve_forward

CHECKPOINT = "baseline.pt"
SUMMARY = "baseline_summary.json"


@dataclass
class BaselineConfig:
    target: str = "mnist_cnn"
    epochs: int = 5
    batch_size: int = 128
    lr: float = 3e-3
    seed: int = 0
    limit_train: int | None = None
    augment_shift: int = 0  # random translations of up to this many pixels (hyperman.augment)


def load_target_net(path: Path, device: torch.device | str = "cpu") -> tuple[Target, torch.Tensor, dict]:
    """(target, θ (D,), payload) from a "target" checkpoint (baseline or distilled student)."""
    payload = checkpoint.load(path, kind="target")
    target = get_target(payload["target"])
    theta = payload["theta"].to(device)
    if theta.shape != (target.num_params,):
        raise checkpoint.CheckpointError(f"{path}: θ has shape {tuple(theta.shape)}, "
                                         f"{target.name} needs ({target.num_params},)")
    return target, theta, payload


def accuracy(target: Target, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of the one net θ (D,) on (x, y), through the shared chunked forward (hyperman.forward)."""
    return float(Forward(target, "auto", theta.device).scores(theta.detach()[None], x, y)[0][0])


def train_baseline(config: BaselineConfig, data_dir: Path, out: Path, device_name: str = "auto",
                   resume: bool = False, log=None) -> dict:
    """Train one net; checkpoint after every epoch (atomic), resumable exactly."""
    out = Path(out)
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    device = resolve_device(device_name)
    with checkpoint.OutputLock(out):
        target = get_target(config.target)
        data = load_dataset(data_dir, limit_train=config.limit_train)
        if tuple(data.image_shape) != target.input_shape:
            raise ValueError(f"target {target.name} takes {target.input_shape} images, {data_dir} holds "
                             f"{data.image_shape}")
        x, y = to_device(torch.from_numpy(data.train_x), device), to_device(torch.from_numpy(data.train_y), device)
        vx, vy = to_device(torch.from_numpy(data.val_x), device), to_device(torch.from_numpy(data.val_y), device)
        generator = torch.Generator().manual_seed(config.seed)
        theta = torch.nn.Parameter(target.init(1, generator)[0].to(device))
        optimizer = torch.optim.Adam([theta], lr=config.lr)
        steps_per_epoch = (len(y) + config.batch_size - 1) // config.batch_size
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=config.epochs * steps_per_epoch,
                                                       pct_start=0.15)
        start_epoch, elapsed = 0, 0.0
        path = out / CHECKPOINT
        if resume and path.exists():
            payload = checkpoint.load(path, kind="target", map_location=device)
            saved = BaselineConfig(**payload["config"])
            if any(getattr(saved, f.name) != getattr(config, f.name) for f in fields(BaselineConfig)):
                raise checkpoint.CheckpointError(f"cannot resume {path}: it was trained with another config "
                                                 f"{asdict(saved)}")
            with torch.no_grad():
                theta.copy_(payload["theta"])
            optimizer.load_state_dict(payload["optimizer"])
            schedule.load_state_dict(payload["schedule"])
            generator.set_state(payload["generator"])
            start_epoch, elapsed = payload["epoch"], payload["train_seconds"]
            log(f"resuming {path} at epoch {start_epoch}")
        history, method = [], resolve_forward("auto", device)
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
            history.append({"epoch": epoch + 1, "loss": total / steps_per_epoch, "val_acc": val})
            log(f"baseline seed {config.seed} epoch {epoch + 1}/{config.epochs}: loss "
                f"{total / steps_per_epoch:.4f} val acc {val:.4f} ({elapsed:.0f} s)")
            checkpoint.save(path, {"kind": "target", "target": target.name, "theta": theta.detach().cpu().clone(),
                                   "train_seconds": elapsed, "config": asdict(config), "epoch": epoch + 1,
                                   "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                                   "generator": generator.get_state()})
        summary = {"seed": config.seed, "epochs": config.epochs, "train_seconds": elapsed,
                   "val_acc": accuracy(target, theta.detach(), vx, vy), "history": history}
        write_json_atomic(out / SUMMARY, summary)
        return summary
