"""params.yaml: load it and validate it against the schema beside this module (hyperman/params.schema.yaml).

The workflow calls this before it plans a single job, so a typo fails at once
with the key path, the bad value and what is allowed, instead of an hour later.
jsonschema is imported here only: the training path does not need it.

The schema cannot say everything: it takes 10.0 for an integer and lets NaN
and infinity through every bound, and it knows no rule between keys (the
snapshot cycles must divide the baseline's epochs). So every section is also
checked by the stage's own config (`hyperman.settings.check`: the bounds
declared on its fields and its cross-field rules), the same check the CLI runs
on the flags: one rule, whichever way a value comes in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import HypermanError

# Package data, not a path into workflow/: `hyperman check-params` works from an installed package too, and the
# dataset enum in it is tied to hyperman.datasets by tests/test_datasets.py.
SCHEMA_PATH = Path(__file__).resolve().with_name("params.schema.yaml")


class ParamsError(HypermanError, ValueError):
    """params.yaml breaks the schema; the message names the key and the allowed values."""


def _allowed(error) -> str:
    schema = error.schema
    if error.validator == "additionalProperties":
        return "allowed keys: " + ", ".join(sorted(schema.get("properties", {})))
    if "enum" in schema:
        return "allowed: " + ", ".join(repr(v) for v in schema["enum"])
    parts = []
    if "type" in schema:
        parts.append(f"type {schema['type']}")
    for key, word in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in schema:
            parts.append(f"{word} {schema[key]}")
    if "minItems" in schema:
        parts.append(f"at least {schema['minItems']} item(s)")
    return "allowed: " + (", ".join(parts) if parts else error.message)


def validate(params: dict[str, Any], schema_path: Path = SCHEMA_PATH) -> dict[str, Any]:
    """Raise ParamsError listing every violation (key path, bad value, allowed); return params."""
    import jsonschema
    from jsonschema.exceptions import best_match

    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    # best_match: an anyOf's failure names its most specific reason (sweep.settings.outlier_probes.0: >= 0)
    errors = [best_match([error]) for error in validator.iter_errors(params)]
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            key = ".".join([path] if path != "(top level)" else []) 
            for name in extra:
                full = f"{key}.{name}" if key else name
                problems.append(f"{full}: unknown key; {_allowed(error)}")
            continue
        if error.validator == "required":
            problems.append(f"{path}: {error.message}")
            continue
        problems.append(f"{path}: bad value {error.instance!r}; {_allowed(error)}")
    if problems:
        raise ParamsError("invalid parameters:\n  " + "\n  ".join(problems))
    return params


# The snapshot ensemble is a baseline run: its config (hyperman.config.SECTIONS) is the `baseline` section
# overlaid with the `snapshot` section (its own epochs and cycles).
UNDERLAY = {"snapshot": "baseline"}  # section → the section whose values it overrides


def _home(params: dict[str, Any], section: str, key: str) -> str:
    """The section a setting's value comes from: its own, or the one it overlays."""
    if key in (params.get(section) or {}) or section not in UNDERLAY:
        return section
    return UNDERLAY[section]


def check_sections(params: dict[str, Any]) -> dict[str, Any]:
    """Raise ParamsError naming every value the stage's config refuses (`hyperman.settings.check`)."""
    import dataclasses
    import types
    import typing

    from . import settings
    from .config import SECTIONS

    problems = []
    for section, cls in SECTIONS.items():
        if section not in params:
            continue
        fields = {settings.key_of(f): f for f in settings.settings_of(cls) if f.metadata["param"]}
        where = {f.name: f"{_home(params, section, key)}.{key}" for key, f in fields.items()}
        values = {}
        for key, field in fields.items():
            home = _home(params, section, key)
            if key in (params.get(home) or {}):
                value = params[home][key]
                optional = typing.get_origin(typing.get_type_hints(cls)[field.name]) in (typing.Union,
                                                                                         types.UnionType)
                values[field.name] = None if optional and value == 0 else value  # 0 = "all", as on the CLI
        required = {f.name: None for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        config = cls(**{**required, **values})
        problems += settings.problems(config, lambda field_name: where.get(field_name, f"{section}.{field_name}"))
    problems += seeds_problems(params)
    if not problems:  # the target's spec is valid by now
        problems += target_problems(params)
    if problems:
        raise ParamsError("invalid parameters:\n  " + "\n  ".join(problems))
    return params


def seeds_problems(params: dict[str, Any]) -> list[str]:
    """The seeds study's rule across sections: replicate r's deep ensemble is trained with baseline.seeds +
    r × seeds.baseline_seed_stride, so the stride must exceed the spread of baseline.seeds, or two replicates
    would share baseline nets and their differences would not be independent draws (workflow/seeds_grid.py)."""
    stride = (params.get("seeds") or {}).get("baseline_seed_stride")
    seeds = (params.get("baseline") or {}).get("seeds") or []
    if stride is None or not seeds or stride > max(seeds) - min(seeds):
        return []
    spread = max(seeds) - min(seeds)
    return [f"seeds.baseline_seed_stride {stride} must exceed max - min of baseline.seeds ({spread}), or two "
            f"replicates would share baseline seeds; set it to {spread + 1} or more (e.g. 1000)"]


def target_problems(params: dict[str, Any]) -> list[str]:
    """The target must take the dataset's images: train.target's input shape against data.dataset's. Read off
    the target's spec (hyperman.target_spec), not a built net: validating params.yaml loads no torch."""
    from .datasets import REGISTRY
    from .target_spec import parse

    dataset = (params.get("data") or {}).get("dataset")
    name, spec = parse((params.get("train") or {}).get("target", "mnist_cnn"))
    shape = REGISTRY[dataset].image_shape if dataset in REGISTRY else None
    if shape is None or tuple(spec.input) == shape:
        return []
    return [f"train.target {name} takes {'x'.join(map(str, spec.input))} images but data.dataset "
            f"{dataset} has {'x'.join(map(str, shape))} (channels x height x width); give the target that input"]


def load(path: Path) -> dict[str, Any]:
    """Read and validate a params file."""
    try:
        params = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as error:
        raise ParamsError(f"{path} is not valid YAML: {error}") from None
    except OSError as error:
        raise ParamsError(f"cannot read {path}: {error.strerror}; give the path of a params file "
                          "(e.g. params.yaml or configs/tiny.yaml)") from None
    if not isinstance(params, dict):
        raise ParamsError(f"{path} must hold a mapping of sections (data, train, ...)")
    return check_sections(validate(params))
