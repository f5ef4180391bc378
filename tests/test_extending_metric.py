"""README "Extending → A new metric", for real: a score added to evaluation/models.py's one list (SCORES) and
to its column names (outputs.SCORE_COLUMNS) reaches every model's metrics.json entry, the members' mean and
models.csv's row, with no other edit."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from hyperman import outputs
from hyperman.evaluation import models
from hyperman.evaluation.context import Model
from hyperman.targets import get_target


def confidence(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The README's example metric: the mean maximum probability, (..., T, C) → (...)."""
    return probs.max(-1).values.double().mean(-1)


def test_the_scores_and_their_columns_are_one_list():
    assert tuple(name for name, _, _ in models.SCORES) == outputs.SCORE_COLUMNS
    header = outputs.TABLES[outputs.MODELS]
    assert header[1:1 + len(outputs.SCORE_COLUMNS)] == list(outputs.SCORE_COLUMNS)


def test_a_new_score_reaches_every_model_and_models_csv(monkeypatch):
    monkeypatch.setattr(models, "SCORES", (*models.SCORES, ("confidence", confidence, True)))
    monkeypatch.setattr(outputs, "SCORE_COLUMNS", (*outputs.SCORE_COLUMNS, "confidence"))
    torch.manual_seed(0)
    probs = torch.softmax(3 * torch.randn(3, 40, 10), -1)  # three members, 40 images
    y = torch.randint(0, 10, (40,))
    ctx = SimpleNamespace(models={"hypernet_ensemble": Model(probs, None, 1.0), "single_net": Model(probs[:1], None,
                                                                                                   2.0)},
                          y=y, target=get_target("mnist_cnn"), results={})
    section, tables = models.models_part(ctx)
    found = section["models"]
    assert set(found) == {"hypernet_ensemble", "hypernet_member", "single_net"}
    mean = probs.double().mean(0)
    assert found["hypernet_ensemble"]["confidence"] == float(mean.max(-1).values.mean())
    assert found["hypernet_member"]["confidence"] == float(probs.max(-1).values.double().mean(-1).mean())
    assert found["hypernet_ensemble"]["confidence"] < found["hypernet_member"]["confidence"]  # averaging softens
    rows = {row[0]: row for row in tables[outputs.MODELS]}
    column = 1 + outputs.SCORE_COLUMNS.index("confidence")
    assert rows["single_net"][column] == found["single_net"]["confidence"]
