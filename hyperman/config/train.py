"""`hyperman train`'s settings (TrainConfig): torch-free, so the workflow and check-params build and check it
without loading torch; hyperman.training runs it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields

from .. import target_spec
from ..errors import ConfigError
from ..settings import pixels, setting
from ..target_spec import TARGET_HELP
from .choices import (DEVICES, DISTANCES, DIVERSITY_MODES, FORWARD_METHODS, FUNCTION_ESTIMATORS, FUNCTION_SCALES,
                      LAMBDA_SCHEDULES, LATENT_DISTRIBUTIONS, NORMS, OUTLIER_FAMILIES, PRECISIONS, PROBE_FAMILIES,
                      WEIGHT_ENTROPIES, diversity_label, diversity_mode, diversity_terms)


def term_names_problem(value, name: str) -> str | None:
    """`diversity` holds names of terms: the flag and the schema take the built-in ones (DIVERSITY_MODES), a
    config also one registered in code; training checks the names against the registry
    (hyperman.objective.check_settings), which this torch-free module cannot see."""
    bad = [item for item in diversity_terms(value) if not re.fullmatch(r"[a-z][a-z0-9_]*", item)]
    return f"{name} must list diversity terms by name (e.g. weights function), got {bad[0]!r}" if bad else None


@dataclass
class TrainConfig:
    """Everything a training run depends on; stored in the checkpoint, and the one description of
    `hyperman train`'s flags (hyperman.settings). The defaults are the CPU default study
    (params.yaml agrees, tested); the paper's settings are configs/paper.yaml."""

    target: str = setting("mnist_cnn", TARGET_HELP, metavar="TARGET", check=target_spec.problem,
                          flag_text=target_spec.flag_text)
    steps: int = setting(4500, "training steps", minimum=1)
    nets_per_step: int = setting(16, "generated nets per step (B; paper: 32; the entropy needs >= 2)", minimum=2)
    images_per_net: int = setting(32, "each net's own mini-batch", minimum=1)
    lam: float = setting(30000.0, "weight λ of the cross-entropy in λ·CE − Ĥ (paper: 1000)", key="lambda",
                       exclusive_minimum=0)
    lambda_schedule: str = setting("constant", "λ constant, or moving from --lambda-start to --lambda over the run",
                                   choices=LAMBDA_SCHEDULES)
    lambda_start: float = setting(1.0, "λ at step 0 for a schedule", exclusive_minimum=0)
    lambda_anneal: float = setting(1.0, "fraction of the run over which a schedule moves λ to --lambda, then holds it",
                                   exclusive_minimum=0, maximum=1)
    lr: float = setting(0.01, "Adam learning rate (the generators' last layers use an equalised learning rate)",
                       exclusive_minimum=0, maximum=1)
    lr_decay: float = setting(0.998977, "learning-rate multiplier per step (0.998977: 100x over 4,500 steps)",
                             exclusive_minimum=0, maximum=1)
    latent_dim: int = setting(300, "dim(z); also the entropy's d", minimum=1)
    latent_dist: str = setting("uniform", "z ~ U[-1,1]^d or N(0,I)", choices=LATENT_DISTRIBUTIONS)
    latent_components: int = setting(1, "K > 1: a mixture latent, K separated copies of --latent-dist (one per "
                                     "latent axis), so that one G can reach several basins (1: off)", minimum=1)
    distance: str = setting("l1", "distance of the entropy estimator", choices=DISTANCES)
    diversity: list[str] = setting(["weights", "function"], "the entropy terms (hyperman.diversity_terms): weights "
                                   "(the paper's Ĥ of gauge-fixed weights), function (Ĥ of the nets' outputs on "
                                   "shared probe inputs); or the old modes both, none (CE alone: the λ→∞ "
                                   "ablation); true/false mean weights/none", choices=DIVERSITY_MODES,
                                   arg_type=diversity_mode, check=term_names_problem)
    function_weight: float = setting(2.0, "β of Ĥ_function = β·d·mean log ρ (d = 144 with 16 probes)",
                                     metavar="BETA", minimum=0)
    probes: int = setting(16, "probe inputs shared by the step's nets for Ĥ_function", minimum=1)
    probe_family: str = setting("mixup", "how the data-like probes are drawn off the data: mixup of two training "
                                "images (a ~ U(0,1)) or training images shifted by up to 6 pixels",
                                choices=PROBE_FAMILIES)
    function_dim: int = setting(0, "Ĥ_function's estimator dimension (0: min(latent_dim, probes·(classes − 1)))",
                           minimum=0)
    function_distance: str = setting("l1", "distance between the nets' probe outputs", choices=DISTANCES)
    function_estimator: str = setting("kl", "Ĥ_function's estimator: kl (nearest neighbour on the softmax outputs) "
                                      "or kernel (RBF kernel density on the centred logits, median-heuristic "
                                      "bandwidth; D'Angelo & Fortuin 2021)", choices=FUNCTION_ESTIMATORS)
    function_scale: str = setting("dimension", "what β multiplies: dimension (β·d·Ĥ-per-dimension, d = "
                                  "--function-dim's rule, so more probes weigh more) or unit (β alone: the weight "
                                  "stays when --probes changes)", choices=FUNCTION_SCALES)
    function_eps: float = setting(1e-8, "ε of log(ρ + ε) in the kl estimator of Ĥ_function: its gradient at "
                                  "near-duplicate nets is at most d/(B·ε) (1e-8: unbounded in practice; e.g. 1e-3 "
                                  "bounds it)", metavar="EPS", exclusive_minimum=0)
    outlier_probes: int = setting(0, "label-destroying outlier probes per step, a second function-space term "
                                  "(0: off)", minimum=0)
    outlier_families: list[str] = setting(list(OUTLIER_FAMILIES), "the outlier probes' families, the probes shared "
                                          "out over them (none equals an OOD evaluation set)", choices=OUTLIER_FAMILIES)
    outlier_weight: float = setting(2.0, "β_out of the function-space term on the outlier probes (scaled like β)",
                                    metavar="BETA_OUT", minimum=0)
    repulsion_warmup: int = setting(0, "steps over which both function-space terms ramp in linearly from 0 "
                                    "(0: full weight from the first step)", minimum=0)
    function_every: int = setting(1, "compute the function-space terms (data-like and outlier probes) on every N-th "
                                  "step only, weighted N times, so their expected weight stays and their probe "
                                  "passes fall N-fold (1: every step)", minimum=1)
    weight_entropy: str = setting("joint", "joint: one Ĥ_weights with d = latent_dim; per_layer: one term per layer "
                                  "(d = min(latent_dim, layer size)), summed", choices=WEIGHT_ENTROPIES)
    layer_weights: str = setting("flat", "weights of the per-layer Ĥ_weights terms (with --weight-entropy "
                                 "per_layer): flat (all 1), rising (2l/(L+1) for layer l of L: mean 1, rising "
                                 "toward the output), or one number per layer, comma-separated (e.g. 0.5,1,1,2)",
                                 metavar="PROFILE")
    entropy_queue: int = setting(0, "detached gauge-fixed nets of recent steps kept as extra neighbours of "
                                 "Ĥ_weights (0: off)", minimum=0)
    norm: str = setting("layer", "normalisation of G's hidden layers (batch: the paper's; layer: the same function "
                        "when training and sampling)", choices=NORMS)
    eval_every: int = setting(1500, "validate every N steps", minimum=1)
    eval_nets: int = setting(20, "nets sampled for validation (>= 2: their spread)", minimum=2)
    checkpoint_every: int = setting(250, "checkpoint every N steps", minimum=1)
    seed: int = setting(0, "random seed", minimum=0)
    forward: str = setting("auto", "batched target forward (auto: channels_last loop on CPU, grouped on GPU)",
                           choices=FORWARD_METHODS, param=False)
    limit_train: int | None = setting(None, "use only the first N training images (0: all)", param=False,
                                       minimum=1)
    augment_shift: int = setting(2, "translate every training image by a random offset of up to PIXELS (0: off)",
                                 arg_type=pixels, metavar="PIXELS", minimum=0, maximum=8)
    precision: str = setting("auto", "the target forward's precision (auto: bf16 on a GPU, fp32 on the CPU); G, "
                             "gauge fixing and entropy always run in fp32", choices=PRECISIONS)
    ema: float = setting(0.0, "keep an exponential moving average of G's weights with this decay per step and use it "
                         "for validation and the checkpoint (0: off; 0.998 averages ~500 steps)", metavar="DECAY",
                         minimum=0, exclusive_maximum=1)
    device: str = setting("auto", "where to train; under torchrun each process takes cuda:LOCAL_RANK (nccl) or the "
                          "CPU (gloo)", choices=DEVICES)

    def __post_init__(self) -> None:
        """`diversity` as a list of term names, however it was given (a list, an old mode, an old boolean)."""
        self.diversity = diversity_terms(self.diversity)

    def stored(self) -> dict:
        """The config as the checkpoint stores it: `diversity` spelled as the old mode where its terms are one
        (both, weights, function, none), so a run of before the term registry writes the same checkpoint, byte
        for byte (DVC sees no change); a list otherwise. Loading turns it back into the list."""
        values = asdict(self)
        label = diversity_label(self.diversity)
        if label in DIVERSITY_MODES:
            values["diversity"] = label
        return values

    def cross_problems(self, name) -> list[str]:
        """Rules between settings (hyperman.settings.check): the outlier probes and `function_every` act on a
        function-space term, the neighbour queue holds weight vectors for the weight entropy."""
        terms, found = diversity_terms(self.diversity), []
        if self.outlier_probes and "function" not in terms:
            found.append(f"{name('outlier_probes')} {self.outlier_probes}: outlier probes feed a function-space "
                         f"term, which {name('diversity')} {diversity_label(self.diversity)} lacks; use "
                         f"{name('diversity')} function or both, or {name('outlier_probes')} 0")
        if self.entropy_queue and "weights" not in terms:
            found.append(f"{name('entropy_queue')} {self.entropy_queue} holds weight vectors but "
                         f"{name('diversity')} {diversity_label(self.diversity)} has no weight entropy; use "
                         f"{name('diversity')} weights or both, or {name('entropy_queue')} 0")
        if self.function_every > 1 and "function" not in terms:
            found.append(f"{name('function_every')} {self.function_every} spaces out the function-space terms, "
                         f"which {name('diversity')} {diversity_label(self.diversity)} lacks; use "
                         f"{name('diversity')} function or both, or {name('function_every')} 1")
        return found

    # Keys that may change between a run and its resumption.
    RESUMABLE_CHANGES = ("steps", "eval_every", "checkpoint_every", "eval_nets", "device")

    def lambda_at(self, step: int) -> float:
        """λ for this step: constant, or annealed from lambda_start to the final λ = lam over the first
        `lambda_anneal` of the run and held there (e.g. diversity first, then accuracy)."""
        if self.lambda_schedule == "constant":
            return self.lam
        t = min(step / max(self.lambda_anneal * (self.steps - 1), 1), 1.0)
        if self.lambda_schedule == "linear":
            return self.lambda_start + t * (self.lam - self.lambda_start)
        if self.lambda_schedule == "exponential":
            return self.lambda_start * (self.lam / self.lambda_start) ** t
        raise ConfigError(f"unknown lambda schedule {self.lambda_schedule!r}")

    def function_step(self, step: int) -> bool:
        """Whether this step computes the function-space terms (every `function_every`-th, from step 0)."""
        return step % self.function_every == 0

    def repulsion_at(self, step: int) -> float:
        """The factor of the function-space terms at this step: step / repulsion_warmup during the warm-up
        (0 at step 0: accuracy first, as HE-CKA's warm-up), 1 after it and without one."""
        return min(step / self.repulsion_warmup, 1.0) if self.repulsion_warmup else 1.0


# The settings that change what is trained, besides λ, β, the diversity terms and the seed (axes and label parts
# of their own) and those that only say how or where a run computes: a sweep may vary them (`sweep.settings`),
# and a sweep run's label names those off the main run's value, so that no two settings share a label.
NOT_LEVERS = ("lam", "function_weight", "diversity", "seed", "eval_every", "eval_nets", "checkpoint_every", "forward",
              "limit_train", "precision", "device")
LEVERS = tuple(f.name for f in fields(TrainConfig) if f.name not in NOT_LEVERS)

