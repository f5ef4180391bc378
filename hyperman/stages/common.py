"""Argument types shared by the stage CLIs (the workflow passes every value as text)."""

from __future__ import annotations

import argparse


def str2bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def pixels(text: str) -> int:
    """A shift in pixels: an integer >= 0 (0 = no augmentation)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of pixels >= 0 (0 = off), got {value}")
    return value


def optional_limit(text: str) -> int | None:
    """A count where 0 (or 'none') means "no limit", so params.yaml never needs a null."""
    if text.lower() in ("none", "null", ""):
        return None
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a count >= 0 (0 = all), got {value}")
    return None if value == 0 else value
