"""The evidence figures (equal compute, shift, forest plot) and the frontier, drawn from small synthetic tables
written as CSV and read back by the report's own reader: each writes its PNG, plots exactly the table's
numbers (read back from the matplotlib Axes), and is skipped with its reason when its table is missing."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from hyperman import checkpoint, outputs
from hyperman.report.figures import FIGURES, SKIP_REASONS, available, plt_agg, save
from hyperman.report.figures.evidence import excludes_zero
from hyperman.report.figures.frontier import baseline_points, sweep_points
from hyperman.report.inputs import ReportError, label_from_checkpoint, parse_label, read_csv

PNG = b"\x89PNG\r\n\x1a\n"
EVIDENCE = {"equal_compute": outputs.EQUAL_COMPUTE, "shift": outputs.SHIFT, "models_comparison": outputs.COMPARISONS}


def _table(folder: Path, name: str, rows: list[list]) -> list[dict]:
    """Write rows under the documented header, read them back as the report does."""
    header = outputs.EVIDENCE_TABLES[name]
    with open(folder / name, "w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return read_csv(folder / name, header)


def _figure(stem: str):
    return next((function, need) for s, function, _, need, *_ in FIGURES if s == stem)


def _draw(stem: str, inputs: dict, folder: Path):
    """The figure, saved as the report saves it (PNG + SVG); returns the live figure's axes."""
    function, need = _figure(stem)
    assert available(need, inputs)
    plt = plt_agg()
    fig = function(plt, inputs)
    axes = fig.axes
    files = save(fig, folder, stem, svg=True)
    data = (folder / files[0]).read_bytes()
    assert data[:8] == PNG and len(data) > 2000
    assert (folder / files[1]).read_text().lstrip().startswith("<?xml")
    return axes


def _line(ax, gid: str):
    found = [line for line in ax.lines if line.get_gid() == gid]
    assert len(found) == 1, (gid, [line.get_gid() for line in ax.lines])
    return found[0]


def _inputs(tables: dict | None = None, metrics: dict | None = None, sweep: list | None = None) -> dict:
    return {"tables": tables or {}, "metrics": metrics or {}, "sweep": sweep or [], "distill": None, "cfg": None}


@pytest.fixture
def equal_compute(tmp_path) -> dict:
    # k members × e epochs: FLOPs = 10·k·e (seconds 99, never plotted); accuracy rises with both; no OOD for
    # k = 1 (empty cells)
    rows = [[k, e, 10.0 * k * e, 99.0, 0.9 + 0.01 * k + 0.001 * e, 0.3 - 0.02 * k - 0.01 * e,
             0.9 + 0.01 * k if k > 1 else ""] for k in (1, 2, 3) for e in (3, 1, 2)]
    hyper = {"train_flops": 45.0, "accuracy": 0.935, "nll": 0.21, "ood": {"auroc": 0.97}}
    return _inputs({outputs.EQUAL_COMPUTE: _table(tmp_path, outputs.EQUAL_COMPUTE, rows)},
                   {"models": {"hypernet_ensemble": hyper}})


def test_equal_compute_plots_every_k_against_flops_and_the_hypernet_point(equal_compute, tmp_path):
    accuracy, nll, ood = _draw("equal_compute", equal_compute, tmp_path)
    for k in (1, 2, 3):
        line = _line(accuracy, f"deep:{k}")
        np.testing.assert_allclose(line.get_xdata(), [10.0 * k * e for e in (1, 2, 3)])  # sorted by epochs
        np.testing.assert_allclose(line.get_ydata(), [100 * (0.9 + 0.01 * k + 0.001 * e) for e in (1, 2, 3)])
    np.testing.assert_allclose(_line(nll, "deep:3").get_ydata(), [0.3 - 0.06 - 0.01 * e for e in (1, 2, 3)])
    assert [line.get_gid() for line in ood.lines if line.get_gid()] == ["deep:2", "deep:3", "hypernet"]  # k = 1: no OOD
    star = _line(accuracy, "hypernet")
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (45.0, pytest.approx(93.5))
    assert accuracy.get_xscale() == "log"


