"""The settings of the stages around training: the baselines (BaselineConfig; a snapshot ensemble is a baseline
run with `snapshot_cycles`), sampling, the noise ensemble, distillation, and params.yaml's `data` section
(DataConfig). Torch-free: the workflow and check-params build and check them without loading torch."""

from __future__ import annotations

from dataclasses import dataclass

from .. import target_spec
from ..settings import pixels, setting
from ..target_spec import TARGET_HELP
from .choices import DATASETS, STUDENT_INITS, TEACHERS

DEFAULT_ALPHAS = (0.01, 0.02, 0.05, 0.1)  # the noise ensemble's candidate scales


@dataclass
class DataConfig:
    """params.yaml's `data` section: which data every stage reads and how it is split. No stage has these as one
    config: `prepare` takes val_size and split_seed (--val-size, --seed), the training stages limit_train and the
    evaluating ones limit_test; the workflow hands them out, and these defaults are the only ones."""

    dataset: str = setting("mnist", "training data", choices=DATASETS)
    ood_dataset: str = setting("fashion-mnist", "out-of-distribution test set", choices=DATASETS)
    val_size: int = setting(5000, "training images held out for validation (the reference holds out 5,000)",
                            minimum=1)
    split_seed: int = setting(0, "seed of the validation split", minimum=0)
    limit_train: int | None = setting(None, "use only the first N training images (0: all; tiny runs)", minimum=0)
    limit_test: int | None = setting(None, "use only the first N test images (0: all)", minimum=0)


@dataclass
class BaselineConfig:
    """One conventionally trained net (or a snapshot ensemble); stored in its checkpoint, and the one description
    of train-baseline's and train-snapshot's flags (hyperman.settings). Defaults agree with params.yaml."""

    target: str = setting("mnist_cnn", TARGET_HELP, metavar="TARGET", check=target_spec.problem, param=False)
    epochs: int = setting(13, "passes over the training split (13 × 5 members ≈ the default G's training FLOPs)",
                          minimum=1)
    batch_size: int = setting(128, "images per step", minimum=1)
    lr: float = setting(0.003, "peak learning rate of the schedule", exclusive_minimum=0, maximum=1)
    seed: int = setting(0, "seed of init and data order", param=False, minimum=0)
    limit_train: int | None = setting(None, "use only the first N training images (0: all)", param=False,
                                       minimum=1)
    augment_shift: int = setting(2, "translate every training image by a random offset of up to PIXELS (0: off)",
                                 arg_type=pixels, metavar="PIXELS", minimum=0, maximum=8)
    snapshot_cycles: int = setting(0, "learning-rate cycles = snapshot-ensemble members (0: one-cycle schedule, one "
                                      "net); --epochs must be a multiple of it", metavar="M", minimum=0)

    def cross_problems(self, name) -> list[str]:
        """Rules between settings (hyperman.settings.check): every snapshot ends a whole epoch."""
        if self.snapshot_cycles > 0 and self.epochs % self.snapshot_cycles:
            return [f"{name('epochs')} {self.epochs} is not a multiple of {name('snapshot_cycles')} "
                    f"{self.snapshot_cycles} (every snapshot ends a whole epoch); choose epochs = cycles × epochs "
                    "per cycle"]
        return []


@dataclass
class SampleConfig:
    """`hyperman sample`'s settings (hyperman.settings); params.yaml's sample section agrees (tested)."""

    num_nets: int = setting(200, "number of nets to draw", minimum=1, maximum=100000)
    seed: int = setting(1, "seed of the latent draw", minimum=0)
    chunk: int = setting(250, "nets generated per forward pass of G", minimum=1)


@dataclass
class NoiseConfig:
    """`hyperman noise-ensemble`'s settings (hyperman.settings); params.yaml's noise section agrees (tested)."""

    members: int = setting(20, "perturbed nets K in the ensemble", minimum=1)
    alphas: list[float] = setting(list(DEFAULT_ALPHAS), "candidate noise scales α (σ of each layer = α × RMS of its "
                                  "weights)", metavar="ALPHA", minimum=0)
    seed: int = setting(0, "seed of the noise (the same draws for every α)", minimum=0)
    limit_val: int | None = setting(1000, "score α on the first N validation images only (0: all)",
                                    minimum=0)


@dataclass
class DistillConfig:
    """Everything the student's weights depend on; stored in the checkpoint."""

    teacher: str = setting("fresh", "fixed: M nets sampled once; fresh: M new nets for every batch", choices=TEACHERS)
    teacher_nets: int = setting(8, "nets M in the teacher ensemble", minimum=1)
    epochs: int = setting(3, "passes over the training images", minimum=1)
    batch_size: int = setting(128, "images per step", minimum=1)
    lr: float = setting(0.003, "Adam learning rate (cosine decay to 0)", exclusive_minimum=0,
                       maximum=1)
    temperature: float = setting(2.0, "softmax temperature T", exclusive_minimum=0)
    hard_label_weight: float = setting(0.1, "weight A of the hard-label CE: (1-A)·KD + A·CE", minimum=0,
                                      maximum=1)
    seed: int = setting(0, "random seed", minimum=0)
    limit_train: int | None = setting(None, "use only the first N training images (0: all)", param=False,
                                       minimum=1)
    student_init: str = setting("member", "start from one sampled member G(z) or from PyTorch's default init",
                                choices=STUDENT_INITS)
