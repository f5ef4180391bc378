"""Shared by tests/test_user_errors.py and tests/test_outputs_and_partial.py (issue 23's probes): tiny flags,
and the checks that a call failed with one line, exit 2 and no traceback."""

from __future__ import annotations

from pathlib import Path

from hyperman import checkpoint
from hyperman.cli import main

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT / "data" / "mnist"
TINY = ["--nets-per-step", "4", "--images-per-net", "16", "--eval-nets", "4", "--limit-train", "300",
        "--latent-dim", "16", "--device", "cpu"]
TRAIN = ["train", "--data", str(MNIST), *TINY, "--steps", "3", "--checkpoint-every", "1", "--eval-every", "3"]
BASE = ["--data", str(MNIST), "--epochs", "1", "--limit-train", "300", "--batch-size", "100", "--device", "cpu"]


def _error(capsys, stage: str) -> str:
    """The one-line error of a failed call (its last stderr line), with no traceback anywhere."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"hyperman {stage}: error: "), err
    return line


def _refused(capsys, argv: list[str], *words: str) -> str:
    assert main(argv) == 2
    line = _error(capsys, argv[0])
    for word in words:
        assert word in line, line
    return line


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _partial_copy(source: Path, target: Path, **changes) -> Path:
    """A copy of a finished checkpoint marked as a run that stopped early (what a killed run leaves)."""
    payload = checkpoint.load(source)
    payload.pop("format")
    checkpoint.save(target, {**payload, "finished": False, **changes})
    return target
