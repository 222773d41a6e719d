"""The two pictures the tutorials taught people to expect: training curves and a confusion matrix."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from harness import atomic  # noqa: E402

MAX_ANNOTATED = 20  # classes up to which each cell of the confusion matrix shows its value


def curves(results, path) -> None:
    """Loss and the fit metric (accuracy; mean absolute error for grades) per epoch for every fold, training
    dashed and validation solid."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    keys = ("loss", next((_metric_key(r.history) for r in results), "accuracy"))
    for r in results:
        for ax, key in zip(axes, keys):
            if key in r.history:
                line, = ax.plot(r.history[key], "--", alpha=0.6)
                ax.plot(r.history.get(f"val_{key}", []), color=line.get_color(), label=f"fold {r.fold + 1}")
    for ax, title in zip(axes, (k.replace("_", " ") for k in keys)):
        ax.set_title(f"{title} (dashed: train, solid: validation)")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    _save(fig, path)


def confusion(y_true, y_pred, classes, path) -> None:
    """Row-normalised confusion matrix of the out-of-fold predictions."""
    n = len(classes)
    matrix = np.zeros((n, n))
    np.add.at(matrix, (y_true, y_pred), 1)
    matrix = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    side = min(n, MAX_ANNOTATED) * 0.6
    fig, ax = plt.subplots(figsize=(max(4, side + 2), max(3.5, side + 1.5)))
    im = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    font = 7 if n <= MAX_ANNOTATED else max(2, 7 * MAX_ANNOTATED // n)
    ax.set_xticks(range(n), classes, rotation=45 if n <= MAX_ANNOTATED else 90, ha="right", fontsize=font)
    ax.set_yticks(range(n), classes, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= MAX_ANNOTATED:  # a number in each of 120 x 120 cells is unreadable and takes matplotlib ~40 s
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if matrix[i, j] > 0.5 else "black")
    fig.colorbar(im)
    ax.set_title("out-of-fold confusion matrix")
    _save(fig, path)


def _metric_key(history):
    """The metric Keras reported beside the loss (accuracy, binary_accuracy, mean_absolute_error)."""
    return next((k for k in history if k != "loss" and not k.startswith("val_")), "accuracy")


def _save(fig, path):
    fig.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
