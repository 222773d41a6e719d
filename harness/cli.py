"""`harness`: the command line. User mistakes get one sentence and exit code 2, never a traceback."""
import argparse
import sys

from harness.config import DEVICE_DATA
from harness.errors import HarnessError

RUN_OPTIONS = (
    ("--model", dict(default=None, help="model from the registry (default: the competition's, see harness info)")),
    ("--folds", dict(type=int, default=5, help="number of stratified folds (>= 2)")),
    ("--epochs", dict(type=int, default=30, help="maximum epochs per fold (early stopping may end sooner)")),
    ("--seed", dict(type=int, default=42, help="seed for folds, weights and augmentation")),
    ("--batch-size", dict(type=int, default=None, help="images per device and step (default: the model's for "
                                                         "the device: 64 on CPU, more on an accelerator)")),
    ("--image-size", dict(type=int, default=None, help="square side in pixels (default: the model's)")),
    ("--learning-rate", dict(type=float, default=1e-3)),
    ("--patience", dict(type=int, default=5, help="early-stopping patience in epochs")),
    ("--no-tta", dict(action="store_true", help="no flipped test-time augmentation")),
    ("--workers", dict(type=int, default=None, help="decode processes (default: every core)")),
    ("--weights", dict(default=None, help="backbone weights: imagenet, none or a file (default: the model's)")),
    ("--fine-tune", dict(type=int, default=0, help="after the head, epochs with the backbone's top unfrozen")),
    ("--cached-features", dict(action="store_true", help="run the frozen backbone once and train only the "
                                                         "head on its cached features (no augmentation)")),
    ("--device-data", dict(choices=DEVICE_DATA, default="auto", help="keep the image cache on the "
                           "accelerator and gather batches there (auto: when it fits --device-share of its memory)")),
    ("--device-share", dict(type=float, default=0.5, help="share of accelerator memory the image cache may fill")),
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="harness", description="From a Kaggle competition's name to a scored, "
                                "fold-ensembled submission.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", help="the registered competitions")
    info = sub.add_parser("info", help="source, task, classes, metric, format and data status of a competition")
    info.add_argument("competition")
    _data_dir(info)
    dl = sub.add_parser("download", help="download (or build) the raw files into data/<comp>/raw/")
    dl.add_argument("competition")
    dl.add_argument("--force", action="store_true", help="download again even if complete")
    _data_dir(dl)
    prep = sub.add_parser("prepare", help="decode every image once into the cache")
    _run_options(prep, only=("--model", "--image-size", "--workers"))
    tr = sub.add_parser("train", help="train the folds of a run (resumes an unfinished one)")
    _run_options(tr)
    tr.add_argument("--fold", type=int, default=None, help="train only this fold (0-based), e.g. one per machine")
    tr.add_argument("--run-id", default=None, help="the run to add to (default: resume or start one)")
    pr = sub.add_parser("predict", help="ensemble the finished folds of a run into a submission")
    pr.add_argument("competition")
    pr.add_argument("--run-id", default=None, help="default: the latest run")
    sm = sub.add_parser("submit", help="every stage: download, prepare, train, predict, submit, score, rank")
    _run_options(sm)
    sm.add_argument("--run-id", default=None)
    sm.add_argument("--upload", action="store_true", help="also submit the CSV to Kaggle (competitions only)")
    sm.add_argument("--message", default=None, help="the Kaggle submission message")
    bl = sub.add_parser("blend", help="combine finished runs' test predictions into a new scored submission")
    bl.add_argument("competition")
    bl.add_argument("runs", nargs="+", metavar="RUN", help="run ids (see harness leaderboard)")
    bl.add_argument("--method", choices=("mean", "fit"), default="mean",
                    help="equal weights, or weights fitted on the runs' out-of-fold predictions")
    lb = sub.add_parser("leaderboard", help="runs of a competition, best first")
    lb.add_argument("competition")
    bench = sub.add_parser("bench", help="measure the engine's speed against its limits; writes bench/results.json")
    bench.add_argument("--quick", action="store_true", help="tiny sizes (under a minute): checks that it works")
    bench.add_argument("--images", type=int, default=None, help="training images to generate (default 8000)")
    return p


