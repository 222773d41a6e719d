"""The engine's flow, top to bottom: download -> prepare -> folds -> train -> predict -> submit -> score
-> leaderboard. Every stage skips work whose outputs already exist, so a re-run continues."""
import time
from dataclasses import dataclass, field

import numpy as np

from harness import atomic, competition, download, folds, leaderboard, metrics, models, paths, plots
from harness import predict, prepare, submission
from harness.config import RunConfig
from harness.errors import HarnessError
from harness.runs import Run, open_run


@dataclass
class Outcome:
    """What one `submit` produced; printed as the summary and recorded on the leaderboard."""
    run: Run
    comp: object
    fold_results: list
    oof_score: float
    test_scores: dict
    submission: object
    wall_time: float
    decoded: int
    failed_folds: list = field(default_factory=list)


def resolve(config: RunConfig) -> RunConfig:
    """Fill in what the flags left open: the competition's model; its image size, else the model's."""
    comp = competition.get(config.competition)
    if config.model is None:
        config = config.replace(model=comp.model)
    spec = models.get(config.model)
    if config.image_size is None:
        config = config.replace(image_size=comp.image_size or spec.image_size)
    return config


def load_data(config: RunConfig):
    """Download (or build) and decode once: (competition, cache)."""
    comp = competition.get(config.competition)
    download.fetch(comp)
    cache = prepare.prepare(comp, config.image_size, workers=config.workers)
    return comp, cache


def train(config: RunConfig, run_id=None, only_fold=None):
    """Train every fold of a run (or just `only_fold`); returns (run, comp, cache, fold assignment, results)."""
    from harness import train as train_stage  # Keras is imported only once training starts

    config = resolve(config)
    comp, cache = load_data(config)
    assignment = folds.load_or_make(comp, cache, config.folds, config.seed)
    run = open_run(config, run_id)
    metric = metrics.get(comp.metric)
    wanted = range(config.folds) if only_fold is None else [only_fold]
    if config.cached_features:
        from harness import features
        results = features.train_folds(run.folder, comp, cache, assignment, wanted, config, metric)
    else:
        results = train_stage.train_folds(run.folder, comp, cache, assignment, wanted, config, metric)
    return run, comp, cache, assignment, results


def submit(config: RunConfig, run_id=None, upload=False, message=None) -> Outcome:
    started = time.perf_counter()
    if upload:
        _check_uploadable(competition.get(config.competition))  # before training, not after
    run, comp, cache, assignment, results = train(config, run_id)
    return finish(run, comp, cache, assignment, results, started, upload=upload, message=message)


def predict_only(comp_name: str, run_id=None) -> Outcome:
    """Ensemble whatever folds of a run have finished (e.g. trained by separate `--fold` jobs) and submit."""
    from harness import runs, train as train_stage

    started = time.perf_counter()
    run = runs.find(comp_name, run_id)
    comp, cache = load_data(run.config)
    assignment = folds.load_or_make(comp, cache, run.config.folds, run.config.seed)
    results = [r for r in (train_stage.load_result(run.folder, f) for f in range(run.config.folds)) if r]
    if not results:
        raise HarnessError(f"No finished folds in {run.folder}; run `harness train {comp_name}` first.")
    return finish(run, comp, cache, assignment, results, started)


def finish(run, comp, cache, assignment, results, started, upload=False, message=None) -> Outcome:
    """predict -> submit -> score -> leaderboard for a run whose folds are trained."""
    metric = metrics.get(comp.metric)
    oof, test = predict.ensemble(run.folder, comp, cache, assignment, results)
    csv_path, oof_score, test_scores = score(comp, cache, run.run_id, run.folder, oof, test)
    y, scored = metrics.truth(comp, cache.train_labels), ~np.isnan(oof).any(axis=1)
    _plots(run, comp, results, y[scored], oof[scored])
    failed = [r.fold for r in results if r.status != "done"]
    wall = time.perf_counter() - started
    leaderboard.record(
        competition=comp.name, run_id=run.run_id, model=run.config.model, metric=comp.metric,
        greater_is_better=metric.greater_is_better, folds=run.config.folds,
        fold_scores=[None if r.status != "done" else round(r.score, 6) for r in results],
        oof_score=oof_score, test_score=test_scores.get(comp.metric), config=run.config.to_dict(),
        extra_scores={k: v for k, v in test_scores.items() if k != comp.metric}, wall_time=wall,
        submission=str(csv_path))
    outcome = Outcome(run, comp, results, oof_score, test_scores, csv_path, wall, cache.decoded, failed)
    if upload:
        submission.validate_file(comp, csv_path, cache.test_ids)  # the file as it is on disk, as Kaggle will read it
        _upload(comp, run, csv_path, message)
    atomic.write_json(run.folder / "summary.json", {
        "oof_score": oof_score, "test_scores": test_scores, "submission": str(csv_path), "wall_time": wall,
        "fold_scores": [r.score for r in results], "failed_folds": failed, "decoded": cache.decoded})
    return outcome


