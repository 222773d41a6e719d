"""Checks every registered competition must pass; a new one is covered when registered (models: test_models)."""
import pytest

from harness import competition, metrics


@pytest.mark.parametrize("name", competition.names())
def test_competition_spec_is_complete(name):
    comp = competition.get(name)
    assert comp.name == name
    assert len(set(comp.classes)) == len(comp.classes) >= 2
    for metric in (comp.metric, *comp.extra_metrics):
        assert comp.task in metrics.get(metric).tasks, f"{metric} does not grade a {comp.task} task"
    assert comp.task in comp.format.tasks and len(comp.format.columns(comp)) >= 2
    assert comp.id_column not in comp.format.columns(comp)[1:]
    assert comp.source.kind in ("competition", "dataset", "builtin", "local")
    assert comp.build is not None or comp.source.kind != "builtin"
    assert comp.description
