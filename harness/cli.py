"""`harness`: the command line. User mistakes get one sentence and exit code 2, never a traceback."""
import argparse
import sys
from pathlib import Path

from harness import executors, progress
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
    ("--learning-rate", dict(type=float, default=1e-3, help="Adam's learning rate for the head (and body)")),
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
    executors.add_options(tr)
    tr.add_argument("--fold", type=int, default=None, help="train only this fold (0-based), e.g. one per machine")
    tr.add_argument("--run-id", default=None, help="the run to add to (default: resume or start one)")
    pr = sub.add_parser("predict", help="ensemble the finished folds of a run into a submission")
    pr.add_argument("competition")
    pr.add_argument("--run-id", default=None, help="default: the latest run")
    pr.add_argument("--images", default=None, help="predict every image of this folder from the run folder alone "
                    "(no image cache, no Kaggle), ids from the file names; needs --out")
    pr.add_argument("--out", default=None, help="with --images: the CSV to write")
    pr.add_argument("--workers", type=int, default=None, help="with --images: decode processes (default: every core)")
    sm = sub.add_parser("submit", help="every stage: download, prepare, train, predict, submit, score, rank")
    _run_options(sm)
    executors.add_options(sm)
    sm.add_argument("--run-id", default=None, help="the run to resume or create (default: resume or start one)")
    sm.add_argument("--upload", action="store_true", help="also submit the CSV to Kaggle (competitions only)")
    sm.add_argument("--message", default=None, help="the Kaggle submission message")
    pk = sub.add_parser("package", help="a run as a Kaggle dataset and inference kernel for a code competition; "
                        "--push runs it on Kaggle and submits")
    pk.add_argument("competition")
    pk.add_argument("--run-id", default=None, help="default: the latest run")
    pk.add_argument("--owner", default=None, help="the Kaggle user owning the dataset and kernel (default: the "
                    "logged-in user)")
    pk.add_argument("--dataset", default=None, help="the dataset's and kernel's name (default: COMP-RUN)")
    pk.add_argument("--push", action="store_true", help="upload the dataset, push and run the kernel, submit its "
                    "output and record the public score")
    pk.add_argument("--message", default=None, help="with --push: the dataset version's notes and the submission's "
                    "message")
    bl = sub.add_parser("blend", help="combine finished runs' test predictions into a new scored submission")
    bl.add_argument("competition")
    bl.add_argument("runs", nargs="+", metavar="RUN", help="run ids (see harness leaderboard)")
    bl.add_argument("--method", choices=("mean", "fit"), default="mean",
                    help="equal weights, or weights fitted on the runs' out-of-fold predictions")
    cmp = sub.add_parser("compare", help="train several models on the same folds and seed, blend them, rank them")
    _run_options(cmp, skip=("--model",))
    executors.add_options(cmp)
    cmp.add_argument("--models", default=None, help="comma-separated models (default: the competition's "
                     "comparison set); a finished run with the same options is reused")
    cmp.add_argument("--time-budget", default=None, help="e.g. 90m or 2h: start no model once it is spent")
    lb = sub.add_parser("leaderboard", help="runs of a competition, best first")
    lb.add_argument("competition")
    lb.add_argument("--kaggle", action="store_true", help="place every run on the competition's public "
                    "Kaggle leaderboard (downloaded once into data/COMP/kaggle/)")
    lb.add_argument("--refresh", action="store_true", help="with --kaggle: download the leaderboard again")
    rep = sub.add_parser("report", help="write runs/COMP/report.html: leaderboard, charts and every run's analysis")
    rep.add_argument("competition")
    sub.add_parser("models", help="the registered models: size, parameters, default weights, offline status")
    bench = sub.add_parser("bench", help="the speed benchmarks of a source checkout (make bench): the ratio table "
                           "in bench/results.json, or with --gpu every model on the accelerator in bench/gpu.json")
    bench.add_argument("--quick", action="store_true", help="tiny sizes on any CPU: checks that it works")
    bench.add_argument("--images", type=int, default=None, help="training images to generate (default 8000; "
                       "with --gpu, the end-to-end run's 25000, 0 skips that run)")
    bench.add_argument("--gpu", action="store_true", help="per registry model at 224 px: train and predict images/s "
                       "through the harness and a bare compiled loop; then 5-fold efficientnet-b0 end to end")
    bench.add_argument("--models", default=None, help="with --gpu: comma-separated registry models (default: all)")
    for command in sub.choices.values():  # every command, including any added above later
        command.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes: only errors "
                             "and the final summary")
    return p


