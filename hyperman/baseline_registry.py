"""Every model hyperman compares, one entry each: the one place that names a baseline.

Why: a baseline used to be spelled out in ~14 files (the CLI, the pipeline, the
evaluation's inputs and context, outputs.py, the report's labels and colours).
Now each is one `Baseline` entry here (the built-in ones) or one `register(...)`
call in the baseline's own module (plug-ins in the `hyperman.baselines`
package, imported by `entries()`), and the CLI, the evaluation, outputs.py
and the report read it (the workflow's stage table is to read it too: the
pipeline part of issue 21).

Deliberately free of torch and of the modules it names: stage modules,
loaders and config classes are dotted paths ("package.module:attribute")
imported only by whoever runs them (`resolve`), so that planning the workflow
or drawing a figure never pays for a training loop.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any

# the evaluation's tables a model can contribute rows to (outputs.EVIDENCE_TABLES' keys; outputs imports us)
MODELS_CSV, COMPARISONS_CSV, EQUAL_COMPUTE_CSV, SHIFT_CSV = ("models.csv", "comparisons.csv", "equal_compute.csv",
                                                            "shift.csv")


class RegistryError(ValueError):
    """A registry entry is malformed or clashes with one already there (a programming error, not user input)."""


@dataclass(frozen=True)
class Baseline:
    """One model the evaluation compares (or, for the distilled student, the report shows).

    name: its key in metrics.json `models`, models.csv, shift.csv, ...;
    section: its params.yaml section (None: it has none of its own, or it shares another's);
    command / stage: its `hyperman` subcommand and that stage's module (dotted, imported lazily);
    config: "module:Class" of the dataclass whose settings the section's keys are (hyperman.settings);
    folder: its output folder, a pattern with {run} and {seed} where they apply; files: what it writes there;
    evaluate_flag: the `hyperman evaluate` flag that gives it its output file (None: evaluate does not load it,
      or builds it itself from the --baselines / the samples); loader: "module:function" that evaluate calls as
      loader(path, target, baselines) → {"theta": (P, D), "train_seconds", "train_flops", "train_passes",
      "detail"}, where baselines are evaluate's loaded --baselines (seed 0 first);
    label / color / marker: how the report names and draws it; evidence: the evaluation tables it has rows in;
    needs: the outputs it is built from ("data": the prepared dataset, "single_net": baseline seed 0's folder);
    help: the subcommand's one line in `hyperman --help`."""

    name: str
    label: str
    color: str
    marker: str
    evidence: tuple[str, ...] = (MODELS_CSV, COMPARISONS_CSV)
    section: str | None = None
    command: str | None = None
    stage: str | None = None
    help: str = ""
    config: str | None = None
    folder: str | None = None
    files: tuple[str, ...] = ()
    evaluate_flag: str | None = None
    loader: str | None = None
    needs: tuple[str, ...] = ("data",)
    compared: bool = True  # a row of metrics.json `models` (False: shown by the report from its own output)

    def output_folder(self, run: str = "main", seed: int | None = None) -> str:
        """The folder its stage writes, for a run (and a seed where the pattern has one)."""
        if self.folder is None:
            raise RegistryError(f"baseline {self.name!r} has no output folder of its own")
        return self.folder.format(run=run, seed=seed)

    def output_file(self, run: str = "main", seed: int | None = None) -> str:
        """folder/first file: what `hyperman evaluate --<evaluate_flag>` is given."""
        return f"{self.output_folder(run, seed)}/{self.files[0]}"


BUILTIN: tuple[Baseline, ...] = (
    Baseline("hypernet_ensemble", "hypernetwork ensemble", "#1f77b4", "o",
             (MODELS_CSV, COMPARISONS_CSV, EQUAL_COMPUTE_CSV, SHIFT_CSV), needs=()),
    Baseline("hypernet_ensemble_k", "hypernetwork ensemble at the deep ensemble's size", "#aec7e8", "v", needs=()),
    Baseline("hypernet_member", "hypernetwork members (mean)", "#7f7f7f", "o", (MODELS_CSV,), needs=()),
    Baseline("single_net", "single net", "#333333", "s", (MODELS_CSV, COMPARISONS_CSV, SHIFT_CSV),
             section="baseline", command="train-baseline", stage="hyperman.stages.train_baseline",
             help="train one target net conventionally (baselines)", config="hyperman.config:BaselineConfig",
             folder="results/baselines/seed{seed}", files=("baseline.pt", "epochs.pt", "baseline_summary.json")),
    Baseline("noise_ensemble", "noise ensemble", "#8c564b", "D", (MODELS_CSV, COMPARISONS_CSV, SHIFT_CSV),
             section="noise", command="noise-ensemble", stage="hyperman.stages.noise_ensemble",
             help="Gaussian perturbations of one net, α chosen on validation",
             config="hyperman.config:NoiseConfig", folder="results/baselines/noise",
             files=("noise_ensemble.pt", "noise_validation.csv", "noise_summary.json"), evaluate_flag="noise",
             loader="hyperman.evaluation.inputs:load_noise", needs=("data", "single_net")),
    Baseline("snapshot_ensemble", "snapshot ensemble", "#e377c2", "P", (MODELS_CSV, COMPARISONS_CSV, SHIFT_CSV),
             section="snapshot", command="train-snapshot", stage="hyperman.stages.train_snapshot",
             help="snapshot ensemble: cyclic learning rate, one net's cost", config="hyperman.config:BaselineConfig",
             folder="results/baselines/snapshot", files=("snapshots.pt", "baseline_summary.json"),
             evaluate_flag="snapshots", loader="hyperman.evaluation.inputs:load_snapshots"),
    Baseline("deep_ensemble", "deep ensemble", "#d62728", "^",
             (MODELS_CSV, COMPARISONS_CSV, EQUAL_COMPUTE_CSV, SHIFT_CSV), section="baseline",
             folder="results/baselines/seed{seed}", files=("baseline.pt", "epochs.pt", "baseline_summary.json")),
    Baseline("distilled_student", "distilled student", "#2ca02c", "X", (), section="distill", command="distill",
             stage="hyperman.stages.distill", help="distil the hypernetwork ensemble into one target-sized net",
             config="hyperman.config:DistillConfig", folder="results/{run}/distill",
             files=("student.pt", "distill_metrics.json"), compared=False),
)

_REGISTERED: dict[str, Baseline] = {entry.name: entry for entry in BUILTIN}
_discovered = False


def register(entry: Baseline) -> Baseline:
    """Add a baseline (its module's one call); the same entry again is a no-op, a different one by the same
    name, command or evaluate flag is an error. Returns the entry (so `X = register(Baseline(...))` reads well)."""
    old = _REGISTERED.get(entry.name)
    if old is not None:
        if old == entry:
            return entry
        raise RegistryError(f"baseline {entry.name!r} is registered twice with different entries")
    for other in _REGISTERED.values():
        for attr in ("command", "evaluate_flag"):
            value = getattr(entry, attr)
            if value is not None and value == getattr(other, attr):
                raise RegistryError(f"baseline {entry.name!r}: {attr} {value!r} is {other.name!r}'s already")
    if (entry.loader is None) != (entry.evaluate_flag is None):
        raise RegistryError(f"baseline {entry.name!r}: give both evaluate_flag and loader, or neither")
    _REGISTERED[entry.name] = entry
    return entry


def unregister(name: str) -> None:
    """Remove a registered plug-in (tests add toy baselines and take them away again); built-ins stay."""
    if any(entry.name == name for entry in BUILTIN):
        raise RegistryError(f"{name!r} is a built-in baseline")
    _REGISTERED.pop(name, None)


def _discover() -> None:
    """Import every module of the plug-in package once: each registers its baseline (torch-free at import).

    The package is imported by name here (not by a string) so that the workflow's import-closure analyser
    sees it among the CLI's code; its modules are found at run time (pkgutil)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    from . import baselines as package

    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)


def entries() -> list[Baseline]:
    """Every baseline, built-ins first in the report's order, then plug-ins in registration order."""
    _discover()
    return list(_REGISTERED.values())


def get(name: str) -> Baseline:
    _discover()
    if name not in _REGISTERED:
        raise RegistryError(f"no baseline {name!r}; registered: {', '.join(_REGISTERED)}")
    return _REGISTERED[name]


def compared() -> list[Baseline]:
    """The models of metrics.json `models` and models.csv, in the report's order (the first is the headline)."""
    return [entry for entry in entries() if entry.compared]


def model_names() -> tuple[str, ...]:
    return tuple(entry.name for entry in compared())


def loaded() -> list[Baseline]:
    """The baselines `hyperman evaluate` loads from a file of their own (an --<evaluate_flag> each)."""
    return [entry for entry in entries() if entry.loader is not None]


def staged() -> list[Baseline]:
    """The baselines with a `hyperman` subcommand of their own (one per command)."""
    seen, out = set(), []
    for entry in entries():
        if entry.command is not None and entry.command not in seen:
            seen.add(entry.command)
            out.append(entry)
    return out


def by_command(command: str) -> Baseline | None:
    return next((entry for entry in staged() if entry.command == command), None)


def labels() -> dict[str, str]:
    return {entry.name: entry.label for entry in entries()}


def styles() -> dict[str, tuple[str, str]]:
    """{name: (colour, marker)} of every model."""
    return {entry.name: (entry.color, entry.marker) for entry in entries()}


def resolve(dotted: str) -> Any:
    """'package.module:attribute' → the attribute (the module imported now, not before)."""
    module, _, attribute = dotted.partition(":")
    if not attribute:
        raise RegistryError(f"{dotted!r} is not 'module:attribute'")
    return getattr(importlib.import_module(module), attribute)
