"""One description per setting: a stage's config dataclass field says its name, type, default, help and choices.

Why: a setting used to live in up to six places (params.yaml, the schema, the
pipeline's flag table, the command line, argparse, the dataclass) with
different defaults. Now the dataclass field is the only description:

- `add_arguments` generates the stage's argparse flags from it,
- `from_args` builds the config from the parsed flags,
- `to_argv` turns a params.yaml section into the same flags for the workflow,
- `check` refuses a value outside the field's bounds (`minimum`, `maximum`,
  `exclusive_minimum`, `exclusive_maximum`) or its choices, a non-finite
  number, a fraction for a count, and the config's own cross-field rules
  (`cross_problems`), naming the flag (CLI) or the params key (`hyperman
  check-params`): the one way every stage's config is validated,
- tests/test_settings.py checks params.yaml's values, the schema's keys,
  enums and bounds against it.

A field declared with `setting(...)` is a user setting; a plain field is
internal state (never a flag). `key` is the name in params.yaml and on the
command line when it must differ from the Python name (λ is `lam` in code,
because `lambda` is a Python keyword, and `lambda` for users).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from typing import Any, Callable, Sequence

_NONE_TYPE = type(None)


def setting(default: Any = dataclasses.MISSING, help: str = "", *, choices: Sequence[Any] | None = None,
            key: str | None = None, arg_type: Callable[[str], Any] | None = None, metavar: str | None = None,
            param: bool = True, minimum: float | None = None, maximum: float | None = None,
            exclusive_minimum: float | None = None, exclusive_maximum: float | None = None,
            check: Callable[[Any, str], str | None] | None = None,
            flag_text: Callable[[Any], str] | None = None) -> Any:
    """A config field that is also a CLI flag (and, with `param`, a params.yaml key).

    `check(value, name)` says why a value of a structured setting is refused (None: it is fine), for the
    flag and the params key alike (the target spec); `flag_text` turns a params.yaml value (e.g. a mapping)
    into the flag's text.

    The bounds hold for the value (for a list: for every item); the schema's
    minimum/maximum/exclusiveMinimum/exclusiveMaximum of a params key must be
    the same (tests/test_settings.py). A list default is copied per instance;
    no default makes the flag required."""
    metadata = {"help": help, "choices": tuple(choices) if choices is not None else None, "key": key,
                "arg_type": arg_type, "metavar": metavar, "param": param, "check": check, "flag_text": flag_text,
                "bounds": {name: value for name, value in (("minimum", minimum), ("maximum", maximum),
                                                            ("exclusive_minimum", exclusive_minimum),
                                                            ("exclusive_maximum", exclusive_maximum))
                           if value is not None}}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def str2bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def optional_count(text: str) -> int | None:
    """A count where 0 (or 'none') means "no limit", so params.yaml never needs a null."""
    if text.lower() in ("none", "null", ""):
        return None
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a count >= 0 (0 = all), got {value}")
    return None if value == 0 else value


def pixels(text: str) -> int:
    """A shift in pixels: an integer >= 0 (0 = no augmentation)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of pixels >= 0 (0 = off), got {value}")
    return value


def settings_of(cls: type) -> list[dataclasses.Field]:
    """The fields of `cls` declared with `setting(...)`, in declaration order."""
    return [f for f in dataclasses.fields(cls) if "help" in f.metadata]


def key_of(field: dataclasses.Field) -> str:
    """The setting's name in params.yaml (and, with dashes, on the command line)."""
    return field.metadata["key"] or field.name


def flag_of(field: dataclasses.Field) -> str:
    return "--" + key_of(field).replace("_", "-")


def _kind(cls: type, field: dataclasses.Field) -> tuple[Any, bool, bool]:
    """(element type, is_list, is_optional) from the field's annotation."""
    hint = typing.get_type_hints(cls)[field.name]
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not _NONE_TYPE]
        optional, hint = True, args[0]
    if typing.get_origin(hint) is list:
        return typing.get_args(hint)[0], True, optional
    return hint, False, optional


