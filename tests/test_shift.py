"""The distribution-shift benchmark: transforms with known results and the benchmark on classifiers whose
scores under shift are known."""

import math

import pytest
import torch

from hyperman import distribution_shift as shift, metrics
from hyperman.data import load_dataset

from conftest import MNIST


@pytest.fixture(scope="module")
def mnist_test() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_dataset(MNIST, limit_train=10, limit_test=300)
    return torch.from_numpy(data.test_x), torch.from_numpy(data.test_y)


def test_rotation_by_known_angles(mnist_test):
    x = mnist_test[0][:20]
    assert torch.equal(shift.rotate(x, 0), x)
    assert torch.equal(shift.rotate(x, 90), torch.rot90(x, 1, dims=(-2, -1)))  # counter-clockwise
    assert torch.equal(shift.rotate(shift.rotate(x, 180), 180), x)
    tilted = shift.rotate(x, 45)
    assert not torch.equal(tilted, x) and tilted.min() >= 0 and tilted.max() <= 1


def test_translation_moves_pixels_right_and_fills_zero():
    x = torch.rand(3, 1, 6, 8)
    moved = shift.translate(x, 3)
    assert torch.equal(moved[..., 3:], x[..., :5]) and torch.equal(moved[..., :3], torch.zeros(3, 1, 6, 3))
    assert torch.equal(shift.translate(x, 0), x)
    with pytest.raises(ValueError, match="whole"):
        shift.translate(x, 1.5)


def test_gaussian_noise_has_its_sigma_is_seeded_and_sigma_zero_is_identity(mnist_test):
    x = mnist_test[0]
    assert torch.equal(shift.gaussian_noise(x, 0.0, seed=0), x)
    grey = torch.full((50, 1, 28, 28), 0.5)  # 5 σ from the clipping bounds: the noise passes unclipped
    assert (shift.gaussian_noise(grey, 0.1, seed=1) - grey).std().item() == pytest.approx(0.1, rel=0.02)
    assert torch.equal(shift.gaussian_noise(x, 0.3, seed=2), shift.gaussian_noise(x, 0.3, seed=2))
    assert not torch.equal(shift.gaussian_noise(x, 0.3, seed=2), shift.gaussian_noise(x, 0.3, seed=3))
    noisy = shift.gaussian_noise(x, 0.6, seed=2)
    assert noisy.min() == 0 and noisy.max() == 1  # clipped to the images' range, and both bounds are hit


def test_unknown_family_is_refused(mnist_test):
    with pytest.raises(ValueError, match="unknown shift family 'blurr'"):
        shift.shift_images(mnist_test[0], "blurr", 1.0)


def test_constant_classifier_scores_the_same_at_every_intensity(mnist_test):
    x, y = mnist_test
    members = torch.tensor([[0.7] + [0.3 / 9] * 9, [0.1] * 10])  # two members that ignore the image

    def constant(images: torch.Tensor) -> torch.Tensor:
        return members[:, None, :].expand(2, len(images), 10)

    families = {"rotation": (0.0, 90.0), "gaussian_noise": (0.0, 0.5)}
    result = shift.shift_benchmark({"constant": constant}, x, y, families=families)
    zeros = (y == 0).double().mean().item()  # member 0 predicts class 0, member 1 (all tied) too
    member_nll = (-(y == 0).double() * math.log(0.7) - (y != 0).double() * math.log(0.3 / 9)).mean().item() / 2 \
        + math.log(10) / 2
    ensemble = members.double().mean(0)  # (0.4, 0.2/3 …): class 0 again
    ensemble_nll = (-(y == 0).double() * math.log(0.4) - (y != 0).double() * math.log(0.6 / 9)).mean().item()
    for family in families:
        curves, mean = result[family]["models"]["constant"], result[family]["mean"]["constant"]
        assert curves["member"]["accuracy"] == pytest.approx([zeros] * 2)
        assert curves["member"]["nll"] == pytest.approx([member_nll] * 2)
        # one confidence per member, hence one bin: ECE = |accuracy − confidence|
        assert curves["member"]["ece"] == pytest.approx([(abs(zeros - 0.7) + abs(zeros - 0.1)) / 2] * 2)
        assert curves["ensemble"]["accuracy"] == pytest.approx([zeros] * 2)
        assert curves["ensemble"]["nll"] == pytest.approx([ensemble_nll] * 2)
        assert curves["ensemble"]["ece"] == pytest.approx([abs(zeros - ensemble[0].item())] * 2)
        assert mean["ensemble"]["nll"] == pytest.approx(ensemble_nll)


def test_a_rotation_sensitive_classifier_fails_exactly_at_180_degrees(mnist_test):
    # "class 1 when the top half holds more ink": labelled by its own clean predictions, so it is right
    # on every clean image and wrong on every image turned upside down
    x = mnist_test[0]

    def top_heavy(images: torch.Tensor) -> torch.Tensor:
        top, bottom = images[..., :14, :].sum((1, 2, 3)), images[..., 14:, :].sum((1, 2, 3))
        return torch.nn.functional.one_hot((top > bottom).long(), 2).double()[None]

    y = top_heavy(x)[0].argmax(-1)
    result = shift.shift_benchmark({"top": top_heavy}, x, y, families={"rotation": (0.0, 180.0)})
    assert result["rotation"]["models"]["top"]["ensemble"]["accuracy"] == [1.0, 0.0]
    assert result["rotation"]["mean"]["top"]["member"]["accuracy"] == 0.5
    # a wrong prediction with probability 1 costs the NLL floor
    assert result["rotation"]["models"]["top"]["member"]["nll"][1] == pytest.approx(-math.log(metrics.NLL_FLOOR))


def test_shift_rows_flatten_the_result(mnist_test):
    x, y = mnist_test

    def uniform(images: torch.Tensor) -> torch.Tensor:
        return torch.full((1, len(images), 10), 0.1)

    result = shift.shift_benchmark({"a": uniform, "b": uniform}, x, y,
                                   families={"translation": (0.0, 2.0, 4.0)})
    rows = shift.shift_rows(result)
    assert len(rows) == 2 * 2 * (3 + 1)  # models × kinds × (intensities + mean)
    zeros = (y == 0).double().mean().item()  # uniform probabilities: arg-max class 0, confidence 0.1
    assert rows[3] == ["translation", "mean", "a", "member", pytest.approx(zeros), pytest.approx(math.log(10)),
                       pytest.approx(abs(zeros - 0.1))]
    with pytest.raises(ValueError, match="probabilities"):
        shift.shift_benchmark({"bad": lambda images: torch.full((len(images), 10), 0.1)}, x, y)
