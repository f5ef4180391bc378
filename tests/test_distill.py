"""Distillation of the hypernetwork ensemble into one student net, on a tiny real-MNIST problem."""

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from hyperman import checkpoint, cli
from hyperman import metrics as m
from hyperman.data import load_dataset
from hyperman.distillation import (CHECKPOINT, METRICS, DistillConfig, DistillError, distill, ensemble_probs,
                                   init_student, kl_divergence, student_probs, teacher_thetas)
from hyperman.targets import get_target
from conftest import PAPER
from hyperman.config import TrainConfig
from hyperman.hypernet_io import build_model, load_hypernetwork
from hyperman.training import train

from conftest import FASHION, MNIST

quiet = lambda message: None  # noqa: E731


@pytest.fixture(scope="module")
def hypernet(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hypernet")
    train(TrainConfig(steps=20, nets_per_step=4, images_per_net=8, eval_every=10, eval_nets=4, limit_train=500,
                      latent_dim=8, **PAPER), MNIST, out, "cpu", log=quiet)
    return out / "hypernet.pt"


def tiny(**changes) -> DistillConfig:
    changes.setdefault("student_init", "random")
    settings = dict(teacher="fixed", teacher_nets=4, epochs=2, batch_size=50, lr=1e-2, temperature=2.0,
                    hard_label_weight=0.0, seed=3, limit_train=200)
    settings.update(changes)
    return DistillConfig(**settings)


def run(config, hypernet, out, **kwargs):
    return distill(config, hypernet, MNIST, out, "cpu", limit_test=100, log=quiet, **kwargs)


# --------------------------------------------------------------------------- the method
def test_student_moves_towards_the_teacher(hypernet, tmp_path):
    """KL(teacher ‖ student) on held-out images falls well below its value at the student's init."""
    config = tiny(limit_train=500)
    run(config, hypernet, tmp_path / "d")
    saved = checkpoint.load(tmp_path / "d" / CHECKPOINT, kind="target")
    model, hyper_config = load_hypernetwork(hypernet)
    target = get_target(hyper_config.target)
    held_out = torch.from_numpy(load_dataset(MNIST, limit_train=500).val_x)
    teacher = ensemble_probs(target, teacher_thetas(model, saved["teacher_latents"]), held_out)
    before = init_student(target, torch.Generator().manual_seed(config.seed))
    kl_before = kl_divergence(teacher, student_probs(target, before, held_out)).item()
    kl_after = kl_divergence(teacher, student_probs(target, saved["theta"], held_out)).item()
    assert kl_after < 0.8 * kl_before, (kl_before, kl_after)


def test_fresh_teacher_draws_new_latents_every_batch_and_fixed_does_not(hypernet, tmp_path):
    seen = {"fixed": [], "fresh": []}
    for mode in seen:
        run(tiny(teacher=mode), hypernet, tmp_path / mode,
            on_batch=lambda info, mode=mode: seen[mode].append(info["latents"].clone()))
    assert len(seen["fresh"]) == len(seen["fixed"]) == 2 * 4  # 2 epochs of 200 images in batches of 50
    for a, b in zip(seen["fresh"], seen["fresh"][1:]):
        assert a.shape == (4, 8) and not torch.equal(a, b)
    first = seen["fixed"][0]
    assert all(torch.equal(first, z) for z in seen["fixed"])
    torch.testing.assert_close(first, checkpoint.load(tmp_path / "fixed" / CHECKPOINT)["teacher_latents"])


class Stop(Exception):
    pass


@pytest.mark.parametrize("mode", ["fixed", "fresh"])
def test_resume_gives_the_weights_of_an_uninterrupted_run(hypernet, tmp_path, mode):
    config = tiny(teacher=mode)
    straight = run(config, hypernet, tmp_path / "straight")

    def stop_in_second_epoch(info):
        if info["epoch"] == 1:
            raise Stop

    with pytest.raises(Stop):
        run(config, hypernet, tmp_path / "resumed", on_batch=stop_in_second_epoch)
    partial = checkpoint.load(tmp_path / "resumed" / CHECKPOINT, kind="target")
    assert partial["epoch"] == 1 and not (tmp_path / "resumed" / METRICS).exists()
    resumed = run(config, hypernet, tmp_path / "resumed", resume=True)

    a = checkpoint.load(tmp_path / "straight" / CHECKPOINT)
    b = checkpoint.load(tmp_path / "resumed" / CHECKPOINT)
    assert not torch.equal(partial["theta"], b["theta"])
    assert torch.equal(a["theta"], b["theta"])
    assert torch.equal(a["generator"], b["generator"])
    assert a["epoch"] == b["epoch"] == 2 and a["step"] == b["step"] == 8
    drop = lambda m: {k: v for k, v in m["distilled"].items() if k != "train_seconds"}  # noqa: E731
    assert drop(straight) == drop(resumed) and straight["teacher"] == resumed["teacher"]


def test_resume_refuses_a_changed_config(hypernet, tmp_path):
    run(tiny(epochs=1), hypernet, tmp_path / "d")
    before = (tmp_path / "d" / CHECKPOINT).read_bytes()
    with pytest.raises(DistillError, match="temperature"):
        run(tiny(epochs=1, temperature=5.0), hypernet, tmp_path / "d", resume=True)
    assert (tmp_path / "d" / CHECKPOINT).read_bytes() == before


# --------------------------------------------------------------------------- the CLI
@pytest.fixture
def with_distill_stage(monkeypatch):
    monkeypatch.setitem(cli.STAGES, "distill", ("hyperman.stages.distill", "distil the ensemble into one net"))


def test_cli_end_to_end(hypernet, tmp_path, with_distill_stage):
    out = tmp_path / "distill"
    status = cli.main(["distill", "--checkpoint", str(hypernet), "--data", str(MNIST), "--out", str(out),
                       "--teacher", "fresh", "--teacher-nets", "3", "--epochs", "1", "--batch-size", "100",
                       "--lr", "0.003", "--temperature", "2", "--hard-label-weight", "0.2", "--seed", "1",
                       "--device", "cpu", "--limit-train", "200", "--ood-data", str(FASHION),
                       "--limit-test", "100"])
    assert status == 0
    metrics = json.loads((out / METRICS).read_text())
    assert set(metrics["distilled"]) == {"accuracy", "nll", "ece", "ood_auroc_entropy", "train_seconds", "compute"}
    assert metrics["distilled"]["compute"]["train_flops"] > metrics["distilled"]["compute"]["image_net_passes"] > 0
    assert set(metrics["teacher"]) == {"mode", "nets", "accuracy", "nll", "ece", "ood_auroc_entropy"}
    assert metrics["teacher"]["mode"] == "fresh" and metrics["teacher"]["nets"] == 3
    student = checkpoint.load(out / CHECKPOINT, kind="target")
    target = get_target("mnist_cnn")
    # the figures, recomputed by hand from the saved student and from the teacher's 3 nets (latents seeded seed + 1)
    model, hyper_config = load_hypernetwork(hypernet, torch.device("cpu"))
    latents = model.sample_latents(3, hyper_config.latent_dist, torch.Generator().manual_seed(2))
    data, ood = load_dataset(MNIST, limit_train=1, limit_test=100), load_dataset(FASHION, limit_train=1, limit_test=100)
    x, y, ood_x = torch.from_numpy(data.test_x), torch.from_numpy(data.test_y), torch.from_numpy(ood.test_x)
    is_ood = torch.cat([torch.zeros(100), torch.ones(100)])
    with torch.no_grad():
        for group, theta in (("distilled", student["theta"][None]), ("teacher", model(latents))):
            probs, ood_probs = (target.forward(theta, batch).softmax(-1).double().mean(0) for batch in (x, ood_x))
            assert metrics[group]["accuracy"] == pytest.approx(float(m.accuracy(probs, y)), abs=1e-6), group
            assert metrics[group]["nll"] == pytest.approx(float(m.nll(probs, y)), rel=1e-4), group
            assert metrics[group]["ece"] == pytest.approx(m.ece(probs, y), abs=1e-4), group
            auroc = m.auroc(torch.cat([m.entropy(probs), m.entropy(ood_probs)]), is_ood)
            assert metrics[group]["ood_auroc_entropy"] == pytest.approx(auroc, abs=1e-3), group
    assert student["target"] == "mnist_cnn" and student["theta"].shape == (target.num_params,)
    assert student["config"] == asdict(tiny(teacher="fresh", teacher_nets=3, epochs=1, batch_size=100, lr=0.003,
                                            hard_label_weight=0.2, seed=1, student_init="member"))
    assert student["train_seconds"] > 0


def test_cli_bad_input_exits_1_and_writes_nothing(hypernet, tmp_path, with_distill_stage, capsys):
    def distill_cli(checkpoint_path, out):
        return cli.main(["distill", "--checkpoint", str(checkpoint_path), "--data", str(MNIST), "--out", str(out),
                         "--epochs", "1", "--limit-train", "50", "--device", "cpu"])

    assert distill_cli(tmp_path / "missing.pt", tmp_path / "a") == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()

    student = tmp_path / "student.pt"
    checkpoint.save(student, {"kind": "target", "target": "mnist_cnn", "theta": torch.zeros(3)})
    assert distill_cli(student, tmp_path / "b") == 2
    assert "expected 'hypernetwork'" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()

    # a hypernetwork for 32×32×3 images, asked to distil on MNIST
    config = TrainConfig(target="cifar_cnn", latent_dim=8, **PAPER)
    cifar = tmp_path / "cifar_hypernet.pt"
    checkpoint.save(cifar, {"kind": "hypernetwork", "model": build_model(config).state_dict(),
                            "config": asdict(config)})
    assert distill_cli(cifar, tmp_path / "c") == 2
    assert "takes (3, 32, 32) images" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()

    assert cli.main(["distill", "--checkpoint", str(hypernet), "--data", str(MNIST), "--out", str(tmp_path / "d"),
                     "--hard-label-weight", "1.5", "--device", "cpu"]) == 2
    assert "--hard-label-weight must be a finite number >= 0 and <= 1, got 1.5" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_member_init_starts_the_student_at_a_sampled_net(hypernet):
    model, hyper = load_hypernetwork(hypernet)
    target = get_target(hyper.target)
    theta = init_student(target, torch.Generator().manual_seed(4), model, hyper.latent_dist)
    z = model.sample_latents(1, hyper.latent_dist, torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert torch.equal(theta, model(z)[0])
    assert not torch.equal(theta, init_student(target, torch.Generator().manual_seed(4)))
