"""hyperman.run_state: what a checkpoint saves is what a resume restores, and a changed setting is refused."""

from __future__ import annotations

import json

import pytest
import torch

from hyperman import checkpoint, run_state
from hyperman.run_state import RunState, TrainingError
from hyperman.config import TrainConfig
from hyperman.hypernet_io import build_model


def _start(config: TrainConfig, out, resume: bool = False, messages: list | None = None) -> RunState:
    torch.manual_seed(config.seed)
    log = (messages.append if messages is not None else lambda message: None)
    return RunState.start(config, build_model(config), out, torch.device("cpu"), resume, log, True,
                          lambda stored: TrainConfig(**stored))


def test_a_restored_run_has_the_saved_state(tmp_path):
    config = TrainConfig(latent_dim=8, steps=4, ema=0.5, entropy_queue=2)
    run = _start(config, tmp_path)
    with torch.no_grad():
        for p in run.model.parameters():
            p.add_(0.01)
    torch.randn(3, generator=run.generator)  # the step generator moved on
    checkpoint.save(tmp_path / run_state.CHECKPOINT, run.payload(config, step=2, elapsed=1.5))

    messages: list[str] = []
    again = _start(config, tmp_path, resume=True, messages=messages)
    assert (again.start_step, again.elapsed) == (2, 1.5) and "resuming from step 2" in messages[0]
    for a, b in zip(run.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(torch.randn(4, generator=run.generator), torch.randn(4, generator=again.generator))
    assert again.served is again.averaged.module  # validation and sampling use the moving average


def test_a_changed_setting_is_refused_but_a_longer_run_is_not(tmp_path):
    config = TrainConfig(latent_dim=8, steps=4)
    run = _start(config, tmp_path)
    checkpoint.save(tmp_path / run_state.CHECKPOINT, run.payload(config, step=2, elapsed=0.0))
    with pytest.raises(TrainingError, match="different lr"):
        _start(TrainConfig(latent_dim=8, steps=4, lr=0.5), tmp_path, resume=True)
    assert _start(TrainConfig(latent_dim=8, steps=9), tmp_path, resume=True).start_step == 2  # RESUMABLE_CHANGES


def test_the_log_keeps_only_what_the_checkpoint_vouches_for(tmp_path):
    log = tmp_path / run_state.LOG
    log.write_text("".join(json.dumps({"step": s}) + "\n" for s in (1, 2, 3)) + '{"step": 4, "ce"')
    run_state.truncate_log(log, 2)
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == [1, 2]
