"""Distillation: compress the hypernetwork's ensemble into one network of the target's size.

The student is one target net, a flat weight vector θ trained directly (Adam,
cosine learning rate) to match the teacher's *mean predictive distribution*:

    loss = (1 − A) · T² · KL(p̄_T ‖ q_T)  +  A · CE(q, y)

with p̄_T = mean over the teacher's M nets of softmax(logits / T), q_T the
student's softmax(logits / T), and A the weight of the hard labels. T² keeps
the gradient scale independent of T (Hinton et al.).

Two teachers:
- ``fixed``: M nets sampled once from G. Their mean probabilities over the
  whole training set are computed once, before the first step.
- ``fresh``: a new set of M latents for every batch: over the run the student
  sees an unbounded ensemble, which one forward of G per batch makes cheap.

Everything random (student init, fixed latents, batch order, fresh latents)
comes from one seeded ``torch.Generator`` whose state is checkpointed at the
end of every epoch, so a stopped run resumed with ``resume=True`` ends with
bit-identical weights on the CPU. The checkpoint has kind "target", the
format of the baseline nets, so later stages load a student like a baseline.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from . import checkpoint, compute, metrics, out_folder, outputs
from . import settings
from .config import DistillConfig
from .data import Dataset, load_dataset
from .device import resolve_device, to_device
from .errors import HypermanError
from .files import sha256_file, write_json_atomic
from .forward import Forward
from .hypernetwork import HyperNetwork
from .targets import Target, get_target, resolve_forward
from .hypernet_io import load_hypernetwork

CHECKPOINT = "student.pt"
METRICS = outputs.DISTILL_METRICS


class DistillError(HypermanError):
    """Distillation cannot start or go on; the message says why and what to do."""


def check_config(config: DistillConfig) -> None:
    """Refuse a config that cannot distil, before anything is read or written: the bounds and choices declared
    on DistillConfig's fields (hyperman.settings.check), naming the flag."""
    problems = settings.problems(config)
    if problems:
        raise DistillError("; ".join(problems))


# --------------------------------------------------------------------------- building blocks
def init_student(target: Target, generator: torch.Generator, model: HyperNetwork | None = None,
                 latent_dist: str = "uniform") -> torch.Tensor:
    """The student's starting weights, one flat vector (D,).

    With `model`, a member of the ensemble: θ = G(z) for one seeded z. mnist_cnn's
    8-unit layer makes a randomly initialised net stall now and then (dead
    ReLUs: one of the reference's four seeds ended at 96 %), and a member
    already is a good net of the right function class. Without `model`:
    PyTorch's default initialisation."""
    if model is None:
        return target.init(1, generator)[0]
    with torch.no_grad():
        z = model.sample_latents(1, latent_dist, generator).to(next(model.parameters()).device)
        return model(z)[0].detach().cpu()


