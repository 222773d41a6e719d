"""`harness report COMP`: one self-contained HTML page, runs/<comp>/report.html, to read instead of tables.

Sections: the leaderboard and a chart of every run's score with its fold spread (with Kaggle's medal lines once
the public leaderboard was downloaded); per run its scores, training curves, out-of-fold confusion matrix and
per-class table, reliability diagram, the training images it got most wrong, and its configuration; the prepare
report of each image cache. Pictures are PNGs embedded as data URIs, so the page opens from disk with no
network. A run's pictures are kept in its folder and redrawn only when its predictions change.
"""
import base64
import html
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from sklearn.metrics import average_precision_score

from harness import atomic, competition, cuts, leaderboard, metrics, paths, placing, plots, prepare

TOP_LOSSES = 16  # images in the top-losses grid
PREPARE_ROWS = 200  # report.csv rows listed per cache; the counts above them cover every row
EPS = 1e-7


@dataclass
class RunView:
    """What the page shows of one leaderboard row: its folder, configuration and image size."""
    row: dict
    folder: Path
    config: dict  # config.json of a trained run, blend.json of a blend; {} when the folder is gone
    is_blend: bool
    size: Optional[int]  # the image cache its out-of-fold rows line up with


def write(comp_name: str) -> Path:
    """Build the page from the leaderboard, the run folders and the image caches; returns its path."""
    comp = competition.get(comp_name)
    found = leaderboard.rows(comp.name)
    board = placing.load(comp)
    views = [_view(comp, row) for row in found]
    caches = {size: _cache(comp, size) for size in sorted({v.size for v in views if v.size})}
    body = [_header(comp, found, board), _leaderboard(found, board), _chart(comp, found, board)]
    body += [_run_section(comp, rank, view, caches.get(view.size)) for rank, view in enumerate(views, start=1)]
    body += [_prepare_section(comp, size, cache) for size, cache in caches.items()]
    out = paths.runs_dir(comp.name) / "report.html"
    atomic.write_text(out, _page(f"{comp.name} · kaggle-harness report", "\n".join(body)))
    return out


# --- what the page is made from ------------------------------------------------------------------

def _view(comp, row) -> RunView:
    folder = paths.runs_dir(comp.name) / row["run_id"]
    if (folder / "blend.json").exists():
        config = atomic.read_json(folder / "blend.json")
        members = [paths.runs_dir(comp.name) / r / "config.json" for r in config.get("blend", [])]
        sizes = [atomic.read_json(p).get("image_size") for p in members if p.exists()]
        return RunView(row, folder, config, True, sizes[0] if sizes else None)
    config = atomic.read_json(folder / "config.json") if (folder / "config.json").exists() else {}
    return RunView(row, folder, config, False, config.get("image_size"))


def _cache(comp, size: int):
    """The decoded images at `size`, or None when that cache is gone or unreadable (it is never rebuilt here)."""
    folder = paths.cache_dir(comp.name, size)
    try:
        return prepare.load(folder) if (folder / prepare.MANIFEST).exists() else None
    except (OSError, ValueError, KeyError):
        return None


def per_class(y_true, y_pred, classes) -> list:
    """[(class, precision, recall, F1, support)] of hard predictions, one row per class."""
    out = []
    for c, name in enumerate(classes):
        tp = int(np.sum((y_pred == c) & (y_true == c)))
        predicted, support = int(np.sum(y_pred == c)), int(np.sum(y_true == c))
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append((name, precision, recall, f1, support))
    return out


def per_class_ap(y_true, probs, classes) -> list:
    """[(class, average precision or None, positives)] for multi-label predictions."""
    return [(name, float(average_precision_score(y_true[:, c], probs[:, c])) if y_true[:, c].any() else None,
             int(y_true[:, c].sum())) for c, name in enumerate(classes)]


def sample_losses(task: str, y_true, probs) -> np.ndarray:
    """What the model paid for each training image out of fold: cross-entropy, or the squared error of a
    regressed grade (ordinal)."""
    if task == "ordinal":
        return (probs[:, 0].astype("float64") - y_true) ** 2
    p = np.clip(probs.astype("float64"), EPS, 1 - EPS)
    if task == "multiclass":
        return -np.log(p[np.arange(len(y_true)), y_true])
    if task == "binary":
        return -np.log(np.where(y_true == 1, p[:, 0], 1 - p[:, 0]))
    return -np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p), axis=1)


