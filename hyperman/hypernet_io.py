"""Build G from its config and load a trained G from its checkpoint: all that a stage which only *uses* a
hypernetwork (sampling, the API, evaluation, distillation, predict, export, the report) needs.

Why a room of its own, next to hyperman.hypernetwork: loading used to live in hyperman.training, so every
stage that read a checkpoint imported the training loop, the objective and the run state (and DVC re-ran
`sample` when the objective changed). This module imports none of them.
"""

from __future__ import annotations

from pathlib import Path

import torch

from . import checkpoint
from .config import TrainConfig
from .config.choices import diversity_mode
from .hypernetwork import HyperNetwork
from .targets import get_target

CHECKPOINT = "hypernet.pt"  # what `hyperman train` writes into its folder
SUMMARY = "train_summary.json"  # its summary beside it (the evaluation reads its timing)


def upgrade(config: dict) -> dict:
    """A stored config of an older version: `batch_norm: bool` became `norm: batch|none`,
    `diversity: bool` became `diversity: weights|none` (true → weights, false → none)."""
    if "batch_norm" in config:
        config = {**config, "norm": "batch" if config["batch_norm"] else "none"}
        del config["batch_norm"]
    if isinstance(config.get("diversity"), bool):
        config = {**config, "diversity": diversity_mode(config["diversity"])}
    return config


def build_model(config: TrainConfig) -> HyperNetwork:
    """A freshly initialised G for `config` (its target, latent dimension and mixture components, and norm)."""
    return HyperNetwork(get_target(config.target), config.latent_dim, norm=config.norm,
                        latent_components=config.latent_components)


def load_hypernetwork(path: Path, device: torch.device | str = "cpu") -> tuple[HyperNetwork, TrainConfig]:
    """The trained G (in eval mode) and its config, from a training checkpoint."""
    payload = checkpoint.load(path, kind="hypernetwork")
    checkpoint.require_finished(path, payload)
    config = TrainConfig(**upgrade(payload["config"]))
    model = build_model(config)
    model.load_state_dict(payload["model"])
    return model.to(device).eval(), config