def test_equal_compute_places_each_sweep_run_at_its_own_flops(equal_compute, tmp_path):
    runs = [{"lambda": 30000.0, "seed": 0, "beta": 2.0, "settings": {"outlier_probes": 16},
             "metrics": {"models": {"hypernet_ensemble": {"train_flops": 60.0, "accuracy": 0.94, "nll": 0.2,
                                                          "ood": {"auroc": 0.98}}}}},
            {"lambda": 30000.0, "seed": 0, "beta": 2.0, "settings": {"function_every": 4},
             "metrics": {"models": {"hypernet_ensemble": {"train_flops": 35.0, "accuracy": 0.93, "nll": 0.22}}}}]
    equal_compute["sweep"] = runs
    accuracy, nll, ood = _draw("equal_compute", equal_compute, tmp_path)
    point = _line(nll, "sweep:λ=30000, β=2, outlier_probes=16")
    assert (point.get_xdata()[0], point.get_ydata()[0]) == (60.0, pytest.approx(0.2))
    assert _line(accuracy, "sweep:λ=30000, β=2, function_every=4").get_xdata()[0] == 35.0
    assert [line.get_gid() for line in ood.lines if line.get_gid() and line.get_gid().startswith("sweep")] == [
        "sweep:λ=30000, β=2, outlier_probes=16"]  # the other run measured no OOD AUROC: not drawn as 0


def test_equal_compute_without_the_hypernet_point_still_draws(equal_compute, tmp_path):
    equal_compute["metrics"] = {}
    axes = _draw("equal_compute", equal_compute, tmp_path)
    assert not [line for line in axes[0].lines if line.get_gid() == "hypernet"]


def test_shift_draws_one_line_per_model_and_the_hypernet_member_dashed(tmp_path):
    rows = []
    for family, intensities in (("rotation", (0, 90, 180)), ("gaussian_noise", (0.0, 0.5))):
        for model, base in (("hypernet_ensemble", 0.99), ("deep_ensemble", 0.98), ("single_net", 0.97)):
            for kind, offset in (("ensemble", 0.0), ("member", -0.01)):
                rows += [[family, x, model, kind, base + offset - 0.001 * i, 0.1 + i, 0.01 * (i + 1)]
                         for i, x in enumerate(intensities)]
                rows.append([family, "mean", model, kind, 0.5, 9.0, 0.5])  # belongs to metrics.json, not drawn
    axes = _draw("shift", _inputs({outputs.SHIFT: _table(tmp_path, outputs.SHIFT, rows)}), tmp_path)
    assert len(axes) == 6  # two families × accuracy, NLL, ECE
    rotation_acc, noise_nll = axes[0], axes[4]
    assert sorted(line.get_gid() for line in rotation_acc.lines) == [
        "deep_ensemble:ensemble", "hypernet_ensemble:ensemble", "hypernet_ensemble:member", "single_net:ensemble"]
    member = _line(rotation_acc, "hypernet_ensemble:member")
    assert member.get_linestyle() == "--" and _line(rotation_acc, "deep_ensemble:ensemble").get_linestyle() == "-"
    np.testing.assert_allclose(member.get_xdata(), [0, 90, 180])
    np.testing.assert_allclose(member.get_ydata(), [98.0, 97.9, 97.8])
    np.testing.assert_allclose(_line(noise_nll, "single_net:ensemble").get_ydata(), [0.1, 1.1])


def test_forest_plot_draws_the_csv_estimates_and_intervals(tmp_path):
    rows = [["single_net", "accuracy", 0.004, 0.002, 0.006, True],
            ["single_net", "nll", -0.01, -0.02, 0.001, False],
            ["deep_ensemble", "accuracy", -0.001, -0.003, 0.0012, False],
            ["deep_ensemble", "nll", 0.002, 0.001, 0.004, True],
            ["hypernet_member", "ece", -0.003, "", "", ""]]  # mean member ECE: no interval
    table = _table(tmp_path, outputs.COMPARISONS, rows)
    accuracy, nll, ece = _draw("models_comparison", _inputs({outputs.COMPARISONS: table}), tmp_path)
    assert [ax.get_title().split("\n")[0] for ax in (accuracy, nll, ece)] == [
        "accuracy (pp)", "NLL (nats per image)", "ECE (15 bins)"]
    for model, metric, estimate, low, high, flag in rows[:4]:
        ax, scale = (accuracy, 100) if metric == "accuracy" else (nll, 1)
        y = 0 if model == "single_net" else 1
        point, bar = _line(ax, f"estimate:{model}"), _line(ax, f"interval:{model}")
        assert (point.get_xdata()[0], point.get_ydata()[0]) == (pytest.approx(scale * estimate), y)
        np.testing.assert_allclose(bar.get_xdata(), [scale * low, scale * high])
        assert (point.get_markerfacecolor() != "white") == flag  # filled exactly where the interval excludes 0
    assert not [line for line in ece.lines if line.get_gid() == "interval:hypernet_member"]
    assert _line(ece, "estimate:hypernet_member").get_xdata()[0] == pytest.approx(-0.003)
    assert [t.get_text() for t in accuracy.get_yticklabels()] == ["single net", "deep ensemble", "hypernet member"]


