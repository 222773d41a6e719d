"""harness.progress for Keras: what fit() prints, and a bar for predict() counted in images.

Keras writes its bar to stdout and redraws it with backspaces even when stdout is a file, so it is used on a
terminal only; a log gets one plain line per epoch instead of Keras' two.
"""
import contextlib
import sys
import time

import keras
import numpy as np

from harness import progress


def fit_logging() -> tuple:
    """(verbose, extra callbacks) for model.fit: Keras' bar on a terminal, a line per epoch in a log, or nothing."""
    if progress.is_quiet():
        return 0, []
    if progress.is_terminal(sys.stdout):
        return 1, []
    return 0, [EpochLines()]


class EpochLines(keras.callbacks.Callback):
    """One line per epoch, as Keras' verbose=2 writes it without the `Epoch N/M` line before it."""

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        values = "".join(f" - {name}: {value:.4f}" for name, value in sorted((logs or {}).items()))
        progress.say(f"epoch {epoch + 1}/{self.params['epochs']} - {time.perf_counter() - self.started:.0f}s{values}")


@contextlib.contextmanager
def predicting(total: int, desc: str):
    """A bar of `total` images for the block; pass the callback it yields to every model.predict inside it."""
    with progress.bar(total=total, desc=desc, unit="img") as bar:
        yield ImagesPredicted(bar)


class ImagesPredicted(keras.callbacks.Callback):
    """Advances a bar by the rows of each batch that model.predict finishes."""
    async_safe = True  # it only counts, so Keras need not wait for it between batches

    def __init__(self, bar):
        super().__init__()
        self.bar = bar

    def on_predict_batch_end(self, batch, logs=None):
        outputs = (logs or {}).get("outputs")
        if outputs is not None:  # rows of this batch (of several, when a call runs more than one step)
            self.bar.update(len(np.atleast_1d(outputs)))
