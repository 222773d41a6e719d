"""Checks every registered competition and model must pass; a new one is covered when registered."""
import pytest

from harness import competition, metrics, models


@pytest.mark.parametrize("name", competition.names())
def test_competition_spec_is_complete(name):
    comp = competition.get(name)
    assert comp.name == name
    assert len(set(comp.classes)) == len(comp.classes) >= 2
    for metric in (comp.metric, *comp.extra_metrics):
        assert metric in metrics.METRICS
    assert comp.source.kind in ("competition", "dataset", "builtin", "local")
    assert comp.build is not None or comp.source.kind != "builtin"
    assert comp.description


@pytest.mark.parametrize("name", models.MODELS.names())
def test_model_builds_for_every_task(name):
    spec = models.get(name)
    for task, outputs in (("binary", 1), ("multiclass", 4), ("multilabel", 3)):
        model = models.build(spec, 32, outputs, task)
        assert model.output_shape == (None, outputs)
