"""The public API (issue 22): hyperman.load treats a hypernetwork and every baseline alike, its nets are plain
nn.Modules computing the functional forward, its predictions are the evaluation's formulas, and the README's
five-line example runs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import hyperman
from hyperman import metrics
from hyperman.checkpoint import CheckpointError
from hyperman.data import load_dataset
from hyperman.errors import ConfigError
from hyperman.user_images import InputError
from hyperman.modules import Ensemble, target_net
from hyperman.targets import TARGETS

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT / "data" / "mnist"


@pytest.fixture(scope="module")
def images() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_dataset(MNIST, limit_test=200)
    return torch.from_numpy(data.test_x), torch.from_numpy(data.test_y)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_net_computes_the_functional_forward(name):
    target = TARGETS[name]
    theta = target.init(3, torch.Generator().manual_seed(0)) * 3  # larger than init: ReLUs and pools matter
    x = torch.rand(6, *target.input_shape, generator=torch.Generator().manual_seed(1))
    expected = target.forward(theta, x, "loop")
    got = torch.stack([target_net(target, t)(x) for t in theta]).detach()
    assert torch.allclose(got, expected, atol=1e-5, rtol=0), float((got - expected).abs().max())
    probs = expected.softmax(-1)
    mean, mi = Ensemble([target_net(target, t) for t in theta])(x)
    assert torch.allclose(mean.detach().double(), probs.double().mean(0), atol=1e-6)
    assert torch.allclose(mi.detach().double(), metrics.mutual_information(probs), atol=1e-5)


def _models(tiny_models) -> dict:
    return {"hypernetwork": tiny_models["g"], "single-net": tiny_models["b0"],
            "deep-ensemble": [tiny_models["b0"], tiny_models["b1"]], "snapshot-ensemble": tiny_models["snapshot"]}


@pytest.mark.parametrize("kind", ["hypernetwork", "single-net", "deep-ensemble", "snapshot-ensemble"])
def test_every_model_predicts_through_one_interface(tiny_models, images, kind):
    model = hyperman.load(_models(tiny_models)[kind])
    assert model.kind == kind
    n = 5 if kind == "hypernetwork" else model.size
    assert model.size == {"hypernetwork": None, "single-net": 1, "deep-ensemble": 2, "snapshot-ensemble": 2}[kind]
    x = images[0][:50]
    prediction = model.predict(x, n)
    nets = model.nets(n)
    assert len(nets) == n and all(isinstance(net, torch.nn.Module) for net in nets)
    member = torch.stack([net(x).softmax(-1) for net in nets]).detach()
    assert torch.allclose(prediction.member_probs, member, atol=1e-5)
    assert torch.allclose(prediction.probs, member.double().mean(0), atol=1e-5)
    assert torch.equal(prediction.classes, prediction.probs.argmax(-1))
    assert torch.allclose(prediction.confidence, prediction.probs.max(-1).values)
    assert torch.allclose(prediction.entropy, metrics.predictive_entropy(member), atol=1e-5)
    assert torch.allclose(prediction.mutual_information, metrics.mutual_information(member), atol=1e-5)
    share = (member.argmax(-1) == prediction.classes).double().mean(0)
    assert torch.equal(prediction.vote_share, share)
    if n == 1:
        assert prediction.mutual_information.abs().max() < 1e-6 and torch.all(prediction.vote_share == 1)
    mean, mi = model.ensemble(n)(x)
    assert torch.allclose(mean.detach().double(), prediction.probs, atol=1e-5)
    assert torch.allclose(mi.detach().double(), prediction.mutual_information, atol=1e-5)


def test_a_folder_of_baseline_runs_is_the_deep_ensemble_without_the_snapshot_run(tiny_models, images):
    folder = hyperman.load(tiny_models["baselines"])
    listed = hyperman.load([tiny_models["b0"], tiny_models["b1"]])
    assert folder.kind == "deep-ensemble" and folder.size == 2
    assert [s["path"] for s in folder.sources] == [str(tiny_models["b0"]), str(tiny_models["b1"])]
    assert torch.equal(folder.predict(images[0][:20]).probs, listed.predict(images[0][:20]).probs)


def test_sampling_is_seeded_and_fixed_sets_are_bounded(tiny_models):
    g = hyperman.load(tiny_models["g"])
    a, b, c = g.sample(4, seed=7), g.sample(4, seed=7), g.sample(4, seed=8)
    assert a.latents.shape == (4, 8) and a.theta.shape == (4, g.target.num_params)
    assert torch.equal(a.theta, b.theta) and not torch.equal(a.theta, c.theta)
    assert g.sample().theta.shape[0] == 100  # a hypernetwork's default ensemble
    pair = hyperman.load([tiny_models["b0"], tiny_models["b1"]])
    assert pair.sample().latents is None and pair.sample().theta.shape[0] == 2
    with pytest.raises(ConfigError, match="has 2 net"):
        pair.sample(3)
    with pytest.raises(ConfigError, match="whole number"):
        g.sample(0)


def test_partial_checkpoints_are_refused_unless_allowed(tiny_models):
    with pytest.raises(CheckpointError, match="partial checkpoint"):
        hyperman.load(tiny_models["gp"])
    model = hyperman.load(tiny_models["gp"], allow_partial=True)
    assert model.kind == "hypernetwork" and any("partial" in w for w in model.warnings)
    with pytest.raises(CheckpointError, match="partial checkpoint"):  # allowing once does not leak
        hyperman.load(tiny_models["gp"])


def test_bad_arguments_are_one_clear_error(tiny_models, tmp_path):
    g = hyperman.load(tiny_models["g"])
    with pytest.raises(InputError, match=r"expected \(N, 1, 28, 28\)"):
        g.predict(torch.rand(2, 3, 32, 32), 2)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        g.predict(torch.rand(2, 1, 28, 28) * 255, 2)
    with pytest.raises(CheckpointError, match="does not exist"):
        hyperman.load(tmp_path / "nothing.pt")
    with pytest.raises(CheckpointError, match="holds no hypernet.pt"):
        hyperman.load(tmp_path)


def test_import_hyperman_stays_light():
    code = "import sys, hyperman; assert 'torch' not in sys.modules, 'import hyperman imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    import hyperman.api
    import hyperman.user_images

    assert hyperman.load is hyperman.api.load and hyperman.read_inputs is hyperman.user_images.read_inputs


def readme_example() -> str:
    """The first python block of the README's "Using the ensemble" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Using the ensemble", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs_on_pngs(tiny_models, images, tmp_path, monkeypatch, capsys):
    code = readme_example()
    assert len(code.strip().splitlines()) <= 5
    (tmp_path / "results" / "main" / "hypernet").mkdir(parents=True)
    shutil.copy(tiny_models["g"], tmp_path / "results" / "main" / "hypernet" / "hypernet.pt")
    (tmp_path / "my_digits").mkdir()
    x, y = images
    for i in range(40):
        Image.fromarray((x[i, 0].numpy() * 255).round().astype(np.uint8)).save(tmp_path / "my_digits" / f"{i:02d}.png")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    prediction, names = namespace["pred"], namespace["names"]
    assert names == [f"{i:02d}.png" for i in range(40)]
    assert prediction.probs.shape == (40, 10)
    assert float((prediction.classes == y[:40]).double().mean()) > 0.3  # chance is 0.1
    assert "00.png" in capsys.readouterr().out


