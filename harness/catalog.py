"""`harness models`: the model registry as a table, with each model's default input size, parameter count,
default weights and whether those weights are on disk (so an offline machine knows what it can run)."""
from dataclasses import dataclass

from harness import models


@dataclass(frozen=True)
class ModelRow:
    name: str
    image_size: int
    params: int  # every weight, with a one-output head
    trainable: int  # what training updates (a frozen backbone's weights are not)
    weights: str  # the default for --weights
    offline: str  # whether those weights need the network


def rows(names=None) -> list:
    """One ModelRow per registered model (or per name in `names`), in name order."""
    return [_row(models.get(name)) for name in (names or models.MODELS.names())]


def count_params(spec: models.ModelSpec) -> tuple:
    """(all, trainable) parameters of `spec` at its default size, without allocating or initialising any.

    Variables made inside a StatelessScope that does not initialise them carry only their shapes, so even
    VGG16's 134M weights are counted in milliseconds; clear_session then forgets them, or the next model
    built in this process would initialise them all."""
    import keras

    with keras.StatelessScope(initialize_variables=False):
        model = models.build(spec, spec.image_size, outputs=1, task="binary", weights="none")
        counts = _size(model.weights), _size(model.trainable_weights)
    keras.backend.clear_session(free_memory=False)
    return counts


def offline_status(spec: models.ModelSpec) -> str:
    """'-' for random initialisation, else whether Keras' cache holds the weights file."""
    if spec.weights != "imagenet":
        return "-"
    path = models.keras_cache() / spec.weights_file
    return "cached" if path.exists() else f"needs network, or {spec.weights_file}"


def format_table(found: list) -> str:
    width = max(len(r.name) for r in found)
    lines = [f"{'model':<{width}}  {'size':>5}  {'params':>8}  {'trainable':>9}  {'weights':<8}  offline",
             *(f"{r.name:<{width}}  {r.image_size:>5}  {_short(r.params):>8}  {_short(r.trainable):>9}  "
               f"{r.weights:<8}  {r.offline}" for r in found),
             "size: default square input in pixels; params: with a one-output head (the task's head adds a few "
             "more)",
             f"offline: ImageNet weights are read from {models.keras_cache()}; '-': random init, nothing to fetch"]
    return "\n".join(lines)


def _row(spec: models.ModelSpec) -> ModelRow:
    params, trainable = count_params(spec)
    return ModelRow(spec.name, spec.image_size, params, trainable, spec.weights, offline_status(spec))


def _size(variables) -> int:
    total = 0
    for v in variables:
        n = 1
        for d in v.shape:
            n *= int(d)
        total += n
    return total


def _short(n: int) -> str:
    """1234 -> 1.2k, 4050852 -> 4.05M: readable at a glance, exact in the report."""
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)
