"""Hypernetwork training: loss = λ·CE − Ĥ_weights − β·Ĥ_function (`hyperman.objective`).

One step: draw B latents z, generate B target nets θ = G(z), give every net its
own mini-batch of training images, and minimise λ times their mean
cross-entropy minus the nearest-neighbour entropy of the B gauge-fixed weight
vectors and/or (β times) that of their outputs on shared probe inputs. The
entropy terms are what keep G from collapsing onto one good net; λ trades
accuracy against diversity (``diversity="none"`` is the λ → ∞ ablation).

Everything random comes from seeded ``torch.Generator``s whose states are in
the checkpoint, so a run stopped at step k (even by SIGKILL) and resumed is
bit-identical to an uninterrupted one on the CPU, log included.

Under ``torchrun --nproc-per-node W`` every rank draws the whole step from
the same generator, runs G on it, and evaluates only its B/W nets on their
images; the CE gradients of the nets are gathered and every rank updates G
exactly as one process would (why this split: `hyperman.distributed`).
Rank 0 alone writes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from . import checkpoint, compute, distributed, out_folder, probes as probe_registry
from .augment import random_shift
from .data import load_dataset
from .config import TrainConfig
from .device import autocast_dtype, resolve_device, to_device
from .errors import HypermanError
from .hypernet_io import CHECKPOINT, SUMMARY, build_model, upgrade
from .hypernetwork import HyperNetwork
from .objective import (NeighbourQueue, Objective, backward_ce, check_settings, cross_entropy, draw_outliers,
                        draw_probes, objective, uses_function)
from .run_state import LOG, RunState, TrainingError
from .train_validation import validate
from .targets import get_target, resolve_forward

def _step_objective(ctx: distributed.Context | None, model: HyperNetwork, theta: torch.Tensor,
                    images: torch.Tensor, labels: torch.Tensor, lam: float, config: TrainConfig, method: str,
                    probes: torch.Tensor | None, queue: NeighbourQueue, outliers: torch.Tensor | None = None,
                    repulsion: float = 1.0, function_space: bool = True) -> tuple[Objective, Callable[[], None]]:
    """One step's objective and the function that back-propagates it through G.

    The CE gradient is taken w.r.t. the nets' weights alone (under torchrun:
    this rank's share of the nets, then gathered): the CE is a *sum* whose
    backward seed is λ/(number of pairs), which is what the mean's backward
    computes, so the gathered gradient is the single-process one. The entropy
    terms need all nets, which every rank has (G ran whole on every rank):
    `objective` computes them with the global CE as a number, so the loss (and
    the NaN check) agree everywhere. One process runs the same code with one
    shard, so both add the CE gradient and the entropies' gradients in the
    same order and stay equal to rounding, whatever terms are on."""
    target = model.target
    shard = ctx.shard(len(theta)) if ctx is not None else slice(None)
    mine = theta[shard].detach().requires_grad_()
    ce_sum = cross_entropy(config, target, mine, images[shard], labels[shard], method, reduction="sum")
    backward_ce(config, ce_sum, lam, labels.numel())
    if ctx is not None:
        theta_grad, ce = distributed.gather_rows(mine.grad), distributed.sum_over_ranks(ce_sum) / labels.numel()
    else:
        theta_grad, ce = mine.grad, ce_sum.detach() / labels.numel()
    result = objective(config, target, theta, ce, lam, probes, method, queue, outliers, repulsion, function_space)

    def backward() -> None:
        roots, seeds = [theta], [theta_grad]
        if result.loss.requires_grad:  # the entropy terms' part of the loss (the CE part is a number here)
            roots.append(result.loss)
            seeds.append(torch.ones_like(result.loss))
        torch.autograd.backward(roots, seeds)
        if ctx is not None:
            distributed.broadcast_gradients(model.parameters())

    return result, backward


def train(config: TrainConfig, data_dir: Path, out: Path, device_name: str | None = None, resume: bool = False,
          log=None, force: bool = False) -> dict:
    """Train (or resume) a hypernetwork; returns the summary also written to out/train_summary.json.

    A fresh start into a folder holding an earlier run is refused unless
    `force`, which moves that run to a sibling folder first (hyperman.out_folder)."""
    out = Path(out)
    device_name = device_name or config.device
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    try:  # before the lock: a refused run leaves nothing behind (TrainConfig's check, then the registries')
        check_settings(config)
    except ValueError as error:
        raise TrainingError(str(error)) from None
    if not distributed.launched():
        with checkpoint.OutputLock(out):
            out_folder.claim(out, "train", resume, force, log)
            return _train_locked(config, Path(data_dir), out, resolve_device(device_name), resume, log)
    with contextlib.ExitStack() as stack:
        ctx = distributed.init(device_name)
        stack.callback(distributed.shutdown)
        if config.nets_per_step % ctx.world_size:
            raise TrainingError(f"--nets-per-step {config.nets_per_step} does not divide by the {ctx.world_size} "
                                "processes of torchrun; pick a multiple of --nproc-per-node")
        refusal = None
        if ctx.is_main:  # only rank 0 writes, so only rank 0 holds the lock and looks into the folder
            try:
                stack.enter_context(checkpoint.OutputLock(out))
                out_folder.claim(out, "train", resume, force, log)
            except HypermanError as error:
                refusal = error
        if not distributed.all_agree(refusal is None, ctx.device):
            raise refusal or TrainingError(f"rank 0 refused {out} (see its message); nothing was written")
        return _train_locked(config, Path(data_dir), out, ctx.device, resume,
                             log if ctx.is_main else (lambda message: None), ctx)


def _train_locked(config: TrainConfig, data_dir: Path, out: Path, device: torch.device, resume: bool, log,
                  ctx: distributed.Context | None = None) -> dict:
    main = ctx is None or ctx.is_main
    target = get_target(config.target)
    data = load_dataset(data_dir, limit_train=config.limit_train)
    if tuple(data.image_shape) != tuple(target.input_shape):
        raise TrainingError(f"target {target.name} takes {target.input_shape} images but {data_dir} holds "
                            f"{data.image_shape}; pick a matching --target")
    method = resolve_forward(config.forward, device)
    autocast_dtype(config.precision, device)  # an unknown or unsupported precision fails before any work
    train_x, train_y = to_device(torch.from_numpy(data.train_x), device), to_device(torch.from_numpy(data.train_y), device)
    val_x, val_y = to_device(torch.from_numpy(data.val_x), device), to_device(torch.from_numpy(data.val_y), device)

    torch.manual_seed(config.seed)
    run = RunState.start(config, build_model(config).to(device), out, device, resume, log, main,
                         lambda stored: TrainConfig(**upgrade(stored)))
    start_step, elapsed = run.start_step, run.elapsed
    ckpt_path, log_path = out / CHECKPOINT, out / LOG

    progress = _progress(config.steps, start_step) if main else (lambda done, record: None)
    # Line-buffered: the log can be followed live. Ranks other than 0 write into the void.
    log_handle = open(log_path if main else os.devnull, "a", buffering=1)
    run.model.train()
    tick = time.perf_counter()
    last = {}
    try:
        for step in range(start_step, config.steps):
            lr = config.lr * config.lr_decay ** step
            result = _train_step(run, config, step, lr, train_x, train_y, method, ctx, ckpt_path)
            done = step + 1
            record = {"step": done, **result.record(), "lr": lr}
            if main and (done % config.eval_every == 0 or done == config.steps):
                record.update(validate(run.served, val_x, val_y, config.eval_nets, config, method,
                                       run.eval_generator))
                last = record
                log(f"step {done}/{config.steps}: CE {record['ce']:.4f} Ĥ {record['entropy']:.1f} | val acc "
                    f"mean {record['val_acc_mean']:.4f} min {record['val_acc_min']:.4f} max "
                    f"{record['val_acc_max']:.4f} ensemble {record['val_ensemble_acc']:.4f}")
            now = time.perf_counter()
            elapsed, tick = elapsed + (now - tick), now
            record["elapsed_s"] = elapsed
            log_handle.write(json.dumps(record) + "\n")
            if main and (done % config.checkpoint_every == 0 or done == config.steps):
                log_handle.flush()
                checkpoint.save(ckpt_path, run.payload(config, done, elapsed))
            progress(done, record)
    finally:
        log_handle.close()
        progress(None, None)

    steps_run = config.steps - start_step
    summary = {"steps": config.steps, "train_seconds": elapsed, "device": str(device), "forward": method,
               "seconds_per_step": elapsed / config.steps if config.steps else math.nan,
               "steps_this_call": steps_run, **{k: v for k, v in last.items() if k.startswith("val_")},
               "compute": compute.hypernet_cost(config, run.model, len(val_y), probes_per_step(config)).as_dict(),
               "probes": probe_registry.used(config.stored())}
    if ctx is not None:
        summary["world_size"] = ctx.world_size
        if not ctx.is_main:
            return summary
    tmp = out / (SUMMARY + ".tmp")
    tmp.write_text(json.dumps(summary, indent=1))
    tmp.replace(out / SUMMARY)
    return summary


def _train_step(run: RunState, config: TrainConfig, step: int, lr: float, train_x: torch.Tensor,
                train_y: torch.Tensor, method: str, ctx: distributed.Context | None, ckpt_path: Path) -> Objective:
    """One optimiser step: draw the step's latents, images and probes from the run's generator (in this order,
    which exact resume relies on), take the objective's gradient, update G (and its average and queue)."""
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    model, generator, device = run.model, run.generator, train_x.device
    z = model.sample_latents(config.nets_per_step, config.latent_dist, generator).to(device)
    index = torch.randint(len(train_y), (config.nets_per_step, config.images_per_net), generator=generator)
    index = index.to(device, non_blocking=True)
    images, labels = train_x[index], train_y[index]
    if config.augment_shift:
        images = random_shift(images, config.augment_shift, generator)
    function_space = config.function_step(step)  # every step but with function_every > 1
    probes = draw_probes(config, train_x, generator) if uses_function(config.diversity) and function_space else None
    outliers = draw_outliers(config, train_x, generator) if function_space else None  # None: generator untouched
    theta = model(z)
    # the function-space terms' factor: the warm-up's, times function_every on the steps that compute them
    repulsion = config.repulsion_at(step) * config.function_every
    result, backward = _step_objective(ctx, model, theta, images, labels, config.lambda_at(step), config, method,
                                       probes, run.queue, outliers, repulsion, function_space)
    if not torch.isfinite(result.loss):
        raise TrainingError(f"loss became {result.loss.item()} at step {step} (CE {result.ce.item():.4g}, "
                            f"entropy {result.entropy_weights.item():.4g}, function entropy "
                            f"{result.entropy_function.item():.4g}); the last good checkpoint is kept in "
                            f"{ckpt_path}. Lower the learning rate or λ and rerun.")
    run.optimizer.zero_grad(set_to_none=True)
    backward()
    run.optimizer.step()
    run.queue.push(result.fixed)
    if run.averaged is not None:
        run.averaged.update_parameters(model)
    return result


def probes_per_step(config: TrainConfig) -> int:
    """Probe images each net of a function-space step sees (the function-space entropies', data-like and
    outlier; 0 when that term is off); with function_every > 1 only every N-th step is one (hyperman.compute)."""
    return config.probes + config.outlier_probes if uses_function(config.diversity) else 0


def _progress(total: int, start: int):
    """A tqdm bar on a terminal, plain periodic lines otherwise (logs, CI, Snakemake)."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)

        def update(done, record):
            if done is None:
                bar.close()
                return
            bar.update(1)
            bar.set_postfix(ce=f"{record['ce']:.3f}", H=f"{record['entropy']:.0f}")
        return update

    every = max(total // 20, 1)

    def update(done, record):
        if done is not None and done % every == 0:
            print(f"step {done}/{total} CE {record['ce']:.4f} entropy {record['entropy']:.1f} "
                  f"({record['elapsed_s']:.0f} s)", file=sys.stderr, flush=True)
    return update
