"""`hyperman predict`: an ensemble's predictions with uncertainty on a user's inputs, and when to abstain.

Why abstention is set on the validation split: "abstain when MI > t" means
nothing without a t, and a t picked by eye on the user's own inputs would be
tuned on the data it is judged on. With `--coverage c`, t is the c-quantile
of the chosen uncertainty over the prepared dataset's validation split (the
split no test figure is chosen on), so the model keeps a fraction c of
validation inputs and abstains on the rest; the same t is then applied to the
user's inputs. t, c and the validation figures (accuracy of all and of the
kept inputs) go into the JSON beside the CSV.

Outputs (both written only when everything succeeded): OUT (CSV, one row per
input: input, class, confidence, entropy, mutual_information, vote_share,
abstain) and OUT with suffix .json (the checkpoint, its sha256, the nets, the
threshold, the validation figures).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import torch

from . import partial
from .api import Model, Prediction, load
from .data import load_dataset
from .device import resolve_device
from .errors import ConfigError
from .files import check_out_file, write_json_atomic, write_text_atomic
from .user_images import check_images, read_inputs
from .settings import path_setting, setting

UNCERTAINTIES = ("mi", "entropy")
COLUMNS = ("input", "class", "confidence", "entropy", "mutual_information", "vote_share", "abstain")


@dataclass
class PredictConfig:
    """`hyperman predict`'s settings (hyperman.settings: the flags are generated from these fields)."""

    checkpoint: list[Path] = path_setting("the model: hypernet.pt (or its run folder), baseline.pt, student.pt, "
                                          "snapshots.pt, noise_ensemble.pt, several baseline.pt files (a deep "
                                          "ensemble) or a folder of baseline runs (e.g. results/baselines)")
    inputs: Path = path_setting("what to classify: an IDX file (e.g. t10k-images-idx3-ubyte[.gz]), a .npy array "
                                "(N, C, H, W) or (N, H, W) (uint8 0-255, or floats in [0, 1]), one PNG/JPEG image or a "
                                "folder of them (converted to the target's channels, greyscale for MNIST, and resized "
                                "to its H×W). MNIST-trained nets expect white digits on a black background: see "
                                "--invert")
    out: Path = path_setting("CSV to write, one row per input: input, class, confidence, entropy, "
                             "mutual_information, vote_share, abstain; the run's details go to OUT with suffix .json")
    data: Path | None = path_setting("prepared dataset folder (e.g. data/mnist) whose validation split sets the "
                                     "abstention threshold; needed with --coverage", required=False)
    num_nets: int | None = setting(None, "nets in the ensemble (0: 100 drawn from a hypernetwork, every net of a "
                                         "fixed set)", minimum=1, param=False)
    seed: int = setting(0, "seed of the latent draw (a hypernetwork only): the same seed gives the same nets",
                        minimum=0, param=False)
    coverage: float | None = setting(None, "abstain on the inputs whose --uncertainty exceeds the threshold that keeps "
                                           "this fraction of the validation split (e.g. 0.95; needs --data). Without "
                                           "it no threshold is set and the abstain column is left empty",
                                     exclusive_minimum=0, maximum=1, param=False)
    uncertainty: str = setting("mi", "uncertainty that decides abstention: mi (mutual information, the ensemble's "
                                     "disagreement; 0 for a single net) or entropy (predictive entropy)",
                               choices=UNCERTAINTIES, param=False)
    invert: bool = setting(False, "use 1 − pixel: for dark-on-light images fed to nets trained on MNIST's "
                                  "light-on-dark digits", param=False)
    limit_val: int | None = setting(None, "set the threshold on the first N validation images only (0: all 5,000; "
                                          "fewer is faster and coarser)", minimum=1, param=False)

    def cross_problems(self, name) -> list[str]:
        if self.coverage is not None and self.data is None:
            return [f"{name('coverage')} needs {name('data')}: the threshold is set on that dataset's validation split "
                    "(e.g. --data data/mnist)"]
        return []


