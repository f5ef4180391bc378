"""Ancestral sampling: draw N latents z, and regenerate θ = G(z) whenever it is needed.

A samples file stores only the latents (N × dim z), the seed and the sha256 of
the hypernetwork checkpoint: G in eval mode is a deterministic function, so
θ (N × 20k floats for mnist_cnn, 80 MB per 1,000 nets) is regenerated in
chunks instead of stored. The sha256 ties the latents to the exact G that
turns them into nets; `regenerate` refuses a different checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import torch

from . import checkpoint
from .config import SampleConfig  # noqa: F401  (workflow/pipeline.py still imports it from here)
from .checkpoint import CheckpointError
from .device import synchronize
from .files import sha256_file
from .hypernetwork import HyperNetwork
from .symmetry import gauge_fix
from .hypernet_io import load_hypernetwork
from .errors import ConfigError


@torch.no_grad()
def generate(model: HyperNetwork, latents: torch.Tensor, chunk: int = 256, gauge: bool = False,
             device: torch.device | str | None = None) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield (start, θ) for consecutive chunks of `latents`: θ = G(z) (P, D), gauge-fixed if asked.

    G must be in eval mode (batch norm on running statistics) so that a net
    does not depend on which other nets share its chunk."""
    if model.training:
        raise ValueError("generate() needs the hypernetwork in eval mode (model.eval())")
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    for start in range(0, latents.shape[0], chunk):
        theta = model(latents[start:start + chunk].to(device))
        yield start, gauge_fix(model.target, theta) if gauge else theta


def timed_generation(model: HyperNetwork, latents: torch.Tensor, chunk: int,
                     device: torch.device | str) -> tuple[float, int]:
    """(seconds, nets with a non-finite weight) of generating and gauge-fixing every net of `latents` once: the
    nets/s that `hyperman sample` reports and benchmarks/run.py measures, timed the same way (the device
    synchronised before and after, so a GPU's queued work is counted)."""
    device = torch.device(device)
    synchronize(device)
    tick = time.perf_counter()
    bad = 0
    for _, theta in generate(model, latents, chunk, gauge=True, device=device):
        bad += int((~torch.isfinite(theta)).any(dim=1).sum())
    synchronize(device)
    return time.perf_counter() - tick, bad


def draw(checkpoint_path: Path, num_nets: int, seed: int, chunk: int = 256, device: str | torch.device = "cpu",
         log=None) -> tuple[dict, dict]:
    """Draw `num_nets` latents, generate and gauge-fix them once (timed, and checked to be finite).

    Returns (payload for checkpoint.save, timing report)."""
    if num_nets < 1:
        raise ConfigError(f"--num-nets must be at least 1, got {num_nets}")
    if chunk < 1:
        raise ConfigError(f"--chunk must be at least 1, got {chunk}")
    checkpoint_path = Path(checkpoint_path)
    device = torch.device(device)
    model, config = load_hypernetwork(checkpoint_path, device)
    digest = sha256_file(checkpoint_path)
    generator = torch.Generator().manual_seed(seed)
    latents = model.sample_latents(num_nets, config.latent_dist, generator)
    seconds, bad = timed_generation(model, latents, chunk, device)
    if bad:
        raise CheckpointError(f"{checkpoint_path} generated {bad} of {num_nets} nets with non-finite weights; "
                              "the hypernetwork is broken (retrain it)")
    payload = {"kind": "samples", "latents": latents.cpu(), "seed": seed, "num_nets": num_nets,
               "latent_dist": config.latent_dist, "latent_dim": config.latent_dim, "target": config.target,
               "checkpoint": str(checkpoint_path), "checkpoint_sha256": digest, "chunk": chunk}
    report = {"num_nets": num_nets, "chunk": chunk, "device": str(device), "seconds": seconds,
              "nets_per_second": num_nets / seconds if seconds > 0 else float("inf"),
              "what": "generation θ = G(z) + gauge fixing, eval mode, no gradients",
              "checkpoint_sha256": digest}
    if log:
        log(f"generated and gauge-fixed {num_nets} nets in {seconds:.3f} s "
            f"({report['nets_per_second']:.0f} nets/s on {device})")
    return payload, report


def timing_path(samples_path: Path) -> Path:
    """samples.pt → samples.json: the nets/s report written next to the samples file."""
    return Path(samples_path).with_suffix(".json")


def load_samples(path: Path, checkpoint_path: Path | None = None, model: HyperNetwork | None = None) -> dict:
    """Load a samples file; with `checkpoint_path`, check it was drawn from that exact checkpoint."""
    payload = checkpoint.load(path, kind="samples")
    latents = payload.get("latents")
    if not isinstance(latents, torch.Tensor) or latents.dim() != 2 or latents.shape[0] < 1:
        raise CheckpointError(f"{path} has no (N, dim z) latents; redraw it with `hyperman sample`")
    if checkpoint_path is not None:
        digest = sha256_file(checkpoint_path)
        if digest != payload.get("checkpoint_sha256"):
            raise CheckpointError(f"{path} was drawn from a different hypernetwork (sha256 "
                                  f"{str(payload.get('checkpoint_sha256'))[:12]}…, recorded path "
                                  f"{payload.get('checkpoint')}) than {checkpoint_path} (sha256 {digest[:12]}…); "
                                  "rerun `hyperman sample` on this checkpoint")
    if model is not None and latents.shape[1] != model.latent_dim:
        raise CheckpointError(f"{path} holds {latents.shape[1]}-dim latents but the hypernetwork takes "
                              f"{model.latent_dim}")
    return payload


def regenerate(samples_path: Path, checkpoint_path: Path, chunk: int = 256, device: str | torch.device = "cpu",
               gauge: bool = False) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield (start, θ chunk (P, D)) of the nets in a samples file, checked against its checkpoint."""
    model, _ = load_hypernetwork(checkpoint_path, device)
    samples = load_samples(samples_path, checkpoint_path, model)
    yield from generate(model, samples["latents"], chunk, gauge, device)


def regenerate_all(samples_path: Path, checkpoint_path: Path, chunk: int = 256, device: str | torch.device = "cpu",
                   gauge: bool = False) -> torch.Tensor:
    """All θ (N, D) of a samples file at once (80 MB per 1,000 mnist_cnn nets)."""
    return torch.cat([theta for _, theta in regenerate(samples_path, checkpoint_path, chunk, device, gauge)])
