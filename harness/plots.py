"""The pictures of a run: the two the tutorials taught people to expect (training curves, a confusion matrix),
and the report's (scores with their fold spread, a reliability diagram, the top losses)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
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
                line, = ax.plot(r.history[key], "--", marker=".", alpha=0.6)  # markers: one epoch is a dot
                ax.plot(r.history.get(f"val_{key}", []), color=line.get_color(), marker=".", label=f"fold {r.fold + 1}")
    for ax, title in zip(axes, (k.replace("_", " ") for k in keys)):
        ax.set_title(f"{title} (dashed: train, solid: validation)")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
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


def scores(labels, ranked, folds, path, metric: str, lines=None) -> None:
    """Each run's score (large dot) over its fold scores (small dots) and their mean ± std, best at the top.

    `lines`: {label: score} drawn across every run, e.g. Kaggle's medal thresholds."""
    n = len(labels)
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.42 * n))
    y = np.arange(n)[::-1]
    for yi, score, fold in zip(y, ranked, folds):
        fold = [f for f in fold if f is not None]
        if fold:
            ax.scatter(fold, [yi] * len(fold), s=14, color="0.55", zorder=2)
            ax.errorbar(np.mean(fold), yi, xerr=np.std(fold), fmt="|", color="0.25", capsize=4, zorder=3)
        if score is not None:
            ax.scatter([score], [yi], s=70, color="C0", zorder=4)
    for (label, value), style in zip((lines or {}).items(), _LINE_STYLES):
        ax.axvline(value, label=f"{label} {value:.4g}", **style)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel(metric)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("large dot: hidden-test score, else out-of-fold · small dots: folds · bar: fold mean ± std",
                 fontsize=9)
    if lines:
        ax.legend(fontsize=8, loc="best")
    _save(fig, path)


_LINE_STYLES = ({"color": "#c9a227", "lw": 2}, {"color": "#9a9a9a", "lw": 2}, {"color": "#b0713a", "lw": 2},
                {"color": "0.3", "lw": 1, "ls": "--"})


def reliability(confidence, correct, path, what: str, bins: int = 10) -> None:
    """Reliability diagram: how often a prediction made with confidence p was right, against p, per bin."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges) - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    seen = counts > 0
    mean_p = np.bincount(which, confidence, bins)[seen] / counts[seen]
    freq = np.bincount(which, correct, bins)[seen] / counts[seen]
    ece = float(np.sum(counts[seen] * np.abs(freq - mean_p)) / max(1, len(confidence)))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(4.8, 5.2), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], ls="--", color="0.6", label="perfectly calibrated")
    top.plot(mean_p, freq, "o-", color="C0", label="out-of-fold")
    top.set_ylabel("observed frequency")
    top.set_title(f"reliability ({what}); ECE {ece:.3f}", fontsize=10)
    top.legend(fontsize=8, loc="upper left")
    bottom.bar(edges[:-1], counts, width=1 / bins, align="edge", color="0.7", edgecolor="white")
    bottom.set_xlabel("predicted probability")
    bottom.set_ylabel("count")
    _save(fig, path)


def top_losses(images, titles, path, columns: int = 8) -> None:
    """A grid of images, each titled (true class, predicted class, probability, loss), as fastai's plot_top_losses.

    Drawn as one mosaic image with text over it: sixteen axes and their layout would cost seconds."""
    rows = max(1, -(-len(images) // columns))
    h, w = np.asarray(images[0]).shape[:2] if len(images) else (1, 1)
    gap, head = max(1, round(w * 0.08)), round(h * 0.42)  # head: room for three lines of title above each image
    mosaic = np.full((rows * (h + head), columns * (w + gap), 3), 255, dtype=np.uint8)
    fig = plt.figure(figsize=(1.5 * columns, 1.5 * columns * mosaic.shape[0] / mosaic.shape[1]))
    ax = fig.add_axes((0, 0, 1, 1))
    for i, (image, title) in enumerate(zip(images, titles)):
        top, left = (i // columns) * (h + head) + head, (i % columns) * (w + gap) + gap // 2
        mosaic[top:top + h, left:left + w] = image
        ax.text(left + w / 2, top - h * 0.03, title, ha="center", va="bottom", fontsize=7, linespacing=1.1)
    ax.imshow(mosaic, interpolation="nearest" if w < 96 else "antialiased")  # crisp when enlarged, smooth when shrunk
    ax.axis("off")
    _save(fig, path, tight=False)


def _metric_key(history):
    """The metric Keras reported beside the loss (accuracy, binary_accuracy, mean_absolute_error)."""
    return next((k for k in history if k != "loss" and not k.startswith("val_")), "accuracy")


def _save(fig, path, tight=True):
    if tight:
        fig.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
