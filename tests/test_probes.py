"""The probe registry (hyperman/probes.py): no family draws an OOD evaluation set, every family is seeded,
shaped and ranged like the images, the image transforms destroy the label, and outlier probes are shared out
over their families."""

import json

import pytest
import torch

from hyperman import probes
from hyperman.data import load_dataset
from hyperman.evaluation import ood_sets

from conftest import MNIST


@pytest.fixture(scope="module")
def mnist():
    data = load_dataset(MNIST, limit_train=3000)
    return (torch.from_numpy(data.train_x), torch.from_numpy(data.train_y), torch.from_numpy(data.val_x),
            torch.from_numpy(data.val_y))


def _draw(family, images, count=32, seed=0):
    return probes.draw(family, images, count, torch.Generator().manual_seed(seed))


def test_the_probe_and_ood_registries_share_no_family():
    """No probe family is an OOD set's name or the family an OOD set was marked as (uniform noise: the old `noise`
    probes), so a G trained with any probes is scored on sets it never saw."""
    marked = {entry.probe_family for entry in ood_sets.OOD_SETS.values()} - {None}
    assert marked == {"noise"}  # the family that used to draw uniform noise, and is gone
    assert not (set(probes.PROBE_FAMILIES) & (marked | set(ood_sets.OOD_SETS)))
    assert not any(ood_sets.trained_toward(name, family, True) for name in ood_sets.OOD_SETS
                   for family in probes.PROBE_FAMILIES)
    assert set(probes.DATA_FAMILIES) == {"mixup", "augment"}
    assert set(probes.OUTLIER_FAMILIES) == {"erased", "affine", "elastic", "flipped", "lines", "grid", "smooth"}


@pytest.mark.parametrize("family", list(probes.PROBE_FAMILIES))
def test_a_probe_batch_is_no_ood_set_image(mnist, family):
    """Every probe is far (mean absolute pixel difference > 0.05) from every image of every synthetic OOD set
    built from the same images, and differs from what the OOD builders draw from the same seed."""
    x = mnist[0][:200]
    batch = _draw(family, x, 64, seed=3)
    built = ood_sets.build_sets(ood_sets.Source(x, None, None), 200, seed=3)
    assert set(built) == {"uniform_noise", "blurred_noise", "inverted"}
    for name, images in built.items():
        nearest = torch.cdist(batch.flatten(1), images.flatten(1), p=1).min(1).values / batch[0].numel()
        assert nearest.min() > 0.05, (family, name)
        same_seed = ood_sets.OOD_SETS[name].build(ood_sets.Source(x, None, None), 64, torch.Generator().manual_seed(3))
        assert (batch - same_seed).abs().mean() > 0.05, (family, name)


@pytest.mark.parametrize("family", list(probes.PROBE_FAMILIES))
def test_a_family_is_seeded_and_shaped_like_the_images(mnist, family):
    x = mnist[0][:100]
    batch = _draw(family, x, 24, seed=1)
    assert batch.shape == (24, *x.shape[1:]) and batch.dtype == x.dtype and batch.device == x.device
    assert batch.min() >= 0 and batch.max() <= 1 and batch.max() > 0.5  # images, not blanks
    assert torch.equal(batch, _draw(family, x, 24, seed=1))
    assert not torch.equal(batch, _draw(family, x, 24, seed=2))
    assert len({tuple(p.flatten().tolist()) for p in batch}) > 16  # not one image repeated


@pytest.mark.parametrize("family", ["lines", "grid", "smooth"])
def test_a_procedural_pattern_does_not_depend_on_the_images(mnist, family):
    x = mnist[0][:100]
    assert torch.equal(_draw(family, x), _draw(family, 1 - x))


def test_smooth_patterns_are_larger_scale_than_blurred_noise(mnist):
    """`smooth` is allowed only because it is not blurred noise: it has far fewer blobs (interior local maxima
    per image; measured about 1.3 against 6.2)."""
    x = mnist[0][:100]

    def peaks(images):
        top = torch.nn.functional.max_pool2d(images, 3, stride=1, padding=1)
        return float((images == top)[..., 1:-1, 1:-1].float().sum((1, 2, 3)).mean())

    blurred = ood_sets.build_sets(ood_sets.Source(x, None, None), 100, seed=0)["blurred_noise"]
    assert peaks(_draw("smooth", x, 100)) < 0.5 * peaks(blurred)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("family", list(probes.PROBE_FAMILIES))
def test_a_family_draws_on_the_images_device_the_same_probes(mnist, family):
    x = mnist[0][:100]
    on_gpu = _draw(family, x.cuda(), 16)
    assert on_gpu.device.type == "cuda"
    # the same random numbers (the CPU generator): the same probes, up to rounding (a stripe's edge may flip)
    assert (on_gpu.cpu() - _draw(family, x, 16)).abs().mean() < 1e-3


