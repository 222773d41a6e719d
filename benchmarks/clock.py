"""Timing the engine from outside: every `fit` and `predict` a block runs is recorded, and the engine never knows.

`watch()` wraps `keras.Model.fit` and `keras.Model.predict` for the block. Each fit gets one callback first in
its list and one last; together they time every epoch's training phase, the whole epoch and its epoch-end
callbacks (the resume checkpoint, early stopping's copy of the best weights). Each predict is timed with its
row count. So a benchmark row measures whatever the harness does through its public entry points, before and
after the engine changes, as long as it trains with `fit`.
"""
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Optional

import keras


@dataclass
class Epoch:
    begin: float
    validation_begin: Optional[float] = None  # None: the epoch had no validation
    callbacks_begin: Optional[float] = None  # the epoch-end callbacks start
    end: Optional[float] = None  # the epoch-end callbacks are done

    @property
    def train_end(self) -> float:
        return self.validation_begin if self.validation_begin is not None else self.callbacks_begin


@dataclass
class Fit:
    model: object
    begin: float
    end: float = 0.0
    steps: int = 0  # batches per epoch, as Keras counts them
    epochs: list = field(default_factory=list)

    def steady_window(self) -> tuple:
        """(begin, end) of the epochs after the first, for matching utilisation samples to them."""
        return self.epochs[min(1, len(self.epochs) - 1)].begin, self.epochs[-1].end


@dataclass
class Predict:
    model: object
    rows: int
    begin: float
    end: float


@dataclass
class Seen:
    """What a `watch()` block ran, in order."""
    fits: list = field(default_factory=list)
    predicts: list = field(default_factory=list)


class _First(keras.callbacks.Callback):
    """First in the list: an epoch begins, its training ends (validation begins), its epoch-end callbacks begin."""

    def __init__(self, fit: Fit):
        super().__init__()
        self.fit = fit

    def on_epoch_begin(self, epoch, logs=None):
        self.fit.steps = self.params.get("steps") or 0
        self.fit.epochs.append(Epoch(time.perf_counter()))

    def on_test_begin(self, logs=None):
        current = self.fit.epochs[-1] if self.fit.epochs else None
        if current is not None and current.validation_begin is None and current.callbacks_begin is None:
            # the training steps may still be queued on the device: wait for the last one's update
            keras.ops.convert_to_numpy(self.model.optimizer.iterations)
            current.validation_begin = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.fit.epochs[-1].callbacks_begin = time.perf_counter()


class _Last(keras.callbacks.Callback):
    """Last in the list: the epoch, its callbacks included, is over."""

    def __init__(self, fit: Fit):
        super().__init__()
        self.fit = fit

    def on_epoch_end(self, epoch, logs=None):
        self.fit.epochs[-1].end = time.perf_counter()


@contextmanager
def watch():
    """Record every fit and predict of every Keras model inside the block (see the module docstring)."""
    seen = Seen()
    fit, predict = keras.Model.fit, keras.Model.predict

    def timed_fit(model, *args, callbacks=None, **kwargs):
        record = Fit(model, time.perf_counter())
        seen.fits.append(record)
        try:
            return fit(model, *args, callbacks=[_First(record), *(callbacks or []), _Last(record)], **kwargs)
        finally:
            record.end = time.perf_counter()

    def timed_predict(model, *args, **kwargs):
        begin = time.perf_counter()
        out = predict(model, *args, **kwargs)
        seen.predicts.append(Predict(model, len(keras.tree.flatten(out)[0]), begin, time.perf_counter()))
        return out

    keras.Model.fit, keras.Model.predict = timed_fit, timed_predict
    try:
        yield seen
    finally:
        keras.Model.fit, keras.Model.predict = fit, predict


def fit_figures(fit: Fit, images: int) -> dict:
    """Steady-state figures of a fit that trained on `images` per epoch. The first epoch also traces and
    compiles, so it is left out (with a single epoch there is no steady state, and that epoch stands in)."""
    epochs = fit.epochs
    seconds = [e.end - e.begin if i == 0 else e.end - epochs[i - 1].end for i, e in enumerate(epochs)]
    steady = slice(1, None) if len(epochs) > 1 else slice(None)
    train_s = statistics.median([e.train_end - e.begin for e in epochs][steady])
    return {**_figures(seconds, train_s, images, fit.steps),
            "checkpoint_s": statistics.median([e.end - e.callbacks_begin for e in epochs][steady])}


def loop_figures(seconds: list, images: int, steps: int) -> dict:
    """The same figures for a bare loop timed epoch by epoch (it neither validates nor checkpoints)."""
    return _figures(seconds, statistics.median(seconds[1:] or seconds), images, steps)


def _figures(seconds: list, train_s: float, images: int, steps: int) -> dict:
    epoch_s = statistics.median(seconds[1:] or seconds)
    return {"epochs": len(seconds), "steady": len(seconds) > 1, "epoch_seconds": seconds, "epoch_s": epoch_s,
            "train_s": train_s, "train_img_s": images / train_s, "steps": steps,
            "step_ms": 1000 * train_s / steps, "compile_s": max(0.0, seconds[0] - epoch_s)}


def rows_per_second(calls: list, rows: int) -> Optional[float]:
    """`rows` over the time the calls took together; None when there were none."""
    seconds = sum(c.end - c.begin for c in calls)
    return rows / seconds if calls and seconds > 0 else None

