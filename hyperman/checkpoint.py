"""Checkpoints: atomic writes, code-free loads, clear errors, one writer per folder.

A checkpoint is a dict of tensors and plain values saved with torch.save and
read back with ``torch.load(weights_only=True)``, which refuses to run code.
It is written to a temporary file in the same folder, flushed and fsynced,
then renamed over the old one: a crash at any point leaves either the old
complete checkpoint or the new complete one, never a torn file that looks valid.

torch.load does not check the CRCs of its zip container, so a flipped byte
inside a tensor would load silently as a wrong weight: `save` stores a
sha256 of the contents (every tensor's bytes and every plain value) that
`load` verifies. Checkpoints written before the checksum load unchecked.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
from pathlib import Path
from typing import Any

import torch

from . import partial
from .errors import HypermanError
from .files import check_out_folder, write_atomic

FORMAT = "hyperman-checkpoint-v1"


class CheckpointError(HypermanError):
    """A checkpoint is missing, corrupt or of the wrong kind; the message says which and what to do."""


def contents_digest(payload: Any) -> str:
    """sha256 of a payload's contents: tensors by dtype, shape and bytes, plain values by repr, in order."""
    digest = hashlib.sha256()

    def walk(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            flat = value.detach().cpu().contiguous().reshape(-1)
            digest.update(f"tensor {flat.dtype} {tuple(value.shape)};".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            digest.update(f"dict {len(value)};".encode())
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, (list, tuple)):
            digest.update(f"sequence {len(value)};".encode())
            for item in value:
                walk(item)
        else:
            digest.update(f"{type(value).__name__} {value!r};".encode())

    walk(payload)
    return digest.hexdigest()


def save(path: Path, payload: dict[str, Any]) -> None:
    """Write a checkpoint atomically and synced to disk (hyperman.files.write_atomic), with its sha256 inside."""
    path = Path(path)
    payload = partial.stamp({"format": FORMAT, **payload})
    payload["sha256"] = contents_digest(payload)
    try:
        write_atomic(path, lambda handle: torch.save(payload, handle), binary=True, fsync=True)
    except (OSError, RuntimeError) as error:  # torch reports a full disk as a RuntimeError of its zip writer
        raise CheckpointError(f"cannot write checkpoint {path}: {str(error).strip().splitlines()[0][:160]} "
                              f"(is the disk full?); the previous {path.name}, if any, is untouched") from None


def load(path: Path, kind: str | None = None, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by `save`; raise CheckpointError instead of a deep torch error."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many kinds (RuntimeError, UnpicklingError, EOFError...)
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({type(error).__name__}: "
                              f"{(str(error).splitlines() or ['empty file'])[0][:200]}); delete it and rerun, or restore it "
                              "from the DVC cache (`dvc checkout`)") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a hyperman checkpoint")
    stored = payload.pop("sha256", None)
    if stored is not None and contents_digest(payload) != stored:
        raise CheckpointError(f"checkpoint {path} is corrupt (its contents do not match the sha256 stored in "
                              "it); delete it and rerun, or restore it from the DVC cache (`dvc checkout`)")
    if kind is not None and payload.get("kind") != kind:
        raise CheckpointError(f"{path} holds a {payload.get('kind')!r} checkpoint, expected {kind!r}")
    return payload


def progress(payload: dict[str, Any]) -> tuple[int, int, str] | None:
    """(done, total, unit) of the run that wrote `payload`, when it says."""
    config = payload.get("config") if isinstance(payload.get("config"), dict) else {}
    if payload.get("kind") == "hypernetwork" and "step" in payload and "steps" in config:
        return int(payload["step"]), int(config["steps"]), "step"
    if payload.get("kind") == "target-epochs" and "seconds" in payload and "epochs" in config:
        return len(payload["seconds"]), int(config["epochs"]), "epoch"
    if "epoch" in payload and "epochs" in config:
        return int(payload["epoch"]), int(config["epochs"]), "epoch"
    return None


def is_finished(payload: dict[str, Any]) -> bool:
    """Whether the run that wrote `payload` had finished: its `finished` flag, or (older checkpoints) its
    step or epoch against the config's total."""
    if "finished" in payload:
        return bool(payload["finished"])
    done = progress(payload)
    return done is None or done[0] >= done[1]


RESUME = {"hypernetwork": "hyperman train", "target-epochs": "hyperman train-baseline"}


def require_finished(path: Path, payload: dict[str, Any]) -> None:
    """Refuse a checkpoint of a run that did not finish (say how to finish it), unless --allow-partial was
    given: then warn, and the warning goes into every output of the stage (hyperman.partial)."""
    if is_finished(payload):
        return
    done, total, unit = progress(payload) or ("?", "?", "step")
    what = f"{path} is a partial checkpoint: its run stopped after {unit} {done} of {total}"
    if partial.allowed():
        partial.note(f"{what}; used as it is (--allow-partial), so the results are not those of a finished run")
        return
    command = RESUME.get(payload.get("kind"), "hyperman distill" if "teacher_sha256" in payload
                         else "hyperman train-baseline")
    raise CheckpointError(f"{what}; finish it by running `{command} --out {Path(path).parent} ...` again with "
                          "--resume and the same settings, or pass --allow-partial to use it as it is")


def changed_settings(saved: dict[str, Any], config: Any) -> list[str]:
    """The fields of the config dataclass `config` whose value differs from a checkpoint's saved config: a resume
    with any of them changed would not continue the same run, so the stages refuse it naming them."""
    return [f.name for f in dataclasses.fields(config) if saved.get(f.name) != getattr(config, f.name)]


def restore_single_net(payload: dict[str, Any], theta: torch.nn.Parameter, optimizer: torch.optim.Optimizer,
                       generator: torch.Generator, schedule: Any = None) -> None:
    """Restore a stopped single-net run in place: θ, the optimiser, the learning-rate schedule (when the run has
    one) and the seeded generator. The baselines and distillation share it, so the state a bit-identical resume
    needs is listed once (hyperman.run_state does the same for the hypernetwork)."""
    with torch.no_grad():
        theta.copy_(payload["theta"])
    optimizer.load_state_dict(payload["optimizer"])
    if schedule is not None:
        schedule.load_state_dict(payload["schedule"])
    generator.set_state(payload["generator"])


class OutputLock:
    """An exclusive lock on an output folder, so two runs never interleave their writes."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / ".lock"
        self.handle = None
        self.created = False

    def __enter__(self) -> "OutputLock":
        folder = check_out_folder(self.path.parent)
        self.created = not folder.exists()
        self.created_file = not self.path.exists()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.handle = open(self.path, "a+")
        except OSError as error:
            raise CheckpointError(f"cannot write to --out {folder}: {error.strerror}; choose a folder you can "
                                  "write to") from None
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise CheckpointError(f"another hyperman run is writing to {self.path.parent}; wait for it to "
                                  "finish or choose a different --out") from None
        return self

    def __exit__(self, *exc) -> None:
        """Unlock; a lock file this run created goes again (removed while still locked), and so does a
        folder it created and left empty (it failed before writing). So a refused run leaves an existing
        folder byte for byte as it was, and a finished one holds only its outputs."""
        folder = self.path.parent
        if self.created_file:
            self.path.unlink(missing_ok=True)
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
        if self.created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
