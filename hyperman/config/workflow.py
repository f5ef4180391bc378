"""What the workflow (workflow/*.py, the Snakefile) plans with, torch-free: its door into the package beside the
CLI and the baseline registry.

Why one door: planning runs in every snakemake call and `pipeline.py list`, so it must not load torch, and the
workflow should not reach into the package's internals (tests/test_imports.py checks it). The planner needs
params.yaml validated (`load_params`), a params section turned into a stage's flags (`to_argv`, the same
function the CLI's flags come from: hyperman.settings), each flag value's text (`flag_word`), and the names of
the files the stages write (`outputs`), and the registered datasets' wildcard (`dataset_wildcard`).
"""

from __future__ import annotations

from .. import outputs
from ..errors import HypermanError
from ..params import ParamsError, seeds_problems, validate
from ..params import load as load_params
from ..datasets import wildcard_pattern as dataset_wildcard
from ..settings import flag_word, to_argv

__all__ = ["HypermanError", "ParamsError", "dataset_wildcard", "flag_word", "load_params", "outputs", "seeds_problems", "to_argv",
           "validate"]
