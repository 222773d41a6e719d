"""Per-epoch training state of one fold, so a killed fold resumes exactly where an uninterrupted one would be.

Keras' BackupAndRestore keeps weights and the epoch number, but a resumed fit() forgets EarlyStopping's best
value, patience count and best weights, the history so far, and where every random stream (augmentation,
dropout) stood; it also writes its files in place, so a kill while saving leaves a torn checkpoint. This
callback saves all of it after every epoch (weights and optimizer, best weights, early-stopping counters,
history) atomically, with state.json written last as the commit point (at most every `every_s` seconds, for
epochs so short that saving would cost more than redoing them, and never so often that saving takes more than
SAVE_SHARE of the time: vgg16's 1.6 GB of weights take seconds to write), and reseeds every SeedGenerator
from (its first state, epoch) at the start of each epoch, so epoch e draws the same random numbers whether
or not the process was restarted before it.
"""
import json
import shutil
import time
from pathlib import Path

import keras
import numpy as np

from harness import atomic, progress

STATE = "state.json"
SAVE_SHARE = 0.1  # the largest share of training time that saving the resume state may take


class EpochCheckpoint(keras.callbacks.Callback):
    """Save and restore the complete per-epoch state of `model.fit` in `folder`; put it last in callbacks."""

    def __init__(self, folder, early_stopping: keras.callbacks.EarlyStopping, every_s: float = 0.0):
        super().__init__()
        self.folder = Path(folder)
        self.early_stopping = early_stopping
        self.every_s, self._saved_at = every_s, 0.0  # when the last save (or fit's start) ended
        self._save_s = 0.0  # how long the last save took
        self.history = {}  # every epoch's logs, across restarts
        self.resumed_from = 0  # epochs restored from a previous process
        self._seeds = []

    def on_train_begin(self, logs=None):
        self._saved_at = time.monotonic()
        self._seeds = [(sg, np.array(keras.ops.convert_to_numpy(sg.state.value))) for sg in _seed_generators(
            self.model)]
        state = self._load()
        if state is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self.folder / state["weights"])
        es = self.early_stopping
        es.wait, es.best, es.best_epoch = state["wait"], state["best"], state["best_epoch"]
        es.stopped_epoch = state["stopped_epoch"]
        if state.get("best_weights"):
            with np.load(self.folder / state["best_weights"]) as saved:
                es.best_weights = [saved[f"w{i}"] for i in range(len(saved.files))]
        self.history = state["history"]
        self.resumed_from = state["epoch"]
        # An early stop that was already decided stays decided: fit() then runs no further epoch.
        self.model._initial_epoch = self.params["epochs"] if state["stopped"] else state["epoch"]
        progress.say(f"resuming from {self.folder} after epoch {state['epoch']}"
                     + (" (early stopping had already ended training)" if state["stopped"] else ""))

    def on_epoch_begin(self, epoch, logs=None):
        for sg, first in self._seeds:
            sg.state.assign((first + np.array([epoch, 0])).astype(first.dtype))

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if time.monotonic() - self._saved_at < max(self.every_s, self._save_s / SAVE_SHARE):
            return
        started = time.monotonic()
        es, done = self.early_stopping, epoch + 1
        weights = f"epoch{done}.weights.h5"
        with atomic.atomic_path(self.folder / weights, suffix=".weights.h5") as tmp:
            self.model.save_weights(tmp)  # model and optimizer variables
        previous = self._load() or {}
        best_weights = previous.get("best_weights")
        if es.best_weights is not None and (best_weights is None or previous.get("best_epoch") != es.best_epoch):
            best_weights = f"best{done}.npz"
            with atomic.atomic_path(self.folder / best_weights, suffix=".npz") as tmp:
                np.savez(tmp, **{f"w{i}": w for i, w in enumerate(es.best_weights)})
        atomic.write_json(self.folder / STATE, {
            "epoch": done, "weights": weights, "best_weights": best_weights, "wait": es.wait,
            "best": None if es.best is None else float(es.best), "best_epoch": es.best_epoch,
            "stopped_epoch": es.stopped_epoch, "stopped": bool(self.model.stop_training),
            "history": self.history})
        for old in self.folder.iterdir():  # files of earlier epochs, now superseded
            if old.name not in (STATE, weights, best_weights) and not old.name.startswith("."):
                old.unlink(missing_ok=True)
        self._saved_at = time.monotonic()
        self._save_s = self._saved_at - started

    def _load(self):
        try:
            return json.loads((self.folder / STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def discard(self) -> None:
        """Remove the checkpoint once the fold's outputs are written."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _seed_generators(model) -> list:
    """Every SeedGenerator of the model's layers (augmentation, dropout), in a stable order."""
    found, seen = [], set()
    for layer in model._flatten_layers(include_self=True):
        for sg in getattr(layer, "_seed_generators", []):
            if id(sg) not in seen:
                seen.add(id(sg))
                found.append(sg)
    return found
