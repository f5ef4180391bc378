"""The public Python API: `hyperman.load(checkpoint)` → a `Model` that samples nets and predicts.

Why one class for every kind of checkpoint: user code should treat the
hypernetwork G and every baseline alike, so that swapping `hypernet.pt` for a
deep ensemble is a change of path, not of code. A `Model` is a source of
target nets θ (D,):

- a hypernetwork (hypernet.pt, or its training folder): as many nets as asked
  for, θ = G(z) with z drawn from G's latent distribution by `seed`;
- a fixed set of nets, whose first n are used: a single net (baseline.pt or a
  distilled student.pt, both "target" checkpoints), a deep ensemble (several
  baseline.pt files, or a folder of baseline runs such as results/baselines),
  a snapshot ensemble (snapshots.pt) or a noise ensemble (noise_ensemble.pt).

Predictions go through the project's one batched forward (hyperman.forward)
and the evaluation's uncertainty formulas (hyperman.metrics), so they are the
numbers `hyperman evaluate` would compute. Partial checkpoints are refused as
everywhere else (hyperman.checkpoint.require_finished) unless
`allow_partial=True`; the warning is then kept in `Model.warnings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from . import checkpoint, metrics, partial
from .baseline import CHECKPOINT as BASELINE, SNAPSHOTS, load_snapshots, load_target_net
from .checkpoint import CheckpointError
from .errors import ConfigError
from .files import sha256_file
from .forward import Forward
from .user_images import InputError, check_images
from .modules import Ensemble, target_net
from .noise_ensemble import MEMBERS as NOISE, load_noise_ensemble
from .sampling import generate
from .targets import Target, get_target
from .hypernet_io import load_hypernetwork

HYPERNET = "hypernet.pt"
STUDENT = "student.pt"
DEFAULT_NETS = 100  # a hypernetwork's default ensemble: the evaluation's `hypernet_ensemble` has 100 nets


@dataclass
class Sample:
    """n nets: their latents z (n, dim z) when they came from G (None for a fixed set), and θ (n, D)."""

    latents: torch.Tensor | None
    theta: torch.Tensor


@dataclass
class Prediction:
    """What an ensemble of M nets says about N inputs. All per-input tensors have N rows.

    `probs` is the mean of the members' softmax (N, classes); `classes` its argmax and `confidence` its
    largest probability; `entropy` the predictive entropy H(probs) and `mutual_information` the
    epistemic part H(probs) − mean_m H(p_m), both in nats (0 for a single net); `vote_share` the fraction
    of members whose own argmax is `classes`; `member_probs` (M, N, classes) every member's softmax."""

    probs: torch.Tensor
    classes: torch.Tensor
    confidence: torch.Tensor
    entropy: torch.Tensor
    mutual_information: torch.Tensor
    vote_share: torch.Tensor
    member_probs: torch.Tensor


@dataclass
class Model:
    """A loaded hypernetwork or set of nets (see the module docstring); build it with `load`."""

    kind: str  # "hypernetwork", "single-net", "deep-ensemble", "snapshot-ensemble" or "noise-ensemble"
    target: Target
    sources: list[dict]  # {"path", "sha256"} of every file the nets came from
    device: torch.device
    thetas: torch.Tensor | None = None  # the fixed set (K, D); None for a hypernetwork
    hypernetwork: torch.nn.Module | None = None
    latent_dist: str = "uniform"
    warnings: list[str] = field(default_factory=list)

    @property
    def size(self) -> int | None:
        """How many nets there are: None for a hypernetwork (unlimited), else the set's size."""
        return None if self.thetas is None else int(self.thetas.shape[0])

    @property
    def default_nets(self) -> int:
        return DEFAULT_NETS if self.thetas is None else int(self.thetas.shape[0])

    def count(self, n: int | None) -> int:
        """n checked against what there is (None: the default, 100 from G or the whole set)."""
        n = self.default_nets if n is None else n
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ConfigError(f"the number of nets must be a whole number >= 1, got {n!r}")
        if self.size is not None and n > self.size:
            raise ConfigError(f"this {self.kind} has {self.size} net(s), {n} were asked for; ask for at most "
                              f"{self.size}, or load a hypernetwork to draw any number")
        return int(n)

    def sample(self, n: int | None = None, seed: int = 0) -> Sample:
        """n nets (default: 100 from G, all of a fixed set). From G: z drawn with `seed` (the same seed gives
        the same nets), θ = G(z) in eval mode. From a fixed set: its first n members (`seed` is unused)."""
        n = self.count(n)
        if self.hypernetwork is None:
            return Sample(None, self.thetas[:n])
        generator = torch.Generator().manual_seed(int(seed))
        latents = self.hypernetwork.sample_latents(n, self.latent_dist, generator)
        theta = torch.cat([t for _, t in generate(self.hypernetwork, latents, device=self.device)])
        return Sample(latents, theta)

    def nets(self, n: int | None = None, seed: int = 0) -> list[torch.nn.Sequential]:
        """The nets of `sample(n, seed)` as plain nn.Sequential modules in eval mode, on the CPU
        (hyperman.modules.target_net: their outputs are the target's functional forward's)."""
        return [target_net(self.target, theta) for theta in self.sample(n, seed).theta]

    def ensemble(self, n: int | None = None, seed: int = 0) -> Ensemble:
        """`nets(n, seed)` as one module: images → (mean probabilities, mutual information)."""
        return Ensemble(self.nets(n, seed)).eval()

    @torch.no_grad()
    def predict(self, x: torch.Tensor | np.ndarray, n: int | None = None, seed: int = 0) -> Prediction:
        """The ensemble of `sample(n, seed)` on images x (N, C, H, W) scaled like the training data
        ([0, 1], hyperman.user_images.read_inputs reads files so)."""
        x = check_images(x, self.target)
        member = Forward(self.target, "auto", self.device).probs(self.sample(n, seed).theta, x)
        mean = member.double().mean(0)
        classes = mean.argmax(-1)
        votes = metrics.vote_counts(member)
        return Prediction(probs=mean, classes=classes, confidence=mean.gather(1, classes[:, None])[:, 0],
                          entropy=metrics.predictive_entropy(member), mutual_information=metrics.mutual_information(member),
                          vote_share=votes.gather(1, classes[:, None])[:, 0] / member.shape[0], member_probs=member)


