"""Train one model per fold from the cached arrays.

A fold's outputs (weights, out-of-fold and test predictions, history) are written atomically and its
result.json last, so a finished fold is never trained again and a killed one resumes from its last epoch.
Behind a frozen backbone, the images no augmentation touches (validation, out-of-fold, test) go through the
backbone once per run (features.extract): each epoch runs it on augmented training batches only, and the
head alone judges the rest.
"""
import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import keras
import numpy as np

from harness import atomic, backend, features, keras_progress, metrics, models, ondevice, progress, timing
from harness.checkpoint import EpochCheckpoint

STEPS_PER_CALL = 32  # on an accelerator: steps per call into the compiled step, so it need not wait on the host
FEEDERS = 4  # on an accelerator: threads gathering host batches while it computes


class Batches(keras.utils.PyDataset):
    """Batches gathered from the (memory-mapped) uint8 cache by `workers` threads; the device does the float work."""

    def __init__(self, x, rows, y=None, batch_size=64, shuffle=False, seed=0, flip=False, workers=1):
        super().__init__(workers=workers)
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
        if self.flip:  # cv2 mirrors every image row at memory speed; copying a reversed view is ~13x slower
            xb = cv2.flip(xb.reshape(-1, *xb.shape[2:]), 1).reshape(xb.shape)
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
    """What a model reads: rows of `train_x` to train on, and test views whose predictions are averaged."""
    train_x: np.ndarray
    train_rows: np.ndarray
    test_views: list  # [(array, flip)], each row-aligned with the test ids
    device: object = None  # ondevice.DeviceImages when the arrays above hold rows of images kept on the device


def uses_tta(comp, config) -> bool:
    """Whether test predictions also average the horizontally flipped images (when the competition flips)."""
    return config.tta and "flip" in comp.augment


def image_inputs(cache, tta: bool, on_device: bool = False) -> Inputs:
    """The cached images, or their rows in a copy on the device; with `tta`, the test set is also seen flipped."""
    if not on_device:
        return Inputs(cache.train_x, cache.train_rows,
                      [(cache.test_x, False)] + ([(cache.test_x, True)] if tta else []))
    images = ondevice.load(cache)
    n_train, n = len(cache.train_x), images.images.shape[0]
    test = np.arange(n_train, n, dtype="int32")
    return Inputs(np.arange(n_train, dtype="int32"), cache.train_rows,
                  [(test, False)] + ([(test + n, False)] if tta else []), images)  # row + n: that image, flipped


def step_batch(spec, config) -> int:
    """Images in one step across every replica: --batch-size per device, else the model's for this device."""
    return backend.global_batch(config.batch_size or models.default_batch(spec, backend.accelerator()))


