"""Known answers for the parts of `hyperman evaluate`: each figure it writes is checked here on a case whose
answer is known (hand-computed, or an independent reference computation), so that the end-to-end test in
test_evaluate.py can stay a smoke test. Tiny nets and CPU only: every test runs in about a second."""

import math

import pytest
import torch

from hyperman import metrics
from hyperman.distillation import evaluate_probs
from hyperman.evaluation import ood_sets
from hyperman.evaluation import (Forward, diversity, direct_path, ensemble_scores, fgsm_flip_rates, ood_scores,
                                 path_scores, reliability_rows)
from hyperman.hypernetwork import HyperNetwork
from hyperman.symmetry import gauge_fix, scale_units, shift_output_bias
from hyperman.targets import Layer, Target

# conv 1→3 (3×3, pool 2) on 4×4 images, then 12 → 5 → 3: 87 weights, enough for every code path
TINY = Target("tiny", (1, 4, 4), (Layer("conv", 1, 3, 3, pool=2), Layer("linear", 12, 5), Layer("linear", 5, 3)))
CPU = torch.device("cpu")


def _nets(count: int, seed: int) -> torch.Tensor:
    return TINY.init(count, torch.Generator().manual_seed(seed)) * 3  # ×3: confident, unlike a fresh init


def _images(count: int, seed: int) -> torch.Tensor:
    """Pixels in [0.2, 0.8]: a step of ±0.1 is never clipped to [0, 1]."""
    return 0.2 + 0.6 * torch.rand(count, *TINY.input_shape, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- FGSM
class _Spy(Forward):
    """Records every image batch handed to probs(): fgsm_flip_rates scores x + ε·sign(∇) with it."""

    def __init__(self, *args):
        super().__init__(*args)
        self.seen: list[torch.Tensor] = []

    def probs(self, theta, x, out=None):
        self.seen.append(x.detach().clone())
        return super().probs(theta, x, out)


def _reference_sign(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """sign ∇_x of the summed cross-entropy of the mean-probability ensemble, by plain autograd."""
    x = x.clone().requires_grad_(True)
    mean = TINY.forward(theta.double(), x.double(), "loop").softmax(-1).mean(0)
    loss = -torch.log(mean.gather(-1, y[:, None])).sum()
    return torch.autograd.grad(loss, x)[0].sign()


@pytest.mark.parametrize("nets", [1, 3])
def test_fgsm_steps_along_the_sign_of_the_ensemble_loss_gradient(nets):
    # three nets of very different confidence: an unweighted sum of the members' gradients points elsewhere
    theta = _nets(nets, 1) * torch.tensor([1.0, 4.0, 0.3])[:nets, None]
    x = _images(7, 2)
    # the labels of the most confident net: it is right everywhere and the weights w_m = p_m,y / Σ p_m,y favour it
    # on every image, whereas a sum over members (or weights normalised over images) lets the wrong nets dominate
    y = TINY.forward(theta[nets // 2:nets // 2 + 1], x)[0].argmax(-1)
    forward = _Spy(TINY, "loop", CPU)
    forward.images, forward.nets = 3, 2  # several chunks of images and of nets
    eps = 0.1
    result = fgsm_flip_rates(forward, theta, x, y, [eps])
    step = (forward.seen[-1] - x) / eps  # the perturbed batch scored for ε = 0.1
    expected = _reference_sign(theta, x, y)
    assert (expected != 0).float().mean() > 0.9  # the comparison is about signs that exist
    torch.testing.assert_close(step, expected.float(), atol=1e-4, rtol=0)
    assert result["nets"] == nets and result["images"] == 7


def test_fgsm_flip_rate_counts_only_images_the_vote_had_right():
    theta, x = _nets(3, 3), _images(20, 4)
    clean = metrics.majority_vote(TINY.forward(theta, x).softmax(-1))
    y = clean.clone()
    y[:5] = (y[:5] + 1) % 3  # 15 right, 5 wrong before any attack
    result = fgsm_flip_rates(Forward(TINY, "loop", CPU), theta, x, y, [0.0, 0.1])
    assert result["correct"] == 15
    assert result["per_eps"][0] == {"eps": 0.0, "flipped": 0, "flip_rate": 0.0}  # ε = 0 changes nothing
    adv = (x + 0.1 * _reference_sign(theta, x, y).float()).clamp(0, 1)
    after = metrics.majority_vote(TINY.forward(theta, adv).softmax(-1))
    flipped = int(((clean == y) & (after != y)).sum())
    assert result["per_eps"][1]["flipped"] == flipped and result["per_eps"][1]["flip_rate"] == flipped / 15


# --------------------------------------------------------------------------- ensembles
# three members, three examples, two classes; labels 0, 1, 0
MEMBERS = torch.tensor([[[0.9, 0.1], [0.6, 0.4], [0.05, 0.95]],
                        [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]],
                        [[0.25, 0.75], [0.2, 0.8], [0.6, 0.4]]])
LABELS = torch.tensor([0, 1, 0])


def test_ensemble_scores_by_hand():
    scores = ensemble_scores(MEMBERS, LABELS, torch.arange(3))
    # mean probabilities (0.65, 0.35) ✓, (11/30, 19/30) ✓, (5/12, 7/12) ✗: confidences 0.65 and 0.633 share the
    # bin (9/15, 10/15], 0.583 is alone in (8/15, 9/15]
    mean = scores["mean_prob"]
    assert mean["accuracy"] == pytest.approx(2 / 3)
    assert mean["nll"] == pytest.approx(-(math.log(0.65) + math.log(19 / 30) + math.log(5 / 12)) / 3)
    assert mean["ece"] == pytest.approx(2 / 3 * (1 - (0.65 + 19 / 30) / 2) + 1 / 3 * 7 / 12)
    # votes 2:1 for class 0, 1:2 → class 1, 2:1 for class 0: all right although the mean gets the third wrong;
    # the vote fractions give the true class 2/3 everywhere, with confidence 2/3 and accuracy 1
    vote = scores["majority_vote"]
    assert vote["accuracy"] == 1.0
    assert vote["nll"] == pytest.approx(math.log(3 / 2))
    assert vote["ece"] == pytest.approx(1 / 3)
    # members 1 and 2 only: means (0.525, 0.475), (0.25, 0.75), (0.6, 0.4) are all right; the 1:1 tie on the
    # first example goes to the larger mean probability, class 0
    subset = ensemble_scores(MEMBERS, LABELS, torch.tensor([1, 2]))
    assert subset["mean_prob"]["accuracy"] == 1.0 and subset["majority_vote"]["accuracy"] == 1.0
    assert subset["mean_prob"]["nll"] == pytest.approx(-(math.log(0.525) + math.log(0.75) + math.log(0.6)) / 3)
    assert subset["majority_vote"]["nll"] == pytest.approx(-(math.log(0.5) + 0 + 0) / 3)


@pytest.mark.parametrize("members", [4, 130])  # 4: many tied votes; 130: more than one chunk of 64 members
def test_ensemble_majority_vote_is_metrics_majority_vote(members):
    g = torch.Generator().manual_seed(members)
    probs = torch.softmax(2 * torch.randn(members + 3, 400, 3, generator=g), -1)
    index = torch.randperm(members + 3, generator=g)[:members]
    reference = metrics.majority_vote(probs[index])
    if members == 4:  # the tie-break is exercised: many examples have two classes with the most votes
        top2 = metrics.vote_counts(probs[index]).sort(-1).values[:, -2:]
        assert (top2[:, 0] == top2[:, 1]).sum() > 50
    # scored against the reference's own votes, the vote is right everywhere; against any other labels it is not
    assert ensemble_scores(probs, reference, index)["majority_vote"]["accuracy"] == 1.0
    shifted = reference.clone()
    shifted[0] = (shifted[0] + 1) % 3
    assert ensemble_scores(probs, shifted, index)["majority_vote"]["accuracy"] == pytest.approx(399 / 400)


# --------------------------------------------------------------------------- diversity
def test_diversity_by_hand():
    onehot = lambda preds: torch.nn.functional.one_hot(torch.tensor(preds), 2).double()  # noqa: E731
    # four nets on two examples predict (0, 0), (0, 1), (1, 1), (1, 1)
    probs = torch.stack([onehot([0, 0]), onehot([0, 1]), onehot([1, 1]), onehot([1, 1])])
    base = gauge_fix(TINY, _nets(1, 5).double())[0]
    out_weights = TINY.offsets()[-1][0]  # the output layer's first weight: the gauge leaves it as it is
    a = base
    b = base.clone()
    b[out_weights] += 1.0
    b[out_weights + 1] -= 1.0  # L1 distance 2 from a (L2 only √2)
    c = base.clone()
    c[out_weights + 2] += 3.0  # L1 3 from a, 5 from b
    g = torch.Generator().manual_seed(6)
    factors = [torch.exp(torch.randn(1, layer.units, generator=g, dtype=torch.float64)) for layer in TINY.hidden_layers]
    d = shift_output_bias(TINY, scale_units(TINY, c[None], factors), torch.tensor([0.7], dtype=torch.float64))[0]
    assert (d - c).abs().sum() > 1  # d is another weight vector of c's function: distance 0 after the gauge
    result = diversity(TINY, torch.stack([a, b, c, d]).float(), probs)
    # of the 12 ordered pairs of nets, 2·1 + 2·1 agree on the first example and 1·0 + 3·2 on the second
    assert result["disagreement"] == pytest.approx(1 - ((2 * 1 + 2 * 1) / 12 + (1 * 0 + 3 * 2) / 12) / 2)  # 7/12
    # KL(one-hot ‖ mean) = −log mean[predicted class]; means (1/2, 1/2) then (1/4, 3/4)
    assert result["kl_to_mean"] == pytest.approx((4 * math.log(2) + math.log(4) + 3 * math.log(4 / 3)) / 8)
    assert result["nets"] == 4
    assert result["nn_l1_min"] == pytest.approx(0.0, abs=1e-4)
    assert result["nn_l1_max"] == pytest.approx(2.0, abs=1e-4)
    assert result["nn_l1_mean"] == pytest.approx(1.0, abs=1e-4)  # (2 + 2 + 0 + 0) / 4
    assert result["nn_l1_per_weight"] == pytest.approx(1.0 / TINY.num_params, abs=1e-6)
    assert diversity(TINY, a[None].float(), probs[:1])["disagreement"] is None


# --------------------------------------------------------------------------- paths
def _accuracy(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    return metrics.accuracy(TINY.forward(theta, x).softmax(-1), y).tolist()


def test_latent_and_direct_paths_start_and_end_at_the_end_nets():
    torch.manual_seed(1)
    model = HyperNetwork(TINY, latent_dim=4, code_dim=3, norm="layer").eval()
    z = torch.tensor([[1.0, -0.5, 0.3, 0.9], [-0.8, 0.6, -0.2, -1.0]])
    with torch.no_grad():
        ends = model(z)
    x = 3 * torch.randn(60, *TINY.input_shape, generator=torch.Generator().manual_seed(7))  # varied predictions
    y = TINY.forward(ends[:1], x)[0].argmax(-1)  # the first end net is right everywhere, the second is not
    first, second = _accuracy(ends, x, y)
    assert first == 1.0 and second < 0.5
    forward = Forward(TINY, "loop", CPU)
    result = path_scores(forward, model, z[0], z[1], x, y, points=5)
    assert result["t"] == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    for kind in ("latent", "direct"):
        acc = result[kind]["accuracy"]
        assert acc[0] == first and acc[-1] == second, kind
    # the latent path's midpoint is G at the mean latent; the direct one's the mean of the gauge-fixed ends
    with torch.no_grad():
        assert result["latent"]["accuracy"][2] == _accuracy(model(z.mean(0, keepdim=True)), x, y)[0]
    assert result["direct"]["accuracy"][2] == _accuracy(gauge_fix(TINY, ends).mean(0, keepdim=True), x, y)[0]
    base = direct_path(forward, ends[1], ends[0], x, y, points=3)  # the baselines' path, reversed ends
    assert base["accuracy"][0] == second and base["accuracy"][-1] == first
    assert base["accuracy"][1] == result["direct"]["accuracy"][2]


# --------------------------------------------------------------------------- OOD
def test_ood_auroc_is_one_when_the_ensemble_is_unsure_only_out_of_distribution():
    # in distribution: 3 members agree confidently; OOD: each is confident in a different class (mean uniform)
    agree = torch.tensor([0.98, 0.01, 0.01]).expand(3, 5, 3)
    apart = torch.eye(3)[:, None, :].expand(3, 4, 3) * 0.97 + 0.01
    scores = ood_scores(agree, apart)
    assert scores["auroc_entropy"] == 1.0 and scores["auroc_mi"] == 1.0 and scores["members"] == 3
    swapped = ood_scores(apart, agree)
    assert swapped["auroc_entropy"] == 0.0 and swapped["auroc_mi"] == 0.0
    one = ood_scores(agree[:1], torch.full((1, 4, 3), 1 / 3))  # one net: uniform OOD outputs, entropy only
    assert one["auroc_entropy"] == 1.0 and one["auroc_mi"] is None


def test_distilled_student_ood_auroc_sign():
    confident, uniform = torch.tensor([[0.9, 0.05, 0.05]] * 4), torch.full((6, 3), 1 / 3)
    labels = torch.zeros(4, dtype=torch.long)
    assert evaluate_probs(confident, labels, uniform)["ood_auroc_entropy"] == 1.0
    assert evaluate_probs(uniform[:4], labels, confident)["ood_auroc_entropy"] == 0.0


# --------------------------------------------------------------------------- reliability
def _rows(probs, labels):
    return reliability_rows("m", probs, labels)


def test_reliability_table_by_hand():
    # the hand case of test_metrics.test_ece_by_hand: bins 13 (0.9 ✓, 0.88 ✗), 11 (0.75 ✗) and 9 (0.65 ✓)
    probs = torch.tensor([[0.9, 0.1], [0.12, 0.88], [0.75, 0.25], [0.35, 0.65]])
    rows = {row[1]: row for row in _rows(probs, torch.tensor([0, 0, 1, 1]))}
    assert len(rows) == 15 and sum(row[4] for row in rows.values()) == 4
    assert rows[13][2:] == pytest.approx([13 / 15, 14 / 15, 2, 0.89, 0.5])
    assert rows[11][2:] == pytest.approx([11 / 15, 12 / 15, 1, 0.75, 0.0])
    assert rows[9][2:] == pytest.approx([9 / 15, 10 / 15, 1, 0.65, 1.0])
    assert all(rows[b][4:] == [0, "", ""] for b in set(range(15)) - {9, 11, 13})


def test_reliability_table_agrees_with_ece():
    g = torch.Generator().manual_seed(8)
    probs = torch.softmax(3 * torch.randn(2000, 10, generator=g), -1)
    labels = torch.where(torch.rand(2000, generator=g) < 0.6, probs.argmax(-1), torch.randint(10, (2000,), generator=g))
    rows = [row for row in _rows(probs, labels) if row[4]]
    assert sum(row[4] for row in rows) == 2000 and len(rows) > 8
    for _, _, lo, hi, _, confidence, _ in rows:
        assert lo < confidence <= hi  # every bin's mean confidence lies inside the bin
    from_table = sum(count / 2000 * abs(accuracy - confidence) for *_, count, confidence, accuracy in rows)
    assert from_table == pytest.approx(metrics.ece(probs, labels), abs=1e-12)
    right = sum(count * accuracy for *_, count, _, accuracy in rows)
    assert right == pytest.approx(float((probs.argmax(-1) == labels).sum()))


def test_ood_sets_are_deterministic_images_of_their_kind():
    """Every registered set is built from the seed and its name alone: the same images again, other images for
    another seed, pixels in [0, 1]; inverted = 1 − x; the other dataset only when given."""
    x = torch.rand(30, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    source = ood_sets.Source(x, None, None)
    sets = ood_sets.build_sets(source, 20, seed=3)
    assert ood_sets.OTHER not in sets and set(sets) == set(ood_sets.OOD_SETS) - {ood_sets.OTHER}
    again, other_seed = ood_sets.build_sets(source, 20, seed=3), ood_sets.build_sets(source, 20, seed=4)
    for name, images in sets.items():
        assert images.shape == (20, 1, 8, 8) and images.dtype == torch.float32, name
        assert 0 <= float(images.min()) and float(images.max()) <= 1, name
        assert torch.equal(images, again[name]), name
    assert not torch.equal(sets["uniform_noise"], other_seed["uniform_noise"])
    assert not torch.equal(sets["uniform_noise"], sets["blurred_noise"])  # each set has its own stream
    torch.testing.assert_close(sets["inverted"], 1 - x[:20])
    # blurring smooths: neighbouring pixels differ far less than in the noise it came from
    step = lambda images: float((images[..., 1:] - images[..., :-1]).abs().mean())  # noqa: E731
    assert step(sets["blurred_noise"]) < 0.5 * step(sets["uniform_noise"])
    given = ood_sets.build_sets(ood_sets.Source(x, x[:5] * 0.5, "fashion-mnist"), 20, seed=3)
    torch.testing.assert_close(given[ood_sets.OTHER], x[:5] * 0.5)
    assert ood_sets.title(ood_sets.OTHER, "fashion-mnist") == "fashion-mnist test set"


def test_a_set_equal_to_the_training_probes_is_trained_toward():
    """Uniform noise is what probe_family noise draws: a G trained with it (and a function-space term that uses
    the probes) was trained toward that set; mixup probes, or no function term, train toward none."""
    assert ood_sets.trained_toward("uniform_noise", "noise", function_term=True)
    assert not ood_sets.trained_toward("uniform_noise", "noise", function_term=False)
    assert not any(ood_sets.trained_toward(name, "mixup", True) for name in ood_sets.OOD_SETS)
    assert [n for n in ood_sets.OOD_SETS if ood_sets.trained_toward(n, "noise", True)] == ["uniform_noise"]
