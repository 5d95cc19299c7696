"""Notebook start-up: seeds, determinism, plot defaults and one line of facts.

Every notebook's first code cell calls `setup_notebook()`, so that a re-run
gives the same numbers and the reader sees at once what ran the notebook.
"""

import dataclasses
import logging
import os
import platform
import sys

# TensorFlow prints start-up lines from C++ (absl, oneDNN); level 2 hides the
# informational ones. It must be set before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from course_lib._checks import check_bool, check_seed  # noqa: E402

__all__ = [
    "PLOT_DEFAULTS",
    "RuntimeInfo",
    "in_colab",
    "processor_name",
    "backend_device",
    "enable_determinism",
    "default_jit_compile",
    "quiet_retracing_warnings",
    "set_plot_defaults",
    "setup_notebook",
]

PLOT_DEFAULTS = {
    # Small, readable figures: notebooks are committed with their images.
    "figure.figsize": (6.0, 4.0),
    "figure.dpi": 72,
    "savefig.dpi": 72,
    "figure.autolayout": True,
    "axes.titlesize": "medium",
    "axes.labelsize": "medium",
    "image.cmap": "gray",
}


@dataclasses.dataclass(frozen=True)
class RuntimeInfo:
    """What `setup_notebook` found: versions, device and where it runs."""

    python: str
    keras: str
    backend: str
    backend_version: str
    device: str
    gpu: bool
    in_colab: bool
    seed: int

    def summary(self):
        place = "Colab" if self.in_colab else "local"
        return (
            f"Python {self.python} | Keras {self.keras} on {self.backend} "
            f"{self.backend_version} | {self.device} | {place} | seed {self.seed}"
        )


def in_colab():
    """Returns True when running in Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def _cpu_name():
    return f"CPU ({os.cpu_count()} cores)"


def processor_name():
    """The processor's model name, as benchmarks and recorded runs state it.

    The course's CPU timings differ by a fifth between processors of the same
    core count, so every timing names the processor it was measured on.

    Returns:
        The first "model name" of `/proc/cpuinfo` (Linux), else
        `platform.processor()`, else the machine type ("x86_64").

    Example:

    >>> isinstance(processor_name(), str) and processor_name() != ""
    True
    """
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def backend_device():
    """Returns `(backend_version, device_name, has_gpu)` for Keras's backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return tf.__version__, f"GPU {details.get('device_name', gpus[0].name)}", True
        return tf.__version__, _cpu_name(), False
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform == "gpu":
            return jax.__version__, f"GPU {device.device_kind}", True
        return jax.__version__, _cpu_name(), False
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.__version__, f"GPU {torch.cuda.get_device_name(0)}", True
        return torch.__version__, _cpu_name(), False
    return "", _cpu_name(), False


def enable_determinism():
    """Turns on deterministic kernels where the backend offers a switch.

    TensorFlow: `tf.config.experimental.enable_op_determinism()`. PyTorch:
    `torch.use_deterministic_algorithms(True, warn_only=True)`. JAX is
    deterministic on the CPU; on a GPU, set
    `XLA_FLAGS=--xla_gpu_deterministic_ops=true` before starting Python.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)


class _RetracingFilter(logging.Filter):
    """Drops TensorFlow's warning that a function was traced again.

    Notebooks that train several fresh models (one per seed or variant) trace
    each model's functions once; TensorFlow then warns, in every notebook
    output, that "5 out of the last 9 calls ... triggered tf.function
    retracing". Here that is expected, not a mistake to fix.
    """

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


def default_jit_compile():
    """Returns the `jit_compile` argument the course passes to `Model.compile`.

    TensorFlow: `False`. On a CPU, XLA makes convolutional networks slower
    (a CIFAR ResNet-20 trained at about 414 images/s without it and 186 with
    it on the course's 2-core machine); `fit` still runs a compiled graph.
    JAX and PyTorch: `"auto"`, which Keras resolves to `True` on JAX (without
    it JAX dispatches every operation on its own, tens of times slower) and
    to `False` on PyTorch (eager execution).

    Returns:
        `False` or `"auto"`.

    Example:

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse", jit_compile=default_jit_compile())
    """
    return False if keras.backend.backend() == "tensorflow" else "auto"


def quiet_retracing_warnings():
    """Silences TensorFlow's retracing warning (see `_RetracingFilter`); other warnings stay."""
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _RetracingFilter) for f in logger.filters):
        logger.addFilter(_RetracingFilter())


def set_plot_defaults():
    """Applies the course's matplotlib defaults (`PLOT_DEFAULTS`)."""
    import matplotlib

    matplotlib.rcParams.update(PLOT_DEFAULTS)


def setup_notebook(seed=42, deterministic=True, verbose=True):
    """Prepares a notebook: seeds, determinism, plot defaults, one summary line.

    Args:
        seed: a non-negative int, the seed for Python's `random`, NumPy and
            the Keras backend (`keras.utils.set_random_seed`); not None, so
            that a notebook runs the same every time.
        deterministic: whether to turn on deterministic kernels
            (`enable_determinism`); slower on a GPU, exact re-runs.
        verbose: whether to print the summary line.

    Returns:
        A `RuntimeInfo` with the Python, Keras and backend versions, the
        device, whether a GPU is used and whether this is Colab.

    Example:

    >>> info = setup_notebook(seed=0, verbose=False)
    >>> info.seed
    0
    """
    seed = check_seed(seed, allow_none=False)
    deterministic = check_bool(deterministic, "deterministic")
    verbose = check_bool(verbose, "verbose")
    keras.utils.set_random_seed(seed)
    if deterministic:
        enable_determinism()
    set_plot_defaults()
    quiet_retracing_warnings()
    backend_version, device, gpu = backend_device()
    info = RuntimeInfo(
        python=platform.python_version(),
        keras=keras.__version__,
        backend=keras.backend.backend(),
        backend_version=backend_version,
        device=device,
        gpu=gpu,
        in_colab=in_colab(),
        seed=seed,
    )
    if verbose:
        print(info.summary())
    return info
