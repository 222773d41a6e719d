"""Train one model per fold from the cached arrays.

A fold's outputs (weights, out-of-fold and test predictions, history) are written atomically and its
result.json last, so a finished fold is never trained again and a killed one resumes from its last epoch.
"""
import math
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from harness import atomic, backend, keras_progress, metrics, models, progress, timing
from harness.checkpoint import EpochCheckpoint


class Batches(keras.utils.PyDataset):
    """Batches gathered from the (memory-mapped) uint8 cache; the device does the float work."""

    def __init__(self, x, rows, y=None, batch_size=64, shuffle=False, seed=0, flip=False):
        super().__init__()
        self.x, self.rows, self.y = x, np.asarray(rows), y
        self.batch_size, self.shuffle, self.seed, self.flip = batch_size, shuffle, seed, flip
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Order for `epoch`: a pure function of (seed, epoch), so a resumed run sees the same batches."""
        n = len(self.rows)
        self.order = np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)

    def __len__(self):
        return math.ceil(len(self.rows) / self.batch_size)

    def __getitem__(self, i):
        sel = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        if self.shuffle:
            sel = np.sort(sel)  # rows in file order read faster from a memory map; order in a batch is moot
        xb = self.x[self.rows[sel]]
        if self.flip:
            xb = xb[:, :, ::-1]
        return xb if self.y is None else (xb, self.y[sel])


class _EpochOrder(keras.callbacks.Callback):
    def __init__(self, data: Batches):
        super().__init__()
        self.data = data

    def on_epoch_begin(self, epoch, logs=None):
        self.data.set_epoch(epoch)


@dataclass
class FoldResult:
    fold: int
    status: str  # "done" | "failed"
    score: float
    epochs: int
    best_epoch: int
    seconds: float
    history: dict
    message: str = ""


def targets(comp, labels) -> np.ndarray:
    """Training targets in the form the task's loss expects."""
    y = metrics.truth(comp, labels)
    if comp.task == "multiclass":
        return y  # sparse categorical cross-entropy takes class indices
    return y.astype("float32")[:, None] if comp.num_outputs == 1 else y.astype("float32")  # binary, ordinal: (N, 1)


def fold_dir(run_folder: Path, fold: int) -> Path:
    return run_folder / f"fold{fold}"


def load_result(run_folder: Path, fold: int):
    path = fold_dir(run_folder, fold) / "result.json"
    return FoldResult(**atomic.read_json(path)) if path.exists() else None


@dataclass
class Inputs:
    """What a fold's model reads: rows of `train_x` to train on, and test views whose predictions are averaged."""
    train_x: np.ndarray
    train_rows: np.ndarray
    test_views: list  # [(array, flip)], each row-aligned with the test ids


def image_inputs(cache, tta: bool) -> Inputs:
    """The cached images; with `tta`, the test set is also seen horizontally flipped."""
    return Inputs(cache.train_x, cache.train_rows, [(cache.test_x, False)] + ([(cache.test_x, True)] if tta else []))


