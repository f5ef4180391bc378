"""`hyperman <stage>`: one subcommand per pipeline stage.

The CLI takes explicit paths and parameters. It never reads params.yaml on its
own: the workflow (Snakemake or DVC) turns params.yaml into flags, so the
command line of every job says everything the job depends on.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys

from . import baseline_registry, partial
from .errors import EXIT_CODE, HypermanError

# subcommand → (module, one-line help). Modules are imported lazily so that
# `hyperman prepare` does not pay for what `hyperman report` needs. The baselines' subcommands come from
# hyperman.baseline_registry (one entry per baseline), read again at every call so that a baseline
# registered later (a plug-in, a test) has its subcommand too.
CORE_STAGES = {
    "prepare": ("hyperman.stages.prepare", "download/verify a dataset (MNIST, Fashion-MNIST, CIFAR-10)"),
    "train": ("hyperman.stages.train", "train the hypernetwork (loss = λ·CE − entropy)"),
    "sample": ("hyperman.stages.sample", "draw N nets from a trained hypernetwork (latents + checkpoint sha256)"),
    "evaluate": ("hyperman.stages.evaluate", "evaluate sampled nets vs baselines: ensembles, diversity, paths, OOD, FGSM"),
    "report": ("hyperman.stages.report", "figures and report.md from the evaluate, distill and sweep outputs"),
    "seeds-report": ("hyperman.stages.seeds_report", "the seeds study's table: mean ± sd over training seeds, "
                     "seed-aware intervals"),
    "predict": ("hyperman.stages.predict", "classify your inputs (IDX, .npy, PNG/JPEG) with uncertainty and abstention"),
    "export": ("hyperman.stages.export", "export N nets as a plain PyTorch program, safetensors weights or ONNX"),
    "check-params": ("hyperman.stages.check_params", "validate a params.yaml against the schema"),
}


def stages() -> dict[str, tuple[str, str]]:
    """Every subcommand → (stage module, help): the core stages and every registered baseline's."""
    return {**CORE_STAGES, **{entry.command: (entry.stage, entry.help) for entry in baseline_registry.staged()}}


STAGES = stages()  # at import: the core stages and the built-in (and plug-in) baselines'



# errors of the file system that a user fixes (permissions, space, a file where a folder goes): one line, exit 2
USER_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR,
               errno.EEXIST}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show every flag's default in --help, and keep paragraph breaks in descriptions."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that stage's module is imported (and given its flags).

    Why: a stage's command should import only the code it runs, so that the
    workflow's code dependencies (computed from imports in workflow/pipeline.py)
    are exactly the files that can change its results."""
    parser = argparse.ArgumentParser(prog="hyperman", description=__doc__, formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="stage", metavar="STAGE", required=True)
    for name, (module_name, help_text) in {**stages(), **STAGES}.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        stage = sub.add_parser(name, help=help_text, description=module.__doc__, formatter_class=HelpFormatter)
        module.add_arguments(stage)
        stage.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one stage. An expected failure (HypermanError) is one line on stderr and exit code 2;
    anything else is a bug and keeps its traceback."""
    argv = sys.argv[1:] if argv is None else list(argv)
    only = argv[0] if argv and argv[0] in {**stages(), **STAGES} else None
    args = build_parser(only).parse_args(argv)
    partial.allow(False)  # the stage's own --allow-partial sets it; nothing carries over from an earlier call
    try:
        return int(args.run(args) or 0)
    except HypermanError as error:
        print(f"hyperman {args.stage}: error: {error}", file=sys.stderr)
        return EXIT_CODE
    except OSError as error:  # the machine's, not the code's: a read-only folder, a full disk, a file in the way
        if error.errno not in USER_ERRNOS:
            raise
        where = f" {error.filename}" if error.filename else ""
        print(f"hyperman {args.stage}: error: cannot write{where}: {error.strerror}; check that every output path "
              "is a writable folder with free space", file=sys.stderr)
        return EXIT_CODE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
