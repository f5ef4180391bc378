"""Data-parallel training under ``torchrun``: what `training.train` uses when WORLD_SIZE > 1.

The contract: W processes make the *same update* as one process with the same
global batch. How the step is split, and why:

- Every rank draws the whole step (latents, image indices) from the same
  seeded generator and runs G on all B latents. G is ≈ 3 % of a step's
  work (the B target nets on their images are the rest), and running it
  whole keeps batch norm exact: its statistics are over all nets of the
  step, as in one process, with no synchronised batch norm (torch's
  SyncBatchNorm refuses CPU tensors anyway) and identical running averages.
- Each rank evaluates only its share of the nets — rank r takes nets
  [r·B/W, (r+1)·B/W) with their images — and back-propagates its part of
  λ·CE down to those nets' weights θ. `gather_rows` collects ∂(λ·CE)/∂θ of
  all B nets on every rank.
- Every rank holds all B generated nets, so the entropy Ĥ over all of them
  needs no gather of weights. Each rank back-propagates −Ĥ and the gathered
  CE gradient through G.

Why not the textbook split (G on B/W latents, gradients all-reduced)? Adam
divides by √v: its first steps are ≈ lr·sign(g), so any parameter whose true
gradient is ~0 — there are many: a bias ahead of LeakyReLU → batch norm when
all nets of the step sit on one side of the kink — moves by ±lr according to
the sign of rounding noise. Summing partial gradients in another order then
changes those weights by O(lr) in one step, far beyond float tolerance.
Here the gradient of G comes out bitwise equal to the single-process one
(the CE gradient of a net does not depend on the others, and the CE is a
sum scaled by λ/(B·images), which splits without rounding).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Context:
    """Where this process sits in the torchrun job."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes checkpoints, logs and the summary."""
        return self.rank == 0

    def shard(self, total: int) -> slice:
        """This rank's contiguous share of `total` items: [r·total/W, (r+1)·total/W)."""
        per_rank = total // self.world_size
        return slice(self.rank * per_rank, (self.rank + 1) * per_rank)


def launched() -> bool:
    """True when started by torchrun (or any launcher that sets WORLD_SIZE) with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device_name: str = "auto") -> Context:
    """Join the torchrun process group: nccl on cuda:LOCAL_RANK, gloo on the CPU."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device_name!r}; use auto, cpu or cuda")
    if device_name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but no CUDA device is visible; use --device auto or cpu")
    if device_name != "cpu" and torch.cuda.is_available():
        device, backend = torch.device("cuda", local_rank), "nccl"
        torch.cuda.set_device(device)
    else:
        device, backend = torch.device("cpu"), "gloo"
    dist.init_process_group(backend)
    return Context(dist.get_rank(), dist.get_world_size(), device)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_agree(ok: bool, device: torch.device) -> bool:
    """True on every rank iff `ok` on every rank: lets rank 0's refusal (e.g. a held lock) stop all
    ranks, instead of leaving the others blocked in the first collective."""
    flag = torch.tensor([1.0 if ok else 0.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def sum_over_ranks(value: torch.Tensor) -> torch.Tensor:
    """Sum of a tensor over ranks (no gradient); bitwise the same on every rank."""
    value = value.detach().clone()
    dist.all_reduce(value)
    return value


def gather_rows(local: torch.Tensor) -> torch.Tensor:
    """All ranks' rows of `local` (no gradient), concatenated in rank order."""
    parts = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, local.contiguous())
    return torch.cat(parts)


def broadcast_gradients(parameters: Iterable[nn.Parameter]) -> None:
    """Give every rank rank 0's gradients, in one flat buffer.

    On the CPU every rank computed the same gradients bit for bit already; a
    GPU kernel need not be deterministic, and replicas that differ in the last
    bit would drift apart under Adam. One collective per step keeps them equal."""
    params = [p for p in parameters if p.grad is not None]
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.broadcast(flat, src=0)
    offset = 0
    for p in params:
        p.grad.copy_(flat[offset:offset + p.numel()].view_as(p))
        offset += p.numel()