def train_folds(run_folder: Path, comp, cache, assignment, wanted, config, metric) -> list:
    """Fold results for the folds in `wanted`; the images go onto the device (when they do) once for all folds."""
    inputs = None
    if any(load_result(run_folder, f) is None for f in wanted):
        inputs = image_inputs(cache, uses_tta(comp, config), ondevice.wanted(cache, config))
    return [train_fold(run_folder, comp, cache, assignment, f, config, metric, inputs=inputs)
            for f in timing.folds(wanted)]


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
    frozen = make_model is None and spec.backbone is not None
    inputs = inputs or image_inputs(cache, uses_tta(comp, config), ondevice.wanted(cache, config))
    seen = features.inputs(spec, cache, config, uses_tta(comp, config)) if frozen else inputs  # seeds its own
    backend.seed_everything(config.seed + fold)
    backend.configure_precision()
    batch_size, steps = step_batch(spec, config), 1 if backend.accelerator() == "cpu" else STEPS_PER_CALL
    with backend.strategy_scope():
        if make_model is None:
            model = models.build(spec, cache.size, comp.num_outputs, comp.task, comp.augment, config.seed + fold,
                                 weights=config.weights, backbone_seed=config.seed, images=inputs.device)
        else:
            model = make_model(config.seed + fold)  # compiled by its maker, which may reuse one across folds
        judge = models.head_of(model) if frozen else model  # what validates and predicts, reading `seen`
        if make_model is None:
            for m in dict.fromkeys([model, judge]):
                compile_model(m, comp, config.learning_rate, steps)
    y = targets(comp, cache.train_labels)
    train_idx, val_idx = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
    workers = FEEDERS if inputs.device is None and backend.accelerator() != "cpu" else 1
    train_data = Batches(inputs.train_x, inputs.train_rows[train_idx], y[train_idx], batch_size,
                         shuffle=True, seed=config.seed + fold, workers=workers)

    def val_data(source):
        return Batches(source.train_x, source.train_rows[val_idx], y[val_idx], batch_size, workers=workers)

    progress.say(f"fold {fold + 1}/{config.folds}: {len(train_idx)} train, {len(val_idx)} validation images, "
                 f"batch {batch_size}" + (", images on the device" if inputs.device is not None else ""))
    history = _fit(model, train_data, val_data(seen), config.epochs, config.patience, out / "backup",
                   checkpoint_every_s, judge)
    if config.fine_tune and frozen:
        unfrozen = models.unfreeze_top(model)
        progress.say(f"fold {fold + 1}: fine-tuning {unfrozen} backbone layers at learning rate "
                     f"{config.learning_rate / 10}")
        with backend.strategy_scope():
            compile_model(model, comp, config.learning_rate / 10, steps)
        judge, seen = model, inputs  # the backbone changes now: its features cached for the head no longer hold
        more = _fit(model, train_data, val_data(seen), config.fine_tune, config.patience, out / "backup-fine-tune")
        history = {k: list(v) + list(more.get(k, [])) for k, v in history.items()}
    losses = history.get("loss", [])
    if not losses or not all(map(math.isfinite, losses)):
        return _finish(out, FoldResult(fold, "failed", float("nan"), len(losses), -1,
                                       time.perf_counter() - started, _plain(history),
                                       "the loss became NaN; this fold is left out of the ensemble"))
    images = len(val_idx) + len(cache.test_ids) * len(seen.test_views)
    with timing.stage("predict"), keras_progress.predicting(images, f"fold {fold + 1}/{config.folds} predict") as bar:
        oof = judge.predict(val_data(seen), verbose=0, callbacks=[bar])
        test = predict_views(judge, seen.test_views, len(cache.test_ids), batch_size, callbacks=[bar])
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


def _fit(model, train_data, val_data, epochs: int, patience: int, backup: Path, every_s: float = 0.0,
         judge=None) -> dict:
    """fit() with early stopping on the validation loss, resumable epoch by epoch from `backup`; the history of
    every epoch run. A `judge` other than the model (its head, on cached features) scores `val_data` instead."""
    early = keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True)
    checkpoint = EpochCheckpoint(backup, early, every_s)  # last: it saves what the others decided this epoch
    apart = judge is not None and judge is not model
    # shuffle=False: Batches already orders each epoch from (seed, epoch); Keras' own shuffle of the batch order
    # draws from Python's global `random`, which a resumed process (or a reused head) would not replay.
    verbose, lines = keras_progress.fit_logging()  # after the callbacks that write this epoch's logs
    model.fit(train_data, validation_data=None if apart else val_data, epochs=epochs, verbose=verbose, shuffle=False,
              callbacks=[_EpochOrder(train_data), *([_Validation(judge, val_data)] if apart else []), _StopOnNaN(),
                         early, checkpoint, *lines])
    return checkpoint.history  # including the epochs run before a restart


class _Validation(keras.callbacks.Callback):
    """Adds `judge`'s val_* scores on `data` to each epoch's logs, for the callbacks after it."""

    def __init__(self, judge, data: Batches):
        super().__init__()
        self.judge, self.data = judge, data

    def on_epoch_end(self, epoch, logs=None):
        scores = self.judge.evaluate(self.data, verbose=0, return_dict=True)
        logs.update({f"val_{name}": value for name, value in scores.items()})


class _StopOnNaN(keras.callbacks.Callback):
    """Stops training after an epoch whose loss is NaN: TerminateOnNaN checks every batch, which turns Keras'
    asynchronous steps off."""

    def on_epoch_end(self, epoch, logs=None):
        if not math.isfinite(logs.get("loss", 0.0)):
            self.model.stop_training = True


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
