"""Device choice: `auto` takes CUDA when it is there, else the CPU."""

from __future__ import annotations

import torch

from .config.choices import DEVICES, PRECISIONS  # noqa: F401  (re-exported: their home is hyperman.config)
from .errors import ConfigError, HypermanError



def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise HypermanError("--device cuda was asked for but no CUDA device is visible; use --device auto or cpu")
    if name not in DEVICES:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work, so that a wall-clock timing measures the work itself."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)




def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype the target's forward runs in under `precision`, or None for plain fp32.

    `auto` is bf16 on a CUDA device that supports it (same exponent range as
    fp32, so no loss scaling is needed) and fp32 elsewhere: CPU autocast
    gains nothing for these small convolutions."""
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        if precision == "auto":
            return None
        raise HypermanError("--precision bf16 was asked for but this GPU has no bf16 support; use fp32 or auto")
    return torch.bfloat16


def autocast(precision: str, device: torch.device):
    """Mixed precision for the target network's forward only.

    Callers keep the hypernetwork, the gauge fixing and the entropy outside
    this context: the nearest-neighbour distances between 20k-dimensional
    weight vectors, and the log of them, need fp32."""
    dtype = autocast_dtype(precision, device)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Host → device copy through pinned memory, asynchronous on CUDA (a plain move elsewhere)."""
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)
