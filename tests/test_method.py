"""Property tests of the method's building blocks on tiny CPU problems."""

import math

import pytest
import torch

from hyperman.entropy import kl_entropy
from hyperman.hypernetwork import HyperNetwork, count_parameters
from hyperman.symmetry import gauge_fix, permute_units, random_symmetry, scale_units, shift_output_bias
from hyperman.targets import TARGETS, get_target

torch.set_default_dtype(torch.float32)


@pytest.fixture(params=sorted(TARGETS))
def target(request):
    """Every registered target: a new one must pass the forward, symmetry and hypernetwork properties."""
    return TARGETS[request.param]


def _images(target, *shape, seed=0):
    return torch.rand(*shape, *target.input_shape, generator=torch.Generator().manual_seed(seed))


def test_mnist_cnn_has_the_reference_parameter_count():
    # conv1 32·(25+1) + conv2 16·(800+1) + fc3 8·(784+1) + out 10·(8+1)
    assert get_target("mnist_cnn").num_params == 32 * 26 + 16 * 801 + 8 * 785 + 10 * 9 == 20018


def test_unknown_target_is_named():
    with pytest.raises(ValueError, match="registered targets: mnist_cnn"):
        get_target("resnet")


@pytest.mark.parametrize("method", ["loop", "channels_last", "grouped"])
def test_batched_forward_matches_a_per_net_loop(target, method):
    theta = target.init(3, torch.Generator().manual_seed(1))
    shared, separate = _images(target, 5), _images(target, 3, 5, seed=2)
    for x in (shared, separate):
        batched = target.forward(theta, x, method)
        for p in range(3):
            single = target.forward(theta[p:p + 1], x if x.dim() == 4 else x[p:p + 1], "loop")[0]
            torch.testing.assert_close(batched[p], single, atol=1e-5, rtol=1e-4)
    assert batched.shape == (3, 5, target.num_classes)


