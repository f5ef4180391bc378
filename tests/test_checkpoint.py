"""hyperman.checkpoint: round trip, corruption and kind checks, the single-net resume restore, the output lock."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from hyperman import checkpoint
from hyperman.checkpoint import CheckpointError


def test_a_checkpoint_round_trips_and_a_flipped_byte_is_named(tmp_path):
    path = tmp_path / "run" / "net.pt"
    checkpoint.save(path, {"kind": "target", "theta": torch.arange(1000, dtype=torch.float32), "epoch": 2})
    payload = checkpoint.load(path, kind="target")
    assert torch.equal(payload["theta"], torch.arange(1000, dtype=torch.float32)) and payload["epoch"] == 2
    assert path.stat().st_mode & 0o777 == 0o644 and not list(path.parent.glob(".*.tmp"))
    with pytest.raises(CheckpointError, match="holds a 'target' checkpoint, expected 'hypernetwork'"):
        checkpoint.load(path, kind="hypernetwork")

    raw = bytearray(path.read_bytes())
    data_at = raw.index(torch.arange(1000, dtype=torch.float32).numpy().tobytes()[400:408])
    raw[data_at] ^= 0xFF  # one weight's byte: torch.load reads it silently, the stored sha256 does not
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="is corrupt"):
        checkpoint.load(path)
    (tmp_path / "other.pt").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        checkpoint.load(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.load(tmp_path / "missing.pt")


def test_finished_and_progress_read_the_payload():
    assert checkpoint.progress({"kind": "hypernetwork", "step": 3, "config": {"steps": 10}}) == (3, 10, "step")
    assert checkpoint.is_finished({"kind": "hypernetwork", "step": 3, "config": {"steps": 10}}) is False
    assert checkpoint.is_finished({"finished": True, "step": 3, "config": {"steps": 10}}) is True


@dataclass
class _Config:
    lr: float = 0.1
    epochs: int = 3


def test_changed_settings_names_each_field_that_differs():
    assert checkpoint.changed_settings({"lr": 0.1, "epochs": 3}, _Config()) == []
    assert checkpoint.changed_settings({"lr": 0.2, "epochs": 3}, _Config()) == ["lr"]
    assert checkpoint.changed_settings({"lr": 0.1}, _Config()) == ["epochs"]  # a field the old run did not have


def _steps(theta, optimizer, schedule, generator, n: int) -> None:
    for _ in range(n):
        loss = (theta * torch.randn(theta.shape, generator=generator)).square().sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()


def _fresh():
    theta = torch.nn.Parameter(torch.ones(5))
    optimizer = torch.optim.Adam([theta], lr=0.1)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    return theta, optimizer, schedule, torch.Generator().manual_seed(0)


def test_restore_single_net_continues_the_run_bit_for_bit(tmp_path):
    theta, optimizer, schedule, generator = _fresh()
    _steps(theta, optimizer, schedule, generator, 6)
    straight = theta.detach().clone()

    theta, optimizer, schedule, generator = _fresh()
    _steps(theta, optimizer, schedule, generator, 3)
    checkpoint.save(tmp_path / "c.pt", {"kind": "target", "theta": theta.detach().clone(),
                                        "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                                        "generator": generator.get_state()})
    theta, optimizer, schedule, generator = _fresh()
    checkpoint.restore_single_net(checkpoint.load(tmp_path / "c.pt"), theta, optimizer, generator, schedule)
    _steps(theta, optimizer, schedule, generator, 3)
    assert torch.equal(theta.detach(), straight)


def test_a_second_writer_of_a_folder_is_refused(tmp_path):
    with checkpoint.OutputLock(tmp_path / "out"):
        with pytest.raises(CheckpointError, match="another hyperman run is writing"):
            with checkpoint.OutputLock(tmp_path / "out"):
                pass
    assert not (tmp_path / "out").exists()  # created, left empty: removed again