def add_arguments(parser: argparse.ArgumentParser, cls: type, exclude: Sequence[str] = ()) -> None:
    """One flag per setting of `cls`, with its type, default, choices and help."""
    for field in settings_of(cls):
        if field.name in exclude:
            continue
        element, is_list, optional = _kind(cls, field)
        meta = field.metadata
        arg_type = meta["arg_type"]
        if arg_type is None:
            arg_type = {bool: str2bool, int: optional_count if optional else int}.get(element, element)
        kwargs: dict[str, Any] = {"dest": field.name, "type": arg_type, "help": meta["help"]}
        if element is bool:
            kwargs["metavar"] = "BOOL"
        if meta["metavar"]:
            kwargs["metavar"] = meta["metavar"]
        elif meta["choices"] is None and element is not bool:
            kwargs["metavar"] = key_of(field).upper()
        if meta["choices"] is not None:
            kwargs["choices"] = list(meta["choices"])
        if is_list:
            kwargs["nargs"] = "+"
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            kwargs["required"] = True
        else:
            kwargs["default"] = field.default_factory() if field.default is dataclasses.MISSING else field.default
        parser.add_argument(flag_of(field), **kwargs)


def from_args(cls: type, args: argparse.Namespace, **overrides: Any) -> Any:
    """The config `cls` from parsed flags (settings not on the parser keep their defaults), checked (`check`)."""
    values = {f.name: getattr(args, f.name) for f in settings_of(cls) if hasattr(args, f.name)}
    config = cls(**{**values, **overrides})
    check(config)
    return config


# JSON schema's name of each bound, and how a message says it
SCHEMA_BOUNDS = {"minimum": "minimum", "maximum": "maximum", "exclusive_minimum": "exclusiveMinimum",
                 "exclusive_maximum": "exclusiveMaximum"}
_WORDS = {"minimum": ">=", "exclusive_minimum": ">", "maximum": "<=", "exclusive_maximum": "<"}
_HOLDS = {"minimum": lambda v, b: v >= b, "maximum": lambda v, b: v <= b,
          "exclusive_minimum": lambda v, b: v > b, "exclusive_maximum": lambda v, b: v < b}


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def allowed(cls: type, field: dataclasses.Field) -> str:
    """What the field accepts, in words: 'an integer >= 1', 'a finite number > 0 and <= 1'."""
    element, _, _ = _kind(cls, field)
    what = "an integer" if element is int else "a finite number"
    given = field.metadata.get("bounds", {})
    bounds = [f"{_WORDS[name]} {_number(given[name])}" for name in _WORDS if name in given]
    return what + (" " + " and ".join(bounds) if bounds else "")


def value_problem(cls: type, field: dataclasses.Field, value: Any, name: str) -> str | None:
    """Why `value` is no valid value of the setting `field` (None when it is one); `name` is the flag or key."""
    element, is_list, optional = _kind(cls, field)
    if field.metadata.get("check") is not None:
        return field.metadata["check"](value, name)
    items = value if is_list and isinstance(value, (list, tuple)) else [value]
    choices = field.metadata.get("choices")
    if choices is not None:
        if is_list and not items:
            return f"{name} needs at least one of {', '.join(map(str, choices))}"
        bad = [item for item in items if item not in choices]
        return f"{name} must be one of {', '.join(map(str, choices))}, got {bad[0]!r}" if bad else None
    if element not in (int, float):
        return None
    if is_list and not items:
        return f"{name} needs at least one value ({allowed(cls, field)})"
    for item in items:
        if item is None and (optional or field.metadata.get("arg_type") is optional_count):
            continue
        if optional and element is int and item == 0:  # "0 = all" is how a flag or params.yaml says None
            return f"{name} must be None (all) or a count >= 1 in a config, got 0 (0 means all only on the " \
                   "command line and in params.yaml)"
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            return f"{name} must be {allowed(cls, field)}, got {item!r}"
        if element is int and not isinstance(item, int):
            hint = f"; write {int(item)}" if math.isfinite(item) and float(item).is_integer() else ""
            return f"{name} must be {allowed(cls, field)}, got {item!r} (not a whole number{hint})"
        if not math.isfinite(item):
            return f"{name} must be {allowed(cls, field)}, got {item}"
        if not all(_HOLDS[kind](item, bound) for kind, bound in field.metadata.get("bounds", {}).items()):
            return f"{name} must be {allowed(cls, field)}, got {_number(item)}"
    return None


