"""Baselines for issue 12: per-epoch checkpoints, the snapshot ensemble and the noise ensemble."""

import csv
import json

import pytest
import torch

from hyperman import baseline, checkpoint, cli
from hyperman.config import BaselineConfig
from hyperman.baseline import ensemble_at, load_epochs, load_snapshots, load_target_net, train_baseline
from hyperman.data import load_dataset
from hyperman.evaluation import Forward
from hyperman.noise_ensemble import NoiseConfig, layer_rms, load_noise_ensemble, perturb, score_alphas
from hyperman.targets import get_target

from conftest import MNIST

TINY = dict(batch_size=64, lr=1e-2, limit_train=256)
TARGET = get_target("mnist_cnn")
quiet = lambda message: None  # noqa: E731


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny net trained for 2 epochs (shared by the tests that only read it)."""
    out = tmp_path_factory.mktemp("baseline")
    train_baseline(BaselineConfig(epochs=2, **TINY), MNIST, out, "cpu", log=quiet)
    return out


def test_every_epoch_is_kept_with_its_cumulative_seconds(trained):
    thetas, seconds = load_epochs(trained)
    _, last, payload = load_target_net(trained / baseline.CHECKPOINT)
    assert thetas.shape == (2, TARGET.num_params) and not torch.equal(thetas[0], thetas[1])
    assert torch.equal(thetas[-1], last) and seconds[-1] == payload["train_seconds"] and 0 < seconds[0] < seconds[1]


def test_an_ensemble_after_e_epochs_costs_the_sum_of_its_members_seconds():
    records = [(torch.full((3, 2), float(seed)) + torch.arange(3.0)[:, None], [1.0 + seed, 2.0 + seed, 3.0 + seed])
               for seed in range(3)]
    thetas, seconds = ensemble_at(records, members=2, epoch=2)
    assert thetas.tolist() == [[1.0, 1.0], [2.0, 2.0]] and seconds == 2.0 + 3.0
    with pytest.raises(ValueError, match="asked for 4 members after 1 epochs, but there are 3 runs of"):
        ensemble_at(records, members=4, epoch=1)


def test_a_crash_between_the_two_saves_resumes_to_the_same_record(trained, tmp_path, monkeypatch):
    save = checkpoint.save

    def crash_on_second_checkpoint(path, payload):
        if path.name == baseline.CHECKPOINT and payload["epoch"] == 2:
            raise KeyboardInterrupt  # epochs.pt already holds epoch 2, baseline.pt still epoch 1
        save(path, payload)

    monkeypatch.setattr(baseline.checkpoint, "save", crash_on_second_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        train_baseline(BaselineConfig(epochs=2, **TINY), MNIST, tmp_path, "cpu", log=quiet)
    assert len(load_epochs(tmp_path)[1]) == 2 and checkpoint.load(tmp_path / baseline.CHECKPOINT)["epoch"] == 1
    monkeypatch.setattr(baseline.checkpoint, "save", save)
    summary = train_baseline(BaselineConfig(epochs=2, **TINY), MNIST, tmp_path, "cpu", resume=True, log=quiet)
    assert torch.equal(load_epochs(tmp_path)[0], load_epochs(trained)[0])  # resume is exact
    assert [h["epoch"] for h in summary["history"]] == [1, 2]


def test_the_cyclic_schedule_restarts_at_the_peak_every_cycle():
    config = BaselineConfig(epochs=4, snapshot_cycles=2, lr=0.01)
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=config.lr)
    schedule = baseline._schedule(optimizer, config, steps_per_epoch=5)  # cycles of 10 steps
    rates = []
    for _ in range(20):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] == rates[10] == 0.01 and rates[5] == pytest.approx(0.005)  # cosine: half-way is half
    assert rates[9] == pytest.approx(0.005 * (1 + torch.cos(torch.tensor(0.9 * torch.pi)).item()))


def test_train_snapshot_keeps_the_net_at_the_end_of_every_cycle(tmp_path):
    out = tmp_path / "snap"
    args = ["train-snapshot", "--data", str(MNIST), "--out", str(out), "--epochs", "2", "--snapshot-cycles", "2",
            "--batch-size", "64", "--limit-train", "256", "--device", "cpu"]
    assert cli.main(args) == 0
    snapshots, seconds = load_snapshots(out)
    thetas, epoch_seconds = load_epochs(out)
    assert torch.equal(snapshots, thetas) and seconds == epoch_seconds  # 1 epoch per cycle: every epoch is one
    scores = json.loads((out / baseline.SUMMARY).read_text())["snapshot_ensemble_val"]
    data = load_dataset(MNIST, limit_train=256)  # the validation images the stage saw
    probs = Forward(TARGET, "loop", torch.device("cpu")).probs(snapshots, torch.from_numpy(data.val_x))
    expected = -torch.log(probs.double().mean(0)[torch.arange(len(data.val_y)), torch.from_numpy(data.val_y)]).mean()
    assert scores["nll"] == pytest.approx(float(expected), rel=1e-5)


def test_bad_snapshot_cycles_are_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "snap"
    args = ["train-snapshot", "--data", str(MNIST), "--out", str(out), "--epochs", "3", "--snapshot-cycles", "2"]
    assert cli.main(args) == 2
    assert "--epochs 3 is not a multiple of --snapshot-cycles 2" in capsys.readouterr().err
    assert not out.exists()


def test_perturbations_have_the_layer_relative_scale_and_regenerate():
    theta = TARGET.init(1, torch.Generator().manual_seed(0))[0]
    members = perturb(TARGET, theta, 0.1, 20, seed=3)
    assert torch.equal(members, perturb(TARGET, theta, 0.1, 20, seed=3))
    assert torch.equal(perturb(TARGET, theta, 0.0, 2, seed=3), torch.stack([theta, theta]))
    rms = layer_rms(TARGET, theta)
    a, b = TARGET.offsets()[1]  # conv2: 12,816 weights × 20 members, so the empirical std is within ~0.5 %
    assert float((members[:, a:b] - theta[a:b]).std()) == pytest.approx(0.1 * float(rms[1]), rel=0.02)
    assert float(rms[1]) == pytest.approx(float(theta[a:b].pow(2).mean().sqrt()))


def test_alpha_zero_scores_exactly_the_single_net(trained):
    _, theta, _ = load_target_net(trained / baseline.CHECKPOINT)
    x = torch.rand(50, *TARGET.input_shape, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (50,), generator=torch.Generator().manual_seed(1))
    forward = Forward(TARGET, "auto", torch.device("cpu"))
    rows = score_alphas(forward, theta, NoiseConfig(members=3, alphas=[0.0, 0.5]), x, y)
    single = forward.probs(theta[None], x)[0]
    expected = -torch.log(single.double()[torch.arange(50), y]).mean()
    assert rows[0]["ensemble_nll"] == pytest.approx(float(expected)) == pytest.approx(rows[0]["member_nll_mean"])
    assert rows[1]["ensemble_nll"] != pytest.approx(float(expected))


def test_noise_ensemble_stage_chooses_alpha_on_validation_and_writes_regenerable_members(trained, tmp_path):
    out = tmp_path / "noise"
    args = ["noise-ensemble", "--baseline", str(trained / baseline.CHECKPOINT), "--data", str(MNIST), "--out",
            str(out), "--members", "3", "--alphas", "0.01", "0.3", "--limit-val", "100", "--device", "cpu"]
    assert cli.main(args) == 0
    rows = list(csv.DictReader((out / "noise_validation.csv").open()))
    best = min(rows, key=lambda row: float(row["ensemble_nll"]))
    members, alpha = load_noise_ensemble(out)
    assert alpha == float(best["alpha"]) and members.shape == (3, TARGET.num_params)
    _, theta, _ = load_target_net(trained / baseline.CHECKPOINT)
    assert torch.equal(members, perturb(TARGET, theta, alpha, 3, seed=0))


def test_noise_ensemble_refuses_bad_input_without_writing(trained, tmp_path, capsys):
    out = tmp_path / "noise"
    common = ["--data", str(MNIST), "--out", str(out)]
    assert cli.main(["noise-ensemble", "--baseline", str(trained / baseline.CHECKPOINT), *common,
                     "--alphas", "-0.1"]) == 2
    assert "--alphas must be a finite number >= 0, got -0.1" in capsys.readouterr().err
    assert cli.main(["noise-ensemble", "--baseline", str(tmp_path / "missing.pt"), *common]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not out.exists()