def score(comp, cache, run_id: str, folder, oof, test):
    """Save oof/test beside the run, write the submission and score it: (csv, oof score, hidden-test scores)."""
    metric = metrics.get(comp.metric)
    y = metrics.truth(comp, cache.train_labels)
    cuts = predict.thresholds(oof, y) if comp.task == "multilabel" else None
    csv_path = submission.write(comp, cache.test_ids, test, paths.submissions_dir(comp.name) / f"{run_id}.csv", cuts)
    submission.check_sample(comp, csv_path, paths.raw_dir(comp.name))
    atomic.save_npy(folder / "oof.npy", oof)
    atomic.save_npy(folder / "test.npy", test)
    scored = ~np.isnan(oof).any(axis=1)
    test_scores = {}
    if comp.solution is not None:
        test_scores = submission.grade(comp, csv_path, comp.solution(paths.raw_dir(comp.name)), cache.test_ids, test)
    return csv_path, metric(y[scored], oof[scored]), test_scores


def _plots(run, comp, results, y, oof):
    plots.curves(results, run.folder / "curves.png")
    if comp.task != "multilabel":
        plots.confusion(y, metrics.hard_labels(oof), comp.classes, run.folder / "confusion.png")


def _upload(comp, run, csv_path, message):
    """Submit to Kaggle and record the public score (or Kaggle's error) on the leaderboard row."""
    _check_uploadable(comp)
    from harness import kaggle_io

    kaggle_io.upload(comp.source.slug, csv_path, message or f"kaggle-harness {run.run_id}")
    state = kaggle_io.wait_for_score(comp.source.slug)
    leaderboard.set_public(comp.name, run.run_id, state.get("public_score"), state.get("error"))
    print(f"kaggle: submission {state.get('status')}; public score {state.get('public_score')}"
          + (f"; error: {state['error']}" if state.get("error") else ""))


def _check_uploadable(comp):
    if comp.source.kind != "competition":
        kind = f"Kaggle {comp.source.kind}" if comp.source.kind == "dataset" else f"{comp.source.kind} source"
        raise HarnessError(f"{comp.name} comes from a {kind}, not a Kaggle competition: there is nothing to "
                           f"upload to. Drop --upload.")


def summary(outcome: Outcome) -> str:
    """The one-screen report printed after a run."""
    comp, run = outcome.comp, outcome.run
    metric = comp.metric
    lines = [f"{comp.name} · {run.config.model} · {run.config.folds} folds · {run.config.image_size}px · "
             f"run {run.run_id}" + (" (resumed)" if run.resumed else "")]
    for r in outcome.fold_results:
        state = f"{metric} {r.score:.4f}" if r.status == "done" else f"FAILED: {r.message}"
        lines.append(f"  fold {r.fold + 1}: {state}  ({r.epochs} epochs, best {r.best_epoch + 1}, {r.seconds:.0f}s)")
    if outcome.failed_folds:
        lines.append(f"  left out of the ensemble: fold(s) {', '.join(str(f + 1) for f in outcome.failed_folds)}")
    lines.append(f"  out-of-fold {metric}: {outcome.oof_score:.4f}")
    for name, value in outcome.test_scores.items():
        lines.append(f"  hidden-test {name}: {value:.4f}")
    lines.append(f"  submission: {outcome.submission}")
    prepared = "decoded " + str(outcome.decoded) + " images" if outcome.decoded else "image cache reused"
    lines.append(f"  wall time: {outcome.wall_time:.1f}s ({prepared})")
    return "\n".join(lines)