def test_the_image_transforms_destroy_the_label(mnist):
    """A small CNN trained on 3,000 MNIST images (≈ 94 % on validation) falls to at most 60 % of its clean
    accuracy on the transformed validation images, scored against their original labels (measured: erased
    0.47, affine 0.51, elastic 0.16, flipped 0.29 of 0.94). Shifts by 6 pixels (the data-like `augment`)
    fool so small a net too (0.22), so this is no test of "off the data" for those."""
    train_x, train_y, val_x, val_y = mnist
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(8 * 14 * 14, 10))
    optimiser = torch.optim.Adam(net.parameters(), 3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        index = torch.randint(len(train_x), (128,), generator=g)
        loss = torch.nn.functional.cross_entropy(net(train_x[index]), train_y[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        clean = (net(val_x).argmax(1) == val_y).float().mean().item()
        assert clean > 0.9

        def accuracy(family):  # the probes' source images are the generator's first draw: replay it
            picked = torch.randint(len(val_x), (len(val_x),), generator=torch.Generator().manual_seed(1))
            images = probes.draw(family, val_x, len(val_x), torch.Generator().manual_seed(1))
            return (net(images).argmax(1) == val_y[picked]).float().mean().item()

        for family in ("erased", "affine", "elastic", "flipped"):
            assert accuracy(family) < 0.6 * clean, family
        picked = torch.randint(len(val_x), (len(val_x),), generator=torch.Generator().manual_seed(1))
        assert (net(val_x[picked]).argmax(1) == val_y[picked]).float().mean() > 0.9  # the labels' replay is right


def test_outlier_probes_are_shared_out_over_their_families_in_order(mnist):
    x = mnist[0][:50]
    mixed = probes.draw_mixed(["lines", "erased", "smooth"], x, 8, torch.Generator().manual_seed(4))
    replay = torch.Generator().manual_seed(4)
    expected = torch.cat([probes.draw("lines", x, 3, replay), probes.draw("erased", x, 3, replay),
                          probes.draw("smooth", x, 2, replay)])
    assert torch.equal(mixed, expected)
    with pytest.raises(ValueError, match="unknown probe family 'noise'"):
        probes.draw("noise", x, 4, replay)


def test_used_names_the_families_a_run_trained_with():
    assert probes.used({"diversity": "both", "probe_family": "mixup", "probes": 16, "function_weight": 2.0}) == {
        "families": ["mixup"], "data": {"family": "mixup", "probes": 16, "weight": 2.0}, "outlier": None,
        "warmup_steps": 0, "estimator": "kl"}
    both = probes.used({"diversity": "function", "probe_family": "augment", "probes": 4, "function_weight": 0.0,
                        "outlier_probes": 6, "outlier_families": ["grid", "lines"], "outlier_weight": 3.0})
    assert both["families"] == ["grid", "lines"] and both["data"] is None
    assert both["outlier"] == {"families": ["grid", "lines"], "probes": 6, "weight": 3.0}
    assert probes.used({"diversity": "weights", "outlier_probes": 6})["families"] == []


def test_the_report_names_the_outlier_families_a_checkpoint_trained_with(tmp_path):
    """The report reads the probes from the checkpoint metrics.json names (report.inputs.training_probes) and
    shows the outlier families next to the data-like family that metrics.json records."""
    from hyperman.report.inputs import training_probes
    from hyperman.report.ood import probes_line
    from hyperman.config import TrainConfig
    from hyperman.training import train

    config = TrainConfig(steps=1, nets_per_step=2, images_per_net=4, eval_every=1, eval_nets=2, checkpoint_every=1,
                         limit_train=300, latent_dim=8, probes=2, outlier_probes=4, outlier_families=["lines", "grid"],
                         outlier_weight=3.0, repulsion_warmup=5)
    train(config, MNIST, tmp_path / "g", "cpu", log=lambda message: None)
    trained = {"probe_family": "mixup", "function_term": True, "diversity": "both"}
    m = {"inputs": {"checkpoint": str(tmp_path / "g" / "hypernet.pt")}, "ood": {"trained_with": trained, "sets": {}}}
    used = training_probes(m)
    assert used == json.loads((tmp_path / "g" / "train_summary.json").read_text())["probes"]
    assert probes_line(m, "this hypernetwork", used) == ("this hypernetwork: probe family `mixup`; outlier probes "
                                                         "`lines`, `grid` (4 per step, weight 3, warm-up 5 steps)")
    assert training_probes({"inputs": {"checkpoint": str(tmp_path / "absent.pt")}}) is None
    assert probes_line(m, "g", None) == "g: probe family `mixup`"  # an older run: what metrics.json records