def calibration_data(comp, y_true, probs):
    """(confidence, was it right, what is plotted) for a reliability diagram of the task's probabilities."""
    if comp.task == "binary":
        return probs[:, 0], y_true == 1, f"P({comp.classes[1]})"
    if comp.task == "multiclass":
        return probs.max(axis=1), probs.argmax(axis=1) == y_true, "top class"
    return probs.ravel(), y_true.ravel() == 1, "every class"


# --- sections ------------------------------------------------------------------------------------

def _header(comp, found, board) -> str:
    metric = metrics.get(comp.metric)
    kaggle = ""
    if board is not None:
        kaggle = f"<p>{_e(placing.describe(board))}.</p>"
    elif comp.source.kind == "competition":
        kaggle = (f"<p class='note'>Kaggle's public leaderboard is not downloaded yet: "
                  f"<code>harness leaderboard {_e(comp.name)} --kaggle</code> adds ranks and medal lines.</p>")
    return (f"<header><h1>{_e(comp.name)}</h1><p>{_e(comp.description)}</p>"
            f"<p>{len(found)} run(s) · metric <b>{_e(comp.metric)}</b> "
            f"({'higher' if metric.greater_is_better else 'lower'} is better) · {comp.task}, "
            f"{len(comp.classes)} classes · written {time.strftime('%Y-%m-%d %H:%M')}</p>{kaggle}</header>")


def _leaderboard(found, board) -> str:
    if not found:
        return "<section><h2>Leaderboard</h2><p>No runs yet.</p></section>"
    gains = leaderboard.blend_gains(found)
    placed = {row["run_id"]: (basis, place) for row, basis, _, place in placing.placements(found, board)} \
        if board else {}
    head = ["#", "run", "model", "folds mean ± std", "oof", "hidden test", "Kaggle public", "blend gain", "time"]
    if board:
        head += ["placed on", "rank", "percentile", "medal"]
    rows = []
    for rank, r in enumerate(found, start=1):
        cells = [str(rank), f"<a href='#{_anchor(r['run_id'])}'>{_e(r['run_id'])}</a>", _e(r["model"]),
                 leaderboard.spread(r), *map(leaderboard.number, (r["oof_score"], r["test_score"], r["public_score"])),
                 f"{gains[r['run_id']]:+.4f}" if r["run_id"] in gains else "-", leaderboard.time_spent(r)]
        if board:
            basis, place = placed[r["run_id"]]
            cells += [placing.PLACED_ON[basis], f"{place.rank} / {place.teams}", f"{place.percentile:.1f}%",
                      f"<span class='medal {place.medal}'>{place.medal or '-'}</span>"] if place else ["-"] * 4
        rows.append(cells)
    return f"<section><h2>Leaderboard</h2>{_table(head, rows, numeric_from=3)}</section>"


def _chart(comp, found, board) -> str:
    if not found:
        return ""
    path = paths.runs_dir(comp.name) / "scores.png"
    lines = {**board.thresholds(), "median": board.median} if board else None
    plots.scores([f"{n}. {r['run_id']}" for n, r in enumerate(found, start=1)],
                 [leaderboard.ranking_score(r)[0] for r in found], [json.loads(r["fold_scores"]) for r in found],
                 path, comp.metric, lines)
    return f"<section><h2>Scores and their fold spread</h2>{_img(path, 'scores of every run')}</section>"


def _run_section(comp, rank, view: RunView, cache) -> str:
    r = view.row
    facts = [f"out-of-fold {leaderboard.number(r['oof_score'])}", f"hidden test {leaderboard.number(r['test_score'])}"]
    if r["public_score"] is not None or r["public_error"]:
        facts.append(f"Kaggle public {leaderboard.number(r['public_score'])}"
                     + (f" ({_e(r['public_error'])})" if r["public_error"] else ""))
    facts += [f"folds {leaderboard.spread(r)}", f"wall time {leaderboard.time_spent(r)}"]
    parts = [f"<section class='run' id='{_anchor(r['run_id'])}'><h2>#{rank} {_e(r['run_id'])} "
             f"<small>{_e(r['model'])}</small></h2><p>{' · '.join(facts)}</p>"]
    if not view.folder.exists():
        return parts[0] + f"<p class='note'>Its folder {_e(view.folder)} is gone; only its row remains.</p></section>"
    parts.append(_pictures(comp, view, cache))
    parts.append(_configuration(view))
    parts.append("</section>")
    return "\n".join(parts)