def _run_options(p, only=None, skip=()):
    p.add_argument("competition")
    for flag, kwargs in RUN_OPTIONS:
        if (only is None or flag in only) and flag not in skip:
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
        comps = [competition.get(name) for name in competition.names()]
        width = max(len(c.name) for c in comps)
        for comp in comps:
            print(f"{comp.name:<{width}}  {comp.task:<10}  {comp.metric:<19}  {comp.description}")
        return 0
    if args.command == "models":
        from harness import backend
        backend.quiet_start()  # before the registry imports Keras, which would log as it loads
        from harness import catalog
        print(catalog.format_table(catalog.rows()))
        return 0
    if args.command == "bench":
        from harness import backend
        benchmarks = _checkout_benchmarks()
        backend.quiet_start()
        benchmarks.run(quick=args.quick, images=args.images, gpu=args.gpu, models=args.models)
        return 0
    from harness import local_folder

    # unknown names fail here, before anything heavy loads; a local folder competition is registered here
    comp = local_folder.use(args.competition, getattr(args, "data_dir", None))
    if args.command == "info":
        return _info(comp)
    if args.command == "download":
        from harness import download
        print(download.fetch(comp, force=args.force))
        return 0
    if args.command == "leaderboard":
        from harness import leaderboard
        if args.refresh and not args.kaggle:
            raise HarnessError("--refresh downloads Kaggle's public leaderboard again, so it goes with --kaggle. "
                               "Received: --refresh without --kaggle")
        board = None
        if args.kaggle:
            from harness import placing  # it loads scikit-learn's metrics: only when Kaggle's board is asked for
            board = placing.fetch(comp, refresh=args.refresh)
        print(leaderboard.format_table(comp.name))
        if board is not None:
            print()
            print(placing.format_table(comp, leaderboard.rows(comp.name), board))
        return 0
    if args.command == "report":
        from harness import report
        print(f"report: {report.write(comp.name)}")
        return 0
    if args.command == "predict" and (args.images is None) != (args.out is None):
        raise HarnessError(f"--images and --out go together: predict the images of a folder into a CSV. Received: "
                           f"{'--images' if args.images else '--out'} alone")
    if args.command == "package" and args.message and not args.push:
        raise HarnessError("--message goes with --push (it names the dataset version and the submission). "
                           "Received: --message without --push")
    from harness import backend

    backend.quiet_start()
    from harness import leaderboard, pipeline

    if args.command == "compare":
        from harness import compare, report
        names = compare.parse_models(args.models) if args.models else None
        budget = compare.parse_duration(args.time_budget) if args.time_budget else None
        outcome = compare.compare(config_from(args), names, budget, executors.from_args(args))
        print()
        print(compare.format_summary(outcome))
        print()
        print(leaderboard.format_table(comp.name))
        print(f"report: {report.write(comp.name)}")
        return 0
    if args.command == "predict" and args.images:
        from harness import inference
        result = inference.predict_folder(comp, args.run_id, args.images, args.out, args.workers)
        print(inference.summary(result))
        return 0
    if args.command == "package":
        return _package(comp, args)
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
        run_, *_, results = pipeline.train(config_from(args), args.run_id, args.fold, executors.from_args(args))
        for r in results:
            print(f"fold {r.fold + 1}: {r.status} {r.score:.4f}")
        print(f"run {run_.run_id} in {run_.folder}")
        return 0
    if args.command == "predict":
        outcome = pipeline.predict_only(comp.name, args.run_id)
    else:
        outcome = pipeline.submit(config_from(args), args.run_id, upload=args.upload, message=args.message,
                                  executor=executors.from_args(args))
    print()
    print(pipeline.summary(outcome))
    print()
    print(leaderboard.format_table(comp.name))
    if args.command == "submit":
        from harness import report
        print(f"report: {report.write(comp.name)}")
    return 0


def _checkout_benchmarks():
    """The benchmarks/ package of the checkout this harness runs from: benchmarks measure the product but are
    not installed with it."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "benchmarks" / "__init__.py").is_file():
        raise HarnessError(f"The benchmarks need the source checkout: run `make bench` in a clone of kaggle-harness "
                           f"(this harness, installed in {root}, has no benchmarks/ beside it).")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import benchmarks
    return benchmarks


def _package(comp, args) -> int:
    from harness import leaderboard, package

    built = package.build(comp, args.run_id, args.owner, args.dataset)
    print(f"dataset {built.dataset_ref}: {built.dataset}")
    print(f"kernel {built.kernel_ref}: {built.kernel}")
    if not args.push:
        return 0
    state = package.push(comp, built, args.message or f"kaggle-harness {built.run.run_id}")
    print()
    print(leaderboard.format_table(comp.name))
    return 1 if state["status"] == "error" else 0  # Kaggle could not score the kernel's output


def _info(comp) -> int:
    from harness import download, metrics, paths, submission

    metric = metrics.get(comp.metric)
    print(f"{comp.name}: {comp.description}")
    print(f"  source:     {comp.source.kind} {comp.source.slug} {comp.source.url}".rstrip())
    if comp.code_competition:
        print(f"  code:       a code competition: Kaggle runs a notebook on hidden test images ({comp.test_folder}/); "
              f"submit a run with `harness package {comp.name} --run-id RUN --push`")
    print(f"  task:       {comp.task} ({len(comp.classes)} classes)")
    shown = comp.classes if len(comp.classes) <= 20 else (*comp.classes[:12], f"... ({len(comp.classes)} in all)")
    print(f"  classes:    {', '.join(shown)}")
    print(f"  metric:     {comp.metric} ({'higher' if metric.greater_is_better else 'lower'} is better)"
          + (f"; also {', '.join(comp.extra_metrics)}" if comp.extra_metrics else ""))
    print(f"  model:      {comp.model} (the default for --model)")
    print(f"  header:     {submission.header_text(comp)}"
          + (f" (checked against {comp.sample_submission})" if comp.sample_submission else ""))
    print(f"  submission: {comp.format.describe(comp)}")
    for key, value in comp.extra.items():
        print(f"  {key + ':':<11} {value}")
    status = "downloaded" if download.is_complete(comp) else "not downloaded"
    print(f"  data:       {paths.raw_dir(comp.name)} ({status})")
    return 0


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        with progress.quiet(args.quiet):
            return run(args)
    except HarnessError as e:
        print(f"harness: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted; run the same command again to continue where it stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