def test_excludes_zero_reads_the_flag_and_falls_back_on_the_interval():
    row = {"low": -1.0, "high": 1.0}
    assert excludes_zero({**row, "excludes_zero": "True"}) and not excludes_zero({**row, "excludes_zero": "False"})
    assert excludes_zero({"low": 0.1, "high": 0.2, "excludes_zero": ""})
    assert not excludes_zero({"low": -0.1, "high": 0.2, "excludes_zero": ""})
    assert not excludes_zero({"low": math.nan, "high": math.nan, "excludes_zero": ""})


def _run_metrics(member: float, disagreement: float, nll: float, auroc: float) -> dict:
    return {"models": {"hypernet_member": {"accuracy": member},
                       "hypernet_ensemble": {"accuracy": member + 0.002, "nll": nll, "ood": {"auroc": auroc}}},
            "diversity": {"hypernet": {"disagreement": disagreement}},
            "hypernet": {"members": {"accuracy_mean": member}}}


def _sweep_run(lam: float, member: float, metrics: dict, **extra) -> dict:
    return {"folder": "x", "lambda": lam, "seed": 0, "member_accuracy": member, "ensemble_gain": 0.001,
            "disagreement": metrics.get("diversity", {}).get("hypernet", {}).get("disagreement", 0.0),
            "metrics": metrics, **extra}


@pytest.fixture
def frontier() -> dict:
    old = {"hypernet": {"members": {"accuracy_mean": 0.985}, "ensemble": {"nll": [0.05, 0.04]}},
           "diversity": {"hypernet": {"disagreement": 0.004}}, "ood": {"hypernet": {"auroc_mi": 0.95}}}
    sweep = [_sweep_run(3e4, 0.991, _run_metrics(0.991, 0.0046, 0.026, 0.963)),
             _sweep_run(1e4, 0.9877, _run_metrics(0.9877, 0.0121, 0.0298, 0.9994), beta=1000.0),
             _sweep_run(1e3, 0.985, old)]  # an older evaluation: only the old keys
    main = {**_run_metrics(0.99, 0.005, 0.03, 0.97),
            "deep_ensemble": {"members": {"accuracy_mean": 0.9897}},
            "single_net": {"accuracy": 0.99}}
    main["models"].update({"deep_ensemble": {"accuracy": 0.9932, "nll": 0.0228, "members": 5,
                                             "ood": {"score": "mutual_information", "auroc": 0.99}},
                           "single_net": {"accuracy": 0.99, "nll": 0.035, "members": 1,
                                          "ood": {"score": "entropy", "auroc": 0.98}},
                           "noise_ensemble": {"accuracy": 0.991, "nll": 0.03, "members": 10,
                                              "ood": {"score": "mutual_information", "auroc": 0.975}}})
    main["diversity"]["deep_ensemble"] = {"disagreement": 0.0113}
    return _inputs(metrics=main, sweep=sweep)


