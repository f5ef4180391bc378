"""Weight matching and the controls that can fail, on random nets whose answers are known."""

import itertools

import pytest
import torch

from hyperman.alignment import (align, align_for_path, alignment_control, l1_distance, random_direction_control,
                                random_directions, weight_matching)
from hyperman.evaluation import Forward
from hyperman.symmetry import gauge_fix, permute_units, random_symmetry
from hyperman.targets import Layer, Target, get_target

TARGET = get_target("mnist_cnn")
CPU = torch.device("cpu")


def nets(count: int, seed: int = 0) -> torch.Tensor:
    return TARGET.init(count, torch.Generator().manual_seed(seed))


def images(count: int = 64, seed: int = 1) -> torch.Tensor:
    return torch.rand(count, *TARGET.input_shape, generator=torch.Generator().manual_seed(seed))


def random_perms(target: Target, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randperm(layer.units, generator=generator) for layer in target.hidden_layers]


def test_a_permuted_copy_aligns_back_to_distance_zero_and_the_same_function():
    theta = nets(1)[0]
    copy = permute_units(TARGET, theta[None], random_perms(TARGET, 3))[0]
    result = align(TARGET, theta, copy, gauge=False)
    assert result.distance_before > 100 and result.distance_after == 0.0
    assert torch.equal(result.theta, theta)  # a permutation moves numbers, it does not round them
    x = images()
    torch.testing.assert_close(TARGET.forward(result.theta[None], x), TARGET.forward(copy[None], x))


def test_a_rescaled_shifted_permuted_copy_aligns_back_in_the_gauge():
    theta = nets(1, seed=5)[0]
    copy = random_symmetry(TARGET, theta, 1, torch.Generator().manual_seed(7))[0]
    result = align(TARGET, theta, copy, gauge=True)
    # float32 rounding of the rescaled copy: ~1e-8 per weight; one mismatched unit would add more than 10
    assert result.distance_before > 100 and result.distance_after < 1e-6 * TARGET.num_params
    x = images()
    torch.testing.assert_close(TARGET.forward(result.theta[None], x), TARGET.forward(copy[None], x))


def test_weight_matching_finds_the_brute_force_optimum_of_one_hidden_layer():
    tiny = Target("tiny", (1, 2, 2), (Layer("linear", 4, 5), Layer("linear", 5, 3)))
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(tiny.num_params, generator=generator), torch.randn(tiny.num_params, generator=generator)

    def inner(perm):
        permuted = permute_units(tiny, b[None], [torch.tensor(perm)])[0]
        return float(a.double() @ permuted.double())

    best = max(itertools.permutations(range(5)), key=inner)
    perms, _ = weight_matching(tiny, a, b)
    assert perms[0].tolist() == list(best)


def test_independent_nets_get_closer_but_not_identical():
    a, b = nets(2, seed=11)
    result = align(TARGET, a, b)
    assert 0.5 * result.distance_before < result.distance_after < result.distance_before
    assert result.distance_after == pytest.approx(float(l1_distance(TARGET, a, result.theta)))


def test_alignment_control_separates_permutations_from_real_differences():
    reference = nets(1, seed=2)[0]
    copies = torch.stack([permute_units(TARGET, reference[None], random_perms(TARGET, s))[0] for s in range(3)])
    x = images()
    probs = Forward(TARGET, "auto", CPU).probs(torch.cat([reference[None], copies, nets(2, seed=9)]), x)
    predictions = probs.argmax(-1)
    same = alignment_control(TARGET, reference, copies, predictions[1:4], predictions[0], gauge=False)
    assert same["distance_after"] == [0.0, 0.0, 0.0] and same["disagreement"] == [0.0, 0.0, 0.0]
    assert same["distance_before_mean"] > 100 and same["nn_l1_after_mean"] == 0.0
    other = alignment_control(TARGET, reference, nets(2, seed=9), predictions[4:], predictions[0])
    expected = (predictions[4:] != predictions[0]).double().mean(-1)
    assert other["disagreement"] == expected.tolist() and other["residual_fraction"] > 0.5


def test_random_directions_have_the_differences_per_layer_l1_size():
    delta = torch.randn(TARGET.num_params, generator=torch.Generator().manual_seed(0)).double()
    a, b = TARGET.offsets()[1]
    delta[a:b] = 0  # a layer that did not move must not move
    moved = random_directions(TARGET, delta, 3, torch.Generator().manual_seed(1))
    for start, stop in TARGET.offsets():
        torch.testing.assert_close(moved[:, start:stop].abs().sum(-1), delta[start:stop].abs().sum().expand(3))
    assert not moved[:, a:b].any() and not torch.equal(moved[0], moved[1])


def test_random_direction_control_counts_changed_predictions():
    base = nets(3, seed=4)
    thetas = torch.stack([base[0], base[0], base[1], base[2]])  # net 0's nearest neighbour is itself
    forward, x = Forward(TARGET, "auto", CPU), images(128)
    result = random_direction_control(forward, thetas, x, nets=4, directions=2, generator=torch.Generator())
    assert result["neighbour_changed"][:2] == [0.0, 0.0] and result["random_changed"][:2] == [0.0, 0.0]
    predictions = forward.probs(thetas, x).argmax(-1)
    fixed = gauge_fix(TARGET, thetas.double())
    nearest = torch.cdist(fixed, fixed, p=1.0).fill_diagonal_(float("inf"))[2].argmin()
    expected = float((predictions[nearest] != predictions[2]).double().mean())
    assert result["neighbour_changed"][2] == pytest.approx(expected)
    assert result["random_changed"][2] > 0  # a full-size random step moves a random net's predictions


def test_aligned_path_ends_compute_the_same_functions():
    a, b = nets(2, seed=8)
    copy = permute_units(TARGET, a[None], random_perms(TARGET, 1))[0]
    end_a, end_b = align_for_path(TARGET, a, copy)
    assert torch.equal(end_a, a) and torch.equal(end_b, a)  # a permuted copy: the path is one point
    _, aligned = align_for_path(TARGET, a, b)
    x = images()
    torch.testing.assert_close(TARGET.forward(aligned[None], x), TARGET.forward(b[None], x))


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="20018 weights"):
        weight_matching(TARGET, torch.zeros(5), torch.zeros(5))
