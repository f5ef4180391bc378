"""Known answers for the training side: the entropy estimator off the data's dimension and the direction of its
gradient, the scale of the weights a fresh hypernetwork generates, and the validation figures of the log."""

import math

import pytest
import torch

from hyperman.entropy import kl_entropy, nearest_neighbour_distances
from hyperman.hypernetwork import HyperNetwork
from hyperman.symmetry import gauge_fix
from hyperman.targets import get_target
from hyperman.config import TrainConfig
from hyperman.training import validate

from test_evaluation_parts import TINY


# --------------------------------------------------------------------------- entropy
@pytest.mark.parametrize("distance, log_ball", [("l1", 3 * math.log(2) - math.log(6)),  # 2^d / d!
                                                ("l2", 1.5 * math.log(math.pi) - math.lgamma(2.5))],  # π^{d/2}/Γ(d/2+1)
                         ids=["l1", "l2"])
def test_entropy_with_a_dimension_other_than_the_data_by_hand(distance, log_ball):
    """Five points 2 apart on a line in 7 dimensions, estimated as if on a 3-dimensional manifold (as training
    does with d = dim(z)): every nearest-neighbour distance is 2, so Ĥ = 3·log 2 + log V_3 + ψ(5) − ψ(1), and
    ψ(5) − ψ(1) is the harmonic number 1 + 1/2 + 1/3 + 1/4. Then unequal distances, and the scaling law."""
    x = torch.zeros(5, 7, dtype=torch.float64)
    x[:, 2] = 2 * torch.arange(5)
    expected = 3 * math.log(2) + log_ball + (1 + 1 / 2 + 1 / 3 + 1 / 4)
    assert kl_entropy(x, dim=3, distance=distance).item() == pytest.approx(expected, abs=1e-5)  # float32 inside
    # four points at 0, 1, 3, 7: nearest-neighbour distances 1, 1, 2, 4, so mean log ρ = (3/4)·log 2
    x = torch.zeros(4, 7, dtype=torch.float64)
    x[:, 2] = torch.tensor([0.0, 1.0, 3.0, 7.0])
    expected = 3 * 0.75 * math.log(2) + log_ball + (1 + 1 / 2 + 1 / 3)
    assert kl_entropy(x, dim=3, distance=distance).item() == pytest.approx(expected, abs=1e-5)
    # scaling the samples by c adds dim · log c, whatever the data's own dimension
    g = torch.Generator().manual_seed(0)
    y = torch.randn(50, 40, generator=g, dtype=torch.float64)
    gap = kl_entropy(2.5 * y, dim=3, distance=distance) - kl_entropy(y, dim=3, distance=distance)
    assert gap.item() == pytest.approx(3 * math.log(2.5), abs=1e-5)


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_entropy_gradient_ascent_pushes_every_net_away_from_its_nearest_neighbour(distance):
    """Training maximises the estimate; one small ascent step must increase every nearest-neighbour distance
    of a toy set of 8 'nets' of 30 weights (pairs of close nets, the case the entropy term exists for)."""
    g = torch.Generator().manual_seed(1)
    centres = 4 * torch.randn(4, 30, generator=g, dtype=torch.float64)
    x = (centres.repeat_interleave(2, 0) + 0.3 * torch.randn(8, 30, generator=g, dtype=torch.float64))
    x.requires_grad_(True)
    grad, = torch.autograd.grad(kl_entropy(x, dim=5, distance=distance), x)
    before = nearest_neighbour_distances(x.detach(), distance)
    after = nearest_neighbour_distances(x.detach() + 1e-3 * grad, distance)
    assert (after > before).all(), (before, after)
    # and the estimate rises as the gradient predicts to first order: Ĥ(x + ε∇Ĥ) − Ĥ(x) ≈ ε|∇Ĥ|² (here 0.01)
    step = 0.01 / grad.pow(2).sum()
    rise = kl_entropy(x.detach() + step * grad, dim=5, distance=distance) - kl_entropy(x.detach(), dim=5,
                                                                                       distance=distance)
    assert rise.item() == pytest.approx(0.01, rel=0.05)


# --------------------------------------------------------------------------- generated weights at initialisation
def test_fresh_hypernetwork_generates_weights_at_the_he_scale():
    """ScaledLinear is built so that G's first weights have the He std √(2/fan_in) in every layer of the target
    (fan-ins 25, 800, 784 and 8 for mnist_cnn). Measured as the RMS over 64 nets, within 10 % (it is within 4 %)."""
    target = get_target("mnist_cnn")
    assert [layer.fan_in for layer in target.layers] == [25, 800, 784, 8]
    torch.manual_seed(0)
    model = HyperNetwork(target, latent_dim=32, norm="layer").eval()
    with torch.no_grad():
        theta = model(model.sample_latents(64, generator=torch.Generator().manual_seed(2)))
    for layer, rows in zip(target.layers, target.rows(theta)):
        he = math.sqrt(2 / layer.fan_in)
        rms = rows.pow(2).mean().sqrt().item()
        assert rms == pytest.approx(he, rel=0.1), (layer, rms, he)


# --------------------------------------------------------------------------- the training log's validation figures
def test_validation_figures_match_a_direct_computation():
    """training.validate's member and ensemble accuracies and Ĥ (written to train_log.jsonl every eval_every
    steps) against the same nets run by hand, on 300 images (two chunks of 256); the labels are the first
    net's predictions, so its accuracy, the maximum, is exactly 1."""
    torch.manual_seed(1)
    model = HyperNetwork(TINY, latent_dim=4, code_dim=3, norm="layer")
    config = TrainConfig(latent_dim=4, precision="fp32")
    with torch.no_grad():
        theta = model.eval()(model.sample_latents(5, generator=torch.Generator().manual_seed(3)))
    x = 3 * torch.randn(300, *TINY.input_shape, generator=torch.Generator().manual_seed(4))
    probs = TINY.forward(theta, x).softmax(-1)
    y = probs[0].argmax(-1)
    member = (probs.argmax(-1) == y).double().mean(1)
    assert member.max() == 1.0 and member.min() < 0.8  # the nets differ
    model.train()
    result = validate(model, x, y, 5, config, "loop", torch.Generator().manual_seed(3))
    assert model.training  # validate restores the mode it found
    assert result["val_acc_max"] == 1.0
    assert result["val_acc_min"] == pytest.approx(float(member.min()), abs=1e-6)
    assert result["val_acc_mean"] == pytest.approx(float(member.mean()), abs=1e-6)
    ensemble = (probs.mean(0).argmax(-1) == y).double().mean()
    assert result["val_ensemble_acc"] == pytest.approx(float(ensemble), abs=1e-6)
    assert result["val_entropy"] == pytest.approx(kl_entropy(gauge_fix(TINY, theta), dim=4).item(), abs=1e-4)