def test_frontier_places_each_sweep_run_and_baseline_at_its_numbers(frontier, tmp_path):
    disagreement, nll, ood = _draw("frontier", frontier, tmp_path)
    point = _line(disagreement, "sweep:λ=10000, β=1000")
    assert (point.get_xdata()[0], point.get_ydata()[0]) == (pytest.approx(98.77), pytest.approx(1.21))
    point = _line(nll, "sweep:λ=1000")  # the older run: the largest ensemble's NLL of hypernet.ensemble
    assert (point.get_xdata()[0], point.get_ydata()[0]) == (pytest.approx(98.5), pytest.approx(0.04))
    assert _line(ood, "sweep:λ=30000").get_ydata()[0] == pytest.approx(0.963)
    deep = _line(nll, "baseline:deep_ensemble")  # at its members' mean accuracy, not its ensemble accuracy
    assert (deep.get_xdata()[0], deep.get_ydata()[0]) == (pytest.approx(98.97), pytest.approx(0.0228))
    single = _line(ood, "baseline:single_net")
    assert (single.get_xdata()[0], single.get_ydata()[0]) == (pytest.approx(99.0), pytest.approx(0.98))
    assert "(OOD by entropy)" in single.get_label()
    noise = _line(ood, "baseline:noise_ensemble")  # no member accuracy recorded: a level line
    assert list(noise.get_ydata()) == [0.975, 0.975] and "not recorded" in noise.get_label()
    assert not [line for line in disagreement.lines if line.get_gid() == "baseline:noise_ensemble"]  # not measured
    assert {t.get_text() for t in disagreement.texts} >= {"λ=30000", "λ=10000, β=1000", "λ=1000"}
    assert not [line for line in nll.lines if line.get_gid() == "chosen"]  # no choice made: no ring


def test_frontier_rings_every_seed_of_the_chosen_setting(frontier, tmp_path):
    frontier["chosen"] = {"runs": [frontier["sweep"][1]]}
    ring = _line(_draw("frontier", frontier, tmp_path)[1], "chosen")
    assert (list(ring.get_xdata()), list(ring.get_ydata())) == ([pytest.approx(98.77)], [pytest.approx(0.0298)])
    frontier["chosen"] = {"runs": [frontier["sweep"][1], frontier["sweep"][2]]}  # a setting trained on two seeds
    ring = _line(_draw("frontier", frontier, tmp_path)[1], "chosen")
    assert list(ring.get_ydata()) == [pytest.approx(0.0298), pytest.approx(0.04)]


def test_frontier_points_read_the_newest_keys_first(frontier):
    points = sweep_points(frontier["sweep"])
    assert [p["label"] for p in points] == ["λ=30000", "λ=10000, β=1000", "λ=1000"]
    assert [p["nll"] for p in points] == [0.026, 0.0298, 0.04]
    assert [p["beta"] for p in points] == [None, 1000.0, None]
    frontier["sweep"][2]["seed"] = 1  # several seeds: each label names its run's seed
    assert [p["label"] for p in sweep_points(frontier["sweep"])] == ["λ=30000, seed 0", "λ=10000, β=1000, seed 0",
                                                                    "λ=1000, seed 1"]
    assert sweep_points([{**frontier["sweep"][0], "lambda": math.inf}])[0]["label"] == "no diversity"
    names = [b["name"] for b in baseline_points(frontier["metrics"])]
    assert names == ["deep_ensemble", "single_net", "noise_ensemble"]  # hypernet_* are not baselines
    older = baseline_points({"deep_ensemble": {"nll": 0.02, "members": {"accuracy_mean": 0.98}},
                             "single_net": {"accuracy": 0.99, "nll": 0.03}})
    assert [(b["name"], b["member_accuracy"], b["nll"]) for b in older] == [("deep_ensemble", 0.98, 0.02),
                                                                            ("single_net", 0.99, 0.03)]


@pytest.mark.parametrize("stem", ["equal_compute", "shift", "models_comparison", "frontier"])
def test_a_figure_without_its_input_is_skipped_with_its_reason(stem, tmp_path):
    _, need = _figure(stem)
    assert not available(need, _inputs())
    if stem in EVIDENCE:
        header_only = _table(tmp_path, EVIDENCE[stem], [])
        assert not available(need, _inputs({EVIDENCE[stem]: header_only}))  # an empty table: nothing to draw
        assert not available(need, _inputs({EVIDENCE[stem]: None}))
        assert EVIDENCE[stem] in SKIP_REASONS[need]
    else:
        assert "--sweep" in SKIP_REASONS[need]


def test_sweep_labels_carry_the_function_space_weight():
    assert parse_label("lambda=1e4,beta=300,seed=2") == {"lambda": 1e4, "beta": 300.0, "seed": 2}
    assert parse_label("lambda=1e4,function_weight=1000") == {"lambda": 1e4, "beta": 1000.0, "seed": 0}
    with pytest.raises(ReportError, match="beta"):
        parse_label("lambda=1e4,beta=-1")


