"""Speed benchmarks of kaggle-harness. They live beside the product, not in it: the installed package has none.

`make bench` (`python -m benchmarks`, or `harness bench` in a checkout) measures the engine as ratios of two
things timed side by side and writes bench/results.json (benchmarks/ratios.py); with `--gpu`, every registry
model on the accelerator and the end-to-end run, bench/gpu.json (benchmarks/gpu.py).
"""
from harness.errors import HarnessError


def run(quick=False, images=None, gpu=False, models=None) -> dict:
    """The ratio table, or with `gpu` the accelerator benchmark (of `models`, comma-separated; default all)."""
    if gpu:
        from benchmarks import gpu as accelerator

        return accelerator.run(quick, images, models)
    if models is not None:
        raise HarnessError(f"--models chooses the models of --gpu; add --gpu or drop --models. Received: "
                           f"models={models!r}")
    from benchmarks import ratios

    return ratios.run(quick, images)
