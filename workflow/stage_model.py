"""A stage of the study as data: its command, inputs, outputs, params keys and code, and where each flag's
value comes from in params.yaml; and a job (`Job`: the params and a run, seed or dataset) it is built for.

A command is a list of words. A word that is a params.yaml value verbatim is a `Param`: a `str` (so the word
itself, which Snakemake runs) that also knows its params expression (`train.lr`, `evaluate.ensemble_sizes[2]`),
so that dvc.yaml can write it as `${train.lr}` and DVC reads the value from params.yaml at `dvc repro` time
(workflow/dvc_yaml.py says why). A word the pipeline computes (a run's paths, a sweep run's λ, a replicate's
seed) stays a plain `str`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

import seeds_grid

from hyperman import baseline_registry
from hyperman.config import TrainConfig
from hyperman.config.workflow import flag_word, to_argv


class Param(str):
    """A command word that is the params.yaml value at `expr` (e.g. 'train.lr' or 'noise.alphas[1]')."""

    expr: str

    def __new__(cls, text: str, expr: str) -> "Param":
        word = super().__new__(cls, text)
        word.expr = expr
        return word


@dataclass
class Stage:
    name: str                     # DVC stage name
    rule: str                     # Snakemake rule name
    argv: list[str]               # the hyperman command (words; some are Params)
    inputs: dict[str, list[str]]  # named inputs (data and upstream outputs)
    outputs: dict[str, str]       # named outputs; directories end with "/"
    params: list[str]             # params.yaml keys the command depends on
    code: list[str]               # package files the command runs (workflow/closure.py)
    metrics: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    gpu: bool = False
    structure: list[str] = field(default_factory=list)  # params keys that shape the plan (runs, paths), no flag

    def shell(self) -> str:
        """The command as Snakemake runs it (and `pipeline.py list` prints it)."""
        return shlex.join(self.argv)

    def input_files(self) -> list[str]:
        return [path for paths in self.inputs.values() for path in paths]

    def computed_params(self) -> list[str]:
        """params keys the command depends on that no word shows verbatim (a replicate's seed is train.seed + r,
        a target mapping becomes text): a command templated from params.yaml could not follow their change."""
        shown = {word.expr.split("[")[0] for word in self.argv if isinstance(word, Param)}
        return [key for key in self.params if key not in shown and key not in self.structure]


def _lookup(config: dict, key: str) -> tuple[bool, Any]:
    """(found, value) of a dotted params key."""
    value: Any = config
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _word(text: str, key: str, config: dict, index: int | None) -> str:
    """`text` as a Param when it is params.yaml's value of `key` (item `index` of a list) as DVC writes it."""
    found, value = _lookup(config, key)
    if index is not None:
        found = found and isinstance(value, list) and index < len(value)
        value = value[index] if found else None
    if not found or isinstance(value, (list, dict)) or flag_word(value) != text or shlex.quote(text) != text:
        return text
    return Param(text, key if index is None else f"{key}[{index}]")


def flags(cls: type, section: dict, name: str, config: dict, passthrough: tuple[str, ...] = (),
          fixed: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """(words, params keys) of a params section's flags (`hyperman.settings.to_argv`, the CLI's own), each value a Param where
    it is `config`'s (params.yaml's) value verbatim; `section` may differ from config[name] (a sweep run's λ),
    and the keys in `fixed` are never Params (a sweep run's name sets them, whatever params.yaml says)."""
    argv, keys = to_argv(cls, section, name, passthrough=list(passthrough))
    words, pos = [], 0
    for key in keys:
        value = section[key.split(".", 1)[1]]
        count = len(value) if isinstance(value, list) else 1
        values = argv[pos + 1: pos + 1 + count]
        template = key.split(".", 1)[1] not in fixed
        words += [argv[pos], *(_word(text, key, config, i if isinstance(value, list) else None) if template
                               else text for i, text in enumerate(values))]
        pos += 1 + count
    assert pos == len(argv), (argv, keys)
    return words, keys


def value(config: dict, key: str, default: Any, index: int | None = None) -> str:
    """One params value (item `index` of a list value) as a command word: a Param when params.yaml has it, else
    the default's text."""
    found, raw = _lookup(config, key)
    if index is not None:
        raw = raw[index] if found and isinstance(raw, list) and index < len(raw) else default
    return _word(flag_word(raw if found else default), key, config, index)


def data_dir(dataset: str) -> str:
    return f"data/{dataset}"


def suffix(run: str) -> str:
    """A run's stage-name suffix: '' for main, '_lambda1000_seed0', '_seeds_rep1'."""
    return "" if run == "main" else "_" + run.replace("-", "_").replace(".", "p").replace("/", "_")


@dataclass(frozen=True)
class Job:
    """One job of a kind: the params and the wildcards (run, baseline seed, dataset), with the paths they give."""

    config: dict
    run: str = "main"
    seed: int | None = None
    dataset: str | None = None

    @property
    def data(self) -> str:
        return data_dir(self.config["data"]["dataset"])

    @property
    def ood(self) -> str:
        return data_dir(self.config["data"]["ood_dataset"])

    @property
    def base(self) -> str:
        return f"results/{self.run}"

    @property
    def baseline_dirs(self) -> list[str]:
        single = baseline_registry.get("single_net")
        return [single.output_folder(seed=s) for s in seeds_grid.baseline_seeds(self.config, self.run)]

    def limit(self, split: str) -> list[str]:
        return [f"--limit-{split}", value(self.config, f"data.limit_{split}", 0)]

    def target(self) -> str:
        """--target's word: train.target as text (a mapping becomes its spec's text)."""
        raw = (self.config.get("train") or {}).get("target", "mnist_cnn")
        text = to_argv(TrainConfig, {"target": raw}, "train")[0][1]  # a mapping: its spec's text (flag_text)
        return value(self.config, "train.target", raw) if text == raw else text
