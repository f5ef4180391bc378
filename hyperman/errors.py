"""The one family of *expected* failures: bad input, corrupt or missing files, impossible settings.

Why a family: the CLI catches `HypermanError` once (hyperman.cli.main) and turns it
into a one-line message and exit code 2, with nothing half-written. Anything
else is a programming error and keeps its traceback, so a bug is never
disguised as a user mistake. Every module raises a subclass of this (DataError,
CheckpointError, TrainingError, ...) with a message that says what is wrong
and how to fix it.
"""

from __future__ import annotations

EXIT_CODE = 2  # argparse's code for a bad command line; the same for a bad input file or setting


class HypermanError(Exception):
    """An expected failure whose message tells the user what to fix."""


class ConfigError(HypermanError, ValueError):
    """A setting has a value no stage can use (unknown name, out of range, unsupported on this device)."""


class OutputError(HypermanError):
    """An output path cannot be used: a file where a folder must go (or the reverse), or it is not writable."""