def _torch_module(name: str) -> torch.nn.Sequential:
    """The nn.Sequential each registered CNN stands for, written out by hand (SAME padding: kernel // 2)."""
    nn = torch.nn
    if name == "mnist_cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(784, 8), nn.ReLU(), nn.Linear(8, 10))
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # lenet5
                         nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(784, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


@pytest.mark.parametrize("name", ["mnist_cnn", "lenet5"])
def test_forward_matches_torch_modules(name):
    """The flat unit-major layout computes what the equivalent nn.Sequential computes, with as many weights."""
    target, net = get_target(name), _torch_module(name)
    assert target.num_params == sum(p.numel() for p in net.parameters())
    theta = target.init(1, torch.Generator().manual_seed(3))
    rows = target.rows(theta)
    modules = [m for m in net if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        for module, r in zip(modules, rows):
            module.weight.copy_(r[0, :, :-1].reshape(module.weight.shape))
            module.bias.copy_(r[0, :, -1])
    x = _images(target, 4)
    torch.testing.assert_close(target.forward(theta, x)[0], net(x), atol=1e-5, rtol=1e-4)


def test_lenet5_is_the_reference_size():
    # conv1 6·(25+1) + conv2 16·(150+1) + fc 120·(784+1) + fc 84·(120+1) + out 10·(84+1); 4.5× cheaper than mnist_cnn
    assert get_target("lenet5").num_params == 6 * 26 + 16 * 151 + 120 * 785 + 84 * 121 + 10 * 85 == 107_786
    assert get_target("lenet5").flops_per_image() == 1_386_000


def _transformed(target, theta, seed):
    g = torch.Generator().manual_seed(seed)
    return random_symmetry(target, theta[0], 4, g)


def test_random_symmetries_preserve_outputs(target):
    theta = target.init(1, torch.Generator().manual_seed(4))
    copies = _transformed(target, theta, 5)
    assert not torch.allclose(copies[0], theta[0])  # they really move the weights
    x = _images(target, 6)
    reference = target.forward(theta, x).softmax(-1)[0]
    for probs in target.forward(copies, x).softmax(-1):
        torch.testing.assert_close(probs, reference, atol=1e-5, rtol=0)


def test_gauge_fixing_preserves_outputs_and_normalises_units(target):
    theta = target.init(2, torch.Generator().manual_seed(6)) * 3
    fixed = gauge_fix(target, theta)
    x = _images(target, 6)
    torch.testing.assert_close(target.forward(fixed, x).softmax(-1), target.forward(theta, x).softmax(-1),
                               atol=1e-5, rtol=0)
    rows = target.rows(fixed)
    for r in rows[:-1]:
        torch.testing.assert_close(r.pow(2).mean(-1).sqrt(), torch.ones(r.shape[:2]), atol=1e-4, rtol=1e-4)
    assert rows[-1][..., -1].mean(dim=1).abs().max() < 1e-6


def test_gauge_removes_scaling_and_shift(target):
    theta = target.init(2, torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(8)
    factors = [torch.exp(torch.randn(2, layer.units, generator=g)) for layer in target.hidden_layers]
    moved = shift_output_bias(target, scale_units(target, theta, factors), torch.tensor([1.5, -0.7]))
    torch.testing.assert_close(gauge_fix(target, moved), gauge_fix(target, theta), atol=1e-5, rtol=1e-4)


def test_gauge_does_not_remove_permutations():
    """Permutations are left alone, as in the paper: they change the gauge-fixed vector."""
    target = get_target("mnist_cnn")
    theta = target.init(1, torch.Generator().manual_seed(9))
    perms = [torch.randperm(layer.units, generator=torch.Generator().manual_seed(10)) for layer in target.hidden_layers]
    assert not torch.allclose(gauge_fix(target, permute_units(target, theta, perms)), gauge_fix(target, theta))


def test_gauge_fixing_is_differentiable():
    target = get_target("mnist_cnn")
    theta = target.init(3, torch.Generator().manual_seed(11)).requires_grad_()
    (gauge_fix(target, theta) * torch.randn(3, target.num_params)).sum().backward()
    assert theta.grad is not None and torch.isfinite(theta.grad).all() and theta.grad.abs().sum() > 0


# ------------------------------------------------------------------ entropy
@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_entropy_of_a_gaussian_matches_the_closed_form(distance):
    # N(0, σ²I) in d dims: H = d/2 · log(2πe σ²). Tolerance 0.15 nats for N=4000, d=3.
    d, sigma = 3, 0.7
    x = torch.randn(4000, d, generator=torch.Generator().manual_seed(12), dtype=torch.float64) * sigma
    exact = d / 2 * math.log(2 * math.pi * math.e * sigma ** 2)
    assert abs(kl_entropy(x, distance=distance).item() - exact) < 0.15


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_entropy_of_a_uniform_box_matches_the_closed_form(distance):
    # U([0, a1] × [0, a2]): H = log(a1 · a2). Boundary effects bias KL slightly upward; 0.1 nats.
    g = torch.Generator().manual_seed(13)
    x = torch.rand(4000, 2, generator=g, dtype=torch.float64) * torch.tensor([2.0, 0.5], dtype=torch.float64)
    assert abs(kl_entropy(x, distance=distance).item() - math.log(1.0)) < 0.1


def test_entropy_grows_with_spread_by_d_log_scale():
    x = torch.randn(200, 5, generator=torch.Generator().manual_seed(14), dtype=torch.float64)
    gap = kl_entropy(3 * x, dim=5) - kl_entropy(x, dim=5)
    assert abs(gap.item() - 5 * math.log(3)) < 1e-6


# ------------------------------------------------------------------ hypernetwork
def test_hypernetwork_parameter_count_for_mnist_cnn():
    """DESIGN.md's sizes, with BatchNorm (2 params per unit) after every hidden activation:
    extractor 300→300→300→855, generators 15→40→40→26, 15→100→100→801, 15→100→100→785, 15→60→60→90."""
    def mlp(sizes):
        linear = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        return linear + sum(2 * h for h in sizes[1:-1])
    expected = (mlp([300, 300, 300, 855]) + mlp([15, 40, 40, 26]) + mlp([15, 100, 100, 801])
                + mlp([15, 100, 100, 785]) + mlp([15, 60, 60, 90]))
    model = HyperNetwork(get_target("mnist_cnn"))
    assert count_parameters(model) == expected == 637_397  # DESIGN.md: "≈ 634k"
    widths = [g[0].out_features for g in model.generators]
    assert widths == [40, 100, 100, 60]


def test_hypernetwork_generates_valid_target_weights(target):
    model = HyperNetwork(target, latent_dim=16)
    theta = model(torch.rand(4, 16) * 2 - 1)
    assert theta.shape == (4, target.num_params)
    assert target.forward(theta, _images(target, 2)).shape == (4, 2, target.num_classes)


def test_layer_norm_has_the_same_size_and_no_batch_norm_has_fewer():
    target = get_target("mnist_cnn")
    assert count_parameters(HyperNetwork(target, norm="layer")) == 637_397
    norm_params = 2 * (300 + 300) + sum(2 * 2 * w for w in (40, 100, 100, 60))  # weight + bias per normalised feature
    assert count_parameters(HyperNetwork(target, norm="none")) == 637_397 - norm_params
    with pytest.raises(ValueError, match="unknown normalisation 'group'"):
        HyperNetwork(target, norm="group")


def test_with_layer_norm_a_net_does_not_depend_on_its_batch():
    """Why `norm: layer`: with BatchNorm, G trains on batch statistics and samples with running ones, so
    G(z) while training differs from G(z) when sampling; with LayerNorm it is one function."""
    torch.manual_seed(0)
    z = torch.rand(16, 32) * 2 - 1
    for norm, same in (("layer", True), ("batch", False)):
        model = HyperNetwork(get_target("mnist_cnn"), latent_dim=32, norm=norm)
        with torch.no_grad():
            model.train()
            in_training = model(z)[:1]
            model.eval()
            sampled = model(z[:1])
        assert torch.allclose(in_training, sampled, atol=1e-5) == same, norm
