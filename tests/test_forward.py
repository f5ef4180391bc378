"""hyperman.forward: the chunked many-nets forward against one unchunked call, and its users."""

import subprocess
import sys

import pytest
import torch

from hyperman.baseline import accuracy
from hyperman.distillation import ensemble_probs, student_probs
from hyperman.forward import Forward
from hyperman.targets import get_target

from conftest import ROOT

TARGET = get_target("mnist_cnn")


@pytest.fixture(scope="module")
def nets_and_images():
    g = torch.Generator().manual_seed(0)
    return TARGET.init(5, g), torch.rand(23, *TARGET.input_shape, generator=g), torch.randint(10, (23,), generator=g)


def _tiny_chunks(method: str) -> Forward:
    """Chunks that do not divide the 5 nets × 23 images: every edge case of the chunk loop is hit."""
    forward = Forward(TARGET, method, "cpu")
    forward.nets, forward.images = 2, 7
    return forward


@pytest.mark.parametrize("method", ["loop", "channels_last", "grouped"])
def test_chunked_probabilities_equal_one_unchunked_call(nets_and_images, method):
    theta, x, _ = nets_and_images
    reference = TARGET.forward(theta, x, "loop").softmax(-1)
    forward = _tiny_chunks(method)
    assert torch.allclose(forward.probs(theta, x), reference, atol=1e-6)
    # mean over nets at a temperature: the distillation teacher
    expected = (TARGET.forward(theta, x, "loop") / 2.0).softmax(-1).mean(0)
    assert torch.allclose(forward.mean_probs(theta, x, temperature=2.0), expected, atol=1e-6)


def test_scores_are_accuracy_and_nll_of_each_net(nets_and_images):
    theta, x, y = nets_and_images
    probs = TARGET.forward(theta, x, "loop").softmax(-1).double()
    acc, nll = _tiny_chunks("channels_last").scores(theta, x, y)
    assert acc.tolist() == pytest.approx((probs.argmax(-1) == y).double().mean(1).tolist())
    assert nll.tolist() == pytest.approx((-probs.gather(-1, y.expand(5, -1)[..., None]).log()).mean((1, 2)).tolist(),
                                         rel=1e-5)


def test_the_memory_budget_sets_the_chunks():
    # mnist_cnn's largest activation is its first convolution's output, units × 28 × 28 per image
    per_image = TARGET.layers[0].units * 28 * 28
    small = Forward(TARGET, "grouped", "cpu", memory_mb=1)
    assert small.images == min(256, 2**20 // 4 // 3 // per_image) and small.nets == 1
    assert Forward(TARGET, "grouped", "cpu", memory_mb=512).nets > small.nets
    assert Forward(TARGET, "auto", "cpu").method == "channels_last"


def test_the_baseline_and_distillation_use_the_same_numbers(nets_and_images):
    theta, x, y = nets_and_images
    logits = TARGET.forward(theta[:1], x, "loop")[0]
    assert accuracy(TARGET, theta[0], x, y) == pytest.approx(float((logits.argmax(-1) == y).double().mean()))
    assert torch.allclose(student_probs(TARGET, theta[0], x), logits.softmax(-1), atol=1e-6)
    assert torch.allclose(ensemble_probs(TARGET, theta, x), TARGET.forward(theta, x, "loop").softmax(-1).mean(0),
                          atol=1e-6)


def test_the_outputs_module_imports_without_torch():
    """workflow/pipeline.py and the Snakefile import hyperman.outputs; it must stay cheap."""
    code = "import sys, hyperman.outputs; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})
