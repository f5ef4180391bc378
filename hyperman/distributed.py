"""Data-parallel training under ``torchrun``: the helpers `training.train` uses when WORLD_SIZE > 1.

The contract is that N processes compute the *same update* as one process
with the same global batch, up to float rounding. Three pieces of the step
couple the nets of a step, and each needs a collective:

- batch norm in G: its statistics are over all nets of the step (extractor)
  and all their unit codes (generators). Per-rank statistics would give a
  different function and different running averages, so `GlobalBatchNorm1d`
  all-reduces the sums. torch's SyncBatchNorm would do this on a GPU but
  refuses CPU tensors (gloo), which is where the tests run; ours works on
  every backend, and it is differentiable because the all-reduce is
  (torch.distributed.nn.functional.all_reduce sums the gradients back).
- the entropy: a nearest neighbour can live on another rank, so every rank
  gathers all gauge-fixed weight vectors (`gather_rows`). The other ranks'
  rows come in detached and the local rows keep their graph: each rank then
  back-propagates exactly ∂Ĥ/∂(its own rows), and the gradient all-reduce
  adds the pieces up to the full ∂Ĥ/∂G.
- the cross-entropy is a mean over the global batch: each rank scales its
  local mean by 1/world_size, and the gradients are *summed*.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
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
        """This rank's contiguous share of `total` items: rank r takes [r·total/W, (r+1)·total/W)."""
        per_rank = total // self.world_size
        return slice(self.rank * per_rank, (self.rank + 1) * per_rank)


def launched() -> bool:
    """True when started by torchrun (or any launcher that sets WORLD_SIZE) with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device_name: str = "auto") -> Context | None:
    """Join the torchrun process group (nccl on cuda:LOCAL_RANK, gloo on the CPU); None outside torchrun."""
    if not launched():
        return None
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but no CUDA device is visible; use --device auto or cpu")
    if device_name in ("auto", "cuda") and torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    elif device_name in ("auto", "cpu"):
        device, backend = torch.device("cpu"), "gloo"
    else:
        raise ValueError(f"unknown device {device_name!r}; use auto, cpu or cuda")
    dist.init_process_group(backend)
    return Context(dist.get_rank(), dist.get_world_size(), device)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_agree(ok: bool, device: torch.device) -> bool:
    """True on every rank iff `ok` on every rank: lets rank 0's refusal (e.g. a held lock) stop all ranks
    instead of leaving the others blocked in the first collective."""
    flag = torch.tensor([1.0 if ok else 0.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def mean_over_ranks(value: torch.Tensor) -> torch.Tensor:
    """Mean of a (detached) tensor over ranks; bitwise the same on every rank."""
    value = value.detach().clone()
    dist.all_reduce(value)
    return value / dist.get_world_size()


def gather_rows(local: torch.Tensor) -> torch.Tensor:
    """All ranks' rows in rank order; the gradient flows only into this rank's own rows (see module doc)."""
    parts = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, local.detach().contiguous())
    parts[dist.get_rank()] = local
    return torch.cat(parts)


def all_reduce_gradients(parameters: Iterable[nn.Parameter]) -> None:
    """Sum the gradients over ranks, in one flat buffer (one collective per step, not one per tensor)."""
    params = [p for p in parameters if p.requires_grad]
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
    dist.all_reduce(flat)
    offset = 0
    for p in params:
        p.grad = flat[offset:offset + p.numel()].view_as(p)
        offset += p.numel()


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d whose training statistics cover the whole global batch, on any backend.

    Two all-reduces (sum, then sum of squared deviations) rather than one of
    (Σx, Σx²): the two-pass variance rounds like the single-process kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized()):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = x.numel() // x.shape[1] * dist.get_world_size()  # every rank holds an equal share
        mean = dist_fn.all_reduce(x.sum(dims)) / count
        centred = x - mean.view(shape)
        var = dist_fn.all_reduce(centred.pow(2).sum(dims)) / count
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = self.momentum if self.momentum is not None else 1.0 / self.num_batches_tracked.item()
                # the same update as ATen: unbiased variance for the running estimate
                self.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
                self.running_var.mul_(1 - factor).add_(var.detach() * (count / max(count - 1, 1)), alpha=factor)
        return y


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm1d by a GlobalBatchNorm1d sharing its parameters and buffers, so
    state_dict keys and checkpoints stay those of the single-process model. Call before building the optimizer."""
    if isinstance(module, nn.BatchNorm1d) and not isinstance(module, GlobalBatchNorm1d):
        converted = GlobalBatchNorm1d(module.num_features, module.eps, module.momentum, module.affine,
                                      module.track_running_stats)
        if module.affine:
            converted.weight, converted.bias = module.weight, module.bias
        if module.track_running_stats:
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
        converted.train(module.training)
        return converted
    for name, child in module.named_children():
        module.add_module(name, convert_batchnorm(child))
    return module
