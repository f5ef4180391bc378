"""The mutable state of one training run: G, its optimiser and moving average, the seeded generators,
the neighbour queue, and how it is started fresh or restored from a checkpoint for an exact resume.

Why a room of its own: everything here must round-trip through the checkpoint
bit for bit (a run stopped at step k, even by SIGKILL, and resumed equals an
uninterrupted one on the CPU), so what is saved and what is restored sit side
by side; hyperman.training keeps the step and the loop.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from . import checkpoint
from .errors import HypermanError
from .files import write_text_atomic
from .hypernet_io import CHECKPOINT
from .hypernetwork import HyperNetwork
from .objective import NeighbourQueue

LOG = "train_log.jsonl"


class TrainingError(HypermanError):
    """Training cannot go on (non-finite loss, config mismatch on resume, ...)."""


def averaged_model(model: HyperNetwork, decay: float) -> AveragedModel | None:
    """An exponential moving average of G's weights and batch-norm statistics, or None when off.

    Why: G's last Adam steps are noisy, and averaging G over the last
    ~1/(1 − decay) steps smooths them out, as it does for GAN generators.
    Measured here: with BatchNorm in G it softened the rare bad samples but
    did not remove them (their cause is BatchNorm, see hyperman.hypernetwork);
    with LayerNorm it changed nothing measurable, so it is off by default.
    The average is what validation, sampling and evaluation use."""
    if not decay:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def truncate_log(log_path: Path, step: int) -> None:
    """Keep the log lines of steps ≤ `step` (those the checkpoint vouches for).

    Rewritten atomically: truncating in place and being killed meanwhile
    would lose lines that no later run writes again. A line torn by a kill
    mid-write does not parse and is dropped with the rest."""
    kept = []
    for line in log_path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record["step"] <= step:
            kept.append(line)
    write_text_atomic(log_path, "".join(line + "\n" for line in kept))


@dataclass
class RunState:
    model: HyperNetwork
    optimizer: torch.optim.Optimizer
    averaged: AveragedModel | None
    generator: torch.Generator  # the step's latents, images, shifts and probes
    eval_generator: torch.Generator  # validation's latents
    queue: NeighbourQueue
    start_step: int = 0
    elapsed: float = 0.0

    @classmethod
    def start(cls, config: Any, model: HyperNetwork, out: Path, device: torch.device, resume: bool, log,
              main: bool, load_config: Callable[[dict], Any]) -> "RunState":
        """A fresh run (seeded from config.seed), or the one in out/ restored exactly with `resume`.

        `model` must have been built right after torch.manual_seed(config.seed).
        `load_config` turns a stored config dict into the config class (old
        versions upgraded); a stored config that differs in anything but the
        config's RESUMABLE_CHANGES is refused."""
        run = cls(model, torch.optim.Adam(model.parameters(), lr=config.lr), averaged_model(model, config.ema),
                  torch.Generator().manual_seed(config.seed + 1), torch.Generator().manual_seed(config.seed + 2),
                  NeighbourQueue(config.entropy_queue))
        ckpt_path, log_path = out / CHECKPOINT, out / LOG
        if resume and ckpt_path.exists():
            run._restore(config, ckpt_path, device, load_config)
            if main and log_path.exists():  # drop log lines written after the checkpoint by the interrupted run
                truncate_log(log_path, run.start_step)
            log(f"resuming from step {run.start_step} of {ckpt_path}")
        elif main:
            if resume:
                log(f"--resume: no checkpoint in {out}, starting from scratch")
            out.mkdir(parents=True, exist_ok=True)  # an earlier run here was refused or moved aside (out_folder)
            log_path.write_text("")
        if main:  # temp files of atomic writes cut short by a kill: never read, only clutter
            for name in (CHECKPOINT, LOG):
                for stray in out.glob(f".{name}.*.tmp"):
                    stray.unlink(missing_ok=True)
        return run

    def _restore(self, config: Any, ckpt_path: Path, device: torch.device, load_config) -> None:
        payload = checkpoint.load(ckpt_path, kind="hypernetwork", map_location=device)
        saved = load_config(payload["config"])
        changed = [name for name in checkpoint.changed_settings(asdict(saved), config)
                   if name not in config.RESUMABLE_CHANGES]
        if changed:
            raise TrainingError(f"cannot resume {ckpt_path}: it was trained with different "
                                f"{', '.join(changed)}; rerun without --resume or restore those values")
        self.model.load_state_dict(payload.get("train_model", payload["model"]))
        if self.averaged is not None:
            self.averaged.module.load_state_dict(payload["model"])
            self.averaged.n_averaged.fill_(payload["ema_n_averaged"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.generator.set_state(payload["generator"])
        if "eval_generator" in payload:  # older checkpoints lack it: validation draws restart
            self.eval_generator.set_state(payload["eval_generator"])
        torch.set_rng_state(payload["torch_rng"])
        self.queue.load(payload.get("entropy_queue"), device)
        self.start_step, self.elapsed = payload["step"], payload["elapsed_s"]

    @property
    def served(self) -> HyperNetwork:
        """The G that validation, sampling and evaluation use: the moving average when it is on."""
        return self.averaged.module if self.averaged is not None else self.model

    def payload(self, config: Any, step: int, elapsed: float) -> dict:
        """The checkpoint: "model" is the G to use (the average when on), "train_model" the one Adam moves."""
        extra = ({"train_model": self.model.state_dict(), "ema_n_averaged": int(self.averaged.n_averaged)}
                 if self.averaged is not None else {})
        if self.queue.state() is not None:
            extra["entropy_queue"] = self.queue.state()
        return {"kind": "hypernetwork", "model": self.served.state_dict(), **extra,
                "optimizer": self.optimizer.state_dict(), "step": step, "config": config.stored(),
                "generator": self.generator.get_state(), "eval_generator": self.eval_generator.get_state(),
                "torch_rng": torch.get_rng_state(), "elapsed_s": elapsed, "finished": step >= config.steps}
