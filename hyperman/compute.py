"""Training and inference cost in FLOPs: the ruler of every equal-compute comparison.

Why FLOPs and not seconds: wall time moved with thread counts and machine load
between two runs of the same study (README, "Results of the default study"), and with it
the verdict. A FLOP count is a property of the configuration alone.

Convention (the one of `torch.utils.flop_counter.FlopCounterMode`, which
tests/test_compute.py checks these formulas against on real steps): 2 FLOPs
per multiply-add of every matmul and convolution, forward and backward;
element-wise work (activations, normalisation, pooling, the optimiser, the
entropy estimators' distances) is not counted. Backward costs the forward's
FLOPs once for the weights' gradient and once more for the input's gradient,
which the first layer skips when its input (images, latents) needs none.
"""

from __future__ import annotations

from dataclasses import dataclass

from .targets import Target


def target_forward_flops(target: Target) -> int:
    """One image through one net, forward only (what inference costs per member)."""
    return target.flops_per_image()


def target_train_flops(target: Target) -> int:
    """One image through one net, forward + backward to the weights (no gradient for the image itself)."""
    per_layer = target.layer_flops()
    return 3 * sum(per_layer) - per_layer[0]


def _linear_flops(module) -> int:
    """Forward FLOPs of every linear layer in `module` for one input row."""
    return sum(2 * m.in_features * m.out_features for m in _linears(module))


def hypernet_forward_flops(model) -> int:
    """FLOPs of G(z) for one latent: the extractor once, each layer's shared generator once per code."""
    return _linear_flops(model.extractor) + sum(count * _linear_flops(generator) for count, generator
                                                in zip(model.codes_per_layer, model.generators))


def hypernet_train_flops_per_net(model) -> int:
    """G(z) forward + backward for one latent (the latents need no gradient: the first layer's input
    gradient is skipped)."""
    first = _linears(model.extractor)[0]
    return 3 * hypernet_forward_flops(model) - 2 * first.in_features * first.out_features


def _linears(module) -> list:
    from torch import nn

    return [m for m in module.modules() if isinstance(m, nn.Linear)]


@dataclass(frozen=True)
class Cost:
    """A stage's compute: training FLOPs (every pass that gets a gradient), the image·net passes behind them,
    and the validation FLOPs spent on choices during training (counted apart, never hidden)."""

    train_flops: int
    image_net_passes: int
    validation_flops: int = 0

    def as_dict(self) -> dict:
        return {"train_flops": self.train_flops, "image_net_passes": self.image_net_passes,
                "validation_flops": self.validation_flops}


def hypernet_step_flops(config, model, probes: int) -> int:
    """One training step of G: B latents through G and back, each net's own images and the `probes` shared
    probe images of the function-space entropy (0 when it is off), all back-propagated to θ."""
    passes = config.nets_per_step * (config.images_per_net + probes)
    return (config.nets_per_step * hypernet_train_flops_per_net(model)
            + passes * target_train_flops(model.target))


def hypernet_cost(config, model, val_images: int, probes: int) -> Cost:
    """G's whole training run (`probes` on every `function_every`-th step, from step 0; see
    hypernet_step_flops), and the validations of `eval_nets` nets every `eval_every` steps."""
    validations = config.steps // config.eval_every + (config.steps % config.eval_every != 0)
    per_validation = config.eval_nets * (hypernet_forward_flops(model) + val_images * target_forward_flops(model.target))
    every = getattr(config, "function_every", 1)
    probe_steps = -(-config.steps // every)  # steps 0, N, 2N, ... compute the function-space terms
    plain, with_probes = hypernet_step_flops(config, model, 0), hypernet_step_flops(config, model, probes)
    return Cost(train_flops=(config.steps - probe_steps) * plain + probe_steps * with_probes,
                image_net_passes=config.steps * config.nets_per_step * config.images_per_net
                + probe_steps * config.nets_per_step * probes,
                validation_flops=validations * per_validation)


def baseline_cost(target: Target, train_images: int, epochs: int, val_images: int) -> Cost:
    """One conventionally trained net: every training image once per epoch, validated after every epoch and
    once more at the end."""
    return Cost(train_flops=epochs * train_images * target_train_flops(target),
                image_net_passes=epochs * train_images,
                validation_flops=(epochs + 1) * val_images * target_forward_flops(target))


def epochs_for_budget(budget_flops: float, members: int, target: Target, train_images: int) -> tuple[int, float]:
    """(epochs, ratio): the whole epochs per member that bring `members` nets closest to `budget_flops`, and
    their summed training FLOPs over the budget (the ratio the report states)."""
    per_epoch = train_images * target_train_flops(target)
    epochs = max(1, round(budget_flops / (members * per_epoch)))
    return epochs, members * epochs * per_epoch / budget_flops


def inference_flops(target: Target, nets: int) -> int:
    """Test-time FLOPs of one image through an ensemble of `nets` members (G's cost of generating them is
    paid once per ensemble, not per image, and is reported apart)."""
    return nets * target_forward_flops(target)


def distill_cost(target: Target, hypernet, teacher: str, teacher_nets: int, train_images: int, epochs: int,
                 batch_size: int) -> Cost:
    """The student's training: its own forward + backward on every training image per epoch, and the teacher's
    forward passes that feed it (a fresh teacher: M new nets from G and their forward for every batch; a fixed
    one: M nets once over the training set). The G that made the teacher is paid for by its own training."""
    student = epochs * train_images * target_train_flops(target)
    if teacher == "fresh":
        batches = epochs * -(-train_images // batch_size)
        teacher_flops = teacher_nets * (epochs * train_images * target_forward_flops(target)
                                        + batches * hypernet_forward_flops(hypernet))
    else:
        teacher_flops = teacher_nets * (train_images * target_forward_flops(target) + hypernet_forward_flops(hypernet))
    return Cost(train_flops=student + teacher_flops, image_net_passes=epochs * train_images)
