"""The two pictures the tutorials taught people to expect: training curves and a confusion matrix."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from harness import atomic  # noqa: E402


def curves(results, path) -> None:
    """Loss and accuracy per epoch for every fold, training dashed and validation solid."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for r in results:
        for ax, key in zip(axes, ("loss", _acc_key(r.history))):
            if key in r.history:
                line, = ax.plot(r.history[key], "--", alpha=0.6)
                ax.plot(r.history.get(f"val_{key}", []), color=line.get_color(), label=f"fold {r.fold + 1}")
    for ax, title in zip(axes, ("loss", "accuracy")):
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
    fig, ax = plt.subplots(figsize=(max(4, n * 0.6 + 2), max(3.5, n * 0.6 + 1.5)))
    im = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if matrix[i, j] > 0.5 else "black")
    fig.colorbar(im)
    ax.set_title("out-of-fold confusion matrix")
    _save(fig, path)


def _acc_key(history):
    return next((k for k in ("accuracy", "binary_accuracy") if k in history), "accuracy")


def _save(fig, path):
    fig.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