def _run_options(p, only=None):
    p.add_argument("competition")
    for flag, kwargs in RUN_OPTIONS:
        if only is None or flag in only:
            p.add_argument(flag, **kwargs)
    _data_dir(p)


def _data_dir(p):
    p.add_argument("--data-dir", default=None, help="a local folder with one sub-folder of images per class: "
                   "it becomes the competition COMPETITION (later commands remember it)")


def config_from(args):
    from harness.config import RunConfig

    fields = {"competition": args.competition}
    for flag, _ in RUN_OPTIONS:
        key = flag[2:].replace("-", "_")
        if hasattr(args, key):
            fields["tta" if key == "no_tta" else key] = (not args.no_tta) if key == "no_tta" else getattr(args, key)
    return RunConfig(**fields)


def run(args) -> int:
    from harness import competition

    if args.command == "list":
        for name in competition.names():
            comp = competition.get(name)
            print(f"{name:<22} {comp.task:<11} {comp.metric:<10} {comp.description}")
        return 0
    if args.command == "bench":
        from harness import backend, bench
        backend.quiet_start()
        bench.run(quick=args.quick, images=args.images)
        return 0
    from competitions import folder

    # unknown names fail here, before anything heavy loads; a local folder competition is registered here
    comp = folder.use(args.competition, getattr(args, "data_dir", None))
    if args.command == "info":
        return _info(comp)
    if args.command == "download":
        from harness import download
        print(download.fetch(comp, force=args.force))
        return 0
    if args.command == "leaderboard":
        from harness import leaderboard
        print(leaderboard.format_table(comp.name))
        return 0
    from harness import backend

    backend.quiet_start()
    from harness import leaderboard, pipeline

    if args.command == "blend":
        from harness import blend
        print(blend.format_summary(blend.blend(comp.name, args.runs, args.method)))
        print()
        print(leaderboard.format_table(comp.name))
        return 0
    if args.command == "prepare":
        config = pipeline.resolve(config_from(args))
        _, cache = pipeline.load_data(config)
        print(f"{comp.name}: {len(cache.train_ids)} train and {len(cache.test_ids)} test images at "
              f"{cache.size}px in {cache.folder} ({cache.decoded} decoded now, {len(cache.skipped)} reported)")
        return 0
    if args.command == "train":
        run_, *_, results = pipeline.train(config_from(args), args.run_id, args.fold)
        for r in results:
            print(f"fold {r.fold + 1}: {r.status} {r.score:.4f}")
        print(f"run {run_.run_id} in {run_.folder}")
        return 0
    if args.command == "predict":
        outcome = pipeline.predict_only(comp.name, args.run_id)
    else:
        outcome = pipeline.submit(config_from(args), args.run_id, upload=args.upload, message=args.message)
    print()
    print(pipeline.summary(outcome))
    print()
    print(leaderboard.format_table(comp.name))
    return 0


def _info(comp) -> int:
    from harness import download, metrics, paths

    metric = metrics.get(comp.metric)
    print(f"{comp.name}: {comp.description}")
    print(f"  source:     {comp.source.kind} {comp.source.slug} {comp.source.url}".rstrip())
    print(f"  task:       {comp.task} ({len(comp.classes)} classes)")
    print(f"  classes:    {', '.join(comp.classes)}")
    print(f"  metric:     {comp.metric} ({'higher' if metric.greater_is_better else 'lower'} is better)"
          + (f"; also {', '.join(comp.extra_metrics)}" if comp.extra_metrics else ""))
    print(f"  model:      {comp.model} (the default for --model)")
    fmt = comp.label_format + (f" of {comp.classes[1]}, clipped to {list(comp.clip)}"
                               if comp.label_format == "probability" else "")
    print(f"  submission: id,label with label = {fmt}"
          + (f" (checked against {comp.sample_submission})" if comp.sample_submission else ""))
    for key, value in comp.extra.items():
        print(f"  {key + ':':<11} {value}")
    status = "downloaded" if download.is_complete(comp) else "not downloaded"
    print(f"  data:       {paths.raw_dir(comp.name)} ({status})")
    return 0


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except HarnessError as e:
        print(f"harness: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted; run the same command again to continue where it stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
