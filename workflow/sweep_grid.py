"""The sweep's grid (params.yaml `sweep`): which runs it names, and what each run changes in `train`.

Run names: "lambda<λ>-seed<s>", or "lambda<λ>-beta<β>-seed<s>" when the sweep also varies the function-space
weight β ("lambdainf" = the no-diversity ablation), with one "-<setting><value>" part per entry of
`sweep.settings` (of its alternative, when that is a list) before the seed
("lambda30000-beta2-outlier_probes16-latent_components4-seed0"). A run overrides train.lambda,
train.function_weight, train.diversity, train.seed and the settings its name gives; workflow/stage_table.py builds
its stages from that."""

from __future__ import annotations

import itertools
import re
from dataclasses import fields
from typing import Any

from hyperman.config import LEVERS, TrainConfig
from hyperman.config.choices import diversity_label, diversity_terms
from hyperman.config.workflow import ParamsError

# The settings `sweep.settings` may cross: the scalar levers (hyperman.config.LEVERS: λ, β and the seed have axes
# of their own, and settings that only say how or where a run computes are no lever).
SWEEPABLE = {f.name: getattr(f.type, "__name__", f.type) for f in fields(TrainConfig) if f.name in LEVERS
             and getattr(f.type, "__name__", f.type) in ("int", "float", "str")}
WORD = re.compile(r"[A-Za-z0-9_]+")  # what a string value may hold: a run name is a DVC stage name too


def _beta_diversity(train: dict, beta: float) -> str:
    """The diversity mode of a sweep run with function-space weight β: the main run's weight-space term stays as
    it is, and the function-space term is on exactly when β > 0 (β = 0 is the paper's weights-only objective)."""
    weights = "weights" in diversity_terms(train.get("diversity", "both"))
    if beta > 0:
        return "both" if weights else "function"
    return "weights" if weights else "none"


def run_overrides(run: str, train: dict | None = None) -> dict[str, Any]:
    """'main' → {}; 'lambda1000-seed2' → {'lambda': 1000.0, 'seed': 2}; 'lambda10000-beta6-seed0' also sets
    function_weight (and the diversity mode, from the main run's `train` section); 'lambdainf-…' → no diversity;
    each '-<setting><value>' part sets that train setting ('outlier_probes16' → {'outlier_probes': 16})."""
    if run == "main":
        return {}
    parts = run.split("-")
    try:
        if len(parts) < 2 or not parts[0].startswith("lambda") or not parts[-1].startswith("seed"):
            raise ValueError
        lam, seed = parts[0].removeprefix("lambda"), int(parts[-1].removeprefix("seed"))
        middle = parts[1:-1]
        beta = float(middle.pop(0).removeprefix("beta")) if middle and middle[0].startswith("beta") else None
        settings = dict(_setting_of(part) for part in middle)
    except ValueError:
        raise ValueError(f"bad run name {run!r}: expected 'main' or 'lambda<value>[-beta<value>]"
                         f"[-<setting><value>...]-seed<n>' with settings among {', '.join(SWEEPABLE)}") from None
    if lam == "inf":
        return {"diversity": "none", "seed": seed, **settings, **_no_outliers(train)}
    out: dict[str, Any] = {"lambda": float(lam), "seed": seed, **settings}
    if beta is not None:
        out.update(function_weight=beta, diversity=_beta_diversity(train or {}, beta))
        if out["diversity"] in ("weights", "none"):
            out.update(_no_outliers(train))
    return out


def _setting_of(part: str) -> tuple[str, Any]:
    """'outlier_probes16' → ('outlier_probes', 16): the longest sweepable setting name the part starts with."""
    names = [name for name in SWEEPABLE if part.startswith(name) and len(part) > len(name)]
    if not names:
        raise ValueError
    name = max(names, key=len)
    text, kind = part[len(name):], SWEEPABLE[name]
    return name, int(text) if kind == "int" else float(text) if kind == "float" else text


def _setting_part(name: str, value: Any) -> str:
    """The run-name part of one setting's value (the inverse of _setting_of)."""
    if SWEEPABLE[name] == "str":
        return f"{name}{value}"
    return f"{name}{_number(value)}"


