"""`harness blend COMP RUN...`: combine finished runs' test predictions into a new, scored submission.

Weights are equal ("mean") or fitted on the runs' out-of-fold predictions ("fit": non-negative, summing to
one, minimising log loss), so a blend is judged on data none of its members trained on. The same runs blended
the same way again return the blend already made.
"""
import time

import numpy as np

from harness import atomic, competition, folds, leaderboard, metrics, paths, pipeline, runs
from harness.errors import HarnessError

METHODS = ("mean", "fit")


def blend(comp_name: str, run_ids, method: str = "mean") -> dict:
    """Blend the runs, write and score the submission, record it on the leaderboard; returns its summary."""
    if method not in METHODS:
        raise HarnessError(f"`method` must be one of {METHODS}. Received: method={method!r}")
    if len(run_ids) < 2:
        raise HarnessError(f"A blend needs at least two runs. Received: {list(run_ids)}")
    started = time.perf_counter()
    comp = competition.get(comp_name)
    members = [runs.find(comp.name, r) for r in run_ids]
    done = existing(comp.name, [r.run_id for r in members], method)
    if done is not None:
        return done
    for run in members:
        if not run.complete:
            raise HarnessError(f"Run {run.run_id} has no predictions yet ({run.folder / runs.SUMMARY} is missing); "
                               f"finish it with `harness predict {comp.name} --run-id {run.run_id}`.")
    _, cache = pipeline.load_data(pipeline.resolve(members[0].config))
    oofs = np.stack([np.load(r.folder / "oof.npy") for r in members])
    tests = np.stack([np.load(r.folder / "test.npy") for r in members])
    if oofs.shape[1] != len(cache.train_ids) or tests.shape[1] != len(cache.test_ids):
        raise HarnessError(f"Runs {', '.join(run_ids)} do not share one set of train and test images; blend runs "
                           f"made from the same data.")

    weights = fit_weights(oofs, metrics.truth(comp, cache.train_labels), comp.task) if method == "fit" else \
        np.full(len(members), 1 / len(members))
    oof = np.tensordot(weights, oofs, axes=1).astype("float32")
    test = np.tensordot(weights, tests, axes=1).astype("float32")
    stamp, n = time.strftime("%Y%m%d-%H%M%S"), 1
    run_id = f"{stamp}-blend"
    while (paths.runs_dir(comp.name) / run_id).exists():
        n += 1
        run_id = f"{stamp}-blend-{n}"
    folder = paths.runs_dir(comp.name) / run_id
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, oof_score, test_scores = pipeline.score(comp, cache, run_id, folder, oof, test)
    config = {"blend": [r.run_id for r in members], "method": method, "weights": [round(float(w), 6) for w in weights]}
    metric = metrics.get(comp.metric)
    wall = time.perf_counter() - started
    leaderboard.record(
        competition=comp.name, run_id=run_id, model="blend:" + "+".join(r.config.model for r in members),
        metric=comp.metric, greater_is_better=metric.greater_is_better, folds=members[0].config.folds,
        fold_scores=_fold_scores(comp, cache, members, oof), oof_score=oof_score,
        test_score=test_scores.get(comp.metric), config=config,
        extra_scores={k: v for k, v in test_scores.items() if k != comp.metric}, wall_time=wall,
        submission=str(csv_path))
    summary = {**config, "run_id": run_id, "oof_score": oof_score, "test_scores": test_scores,
               "submission": str(csv_path), "wall_time": wall}
    atomic.write_json(folder / "blend.json", summary)
    return summary


def existing(comp_name: str, run_ids, method: str):
    """The summary of a blend of exactly these runs by `method` made before, or None."""
    for path in sorted(paths.runs_dir(comp_name).glob("*/blend.json"), reverse=True):
        summary = atomic.read_json(path)
        if summary.get("blend") == list(run_ids) and summary.get("method") == method:
            return summary
    return None


def _fold_scores(comp, cache, members, oof) -> list:
    """The blend's score on each fold's out-of-fold rows, when its members share one fold assignment."""
    shared = {(r.config.folds, r.config.seed) for r in members}
    if len(shared) != 1:
        return []
    (k, seed), = shared
    assignment = folds.load_or_make(comp, cache, k, seed)
    y, metric = metrics.truth(comp, cache.train_labels), metrics.get(comp.metric)
    scored = ~np.isnan(oof).any(axis=1)  # a fold that failed in any member has no blended predictions
    rows = [(assignment == f) & scored for f in range(k)]
    return [round(metric(y[r], oof[r]), 6) if r.any() else None for r in rows]


def fit_weights(oofs: np.ndarray, y_true: np.ndarray, task: str) -> np.ndarray:
    """Simplex weights minimising the log loss of the blended out-of-fold probabilities (ordinal: the squared
    error of the blended grade, which is no probability)."""
    from scipy.optimize import minimize

    valid = ~np.isnan(oofs).any(axis=(0, 2))
    p, y = oofs[:, valid].astype("float64"), y_true[valid]
    if task != "ordinal":
        p = np.clip(p, 1e-7, 1 - 1e-7)
    if task == "multiclass":
        target = np.eye(p.shape[2])[y]
    else:
        target = y.reshape(len(y), -1).astype("float64")

    def loss(w):
        q = np.tensordot(w, p, axes=1)
        if task == "ordinal":
            return np.mean((q - target) ** 2)
        q = np.clip(q, 1e-7, 1 - 1e-7)
        if task == "multiclass":
            return -np.mean(np.sum(target * np.log(q), axis=1))
        return -np.mean(target * np.log(q) + (1 - target) * np.log(1 - q))

    n = len(oofs)
    found = minimize(loss, np.full(n, 1 / n), method="SLSQP", bounds=[(0, 1)] * n,
                     constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}])
    w = np.clip(found.x, 0, None)
    return w / w.sum()


def format_summary(s: dict) -> str:
    lines = [f"blend {s['run_id']} ({s['method']}): " + ", ".join(f"{r} x {w:.3f}" for r, w in zip(s['blend'],
                                                                                                 s['weights']))]
    lines.append(f"  out-of-fold: {s['oof_score']:.4f}")
    lines += [f"  hidden-test {k}: {v:.4f}" for k, v in s["test_scores"].items()]
    lines.append(f"  submission: {s['submission']}")
    return "\n".join(lines)