def _pictures(comp, view: RunView, cache) -> str:
    figures = []
    if (view.folder / "curves.png").exists():
        figures.append(_figure(view.folder / "curves.png", "training curves per fold"))
    elif not view.is_blend:
        figures.append("<p class='note'>No training curves were saved for this run.</p>")
    oof_path = view.folder / "oof.npy"
    if cache is None or not oof_path.exists():
        return "".join(figures) + (f"<p class='note'>No out-of-fold analysis: the {view.size}px image cache or the "
                                   f"run's oof.npy is missing (<code>harness prepare {_e(comp.name)} "
                                   f"--image-size {view.size}</code> rebuilds the cache).</p>")
    oof = np.load(oof_path)
    if len(oof) != len(cache.train_ids):
        return "".join(figures) + "<p class='note'>Its out-of-fold rows do not match the image cache any more.</p>"
    y = metrics.truth(comp, cache.train_labels)
    ok = ~np.isnan(oof).any(axis=1)  # rows of folds that failed have no prediction
    y_ok, p_ok, rows = y[ok], oof[ok], np.flatnonzero(ok)

    def fresh(name, render):  # redraw only when the predictions are newer than the picture
        path = view.folder / name
        if not path.exists() or path.stat().st_mtime < oof_path.stat().st_mtime:
            render(path)
        return path

    cut = cuts.load(view.folder) if (view.folder / cuts.FILE).exists() else None  # as the submission applied them
    tables = ""
    if comp.task == "multilabel":
        aps = per_class_ap(y_ok, p_ok, comp.classes)
        tables = _table(["class", "average precision", "positives"],
                        [[_e(c), leaderboard.number(ap), str(k)] for c, ap, k in aps], 1)
    else:
        hard = cuts.labels(comp, p_ok, cut)
        path = fresh("confusion.png", lambda p: plots.confusion(y_ok, hard, comp.classes, p))
        figures.append(_figure(path, "out-of-fold confusion matrix (rows: true class)"))
        tables = _table(["class", "precision", "recall", "F1", "support"],
                        [[_e(c), f"{p:.3f}", f"{rc:.3f}", f"{f:.3f}", str(s)]
                         for c, p, rc, f, s in per_class(y_ok, hard, comp.classes)], 1)
    if any(metrics.get(m).needs == "scores" for m in (comp.metric, *comp.extra_metrics)):
        conf, right, what = calibration_data(comp, y_ok, p_ok)
        path = fresh("reliability.png", lambda p: plots.reliability(conf, right, p, what))
        figures.append(_figure(path, "reliability of the out-of-fold probabilities"))
    losses = sample_losses(comp.task, y_ok, p_ok)
    worst = np.argsort(-losses, kind="stable")[:TOP_LOSSES]
    path = fresh("top_losses.png", lambda p: plots.top_losses(
        [cache.train_x[cache.train_rows[rows[i]]] for i in worst],
        [_loss_title(comp, y_ok[i], p_ok[i], losses[i], cut) for i in worst], p))
    ids = ", ".join(_e(cache.train_ids[rows[i]]) for i in worst)
    figures.append(f"<div><h3>Per class (out-of-fold)</h3>{tables}</div>")
    return (f"<div class='figs'>{''.join(figures)}</div>"
            f"<h3>Top losses</h3><p class='note'>The training images this run got most wrong out of fold, worst "
            f"first: label noise and confusable classes show here first. Ids: {ids}.</p>"
            f"{_img(path, 'training images with the highest out-of-fold loss')}")


def _loss_title(comp, y, p, loss, cut=None) -> str:
    """true / predicted class (decided as the submission decides), probability or grade, and loss, in the words
    of the competition's classes."""
    pred = cuts.labels(comp, p[None], cut)[0]
    if comp.task == "multilabel":
        def names(idx):
            return ", ".join(comp.classes[i] for i in idx) or "none"
        return (f"true: {_clip(names(np.flatnonzero(y)))}\npred: {_clip(names(np.flatnonzero(pred)))}\n"
                f"loss {loss:.2f}")
    pred = int(pred)
    if comp.task == "ordinal":
        shown = f"grade {p[0]:.2f}"  # the regressed grade the cuts decided on
    else:
        shown = f"{(p[0] if pred == 1 else 1 - p[0]) if comp.task == 'binary' else p[pred]:.2f}"
    return f"true: {_clip(comp.classes[int(y)])}\npred: {_clip(comp.classes[pred])} ({shown})\nloss {loss:.2f}"