def student_logits(target: Target, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Logits (N, classes) of the one student net θ (D,)."""
    return target.forward(theta.unsqueeze(0), x, resolve_forward("auto", theta.device))[0]


@torch.no_grad()
def teacher_thetas(model: HyperNetwork, latents: torch.Tensor) -> torch.Tensor:
    """Weights (M, D) of the teacher nets G(z) (G in eval mode: every net is independent of the others)."""
    return model(latents.to(next(model.parameters()).device))


def ensemble_probs(target: Target, thetas: torch.Tensor, x: torch.Tensor, temperature: float = 1.0,
                   method: str = "auto") -> torch.Tensor:
    """The ensemble's mean predictive distribution (N, classes) on θ's device: mean over nets of
    softmax(logits / T)."""
    return Forward(target, method, thetas.device).mean_probs(thetas, x, temperature)


def student_probs(target: Target, theta: torch.Tensor, x: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """softmax(logits / T) (N, classes) of the one student net θ (D,), on θ's device."""
    return ensemble_probs(target, theta.detach()[None], x, temperature)


def kd_loss(logits: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, temperature: float,
            hard_label_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, KD term, CE term): (1 − A)·T²·KL(teacher ‖ softmax(logits/T)) + A·CE(logits, labels)."""
    log_q = F.log_softmax(logits / temperature, dim=-1)
    kd = temperature ** 2 * F.kl_div(log_q, teacher, reduction="batchmean")
    ce = F.cross_entropy(logits, labels)
    return (1 - hard_label_weight) * kd + hard_label_weight * ce, kd, ce


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Mean over rows of KL(p ‖ q) for probability rows (N, classes)."""
    return (torch.xlogy(p, p) - torch.xlogy(p, q.clamp_min(1e-12))).sum(-1).mean()


# --------------------------------------------------------------------------- metrics
def evaluate_probs(probs: torch.Tensor, labels: torch.Tensor, ood_probs: torch.Tensor | None = None) -> dict:
    """accuracy, nll, ece and (with OOD probabilities) the AUROC of predictive entropy, in-dist 0 vs OOD 1."""
    probs, labels = probs.cpu(), labels.cpu()
    out = {"accuracy": float(metrics.accuracy(probs, labels)), "nll": float(metrics.nll(probs, labels)),
           "ece": metrics.ece(probs, labels)}
    if ood_probs is not None:
        out["ood_auroc_entropy"] = metrics.ood_auroc(metrics.entropy(probs), metrics.entropy(ood_probs.cpu()))
    return out


# --------------------------------------------------------------------------- the run
def _lr_at(config: DistillConfig, step: int, total: int) -> float:
    """Cosine decay from lr to 0 over the whole run (a function of the step: nothing to checkpoint)."""
    return config.lr * 0.5 * (1 + math.cos(math.pi * step / max(total, 1)))


def _check_shape(data: Dataset, target: Target, where: Path) -> None:
    if tuple(data.image_shape) != tuple(target.input_shape):
        raise DistillError(f"the hypernetwork's target {target.name} takes {target.input_shape} images but "
                           f"{where} holds {data.image_shape}; distil on the dataset it was trained on")


def distill(config: DistillConfig, hypernet_path: Path, data_dir: Path, out: Path, device_name: str = "auto",
            resume: bool = False, ood_dir: Path | None = None, limit_test: int | None = None, log=None,
            on_batch: Callable[[dict], None] | None = None, force: bool = False) -> dict:
    """Distil (or resume distilling) the hypernetwork at `hypernet_path` into one student net.

    Writes out/student.pt and out/distill_metrics.json and returns the metrics.
    Every input is checked before anything is written. `on_batch`, if given, is
    called after every optimiser step with {"epoch", "step", "latents", "loss",
    "kd", "ce"} ("latents": the teacher's z of that batch)."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    out, hypernet_path, data_dir = Path(out), Path(hypernet_path), Path(data_dir)
    check_config(config)
    device = resolve_device(device_name)
    model, hyper_config = load_hypernetwork(hypernet_path, device)
    target = get_target(hyper_config.target)
    data = load_dataset(data_dir, limit_train=config.limit_train, limit_test=limit_test)
    _check_shape(data, target, data_dir)
    ood = None
    if ood_dir is not None:
        ood = load_dataset(Path(ood_dir), limit_train=1, limit_test=limit_test)
        _check_shape(ood, target, Path(ood_dir))
    with checkpoint.OutputLock(out):
        out_folder.claim(out, "distill", resume, force, log)
        return _distill_locked(config, hypernet_path, model, hyper_config, target, data, ood, out, device,
                               resume, log, on_batch)


def _restore(config: DistillConfig, ckpt_path: Path, hypernet_path: Path, teacher_sha: str,
             theta: torch.nn.Parameter, optimizer: torch.optim.Optimizer, generator: torch.Generator,
             fixed_latents: torch.Tensor | None, device: torch.device) -> tuple[int, int, float, torch.Tensor | None]:
    """Restore a stopped distillation in place (θ, optimiser, generator); (epoch, step, seconds, fixed latents).

    Refused when the checkpoint is not a distillation run, or was made with other settings or another teacher."""
    payload = checkpoint.load(ckpt_path, kind="target", map_location=device)
    if "generator" not in payload:
        raise DistillError(f"cannot resume {ckpt_path}: it is a finished target checkpoint without "
                           "training state, not a distillation run; rerun without --resume")
    saved = payload["config"]
    changed = checkpoint.changed_settings(saved, config)
    if changed:
        raise DistillError(f"cannot resume {ckpt_path}: it was distilled with different "
                           f"{', '.join(changed)}; rerun without --resume or restore those values")
    if payload["teacher_sha256"] != teacher_sha:
        raise DistillError(f"cannot resume {ckpt_path}: it was distilled from another hypernetwork "
                           f"checkpoint than {hypernet_path}; rerun without --resume")
    checkpoint.restore_single_net(payload, theta, optimizer, generator)
    if fixed_latents is not None:
        fixed_latents = payload["teacher_latents"]
    return payload["epoch"], payload["step"], payload["train_seconds"], fixed_latents


def _distill_locked(config: DistillConfig, hypernet_path: Path, model: HyperNetwork, hyper_config: TrainConfig,
                    target: Target, data: Dataset, ood: Dataset | None, out: Path, device: torch.device,
                    resume: bool, log, on_batch) -> dict:
    method = resolve_forward("auto", device)
    teachers = Forward(target, method, device)
    train_x = to_device(torch.from_numpy(data.train_x), device)
    train_y = to_device(torch.from_numpy(data.train_y), device)
    n_train = len(train_y)
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    teacher_sha = sha256_file(hypernet_path)
    ckpt_path, metrics_path = out / CHECKPOINT, out / METRICS

    generator = torch.Generator().manual_seed(config.seed)
    member = model if config.student_init == "member" else None
    theta = torch.nn.Parameter(init_student(target, generator, member, hyper_config.latent_dist).to(device))
    optimizer = torch.optim.Adam([theta], lr=config.lr)
    fixed_latents = None
    if config.teacher == "fixed":
        fixed_latents = model.sample_latents(config.teacher_nets, hyper_config.latent_dist, generator)
    start_epoch, step, elapsed = 0, 0, 0.0

    if resume and ckpt_path.exists():
        start_epoch, step, elapsed, fixed_latents = _restore(config, ckpt_path, hypernet_path, teacher_sha, theta,
                                                             optimizer, generator, fixed_latents, device)
        log(f"resuming from epoch {start_epoch} (step {step}) of {ckpt_path}")
    else:
        if resume:
            log(f"--resume: no checkpoint in {out}, starting from scratch")
        for stale in (ckpt_path, metrics_path):
            stale.unlink(missing_ok=True)

    def save(epoch: int) -> None:
        payload = {"kind": "target", "target": target.name, "theta": theta.detach().cpu().clone(),
                   "train_seconds": elapsed, "config": asdict(config), "optimizer": optimizer.state_dict(),
                   "epoch": epoch, "step": step, "generator": generator.get_state(),
                   "teacher_checkpoint": str(hypernet_path), "teacher_sha256": teacher_sha,
                   "finished": epoch == config.epochs}
        if fixed_latents is not None:
            payload["teacher_latents"] = fixed_latents
        checkpoint.save(ckpt_path, payload)

    T = config.temperature
    tick = time.perf_counter()
    fixed_probs = None
    if fixed_latents is not None and start_epoch < config.epochs:
        # One pass of the M fixed nets over the training set serves every epoch.
        fixed_probs = teachers.mean_probs(teacher_thetas(model, fixed_latents), train_x, T)
    for epoch in range(start_epoch, config.epochs):
        order = torch.randperm(n_train, generator=generator)
        totals = torch.zeros(3)
        for start in range(0, n_train, config.batch_size):
            index = order[start:start + config.batch_size].to(device)
            x, y = train_x[index], train_y[index]
            if fixed_probs is not None:
                latents, teacher = fixed_latents, fixed_probs[index]
            else:
                latents = model.sample_latents(config.teacher_nets, hyper_config.latent_dist, generator)
                teacher = teachers.mean_probs(teacher_thetas(model, latents), x, T)
            lr = _lr_at(config, step, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss, kd, ce = kd_loss(student_logits(target, theta, x), teacher, y, T, config.hard_label_weight)
            if not torch.isfinite(loss):
                raise DistillError(f"loss became {loss.item()} at step {step}; the last good checkpoint is "
                                   f"kept in {ckpt_path}. Lower --lr and rerun.")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            totals += torch.tensor([loss.item(), kd.item(), ce.item()]) * len(index)
            if on_batch is not None:
                on_batch({"epoch": epoch, "step": step, "latents": latents, "loss": loss.item(),
                          "kd": kd.item(), "ce": ce.item()})
        now = time.perf_counter()
        elapsed, tick = elapsed + (now - tick), now
        save(epoch + 1)
        mean = (totals / n_train).tolist()
        log(f"epoch {epoch + 1}/{config.epochs}: loss {mean[0]:.4f} KD {mean[1]:.4f} CE {mean[2]:.4f} "
            f"({elapsed:.0f} s)")

    results = evaluate(config, model, hyper_config, target, theta.detach(), data, ood, device, method,
                       fixed_latents)
    results["distilled"]["train_seconds"] = elapsed
    results["distilled"]["compute"] = compute.distill_cost(target, model, config.teacher, config.teacher_nets, n_train,
                                                           config.epochs, config.batch_size).as_dict()
    write_json_atomic(metrics_path, results)
    return results


@torch.no_grad()
def evaluate(config: DistillConfig, model: HyperNetwork, hyper_config: TrainConfig, target: Target,
             theta: torch.Tensor, data: Dataset, ood: Dataset | None, device: torch.device, method: str,
             fixed_latents: torch.Tensor | None = None) -> dict:
    """Test-set figures of the student and of an M-net teacher ensemble (at temperature 1).

    The teacher ensemble is the fixed teacher itself, or for `fresh` M nets sampled with a
    generator seeded by config.seed + 1 (independent of the training run's generator)."""
    test_x, test_y = to_device(torch.from_numpy(data.test_x), device), torch.from_numpy(data.test_y)
    ood_x = to_device(torch.from_numpy(ood.test_x), device) if ood is not None else None
    latents = fixed_latents
    if latents is None:
        latents = model.sample_latents(config.teacher_nets, hyper_config.latent_dist,
                                       torch.Generator().manual_seed(config.seed + 1))
    thetas = teacher_thetas(model, latents)
    forward, student_theta = Forward(target, method, device), theta.detach()[None]
    student = evaluate_probs(forward.mean_probs(student_theta, test_x), test_y,
                             forward.mean_probs(student_theta, ood_x) if ood_x is not None else None)
    teacher = evaluate_probs(forward.mean_probs(thetas, test_x), test_y,
                             forward.mean_probs(thetas, ood_x) if ood_x is not None else None)
    return {"distilled": student, "teacher": {"mode": config.teacher, "nets": config.teacher_nets, **teacher}}