def problems(config: Any, name: Callable[[str], str] | None = None) -> list[str]:
    """Every reason `config` cannot run: each setting's bounds, then the config's cross-field rules
    (its `cross_problems(name)` method, when it has one). `name` turns a field name into what the user
    wrote: the flag by default, a params key path for check-params."""
    cls = type(config)
    by_name = {f.name: f for f in settings_of(cls)}
    name = name or (lambda field_name: flag_of(by_name[field_name]) if field_name in by_name
                    else "--" + field_name.replace("_", "-"))
    found = [problem for field in by_name.values()
             if (problem := value_problem(cls, field, getattr(config, field.name), name(field.name)))]
    if not found and hasattr(config, "cross_problems"):  # cross-field rules assume every value is in range
        found += config.cross_problems(name)
    return found


def check(config: Any, name: Callable[[str], str] | None = None) -> None:
    """Raise ConfigError naming every bad setting (one line), before anything is read or written."""
    from .errors import ConfigError

    found = problems(config, name)
    if found:
        raise ConfigError("; ".join(found))


def flag_word(value: Any) -> str:
    """A setting's value as one word of a command line (booleans as true/false, which the flags parse back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


DEVICE_HELP = "where to run (auto: CUDA when present, else the CPU)"


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """--device for stages whose stored config must not depend on where it ran (baseline, distill)."""
    from .config.choices import DEVICES

    parser.add_argument("--device", default="auto", choices=list(DEVICES), help=DEVICE_HELP)


def to_argv(cls: type, section: dict[str, Any], name: str,
            passthrough: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(flags, params keys) for the params.yaml section `name` of stage config `cls`.

    Every key of the section must be a params setting of `cls` or one of
    `passthrough` (flags the stage adds itself, e.g. --device); a stray key is
    a bug in the pipeline (the schema has already refused unknown user keys)."""
    by_key = {key_of(f): f for f in settings_of(cls) if f.metadata["param"]}
    argv, keys = [], []
    for key in (k for k in passthrough if k in section):
        argv += [f"--{key.replace('_', '-')}", flag_word(section[key])]
        keys.append(f"{name}.{key}")
    section = {k: v for k, v in section.items() if k not in passthrough}
    stray = sorted(set(section) - set(by_key))
    if stray:
        raise KeyError(f"params keys {', '.join(f'{name}.{k}' for k in stray)} are no settings of "
                       f"{cls.__name__}; its settings: {', '.join(by_key)}")
    for key in (k for k in by_key if k in section):  # declaration order: the command does not depend on YAML order
        value = section[key]
        if by_key[key].metadata["flag_text"] is not None:
            value = by_key[key].metadata["flag_text"](value)
        flag = flag_of(by_key[key])
        argv += [flag, *map(flag_word, value)] if isinstance(value, list) else [flag, flag_word(value)]
        keys.append(f"{name}.{key}")
    return argv, keys


def defaults(cls: type) -> dict[str, Any]:
    """{params key: default} of the params settings of `cls` (what params.yaml must agree with)."""
    out = {}
    for field in settings_of(cls):
        if field.metadata["param"] and field.default_factory is not dataclasses.MISSING:
            out[key_of(field)] = field.default_factory()
        elif field.metadata["param"] and field.default is not dataclasses.MISSING:
            out[key_of(field)] = field.default
    return out


def path_setting(help: str, *, required: bool = True) -> Any:
    """A file or folder given on the command line (never a params.yaml key: the workflow names paths)."""
    return setting(dataclasses.MISSING if required else None, help, param=False)


__all__ = ["setting", "path_setting", "add_arguments", "from_args", "check", "problems", "value_problem", "to_argv", "defaults", "settings_of", "key_of",
           "flag_of", "str2bool", "optional_count", "pixels"]
