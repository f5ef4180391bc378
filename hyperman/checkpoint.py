"""Checkpoints: atomic writes, code-free loads, clear errors, one writer per folder.

A checkpoint is a dict of tensors and plain values saved with torch.save and
read back with ``torch.load(weights_only=True)``, which refuses to run code.
It is written to a temporary file in the same folder, flushed and fsynced,
then renamed over the old one: a crash at any point leaves either the old
complete checkpoint or the new complete one, never a torn file that looks valid.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

FORMAT = "hyperman-checkpoint-v1"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt or of the wrong kind; the message says which and what to do."""


def save(path: Path, payload: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save({"format": FORMAT, **payload}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: Path, kind: str | None = None, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by `save`; raise CheckpointError instead of a deep torch error."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many kinds (RuntimeError, UnpicklingError, EOFError...)
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({type(error).__name__}: "
                              f"{str(error).splitlines()[0][:200]}); delete it and rerun, or restore it "
                              "from the DVC cache (`dvc checkout`)") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a hyperman checkpoint")
    if kind is not None and payload.get("kind") != kind:
        raise CheckpointError(f"{path} holds a {payload.get('kind')!r} checkpoint, expected {kind!r}")
    return payload


class OutputLock:
    """An exclusive lock on an output folder, so two runs never interleave their writes."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / ".lock"
        self.handle = None

    def __enter__(self) -> "OutputLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise CheckpointError(f"another hyperman run is writing to {self.path.parent}; wait for it to "
                                  "finish or choose a different --out") from None
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
