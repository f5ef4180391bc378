"""What an output folder already holds, and what a stage may do with it: refuse, resume, or move it aside.

Why: `--out` naming a folder that holds a finished run must never cost the
user that run. A training stage's fresh start (no --resume) into a folder
that holds its own checkpoint is refused (one line: --resume, --force or
another --out); with --force the earlier run's files move to a sibling
OUT.previous-<UTC time>, never deleted. A stage that replaces its folder as a
whole (noise-ensemble, prepare, report, seeds-report) replaces only its own
earlier output: a folder holding another stage's run, or files of the user's,
is refused. No stage writes into a folder that holds another kind of run.

Torch-free and free of the other hyperman modules on purpose: every stage
imports it, and the workflow computes each stage's code from its imports, so
the file names below are written out here (tests/test_user_errors.py ties
them to the modules that write them).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable

from .errors import OutputError

# kind → the files that say a folder holds a run of that kind (the first: its checkpoint or main output)
RUNS: dict[str, tuple[str, ...]] = {
    "train": ("hypernet.pt", "train_summary.json"),
    "train-baseline": ("baseline.pt", "epochs.pt", "snapshots.pt", "baseline_summary.json"),
    "distill": ("student.pt", "distill_metrics.json"),
    "evaluate": ("metrics.json",),
    "noise-ensemble": ("noise_ensemble.pt", "noise_summary.json"),
    "prepare": ("manifest.json",),
    "report": ("report.md",),
    "seeds-report": ("seeds.json", "seeds.md"),
}
# files that belong to a run without marking one on their own: --force moves them with it
COMPANIONS: dict[str, tuple[str, ...]] = {"train": ("train_log.jsonl", ".previous")}
KIND_OF_STAGE = {"train-snapshot": "train-baseline"}  # the same files (a snapshot run is a baseline run + one)
LOCK = ".lock"  # hyperman.checkpoint.OutputLock's file: left behind by every run, part of none


def add_arguments(parser: argparse.ArgumentParser, checkpoint: str) -> None:
    """--resume and --force of a training stage whose checkpoint is OUT/`checkpoint`."""
    parser.add_argument("--resume", action="store_true", help=f"continue from OUT/{checkpoint} if it exists")
    parser.add_argument("--force", action="store_true",
                        help="start afresh although OUT holds an earlier run of this stage: its files are moved to "
                             "OUT.previous-<UTC time> beside it (never deleted); without --force (or --resume) such "
                             "a folder is refused")


def held(out: Path) -> dict[str, list[str]]:
    """{kind: the marker files present} of every kind of run `out` holds (empty for a new or unrelated folder)."""
    if not out.is_dir():
        return {}
    present = {kind: [name for name in names if (out / name).exists()] for kind, names in RUNS.items()}
    return {kind: names for kind, names in present.items() if names}


def refuse_other_runs(out: Path, stage: str) -> None:
    """Refuse an `out` holding a run of another kind than `stage`'s (e.g. evaluate --out into a training run)."""
    _refuse_other_kinds(out, stage, KIND_OF_STAGE.get(stage, stage), held(out))


def _refuse_other_kinds(out: Path, stage: str, kind: str, runs: dict[str, list[str]]) -> None:
    others = [f"a {other} run ({', '.join(names)})" for other, names in runs.items() if other != kind]
    if others:
        raise OutputError(f"--out {out} holds {' and '.join(others)}, not {stage} output; give another --out "
                          "(the folder was left as it is)")


def check(out: Path, stage: str, resume: bool, force: bool) -> bool:
    """Refuse an `out` a training stage must not start in; True when a forced fresh start must move a run aside.

    Resume: fine unless the folder holds another kind of run. Fresh start:
    refused when the folder holds a run of this stage, unless `force`. Only
    reads: a refusal leaves the folder as it was."""
    kind = KIND_OF_STAGE.get(stage, stage)
    runs = held(out)
    _refuse_other_kinds(out, stage, kind, runs)
    if resume or kind not in runs:
        return False
    if not force:
        raise OutputError(f"--out {out} already holds a {stage} run ({', '.join(runs[kind])}); add --resume to "
                          f"continue it, --force to start afresh with it moved to {out}.previous-<UTC time>, or "
                          "give another --out (nothing was changed)")
    return True


def claim(out: Path, stage: str, resume: bool, force: bool, log: Callable[[str], None]) -> Path | None:
    """`check`, then move a forced fresh start's predecessor aside; where it went (None when nothing moved).

    Call it holding the output lock, before anything is written."""
    if not check(out, stage, resume, force):
        return None
    kind = KIND_OF_STAGE.get(stage, stage)
    aside = move_aside(out, [*RUNS[kind], *COMPANIONS.get(kind, ())])
    log(f"--force: moved the earlier run in {out} to {aside}")
    return aside


def move_aside(out: Path, names: list[str]) -> Path:
    """Move out/name for every name present into a new sibling OUT.previous-<UTC time>; returns that folder."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for attempt in range(1000):
        aside = out.with_name(f"{out.name}.previous-{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            aside.mkdir()
            break
        except FileExistsError:
            continue
    else:
        raise OutputError(f"cannot find a free name for {out}.previous-{stamp}; remove some of those folders")
    for name in names:
        if (out / name).exists():
            (out / name).replace(aside / name)  # same file system: a rename, the bytes untouched
    return aside


def check_replaceable(out: Path, stage: str) -> None:
    """Refuse an `out` that a stage replacing its folder as a whole must not replace.

    Allowed: no folder, an empty one, or this stage's own earlier output.
    Refused: a folder holding another kind of run, or other files (the
    user's): replacing it would delete them."""
    kind = KIND_OF_STAGE.get(stage, stage)
    runs = held(out)
    _refuse_other_kinds(out, stage, kind, runs)
    if kind in runs or not out.is_dir():
        return
    others = sorted(path.name for path in out.iterdir() if path.name != LOCK)
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise OutputError(f"--out {out} holds other files ({shown}) and no earlier {stage} output; {stage} "
                          "replaces its --out as a whole, so give a new or empty folder (the folder was left as "
                          "it is)")