def train_fold(run_folder: Path, comp, cache, folds, fold: int, config, metric, make_model=None,
               inputs=None, checkpoint_every_s: float = 0.0) -> FoldResult:
    """Train fold `fold` (or return its stored result) and write its predictions.

    `make_model(seed)` and `inputs` replace the full image model and the image cache (cached features);
    the resume state is saved after every epoch, or at most every `checkpoint_every_s` seconds."""
    done = load_result(run_folder, fold)
    if done is not None:
        return done
    out = fold_dir(run_folder, fold)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    spec = models.get(config.model)
    backend.seed_everything(config.seed + fold, deterministic=backend.accelerator() == "cpu")
    backend.configure_precision()
    inputs = inputs or image_inputs(cache, tta=config.tta and "flip" in comp.augment)
    batch_size = backend.global_batch(config.batch_size)
    with backend.strategy_scope():
        if make_model is None:
            model = models.build(spec, cache.size, comp.num_outputs, comp.task, comp.augment, config.seed + fold,
                                 weights=config.weights, backbone_seed=config.seed)
            compile_model(model, comp, config.learning_rate)
        else:
            model = make_model(config.seed + fold)  # compiled by its maker, which may reuse one across folds
    y = targets(comp, cache.train_labels)
    train_idx, val_idx = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
    train_data = Batches(inputs.train_x, inputs.train_rows[train_idx], y[train_idx], batch_size,
                         shuffle=True, seed=config.seed + fold)
    val_data = Batches(inputs.train_x, inputs.train_rows[val_idx], y[val_idx], batch_size)
    progress.say(f"fold {fold + 1}/{config.folds}: {len(train_idx)} train, {len(val_idx)} validation images")
    history = _fit(model, train_data, val_data, config.epochs, config.patience, out / "backup", checkpoint_every_s)
    if config.fine_tune and spec.backbone is not None and make_model is None:
        unfrozen = models.unfreeze_top(model)
        progress.say(f"fold {fold + 1}: fine-tuning {unfrozen} backbone layers at learning rate "
                     f"{config.learning_rate / 10}")
        with backend.strategy_scope():
            compile_model(model, comp, config.learning_rate / 10)
        more = _fit(model, train_data, val_data, config.fine_tune, config.patience, out / "backup-fine-tune")
        history = {k: list(v) + list(more.get(k, [])) for k, v in history.items()}
    losses = history.get("loss", [])
    if not losses or not all(map(math.isfinite, losses)):
        return _finish(out, FoldResult(fold, "failed", float("nan"), len(losses), -1,
                                       time.perf_counter() - started, _plain(history),
                                       "the loss became NaN; this fold is left out of the ensemble"))
    images = len(val_idx) + len(cache.test_ids) * len(inputs.test_views)
    with timing.stage("predict"), keras_progress.predicting(images, f"fold {fold + 1}/{config.folds} predict") as bar:
        oof = model.predict(Batches(inputs.train_x, inputs.train_rows[val_idx], batch_size=batch_size), verbose=0,
                            callbacks=[bar])
        test = predict_views(model, inputs.test_views, len(cache.test_ids), batch_size, callbacks=[bar])
    with atomic.atomic_path(out / "model.weights.h5", suffix=".weights.h5") as tmp:
        model.save_weights(tmp)
    atomic.save_npy(out / "oof.npy", oof)
    atomic.save_npy(out / "test.npy", test)
    val_loss = history.get("val_loss", [])
    best = int(np.nanargmin(val_loss)) if val_loss else len(losses) - 1
    score = metric(metrics.truth(comp, cache.train_labels)[val_idx], oof)
    return _finish(out, FoldResult(fold, "done", score, len(losses), best, time.perf_counter() - started,
                                   _plain(history)))


def compile_model(model, comp, learning_rate: float, steps_per_execution: int = 1) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=models.loss_for(comp.task),
                  metrics=[models.fit_metric(comp.task)],
                  steps_per_execution=steps_per_execution)


def _fit(model, train_data, val_data, epochs: int, patience: int, backup: Path, every_s: float = 0.0) -> dict:
    """fit() with early stopping, resumable epoch by epoch from `backup`; the history of every epoch run."""
    early = keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True)
    checkpoint = EpochCheckpoint(backup, early, every_s)  # last: it saves what the others decided this epoch
    # shuffle=False: Batches already orders each epoch from (seed, epoch); Keras' own shuffle of the batch order
    # draws from Python's global `random`, which a resumed process (or a reused head) would not replay.
    verbose, lines = keras_progress.fit_logging()
    model.fit(train_data, validation_data=val_data, epochs=epochs, verbose=verbose, shuffle=False,
              callbacks=[_EpochOrder(train_data), keras.callbacks.TerminateOnNaN(), early, checkpoint, *lines])
    return checkpoint.history  # including the epochs run before a restart


def predict_views(model, views, n: int, batch_size: int, callbacks=()) -> np.ndarray:
    """Mean test probabilities over the views [(array, flip)] of the same `n` test rows."""
    if not n:
        return np.zeros((0, model.output_shape[-1]), dtype="float32")
    rows = np.arange(n)
    preds = [model.predict(Batches(x, rows, batch_size=batch_size, flip=flip), verbose=0, callbacks=list(callbacks))
             for x, flip in views]
    return np.mean(preds, axis=0).astype("float32")


def _finish(out: Path, result: FoldResult) -> FoldResult:
    atomic.write_json(out / "result.json", result.__dict__)
    for backup in ("backup", "backup-fine-tune"):
        EpochCheckpoint(out / backup, None).discard()  # the fold is final: its resume state is no longer needed
    return result


def _plain(history: dict) -> dict:
    return {k: [float(v) for v in vs] for k, vs in history.items()}
