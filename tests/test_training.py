"""`hyperman train` and `train-baseline`: resume is exact, failures are clean, outputs are complete."""

import json

import pytest
import torch

from hyperman import checkpoint, cli, diversity_terms
from hyperman.baseline import load_target_net, train_baseline
from hyperman.config import BaselineConfig
from hyperman.device import autocast_dtype
from hyperman.config import TrainConfig
from hyperman.training import TrainingError, train
from hyperman.hypernet_io import load_hypernetwork

from conftest import MNIST

quiet = lambda message: None  # noqa: E731
TINY = dict(nets_per_step=4, images_per_net=8, eval_every=3, eval_nets=4, checkpoint_every=2, limit_train=300,
            latent_dim=8, lr=1e-2, lr_decay=0.99, augment_shift=2, ema=0.9)


def weights(path):
    return checkpoint.load(path, kind="hypernetwork")["model"]


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    train(TrainConfig(steps=7, **TINY), MNIST, tmp_path / "straight", "cpu", log=quiet)
    train(TrainConfig(steps=4, **TINY), MNIST, tmp_path / "resumed", "cpu", log=quiet)
    train(TrainConfig(steps=7, **TINY), MNIST, tmp_path / "resumed", "cpu", resume=True, log=quiet)
    a, b = weights(tmp_path / "straight" / "hypernet.pt"), weights(tmp_path / "resumed" / "hypernet.pt")
    assert a.keys() == b.keys()
    for key in a:  # bit-identical, batch-norm running statistics included
        assert torch.equal(a[key], b[key]), key
    log = [json.loads(line) for line in (tmp_path / "resumed" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 8))
    assert "val_acc_mean" in log[2] and 0.0 <= log[2]["val_acc_mean"] <= 1.0


def test_resume_refuses_a_different_configuration(tmp_path):
    train(TrainConfig(steps=2, **TINY), MNIST, tmp_path, "cpu", log=quiet)
    with pytest.raises(TrainingError, match="lam"):
        train(TrainConfig(steps=4, **{**TINY, "lam": 5.0}), MNIST, tmp_path, "cpu", resume=True, log=quiet)


def test_checkpoint_loads_without_running_code_and_holds_everything(tmp_path):
    train(TrainConfig(steps=2, **TINY), MNIST, tmp_path, "cpu", log=quiet)
    payload = torch.load(tmp_path / "hypernet.pt", weights_only=True)
    assert {"model", "optimizer", "step", "config", "generator", "torch_rng"} <= payload.keys()
    model, config = load_hypernetwork(tmp_path / "hypernet.pt")
    assert config.steps == 2 and not model.training
    summary = json.loads((tmp_path / "train_summary.json").read_text())
    assert summary["steps"] == 2 and summary["seconds_per_step"] > 0


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    real = diversity_terms.kl_entropy
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        value = real(*args, **kwargs)
        return value * float("nan") if calls["n"] == 4 else value  # the 4th training step

    monkeypatch.setattr(diversity_terms, "kl_entropy", poisoned)
    code = cli.main(["train", "--data", str(MNIST), "--out", str(tmp_path), "--steps", "6", "--nets-per-step", "4",
                     "--images-per-net", "8", "--eval-every", "100", "--checkpoint-every", "2", "--latent-dim", "8",
                     "--limit-train", "300", "--diversity", "weights", "--device", "cpu"])
    assert code == 2
    assert "loss became nan at step 3" in capsys.readouterr().err
    assert checkpoint.load(tmp_path / "hypernet.pt", kind="hypernetwork")["step"] == 2
    assert not (tmp_path / "train_summary.json").exists()


def test_no_diversity_ablation_trains_on_cross_entropy_alone(tmp_path):
    summary = train(TrainConfig(steps=2, diversity="none", **TINY), MNIST, tmp_path, "cpu", log=quiet)
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert all(r["entropy"] == 0.0 and r["loss"] == pytest.approx(r["ce"]) for r in log)
    assert summary["steps"] == 2


def test_lambda_schedules():
    linear = TrainConfig(steps=11, lam=100.0, lambda_start=10.0, lambda_schedule="linear")
    assert linear.lambda_at(0) == 10.0 and linear.lambda_at(10) == 100.0 and linear.lambda_at(5) == 55.0
    expo = TrainConfig(steps=11, lam=1000.0, lambda_start=10.0, lambda_schedule="exponential")
    assert expo.lambda_at(5) == pytest.approx(100.0)


def test_baseline_trains_resumes_and_loads_as_a_target_net(tmp_path):
    config = BaselineConfig(epochs=2, batch_size=32, lr=1e-2, seed=1, limit_train=1000, augment_shift=1)
    summary = train_baseline(config, MNIST, tmp_path / "a", "cpu", log=quiet)
    assert summary["val_acc"] > 0.5  # 1,000 images, 2 epochs: far above chance (0.1)
    train_baseline(BaselineConfig(**{**config.__dict__, "epochs": 2}), MNIST, tmp_path / "b", "cpu", log=quiet)
    target, theta, payload = load_target_net(tmp_path / "a" / "baseline.pt")
    assert target.name == "mnist_cnn" and theta.shape == (20018,) and payload["train_seconds"] > 0
    assert torch.equal(theta, load_target_net(tmp_path / "b" / "baseline.pt")[1])  # seeded


def test_precision_choice():
    cpu = torch.device("cpu")
    assert autocast_dtype("auto", cpu) is None and autocast_dtype("fp32", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        autocast_dtype("fp8", cpu)


def test_bf16_training_keeps_the_hypernetwork_and_the_entropy_in_fp32(tmp_path):
    summary = train(TrainConfig(steps=2, precision="bf16", **TINY), MNIST, tmp_path, "cpu", log=quiet)
    assert summary["steps"] == 2
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor([r["ce"], r["entropy"]])).all() for r in log)
    assert all(v.dtype == torch.float32 for v in weights(tmp_path / "hypernet.pt").values() if v.is_floating_point())


def test_a_negative_shift_is_refused(tmp_path):
    with pytest.raises(TrainingError, match="--augment-shift must be an integer >= 0 and <= 8, got -1"):
        train(TrainConfig(steps=2, **{**TINY, "augment_shift": -1}), MNIST, tmp_path / "out", "cpu", log=quiet)
    assert not (tmp_path / "out").exists()


def test_the_checkpoint_serves_the_moving_average_of_g(tmp_path):
    config = {**TINY, "ema": 0.75}
    train(TrainConfig(steps=1, **config), MNIST, tmp_path / "one", "cpu", log=quiet)
    train(TrainConfig(steps=2, **config), MNIST, tmp_path / "two", "cpu", log=quiet)
    one = checkpoint.load(tmp_path / "one" / "hypernet.pt", kind="hypernetwork")
    two = checkpoint.load(tmp_path / "two" / "hypernet.pt", kind="hypernetwork")
    for key, served in two["model"].items():
        if not served.is_floating_point():
            continue
        first, second = one["train_model"][key], two["train_model"][key]
        torch.testing.assert_close(one["model"][key], first)  # the average starts at the first weights
        torch.testing.assert_close(served, 0.75 * first + 0.25 * second)
    assert not torch.equal(two["model"]["extractor.0.weight"], two["train_model"]["extractor.0.weight"])
    model, _ = load_hypernetwork(tmp_path / "two" / "hypernet.pt")  # what sample/evaluate/distill get
    assert torch.equal(model.state_dict()["extractor.0.weight"], two["model"]["extractor.0.weight"])
