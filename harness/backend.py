"""The one place that knows which Keras backend runs: seeding, determinism, devices, precision.

Everything TensorFlow-only lives here, so the engine also runs with KERAS_BACKEND=jax or torch.
"""
import contextlib
import functools
import os
import sys


@contextlib.contextmanager
def _stderr_to_devnull():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_start() -> None:
    """Load the backend and probe its devices with the C++ start-up log (oneDNN, CUDA probes) hidden.

    Python errors still surface: they are raised, not logged, and fd 2 is restored before they print."""
    with _stderr_to_devnull():
        if name() == "tensorflow":
            import tensorflow as tf
            tf.config.list_physical_devices("GPU")
            tf.get_logger().setLevel("ERROR")  # retracing notices are advice for library authors, not users


def name() -> str:
    import keras  # imported here, not at module top, so quiet_start() can hide the backend's start-up log

    return keras.backend.backend()


def seed_everything(seed: int) -> None:
    """Same seed, same data -> same weights on CPU. TensorFlow's op determinism is switched on there only: it
    also turns XLA off, which an accelerator needs more than bit-identical reruns."""
    import keras

    keras.utils.set_random_seed(seed)
    if name() == "tensorflow" and accelerator() == "cpu":
        import tensorflow as tf
        tf.config.experimental.enable_op_determinism()


def accelerator() -> str:
    """'gpu', 'tpu' or 'cpu': what the current backend will train on."""
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf
        if tf.config.list_logical_devices("TPU"):
            return "tpu"
        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    if backend == "jax":
        import jax
        return jax.default_backend() if jax.default_backend() in ("gpu", "tpu") else "cpu"
    if backend == "torch":
        import torch
        return "gpu" if torch.cuda.is_available() else "cpu"
    return "cpu"


def device_count() -> int:
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf
        return max(1, len(tf.config.list_physical_devices("GPU")))
    if backend == "jax":
        import jax
        return jax.local_device_count()
    if backend == "torch":
        import torch
        return max(1, torch.cuda.device_count())
    return 1


def device_memory():
    """Bytes of memory on the one accelerator a model trains on; None on CPU or across several replicas."""
    if accelerator() == "cpu" or _strategy() is not None:
        return None
    if name() == "tensorflow":
        from tensorflow.python.client import device_lib
        return next((d.memory_limit for d in device_lib.list_local_devices() if d.device_type == "GPU"), None)
    if name() == "jax":
        import jax
        return (jax.devices()[0].memory_stats() or {}).get("bytes_limit")
    if name() == "torch":
        import torch
        return torch.cuda.get_device_properties(0).total_memory
    return None


def configure_precision(mixed: str = "auto") -> str:
    """Mixed precision on accelerators ('auto'), never on CPU where it is slower; returns the policy."""
    import keras

    use = accelerator() != "cpu" if mixed == "auto" else mixed in ("on", "true", "1", True)
    policy = ("mixed_bfloat16" if accelerator() == "tpu" else "mixed_float16") if use else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def strategy_scope():
    """A scope that spreads training over all local GPUs or a TPU (TensorFlow), or does nothing."""
    strategy = _strategy()
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def global_batch(per_device: int) -> int:
    """Batch size for one step: `per_device` on every replica of the distribution strategy."""
    strategy = _strategy()
    return per_device * (strategy.num_replicas_in_sync if strategy is not None else 1)


@functools.lru_cache(maxsize=1)
def _strategy():
    """MirroredStrategy for several GPUs, TPUStrategy on a TPU (connected once), else None."""
    if name() != "tensorflow":
        return None
    import tensorflow as tf
    if accelerator() == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if accelerator() == "gpu" and device_count() > 1:
        return tf.distribute.MirroredStrategy()
    return None