def test_lambda_figure_draws_one_line_per_function_space_weight(tmp_path):
    def run(lam, seed, member, beta=None):
        return {"folder": "x", "lambda": lam, "seed": seed, "member_accuracy": member, "ensemble_gain": 0.001,
                "disagreement": 0.01, **({} if beta is None else {"beta": beta})}
    sweep = [run(1e3, 0, 0.97), run(1e4, 0, 0.98), run(1e3, 0, 0.96, 300.0), run(1e3, 1, 0.95, 300.0),
             run(1e4, 0, 0.975, 300.0), run(math.inf, 0, 0.99)]
    member_axes = _draw("lambda_tradeoff", _inputs(sweep=sweep), tmp_path)[0]
    lines = {c.get_label(): c.lines[0] for c in member_axes.containers}  # errorbar's data line (object arrays)
    data = {label: (np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float))
            for label, line in lines.items()}
    assert set(lines) == {"λ·CE − Ĥ (mean ± std over seeds)", "λ·CE − Ĥ − β·Ĥ_function, β = 300",
                          "λ = ∞ (no diversity term)"}
    x, y = data["λ·CE − Ĥ − β·Ĥ_function, β = 300"]
    np.testing.assert_allclose(x, [1e3, 1e4])
    np.testing.assert_allclose(y, [95.5, 97.5])  # mean over the two seeds at λ = 1000
    np.testing.assert_allclose(data["λ·CE − Ĥ (mean ± std over seeds)"][1], [97.0, 98.0])
    np.testing.assert_allclose(data["λ = ∞ (no diversity term)"][0], [1e5])


@pytest.mark.parametrize("diversity, label", [
    (True, {"lambda": 3e4, "seed": 2}), (False, {"lambda": math.inf, "seed": 2}),  # older checkpoints: a bool
    ("weights", {"lambda": 3e4, "seed": 2}), ("none", {"lambda": math.inf, "seed": 2}),
    ("function", {"lambda": 3e4, "seed": 2, "beta": 300.0}), ("both", {"lambda": 3e4, "seed": 2, "beta": 300.0})])
def test_sweep_label_from_the_checkpoint_reads_the_diversity_mode(diversity, label, tmp_path):
    path = tmp_path / "hypernet.pt"
    checkpoint.save(path, {"kind": "hypernetwork", "config": {"lam": 3e4, "seed": 2, "diversity": diversity,
                                                               "function_weight": 300.0}})
    assert label_from_checkpoint({"inputs": {"checkpoint": str(path)}}, tmp_path) == label


def test_selective_figure_draws_the_csv_curves_of_the_headline_models_per_score(tmp_path):
    header = outputs.TABLES[outputs.SELECTIVE]
    rows = [[model, score, c, base * c] for model, base in (("hypernet_ensemble", 0.01), ("deep_ensemble", 0.02),
                                                           ("single_net", 0.03), ("noise_ensemble", 0.04))
            for score in ("entropy", "mutual_information") if not (model == "single_net" and score != "entropy")
            for c in (1.0, 0.5, 0.25)]
    with open(tmp_path / outputs.SELECTIVE, "w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    table = read_csv(tmp_path / outputs.SELECTIVE, header)
    aurc = {"estimate": 0.004, "low": 0.003, "high": 0.005}
    metrics = {"models": {"hypernet_ensemble": {"members": 100, "selective": {"entropy": {"aurc": aurc}}}}}
    entropy, mi = _draw("selective", _inputs({outputs.SELECTIVE: table}, metrics), tmp_path)
    drawn = [line.get_gid() for line in entropy.lines if line.get_gid()]
    assert drawn == ["hypernet_ensemble:entropy", "deep_ensemble:entropy", "single_net:entropy"]  # the headline
    assert [line.get_gid() for line in mi.lines if line.get_gid()] == ["hypernet_ensemble:mutual_information",
                                                                      "deep_ensemble:mutual_information"]
    deep = _line(entropy, "deep_ensemble:entropy")
    np.testing.assert_allclose(deep.get_xdata(), [25, 50, 100])  # sorted by coverage, in %
    np.testing.assert_allclose(deep.get_ydata(), [0.5, 1.0, 2.0])
    labels = [text.get_text() for text in entropy.get_legend().get_texts()]
    assert labels[0] == "hypernetwork ensemble (100 nets), AURC 0.004 [0.003, 0.005]"
    assert any("n/a: single net" in text.get_text() for text in mi.texts)
    assert not available("selective", _inputs({outputs.SELECTIVE: None}))
    assert outputs.SELECTIVE in SKIP_REASONS["selective"]
