"""One harness fold against bare training of the same model on the same images: how much the engine costs.

`harness_fold` trains fold 0 of a run through `pipeline.train`, the engine's public entry point, and reads
its epochs and predictions from outside (`clock.watch`). The bare sides build the same model with
`models.build` and train it on fold 0's training images without the engine: `bare_fit` is a plain `model.fit`
on arrays held in memory, `bare_loop` (JAX) the Keras train step compiled by `jax.jit` on arrays resident on
the device, batches gathered there. Binary tasks only (the generated photos are cats and dogs).
"""
import functools
import math
import time
from dataclasses import dataclass

import keras
import numpy as np

from benchmarks import clock


@dataclass(frozen=True)
class Fold:
    """Fold 0's images as arrays in memory, and what the bare sides build to match the harness."""
    x: np.ndarray
    y: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    model: str
    size: int
    augment: tuple
    seed: int


def harness_fold(config) -> tuple:
    """(figures, Fold) of fold 0 of `config` trained through the harness; the images are decoded first."""
    from harness import pipeline

    config = pipeline.resolve(config)
    pipeline.load_data(config)  # decoding is start-up, not what is compared
    with clock.watch() as seen:
        started = time.perf_counter()
        _, comp, cache, assignment, results = pipeline.train(config, only_fold=0)
        seconds = time.perf_counter() - started
    fit = seen.fits[0]  # the fold's training (a fine-tune would be a second fit)
    model, n_test = fit.model, len(cache.test_ids)
    train, val = np.flatnonzero(assignment != 0), np.flatnonzero(assignment == 0)
    # the test set's predictions after training, one call per view (plain, then flipped with TTA)
    views = [p for p in seen.predicts if p.begin >= fit.end and p.rows == n_test]
    figures = {**clock.fit_figures(fit, len(train)), "fold_s": seconds, "status": results[0].status,
               "batch_size": math.ceil(len(train) / fit.steps), "jit": bool(model.jit_compile),
               "steps_per_execution": model.steps_per_execution, "policy": model.dtype_policy.name,
               "train_images": len(train), "validation_images": len(val), "test_images": n_test,
               "test_views": len(views), "predict_img_s": clock.rows_per_second(views[:1], n_test),
               "predict_tta_img_s": clock.rows_per_second(views, n_test) if len(views) > 1 else None,
               "window": fit.steady_window()}
    y = np.asarray(cache.train_labels, dtype="float32")[:, None]
    rows = np.asarray(cache.train_rows)
    fold = Fold(np.array(cache.train_x[rows[train]]), y[train], np.array(cache.train_x[rows[val]]), y[val],
                config.model, config.image_size, comp.augment, config.seed)
    return figures, fold


def _model(fold: Fold, policy: str):
    """The harness's model for this fold (random weights), built under the precision policy the harness used."""
    from harness import models

    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(fold.seed)
    return models.build(models.get(fold.model), fold.size, 1, "binary", fold.augment, fold.seed, weights="none",
                        backbone_seed=fold.seed)


def bare_fit(fold: Fold, batch: int, epochs: int, policy: str = "float32", force_jit: bool = True) -> dict:
    """A plain `model.fit` of the same work (training and validation) on arrays already in memory."""
    model = _model(fold, policy)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    if force_jit:
        # Keras switches jit off when a layer says supports_jit=False (RandomRotation, RandomZoom,
        # RandomTranslation), and its setter refuses it; JAX compiles those layers, so the bare step is jitted
        model._jit_compile = True
    with clock.watch() as seen:
        model.fit(fold.x, fold.y, batch_size=batch, epochs=epochs, validation_data=(fold.x_val, fold.y_val),
                  verbose=0)
    fit = seen.fits[0]
    return {**clock.fit_figures(fit, len(fold.x)), "batch_size": batch, "jit": bool(model.jit_compile),
            "steps_per_execution": model.steps_per_execution, "policy": model.dtype_policy.name,
            "window": fit.steady_window()}


def bare_loop(fold: Fold, batch: int, epochs: int, policy: str = "float32") -> dict:
    """Keras' own train step compiled by `jax.jit` on device-resident arrays: only indices cross from the host."""
    import jax

    model = _model(fold, policy)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    model.optimizer.build(model.trainable_variables)
    x, y = jax.device_put(fold.x), jax.device_put(fold.y)
    state = tuple([v.value for v in group] for group in (model.trainable_variables, model.non_trainable_variables,
                                                         model.optimizer.variables, model.metrics_variables))

    @functools.partial(jax.jit, donate_argnums=0)
    def step(state, x, y, rows):  # x and y are arguments: closed over, they would be baked into the program
        logs, state = model.train_step(state, (x[rows], y[rows]))
        return state, logs["loss"]

    steps, rng, ends = len(fold.x) // batch, np.random.default_rng(fold.seed), [time.perf_counter()]
    for _ in range(epochs):
        for rows in rng.permutation(len(fold.x))[:steps * batch].reshape(steps, batch):
            state, loss = step(state, x, y, rows)
        jax.block_until_ready(loss)
        ends.append(time.perf_counter())
    seconds = list(np.diff(ends))
    return {**clock.loop_figures(seconds, steps * batch, steps), "batch_size": batch, "jit": True,
            "steps_per_execution": 1, "policy": model.dtype_policy.name,
            "window": (ends[min(1, epochs - 1)], ends[-1])}
