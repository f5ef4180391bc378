"""Random translations: each image moves by its own seeded offset and nothing else changes."""

import torch
import torch.nn.functional as F

from hyperman.augment import random_shift


def test_each_image_is_its_padded_crop_at_a_seeded_offset():
    x = torch.rand(3, 4, 1, 28, 28)
    shifted = random_shift(x, 2, torch.Generator().manual_seed(0))
    offsets = torch.randint(0, 5, (2, 12), generator=torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape
    for i, (image, out) in enumerate(zip(x.reshape(12, 1, 28, 28), shifted.reshape(12, 1, 28, 28))):
        r, c = offsets[:, i].tolist()
        assert torch.equal(out, F.pad(image, (2, 2, 2, 2))[:, r:r + 28, c:c + 28])


def test_a_digit_with_an_empty_border_is_moved_whole():
    """MNIST digits keep ≥ 2 empty pixels at the border: a shift of ≤ 2 loses no ink."""
    x = torch.zeros(50, 1, 28, 28)
    x[:, :, 2:26, 2:26] = torch.rand(50, 1, 24, 24) + 0.1
    shifted = random_shift(x, 2, torch.Generator().manual_seed(3))
    torch.testing.assert_close(shifted.sum((1, 2, 3)), x.sum((1, 2, 3)))
    moved = [not torch.equal(a, b) for a, b in zip(x, shifted)]
    assert 30 < sum(moved) < 50  # 1 in 25 offsets is (0, 0)


def test_zero_shift_is_the_identity_and_draws_nothing():
    x, generator = torch.rand(5, 1, 8, 8), torch.Generator().manual_seed(1)
    state = generator.get_state()
    assert random_shift(x, 0, generator) is x
    assert torch.equal(generator.get_state(), state)


def test_multichannel_images_move_all_channels_together():
    x = torch.rand(6, 3, 10, 10)
    shifted = random_shift(x, 1, torch.Generator().manual_seed(2))
    for image, out in zip(x, shifted):
        hits = [(r, c) for r in range(3) for c in range(3)
                if torch.equal(out, F.pad(image, (1, 1, 1, 1))[:, r:r + 10, c:c + 10])]
        assert hits