def load(checkpoint_path: str | Path | Sequence[str | Path], device: str | torch.device = "cpu",
         allow_partial: bool = False) -> Model:
    """A `Model` from a checkpoint file, a run folder, a folder of baseline runs, or a list of baseline
    checkpoints (a deep ensemble). See the module docstring for what each gives."""
    device = torch.device(device)
    paths = [Path(checkpoint_path)] if isinstance(checkpoint_path, (str, Path)) else [Path(p) for p in checkpoint_path]
    if not paths:
        raise ConfigError("no checkpoint given; give hypernet.pt, baseline.pt, snapshots.pt, student.pt or a "
                          "folder of baseline runs")
    was_allowed = partial.allowed()
    if allow_partial and not was_allowed:
        partial.allow(True)
    try:
        model = _load(paths, device)
        model.warnings = partial.warnings()
    finally:
        if allow_partial and not was_allowed:
            partial.allow(False)
    return model


def _resolve(path: Path) -> list[Path]:
    """The checkpoint file(s) a path stands for: itself, the run file in a run folder, or every baseline
    run in a folder of runs (subfolders with a baseline.pt and no snapshots.pt, i.e. not snapshot runs)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} does not exist")
    for name in (HYPERNET, SNAPSHOTS, NOISE, BASELINE, STUDENT):
        if (path / name).is_file():
            return [path / name]
    runs = sorted(p / BASELINE for p in path.iterdir()
                  if (p / BASELINE).is_file() and not (p / SNAPSHOTS).exists())
    if not runs:
        raise CheckpointError(f"{path} holds no {HYPERNET}, {BASELINE}, {SNAPSHOTS}, {NOISE} or {STUDENT}, and no "
                              f"subfolders with a {BASELINE}; give a checkpoint file or a run folder")
    return runs


def _load(paths: list[Path], device: torch.device) -> Model:
    files = [f for p in paths for f in _resolve(p)]
    sources = [{"path": str(f), "sha256": sha256_file(f)} for f in files]
    if len(files) > 1:  # a deep ensemble: every file one conventionally trained net of the same target
        nets = [load_target_net(f, device) for f in files]
        names = {target.name for target, _, _ in nets}
        if len(names) > 1:
            raise CheckpointError(f"the deep ensemble's checkpoints are nets of different targets ({', '.join(sorted(names))})")
        return Model("deep-ensemble", nets[0][0], sources, device, torch.stack([theta for _, theta, _ in nets]))
    path = files[0]
    kind = checkpoint.load(path).get("kind")
    if kind == "hypernetwork":
        model, config = load_hypernetwork(path, device)
        return Model("hypernetwork", model.target, sources, device, hypernetwork=model, latent_dist=config.latent_dist)
    if kind == "target":
        target, theta, _ = load_target_net(path, device)
        return Model("single-net", target, sources, device, theta[None])
    if kind == "snapshot-ensemble":
        thetas, _ = load_snapshots(path)
        return Model("snapshot-ensemble", get_target(checkpoint.load(path)["target"]), sources, device, thetas.to(device))
    if kind == "noise-ensemble":
        thetas, _ = load_noise_ensemble(path)
        return Model("noise-ensemble", get_target(checkpoint.load(path)["target"]), sources, device, thetas.to(device))
    raise CheckpointError(f"{path} holds a {kind!r} checkpoint, which has no nets to predict with; give "
                          f"{HYPERNET}, {BASELINE}, {SNAPSHOTS}, {NOISE} or {STUDENT}"
                          + (" (samples.pt: give the hypernetwork it was drawn from)" if kind == "samples" else ""))


__all__ = ["load", "Model", "Prediction", "Sample", "InputError"]
