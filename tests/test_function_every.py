"""train.function_every (issue 20 item 5): the function-space terms on every N-th step only, weighted N times, so
that their probe passes fall N-fold; the FLOPs count what ran. Tiny real trainings on MNIST."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hyperman import compute
from hyperman.config import TrainConfig
from hyperman.errors import HypermanError
from hyperman.hypernet_io import build_model
from hyperman.objective import NeighbourQueue
from hyperman.training import _step_objective, probes_per_step, train
from test_compute import _counted

MNIST = Path(__file__).resolve().parent.parent / "data" / "mnist"
TINY = dict(steps=7, nets_per_step=3, images_per_net=8, probes=4, outlier_probes=2, eval_every=7, eval_nets=2,
            checkpoint_every=7, limit_train=300, latent_dim=8, diversity="both")


def _run(tmp_path: Path, every: int) -> tuple[list[dict], dict]:
    out = tmp_path / f"every{every}"
    train(TrainConfig(**TINY, function_every=every), MNIST, out, "cpu", log=lambda message: None)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    return [r for r in log if "entropy_function" in r], json.loads((out / "train_summary.json").read_text())


def test_every_third_step_computes_the_function_space_terms_and_the_flops_count_only_those(tmp_path):
    steps, every = _run(tmp_path, 3)
    computed = [r["step"] for r in steps if r["entropy_function"] != 0.0]
    assert computed == [1, 4, 7]  # the log counts steps done: steps 0, 3, 6 computed them
    assert all(r["entropy_outlier"] is None or r["step"] in computed for r in steps if "entropy_outlier" in r)
    _, each = _run(tmp_path, 1)
    config = TrainConfig(**TINY)
    model = build_model(config)
    per_probe_step = (compute.hypernet_step_flops(config, model, probes_per_step(config))
                      - compute.hypernet_step_flops(config, model, 0))
    assert each["compute"]["train_flops"] - every["compute"]["train_flops"] == (7 - 3) * per_probe_step
    assert each["compute"]["image_net_passes"] - every["compute"]["image_net_passes"] == 4 * 3 * (4 + 2)


def test_a_step_without_the_function_space_terms_costs_what_compute_says():
    config = TrainConfig(nets_per_step=3, images_per_net=5, probes=4, latent_dim=20, function_every=2)
    model = build_model(config)
    generator = torch.Generator().manual_seed(0)
    x, y = torch.rand(50, 1, 28, 28), torch.randint(10, (50,))
    z = model.sample_latents(3, "uniform", generator)
    index = torch.randint(50, (3, 5), generator=generator)

    def step():
        result, backward = _step_objective(None, model, model(z), x[index], y[index], config.lam, config, "loop",
                                           None, NeighbourQueue(0), function_space=False)
        assert result.entropy_function.item() == 0.0 and result.entropy_weights.item() != 0.0
        backward()

    assert _counted(step) == compute.hypernet_step_flops(config, model, 0)


def test_spacing_out_a_term_the_run_does_not_have_is_refused(tmp_path):
    with pytest.raises(HypermanError, match="--function-every 2 spaces out the function-space terms"):
        train(TrainConfig(**{**TINY, "diversity": "weights", "outlier_probes": 0}, function_every=2), MNIST,
              tmp_path / "refused", "cpu", log=lambda message: None)
    assert not (tmp_path / "refused").exists()
