import pytest

from harness.config import RunConfig
from harness.errors import HarnessError


def test_defaults_round_trip():
    config = RunConfig("digits")
    assert RunConfig.from_dict(config.to_dict()) == config
    assert config.folds == 5 and config.model is None  # None: the competition's own default


def test_the_default_model_comes_from_the_competition():
    from harness.pipeline import resolve

    assert resolve(RunConfig("digits")).model == "small-cnn"
    assert resolve(RunConfig("dogs-vs-cats")).model == "efficientnet-b0"
    assert resolve(RunConfig("dogs-vs-cats", model="vgg16")).model == "vgg16"


@pytest.mark.parametrize("changes, received", [
    ({"folds": 1}, "folds=1"), ({"epochs": 0}, "epochs=0"), ({"batch_size": "8"}, "batch_size='8'"),
    ({"image_size": 4}, "image_size=4"), ({"learning_rate": 0.0}, "learning_rate=0.0"),
    ({"batch_size": 0}, "batch_size=0"), ({"device_data": "gpu"}, "device_data='gpu'"),
    ({"device_share": 1.5}, "device_share=1.5"),
])
def test_bad_values_are_refused_with_what_was_received(changes, received):
    with pytest.raises(HarnessError, match=received):
        RunConfig("digits", **changes)


def test_unknown_keys_are_refused():
    with pytest.raises(HarnessError, match="colour"):
        RunConfig.from_dict({"competition": "digits", "colour": "red"})