def _configuration(view: RunView) -> str:
    if view.is_blend:
        members = view.config.get("blend", [])
        weights = view.config.get("weights", [None] * len(members))
        rows = [[f"<a href='#{_anchor(m)}'>{_e(m)}</a>", leaderboard.number(w)] for m, w in zip(members, weights)]
        return (f"<h3>Configuration</h3><p>Blend ({_e(view.config.get('method'))} weights) of:</p>"
                f"{_table(['run', 'weight'], rows, 1)}")
    rows = [[_e(k), _e(v)] for k, v in sorted(view.config.items())]
    link = f" · images: <a href='#prepare-{view.size}'>prepare report at {view.size}px</a>" if view.size else ""
    return f"<h3>Configuration</h3><p class='note'>{_e(view.folder)}{link}</p>{_table(['option', 'value'], rows)}"


def _prepare_section(comp, size, cache) -> str:
    head = f"<section class='prepare' id='prepare-{size}'><h2>Prepare report: {size}px image cache</h2>"
    if cache is None:
        return head + (f"<p class='note'>The cache {_e(paths.cache_dir(comp.name, size))} is gone; "
                       f"<code>harness prepare</code> rebuilds it.</p></section>")
    manifest = atomic.read_json(cache.folder / prepare.MANIFEST)
    counts = Counter(reason.split(":")[0] for _, reason in cache.skipped)
    summary = (f"<p>{manifest.get('train', len(cache.train_ids))} training and {manifest.get('test', '?')} test images "
               f"decoded once in {manifest.get('seconds', '?')} s into {_e(cache.folder)}; "
               f"{len(cache.skipped)} file(s) reported in report.csv.</p>")
    if not cache.skipped:
        return head + summary + "<p>Every file was used as it is.</p></section>"
    raw = str(paths.raw_dir(comp.name)) + "/"
    listed = [[_e(path.removeprefix(raw)), _e(reason)] for path, reason in cache.skipped[:PREPARE_ROWS]]
    more = (f"<p class='note'>... and {len(cache.skipped) - PREPARE_ROWS} more in "
            f"{_e(cache.folder / 'report.csv')}.</p>") if len(cache.skipped) > PREPARE_ROWS else ""
    return (head + summary + _table(["what", "files"], [[_e(k), str(v)] for k, v in counts.most_common()], 1)
            + _table(["file", "why"], listed) + more + "</section>")


# --- HTML ----------------------------------------------------------------------------------------

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f; margin: 0 auto;
       max-width: 1180px; padding: 0 24px 48px; }
h1 { margin: 24px 0 4px; } h2 { margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h2 small { color: #666; font-weight: normal; } h3 { margin: 18px 0 6px; font-size: 15px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { padding: 3px 9px; border-bottom: 1px solid #e5e5e5; text-align: left; vertical-align: top; }
th { background: #f3f4f6; } tr:nth-child(even) td { background: #fafafa; } td.n { text-align: right;
  font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; } .figs { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.figs img { max-height: 470px; width: auto; }
figure { margin: 0; } figcaption { font-size: 12px; color: #555; }
.note { color: #555; font-size: 13px; } code { background: #f3f4f6; padding: 0 3px; }
.medal.gold { color: #a67c00; font-weight: bold; } .medal.silver { color: #6b6b6b; font-weight: bold; }
.medal.bronze { color: #8c5a2b; font-weight: bold; }
@media print { body { max-width: none; padding: 0; font-size: 11px; } a { color: inherit; text-decoration: none; }
  figure, table, img { break-inside: avoid; } h2, h3 { break-after: avoid; } section.run { break-before: page; } }
"""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head>"
            f"<body>\n{body}\n</body></html>\n")


def _table(head, rows, numeric_from: int = 99) -> str:
    """A table; columns from `numeric_from` on are right-aligned numbers."""
    cls = [" class='n'" if i >= numeric_from else "" for i in range(len(head))]
    return ("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td{c}>{v}</td>" for c, v in zip(cls, row)) + "</tr>" for row in rows)
            + "</tbody></table>")


def _figure(path: Path, caption: str) -> str:
    return f"<figure>{_img(path, caption)}<figcaption>{_e(caption)}</figcaption></figure>"


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"<img src='data:image/png;base64,{data}' alt='{_e(alt)}'>"


def _anchor(run_id: str) -> str:
    return "run-" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _clip(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"
