"""`hyperman evaluate`'s settings (EvalConfig): torch-free, like every config in hyperman.config."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..settings import path_setting, setting
from .choices import DEVICES, FORWARD_METHODS

DEFAULT_SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
DEFAULT_EPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3)


@dataclass
class EvalConfig:
    """What `hyperman evaluate` does: the one description of its flags (hyperman.settings); defaults agree
    with params.yaml's evaluate section (tested)."""

    checkpoint: Path = path_setting("hypernetwork checkpoint (hypernet.pt)")
    samples: Path = path_setting("samples file written by `hyperman sample`")
    baselines: list[Path] = path_setting("baseline target checkpoints (hyperman train-baseline); the first is the "
                                         "single net, all of them the deep ensemble")
    data: Path = path_setting("prepared in-distribution dataset (its test split)")
    out: Path = path_setting("output folder")
    ood_data: Path | None = path_setting("prepared out-of-distribution dataset (its test split); omitted: no OOD "
                                         "evaluation", required=False)
    snapshots: Path | None = path_setting("snapshots.pt of `hyperman train-snapshot` (or its folder); omitted: no "
                                          "snapshot ensemble", required=False)
    noise: Path | None = path_setting("noise_ensemble.pt of `hyperman noise-ensemble` (or its folder); omitted: no "
                                      "noise ensemble", required=False)
    train_summary: Path | None = path_setting("the hypernetwork's train_summary.json (omitted: the one next to "
                                              "--checkpoint)", required=False)
    ensemble_sizes: list[int] = setting(list(DEFAULT_SIZES), "ensemble sizes (clipped to the number of sampled nets)",
                                        minimum=1)
    draws: int = setting(5, "random member draws per ensemble size", minimum=1)
    path_pairs: int = setting(5, "random (z1, z2) pairs for the paths", minimum=1)
    path_points: int = setting(20, "points along each path", minimum=2)
    path_images: int | None = setting(500, "evaluate paths on the first N test images (0: all)", minimum=0)
    adversarial_eps: list[float] = setting(list(DEFAULT_EPS), "FGSM step sizes (images are in [0, 1])",
                                           minimum=0)
    adversarial_images: int = setting(200, "attack the first N test images (those each model classifies "
                                            "correctly count)", minimum=1)
    symmetry_copies: int = setting(10, "random symmetry transforms of one net in the gauge check (a check of the "
                                        "gauge code: it gains 0 by construction, so it is no evidence about G)", minimum=2)
    bootstrap_resamples: int = setting(2000, "paired bootstrap resamples of the test images for every interval",
                                       minimum=20)
    shift_images: int = setting(200, "test images of the distribution-shift benchmark (the first N)",
                                minimum=1)
    shift_nets: int = setting(10, "sampled nets in the hypernetwork ensemble of the shift benchmark",
                              minimum=1)
    alignment_nets: int = setting(20, "sampled nets (and at most as many baselines) aligned by weight matching in "
                                      "the alignment control", minimum=2)
    control_nets: int = setting(10, "nets whose nearest neighbour is set against random directions",
                                minimum=1)
    control_images: int = setting(1000, "test images of the gauge check and the random-direction control (the "
                                        "first N)", minimum=1)
    ood_images: int | None = setting(2000, "OOD images every model is scored on (the first N of --ood-data; 0: "
                                           "all): on a CPU the OOD forward of every net is the largest cost after "
                                           "the test set's", minimum=0)
    ood_synthetic_images: int = setting(1000, "images of every synthetic OOD set (uniform noise, blurred noise, "
                                              "inverted test images; evaluation.ood_sets), built from --seed",
                                        minimum=1)
    ood_resamples: int = setting(500, "bootstrap resamples of the ID and OOD images for the intervals of AUROC, "
                                      "AUPR-out and FPR95 on every OOD set", minimum=20)
    seed: int = setting(0, "seed of ensemble draws, path pairs, symmetries and the synthetic OOD sets", minimum=0)
    device: str = setting("auto", "where to evaluate", choices=DEVICES)
    limit_test: int | None = setting(None, "use only the first N test images of --data and --ood-data (0: all)",
                                     param=False, minimum=1)
    forward: str = setting("auto", "batched forward: auto = grouped on CUDA, channels_last (a per-net NHWC loop) "
                                   "on CPU", choices=FORWARD_METHODS, param=False)
    chunk: int = setting(256, "nets generated per forward pass of G", param=False, minimum=1)
    memory_mb: int | None = setting(None, "activation memory budget that sets the net/image chunk sizes "
                                          "(0: 512 on CPU, 8192 on CUDA)", param=False)
    # the output file of every plug-in baseline (hyperman.baselines) given by its own --<evaluate_flag>, by name;
    # not a setting: its flags come from the registry (stages/evaluate.py), the built-ins' are the fields above
    plugins: dict[str, Path] = field(default_factory=dict)

    def cross_problems(self, name) -> list[str]:
        """Rules beyond one field (hyperman.settings.check): the single net and the deep ensemble need a baseline
        (None: not given yet, as when check-params checks the evaluate section, which holds no paths)."""
        return [f"give at least one {name('baselines')} checkpoint"] if self.baselines == [] else []


PATH_FIELDS = ("checkpoint", "samples", "baselines", "data", "out", "ood_data", "snapshots", "noise",
               "train_summary", "plugins")  # not in "config"
FIELD_NAMES = frozenset(EvalConfig.__dataclass_fields__)