def uncertainty_of(prediction: Prediction, which: str) -> torch.Tensor:
    return prediction.mutual_information if which == "mi" else prediction.entropy


def threshold(model: Model, config: PredictConfig) -> tuple[float, dict]:
    """The c-quantile t of the uncertainty on the validation split, and the validation figures at t.

    `higher` interpolation makes t one of the observed values, so at least a
    fraction c of validation inputs has uncertainty <= t (ties can keep more)."""
    data = load_dataset(config.data)
    if tuple(data.image_shape) != model.target.input_shape:
        raise ConfigError(f"--data {config.data} holds {data.image_shape} images, the model's target "
                          f"{model.target.name} takes {model.target.input_shape}; give the dataset it was trained on")
    x, y = torch.from_numpy(data.val_x[:config.limit_val]), torch.from_numpy(data.val_y[:config.limit_val])
    prediction = model.predict(check_images(x, model.target, str(config.data)), config.num_nets, config.seed)
    scores = uncertainty_of(prediction, config.uncertainty)
    t = float(torch.quantile(scores, config.coverage, interpolation="higher"))
    kept = scores <= t
    correct = (prediction.classes == y).double()
    return t, {"images": len(y), "kept_fraction": float(kept.double().mean()), "accuracy": float(correct.mean()),
               "accuracy_kept": float(correct[kept].mean()) if kept.any() else None}


def predict(config: PredictConfig, device: str = "cpu", log=None) -> dict:
    """Read, predict, set the threshold, then write OUT and its JSON (nothing is written on any error)."""
    log = log or (lambda message: None)
    out = check_out_file(config.out)
    details = check_out_file(out.with_suffix(".json"))
    if out.suffix.lower() == ".json":
        raise ConfigError(f"--out {out} would be overwritten by its own details file; give a .csv path")
    model = load(config.checkpoint, resolve_device(device), allow_partial=partial.allowed())
    nets = model.count(config.num_nets)
    if config.coverage is not None and config.uncertainty == "mi" and nets == 1:
        raise ConfigError(f"{model.kind} {config.checkpoint[0]} is one net, whose mutual information is always 0; "
                          "use --uncertainty entropy")
    x, names = read_inputs(config.inputs, model.target, config.invert)
    log(f"predicting {len(names)} inputs with {nets} nets of {model.kind} ({model.target.name})")
    prediction = model.predict(x, nets, config.seed)
    t, validation = (None, None) if config.coverage is None else threshold(model, config)
    abstain = None if t is None else uncertainty_of(prediction, config.uncertainty) > t
    table = _csv(names, prediction, abstain)
    summary = {"checkpoint": model.sources, "kind": model.kind, "target": model.target.name, "num_nets": nets,
               "seed": config.seed if model.size is None else None, "inputs": str(config.inputs), "count": len(names),
               "invert": config.invert, "uncertainty": config.uncertainty, "coverage": config.coverage,
               "threshold": t, "data": None if config.data is None else str(config.data), "validation": validation,
               "abstained": None if abstain is None else int(abstain.sum()),
               "mean_confidence": float(prediction.confidence.mean())}
    write_json_atomic(details, summary)
    write_text_atomic(out, table)
    return summary


def _csv(names: list[str], prediction: Prediction, abstain: torch.Tensor | None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for i, name in enumerate(names):
        writer.writerow([name, int(prediction.classes[i]), f"{float(prediction.confidence[i]):.6f}",
                         f"{float(prediction.entropy[i]):.6f}", f"{float(prediction.mutual_information[i]):.6f}",
                         f"{float(prediction.vote_share[i]):.6f}",
                         "" if abstain is None else str(bool(abstain[i])).lower()])
    return buffer.getvalue()


__all__ = ["PredictConfig", "predict", "threshold", "COLUMNS"]
