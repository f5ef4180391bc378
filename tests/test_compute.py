"""FLOP counts (hyperman.compute) against torch.utils.flop_counter.FlopCounterMode on real steps, and the
default study's ruler: the deep ensemble at the hypernetwork's training FLOPs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from torch.utils.flop_counter import FlopCounterMode

from hyperman import compute
from hyperman.distillation import kd_loss, student_logits, teacher_thetas
from hyperman.objective import NeighbourQueue, draw_probes
from hyperman.targets import TARGETS, get_target
from hyperman.config import TrainConfig
from hyperman.training import _step_objective, probes_per_step
from hyperman.hypernet_io import build_model

ROOT = Path(__file__).resolve().parents[1]


def _counted(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


@pytest.mark.parametrize("diversity", ["both", "weights", "none"])
def test_a_hypernetwork_step_counts_what_flop_counter_mode_counts(diversity, method="channels_last"):
    """One real training step of G (latents → G → nets on their own images and the probes → backward).

    On the CPU's forward: FlopCounterMode (torch 2.14) counts a grouped convolution's weight gradient once
    per group over again (P× too much; see the next test), so the GPU's grouped forward is checked forward only."""
    config = TrainConfig(nets_per_step=3, images_per_net=5, probes=4, diversity=diversity, latent_dim=20)
    model = build_model(config)
    generator = torch.Generator().manual_seed(0)
    x, y = torch.rand(50, 1, 28, 28), torch.randint(10, (50,))
    z = model.sample_latents(3, "uniform", generator)
    index = torch.randint(50, (3, 5), generator=generator)
    probes = draw_probes(config, x, generator)

    def step():
        result, backward = _step_objective(None, model, model(z), x[index], y[index], config.lam, config, method,
                                           probes, NeighbourQueue(0))
        backward()

    assert _counted(step) == compute.hypernet_step_flops(config, model, probes_per_step(config))


def test_the_grouped_forward_does_the_loops_work():
    target = get_target("mnist_cnn")
    theta, x = target.init(3), torch.rand(4, 1, 28, 28)
    assert _counted(lambda: target.forward(theta, x, "grouped")) == 3 * 4 * target.flops_per_image()
    assert _counted(lambda: target.forward(theta, x, "channels_last")) == 3 * 4 * target.flops_per_image()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_baseline_step_counts_what_flop_counter_mode_counts(name):
    """One batch of conventional training: forward + backward to the weights, none for the images."""
    target = get_target(name)
    theta = target.init(1, torch.Generator().manual_seed(0))[0].requires_grad_()
    x, y = torch.rand(7, *target.input_shape), torch.randint(10, (7,))
    flops = _counted(lambda: F.cross_entropy(target.forward(theta[None], x, "channels_last")[0], y).backward())
    assert flops == 7 * compute.target_train_flops(target)
    assert compute.target_train_flops(target) < 3 * target.flops_per_image()  # the images need no gradient


def test_a_fresh_teacher_distillation_step_counts_what_flop_counter_mode_counts():
    config = TrainConfig(latent_dim=20)
    model = build_model(config).eval()
    target = model.target
    theta = target.init(1)[0].requires_grad_()
    x, y = torch.rand(6, 1, 28, 28), torch.randint(10, (6,))

    def step():
        with torch.no_grad():
            teacher = target.forward(teacher_thetas(model, model.sample_latents(4)), x, "channels_last")
            teacher = teacher.softmax(-1).mean(0)
        kd_loss(student_logits(target, theta, x), teacher, y, 2.0, 0.1)[0].backward()

    expected = compute.distill_cost(target, model, "fresh", teacher_nets=4, train_images=6, epochs=1, batch_size=6)
    assert _counted(step) == expected.train_flops


def test_the_default_deep_ensemble_is_at_the_hypernetworks_training_flops():
    """params.yaml's ruler: 5 members × baseline.epochs match G's training FLOPs within ±10 %. Change
    train.steps (or the nets, images, probes per step) and this says which baseline.epochs matches again."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    train = TrainConfig(**{("lam" if k == "lambda" else k): v for k, v in params["train"].items()})
    model = build_model(train)
    train_images = 60_000 - params["data"]["val_size"]
    budget = compute.hypernet_cost(train, model, params["data"]["val_size"], probes_per_step(train)).train_flops
    members, epochs = len(params["baseline"]["seeds"]), params["baseline"]["epochs"]
    best, _ = compute.epochs_for_budget(budget, members, get_target(train.target), train_images)
    ratio = members * compute.baseline_cost(get_target(train.target), train_images, epochs, 0).train_flops / budget
    assert abs(ratio - 1) <= 0.10, f"baseline.epochs {epochs} gives {ratio:.2f}x G's FLOPs; use {best}"


def test_epochs_for_a_budget_round_to_the_nearest_whole_epoch():
    target = get_target("mnist_cnn")
    per_epoch = 1000 * compute.target_train_flops(target)
    assert compute.epochs_for_budget(5 * 12.4 * per_epoch, 5, target, 1000) == (12, pytest.approx(12 / 12.4))
    assert compute.epochs_for_budget(5 * 12.6 * per_epoch, 5, target, 1000)[0] == 13
    assert compute.epochs_for_budget(0.1 * per_epoch, 5, target, 1000)[0] == 1  # never 0 epochs
