"""hyperman.sampling: generation in chunks, its timing and the refusals of `draw`."""

from __future__ import annotations

import pytest
import torch

from hyperman import checkpoint, sampling
from hyperman.errors import ConfigError
from hyperman.hypernetwork import HyperNetwork
from hyperman.targets import get_target


def _g() -> HyperNetwork:
    torch.manual_seed(0)
    return HyperNetwork(get_target("mnist_cnn"), 8, norm="batch").eval()


def test_a_net_does_not_depend_on_the_chunk_it_was_generated_in():
    model = _g()
    latents = model.sample_latents(7, "uniform", torch.Generator().manual_seed(1))
    whole = torch.cat([theta for _, theta in sampling.generate(model, latents, chunk=7, gauge=True)])
    pieces = list(sampling.generate(model, latents, chunk=3, gauge=True))
    assert [start for start, _ in pieces] == [0, 3, 6]
    torch.testing.assert_close(torch.cat([theta for _, theta in pieces]), whole, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="eval mode"):
        next(sampling.generate(model.train(), latents))


def test_timed_generation_times_every_net_and_counts_broken_ones():
    model = _g()
    latents = model.sample_latents(5, "uniform", torch.Generator().manual_seed(1))
    seconds, bad = sampling.timed_generation(model, latents, 2, "cpu")
    assert seconds > 0 and bad == 0
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    assert sampling.timed_generation(model, latents, 2, "cpu")[1] == 5


def test_draw_refuses_bad_counts_before_reading_anything(tmp_path):
    with pytest.raises(ConfigError, match="--num-nets must be at least 1"):
        sampling.draw(tmp_path / "missing.pt", 0, seed=0)
    with pytest.raises(ConfigError, match="--chunk must be at least 1"):
        sampling.draw(tmp_path / "missing.pt", 3, seed=0, chunk=0)
    with pytest.raises(checkpoint.CheckpointError, match="does not exist"):
        sampling.draw(tmp_path / "missing.pt", 3, seed=0)