def test_a_student_and_a_noise_ensemble_load_like_the_rest(tiny_models, images, tmp_path):
    """A distilled student.pt is a "target" checkpoint in its run folder; noise_ensemble.pt a set of nets."""
    from hyperman import checkpoint

    b0, b1 = (checkpoint.load(tiny_models[k]) for k in ("b0", "b1"))
    (tmp_path / "distill").mkdir()
    checkpoint.save(tmp_path / "distill" / "student.pt", {"kind": "target", "target": "mnist_cnn", "theta": b1["theta"],
                                                          "teacher_sha256": "0" * 64, "finished": True})
    student = hyperman.load(tmp_path / "distill")
    assert student.kind == "single-net" and torch.equal(student.sample().theta[0], b1["theta"])
    (tmp_path / "noise").mkdir()
    checkpoint.save(tmp_path / "noise" / "noise_ensemble.pt", {"kind": "noise-ensemble", "target": "mnist_cnn",
                                                               "thetas": torch.stack([b0["theta"], b1["theta"]]),
                                                               "alpha": 0.1})
    noise = hyperman.load(tmp_path / "noise")
    pair = hyperman.load([tiny_models["b0"], tiny_models["b1"]])
    assert noise.kind == "noise-ensemble" and noise.size == 2
    assert torch.equal(noise.predict(images[0][:10]).probs, pair.predict(images[0][:10]).probs)
