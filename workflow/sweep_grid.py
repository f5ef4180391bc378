"""The sweep's grid (params.yaml `sweep`): which runs it names, and what each run changes in `train`.

Run names: "lambda<λ>-seed<s>", or "lambda<λ>-beta<β>-seed<s>" when the sweep also varies the function-space
weight β ("lambdainf" = the no-diversity ablation). A run overrides only train.lambda, train.function_weight,
train.diversity and train.seed; workflow/pipeline.py builds its stages from that."""

from __future__ import annotations

from typing import Any

from hyperman.config.choices import diversity_label, diversity_terms


def _beta_diversity(train: dict, beta: float) -> str:
    """The diversity mode of a sweep run with function-space weight β: the main run's weight-space term stays as
    it is, and the function-space term is on exactly when β > 0 (β = 0 is the paper's weights-only objective)."""
    weights = "weights" in diversity_terms(train.get("diversity", "both"))
    if beta > 0:
        return "both" if weights else "function"
    return "weights" if weights else "none"


def run_overrides(run: str, train: dict | None = None) -> dict[str, Any]:
    """'main' → {}; 'lambda1000-seed2' → {'lambda': 1000.0, 'seed': 2}; 'lambda10000-beta6-seed0' also sets
    function_weight (and the diversity mode, from the main run's `train` section); 'lambdainf-…' → no diversity."""
    if run == "main":
        return {}
    parts = run.split("-")
    try:
        if len(parts) not in (2, 3) or not parts[0].startswith("lambda") or not parts[-1].startswith("seed"):
            raise ValueError
        lam, seed = parts[0].removeprefix("lambda"), int(parts[-1].removeprefix("seed"))
        beta = float(parts[1].removeprefix("beta")) if len(parts) == 3 and parts[1].startswith("beta") else None
        if len(parts) == 3 and beta is None:
            raise ValueError
    except ValueError:
        raise ValueError(f"bad run name {run!r}: expected 'main', 'lambda<value>-seed<n>' or "
                         "'lambda<value>-beta<value>-seed<n>'") from None
    if lam == "inf":
        return {"diversity": "none", "seed": seed, **_no_outliers(train)}
    out: dict[str, Any] = {"lambda": float(lam), "seed": seed}
    if beta is not None:
        out.update(function_weight=beta, diversity=_beta_diversity(train or {}, beta))
        if out["diversity"] in ("weights", "none"):
            out.update(_no_outliers(train))
    return out


def _no_outliers(train: dict | None) -> dict[str, Any]:
    """A run without a function-space term trains no outlier probes either (training refuses them there): the
    override, only when the main run has some (otherwise the run's command is unchanged)."""
    return {"outlier_probes": 0} if (train or {}).get("outlier_probes") else {}


def sweep_runs(config: dict) -> list[str]:
    """The sweep's run names: every λ × β × seed of params.yaml's `sweep` section (β only when
    `function_weights` lists some), less the point that is the main run itself (its setting and seed), which the
    report counts as one of the sweep's settings. Empty when `sweep.enabled` is false (the default study:
    `make sweep` turns it on)."""
    sweep = config.get("sweep") or {}
    if not sweep.get("enabled", True):
        return []
    train = config["train"]
    lambdas, betas = sweep.get("lambdas") or [], sweep.get("function_weights") or []
    seeds = sweep.get("seeds") or ([train.get("seed", 0)] if lambdas or betas else [])
    if not lambdas and (seeds or betas):
        lambdas = [train["lambda"]]
    runs = []
    for lam in lambdas:
        for beta in ([None] if not betas or lam == "inf" else betas):
            for seed in seeds:
                name = f"lambda{_number(lam)}" + ("" if beta is None else f"-beta{_number(beta)}") + f"-seed{seed}"
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