def _grid_settings(sweep: dict) -> list[tuple[dict[str, Any], list[int] | None]]:
    """The setting combinations of `sweep.settings` (one empty combination without it), each with the seeds it
    runs at (None: `sweep.seeds`): a mapping is crossed ({a: [1, 2], b: [x, y]} → four runs per λ × β × seed); a
    list of mappings is a union of such crosses, so that levers can be tried one at a time around the main run
    ([{a: [2]}, {b: [y]}] → two), and an alternative's own `seeds` list replaces `sweep.seeds` for it (a lever
    screened on one seed next to settings replicated on several). Refuses what a run name cannot carry: a setting
    that is not a scalar train setting, one with its own axis, or a value that is not a plain word or number."""
    grid = sweep.get("settings") or {}
    alternatives = grid if isinstance(grid, list) else [grid]
    problems = [f"sweep.settings[{i}]: {alt!r}; each alternative must be a mapping of setting: [values], e.g. "
                "{latent_components: [4]}" for i, alt in enumerate(alternatives) if not isinstance(alt, dict)]
    alternatives = [alt for alt in alternatives if isinstance(alt, dict)]
    for alt in alternatives:
        seeds = alt.get("seeds", [0])
        if not isinstance(grid, list) and "seeds" in alt:
            problems.append("sweep.settings.seeds: a crossed mapping takes sweep.seeds; an alternative's own seeds "
                            "belong in a list of alternatives, e.g. [{latent_components: [4], seeds: [0]}]")
        elif not (isinstance(seeds, list) and seeds and all(isinstance(x, int) and x >= 0 for x in seeds)):
            problems.append(f"sweep.settings[].seeds: {seeds!r}; give a non-empty list of seeds >= 0, e.g. [0]")
        problems += _value_problems({k: v for k, v in alt.items() if k != "seeds"})
    if problems:
        raise ParamsError("invalid parameters:\n  " + "\n  ".join(problems))
    combos: list[tuple[dict[str, Any], list[int] | None]] = []
    for alt in alternatives:
        names = [k for k in alt if k != "seeds"]
        for values in itertools.product(*(alt[k] for k in names)):
            if (dict(zip(names, values)), alt.get("seeds")) not in combos:
                combos.append((dict(zip(names, values)), alt.get("seeds")))
    return combos


def _value_problems(grid: dict) -> list[str]:
    """What a run name could not carry in one crossed mapping of settings."""
    problems = []
    for name, values in grid.items():
        if name not in SWEEPABLE:
            problems.append(f"sweep.settings.{name}: not a sweepable train setting; use one of "
                            f"{', '.join(SWEEPABLE)} (lambda, function_weight and seed have axes of their own: "
                            "sweep.lambdas, sweep.function_weights, sweep.seeds)")
        elif not isinstance(values, list) or not values:
            problems.append(f"sweep.settings.{name}: give a non-empty list of values, e.g. [0, 16]")
        elif SWEEPABLE[name] == "str" and not all(isinstance(v, str) and WORD.fullmatch(v) for v in values):
            problems.append(f"sweep.settings.{name}: {values!r}; each value must be a word of letters, digits, _")
        elif SWEEPABLE[name] != "str" and not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                  and v >= 0 for v in values):
            problems.append(f"sweep.settings.{name}: {values!r}; each value must be a number >= 0")
        elif SWEEPABLE[name] == "int" and not all(float(v).is_integer() for v in values):
            problems.append(f"sweep.settings.{name}: {values!r}; each value must be a whole number")
    return problems


def _no_outliers(train: dict | None) -> dict[str, Any]:
    """A run without a function-space term trains no outlier probes either (training refuses them there): the
    override, only when the main run has some (otherwise the run's command is unchanged)."""
    return {"outlier_probes": 0} if (train or {}).get("outlier_probes") else {}


def sweep_runs(config: dict) -> list[str]:
    """The sweep's run names: every λ × β × settings × seed of params.yaml's `sweep` section (β only when
    `function_weights` lists some, settings only as `settings` lists them), less the point that is the main run
    itself (its setting and seed), which the report counts as one of the sweep's settings. Empty when
    `sweep.enabled` is false (the default study: `make sweep` turns it on)."""
    sweep = config.get("sweep") or {}
    if not sweep.get("enabled", True):
        return []
    train = config["train"]
    lambdas, betas, combos = sweep.get("lambdas") or [], sweep.get("function_weights") or [], _grid_settings(sweep)
    varied = bool(lambdas or betas or sweep.get("settings"))
    seeds = sweep.get("seeds") or ([train.get("seed", 0)] if varied else [])
    if not lambdas and (seeds or betas or sweep.get("settings")):
        lambdas = [train["lambda"]]
    runs = []
    for lam in lambdas:
        for beta in ([None] if not betas or lam == "inf" else betas):
            for combo, own_seeds in combos:
                for seed in own_seeds or seeds:
                    name = "-".join([f"lambda{_number(lam)}", *([] if beta is None else [f"beta{_number(beta)}"]),
                                     *(_setting_part(k, v) for k, v in combo.items()), f"seed{seed}"])
                    if name not in runs and not _is_main(config, run_overrides(name, train)):
                        runs.append(name)
    return runs


def _effective(train: dict) -> dict:
    """A train section as the objective sees it: old boolean `diversity` spelled out, and β dropped where no
    function-space term uses it."""
    out = dict(train)
    out["diversity"] = diversity_label(out.get("diversity", "both"))  # a list of terms, a mode or a boolean
    if out["diversity"] in ("weights", "none"):
        out.pop("function_weight", None)
    return out


def _is_main(config: dict, overrides: dict) -> bool:
    """Whether a sweep run would train exactly what the main run trains (then it is the main run)."""
    main, run = _effective(config["train"]), _effective({**config["train"], **overrides})

    def same(a, b) -> bool:
        numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
        return float(a) == float(b) if numbers else a == b

    return all(same(main.get(key), run.get(key)) for key in overrides)


def _number(value: Any) -> str:
    """A value as a run name writes it: positional, so that no exponent's '-' splits the name (1e-05 → 0.00001)."""
    return "inf" if value == "inf" else f"{float(value):f}".rstrip("0").rstrip(".")
