"""The mixture latent (train.latent_components, issue 20 item 3): K separated components of the latent prior, so
that one G can reach several basins, and the paths measured within one component and between two."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from hyperman import api
from hyperman.errors import ConfigError
from hyperman.evaluation.paths import paths_part
from hyperman.evaluation import Forward
from hyperman.hypernetwork import MIXTURE_SHIFT, HyperNetwork, latent_components_of, sample_latents
from hyperman.targets import Layer, Target
from hyperman.config import TrainConfig
from hyperman.hypernet_io import load_hypernetwork
from hyperman.training import train

MNIST = Path(__file__).resolve().parent.parent / "data" / "mnist"
TINY = Target("tiny", (1, 4, 4), (Layer("conv", 1, 3, 3, pool=2), Layer("linear", 12, 5), Layer("linear", 5, 3)))


def test_one_component_draws_exactly_what_the_plain_prior_drew():
    """K = 1 must leave every earlier run bit-identical: the same numbers, no extra draws from the stream."""
    for dist in ("uniform", "normal"):
        g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
        plain = torch.rand(7, 6, generator=g1) * 2 - 1 if dist == "uniform" else torch.randn(7, 6, generator=g1)
        assert torch.equal(sample_latents(7, 6, dist, g2, components=1), plain)
        assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))  # the streams stay in step


@pytest.mark.parametrize("dist", ["uniform", "normal"])
def test_components_are_separated_drawn_evenly_and_recovered_from_the_latent(dist):
    K, n = 3, 6000
    g = torch.Generator().manual_seed(0)
    z = sample_latents(n, 10, dist, torch.Generator().manual_seed(0), components=K)
    base = torch.rand(n, 10, generator=g) * 2 - 1 if dist == "uniform" else torch.randn(n, 10, generator=g)
    which = torch.randint(K, (n,), generator=g)
    assert torch.equal(latent_components_of(z, K), which)
    counts = torch.bincount(which, minlength=K).double() / n
    assert torch.all((counts - 1 / K).abs() < 0.03)  # drawn uniformly (3 σ ≈ 0.018)
    shift = torch.zeros(n, 10)
    shift[torch.arange(n), which] = MIXTURE_SHIFT[dist]
    assert torch.allclose(z, base + shift)
    if dist == "uniform":  # the components never overlap: the chosen axis in [3, 5], every other in [-1, 1]
        chosen = z[torch.arange(n), which]
        assert chosen.min() >= 3 and chosen.max() <= 5
    assert torch.equal(latent_components_of(z, 1), torch.zeros(n, dtype=torch.long))


def test_more_components_than_latent_axes_is_refused():
    with pytest.raises(ConfigError, match="latent_components"):
        HyperNetwork(TINY, latent_dim=4, code_dim=3, norm="layer", latent_components=5)


def _context(model: HyperNetwork, latents: torch.Tensor, pairs: int) -> SimpleNamespace:
    x = 3 * torch.randn(40, *TINY.input_shape, generator=torch.Generator().manual_seed(7))
    return SimpleNamespace(cfg=SimpleNamespace(path_pairs=pairs, path_points=4, path_images=0), x=x,
                           y=torch.randint(3, (40,), generator=torch.Generator().manual_seed(8)), N=len(latents),
                           latents=latents, generator=torch.Generator().manual_seed(9), model=model,
                           forward=Forward(TINY, "loop", torch.device("cpu")), K=0)


def test_paths_of_a_mixture_pair_nets_within_and_between_components():
    torch.manual_seed(1)
    model = HyperNetwork(TINY, latent_dim=4, code_dim=3, norm="layer", latent_components=2).eval()
    latents = model.sample_latents(12, "uniform", torch.Generator().manual_seed(3))
    which = latent_components_of(latents, 2)
    assert 0 < which.sum() < 12  # both components drawn
    metrics, tables = paths_part(_context(model, latents, pairs=6))
    paths, rows = metrics["paths"], next(iter(tables.values()))
    for key in ("latent", "direct", "latent_within", "latent_between", "direct_within", "direct_between"):
        assert paths[key]["worst_accuracy"] is not None, key
    kinds = {row[0] for row in rows}
    assert kinds == {"latent_within", "latent_between", "direct_within", "direct_between"}
    # each pair's path starts at one sampled net: its first point's accuracy is that net's
    assert sum(1 for row in rows if row[0] == "latent_within" and row[2] == 0) == 3

    plain = HyperNetwork(TINY, latent_dim=4, code_dim=3, norm="layer").eval()
    metrics, tables = paths_part(_context(plain, plain.sample_latents(12, "uniform"), pairs=4))
    assert "latent_within" not in metrics["paths"] and {r[0] for r in next(iter(tables.values()))} == {"latent",
                                                                                                       "direct"}


def test_a_trained_mixture_g_keeps_its_components_through_the_checkpoint_and_the_api(tmp_path):
    """The lever end to end: training with K = 2 stores it, the loaded G draws both components, and G maps the
    two components to different nets (the component axis reaches θ)."""
    config = TrainConfig(steps=4, nets_per_step=4, images_per_net=8, eval_every=4, eval_nets=2, limit_train=200,
                         latent_dim=8, latent_components=2, diversity="weights")
    train(config, MNIST, tmp_path / "g", "cpu", log=lambda message: None)
    model, stored = load_hypernetwork(tmp_path / "g" / "hypernet.pt")
    assert stored.latent_components == 2 and model.latent_components == 2
    sample = api.load(tmp_path / "g").sample(40, seed=0)
    which = latent_components_of(sample.latents, 2)
    assert 0 < which.sum() < 40
    z = sample.latents[:1].clone()
    z_other = z.clone()
    z_other[0, :2] = z[0, :2].flip(0)  # the other component: its first two axes swapped
    with torch.no_grad():
        assert not torch.allclose(model(z), model(z_other))
