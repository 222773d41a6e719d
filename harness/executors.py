"""Who trains a run's folds: here, one after another (the default), or as Ray tasks on every GPU of a machine or
a cluster (harness/distributed.py). An executor is a callable with in_process' signature; the options that
choose one are not part of the run's configuration, so a run started one way resumes the other."""
import argparse

from harness.errors import HarnessError

OPTIONS = (
    ("--executor", dict(choices=("in-process", "ray"), default="in-process",
                        help="in-process: one fold after another here; ray: every unfinished fold as a Ray task, "
                             "as many at once as the cluster has GPUs (needs pip install -e '.[ray]')")),
    ("--ray-address", dict(default=None, metavar="auto|HOST:PORT",
                           help="the Ray cluster to join (default: RAY_ADDRESS, else a cluster started with "
                                "`ray start` on this machine, else a new one for this command)")),
    ("--gpus-per-fold", dict(type=int, default=None,
                             help="GPUs each fold's Ray task asks for (default 1; one CPU where the cluster has "
                                  "no GPU)")),
)


def add_options(parser: argparse.ArgumentParser) -> None:
    """The executor options, for every command that trains folds (train, submit, ...)."""
    group = parser.add_argument_group("where the folds train")
    for flag, kwargs in OPTIONS:
        group.add_argument(flag, **kwargs)


def from_args(args):
    """The executor the parsed options ask for; Ray's options without `--executor ray` are a mistake."""
    if args.executor == "ray":
        from harness.distributed import RayExecutor
        return RayExecutor(args.ray_address, 1 if args.gpus_per_fold is None else args.gpus_per_fold)
    if args.ray_address is not None or args.gpus_per_fold is not None:
        raise HarnessError(f"--ray-address and --gpus-per-fold apply only with --executor ray. Received: "
                           f"--executor {args.executor}, --ray-address {args.ray_address}, "
                           f"--gpus-per-fold {args.gpus_per_fold}")
    return in_process


def in_process(run_folder, comp, cache, assignment, wanted, config) -> list:
    """Train the folds in `wanted` in this process, one after another: the fold work of every executor."""
    from harness import metrics, train  # Keras is imported only once training starts

    metric = metrics.get(comp.metric)
    if config.cached_features:
        from harness import features
        return features.train_folds(run_folder, comp, cache, assignment, wanted, config, metric)
    return train.train_folds(run_folder, comp, cache, assignment, wanted, config, metric)
