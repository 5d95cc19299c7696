"""The reference experiment of notebook 24, and the worker process that runs it on several devices.

The experiment is small on purpose: a two-layer CNN with BatchNormalization,
trained for a few SGD steps on the first CIFAR-10 training images, in order,
with no shuffling and no dropout. Every parallel run (data-parallel on JAX,
two processes, TensorFlow's `MirroredStrategy`) trains it from the same seed
on the same global batches, so its final weights must equal those of one
device, up to float32 rounding.

Run as a program, it is one worker of such a run:

    python -m course_lib.distributed.worker data-parallel --devices 2 --steps 8 --output w.npz
    python -m course_lib.distributed.worker data-parallel --devices 2 --processes 2 \\
        --process-id 0 --coordinator 127.0.0.1:12355 --output w0.npz   # and --process-id 1 ...
    python -m course_lib.distributed.worker mirrored --replicas 2 --output tf.npz
    python -m course_lib.distributed.worker model-parallel --devices 2 --width 0.25 --output a.npz

A worker chooses its Keras backend and its number of CPU devices, which must
happen before Keras or JAX is imported; so this module imports Keras inside
its functions, never at the top.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from course_lib._checks import check_positive_int

__all__ = [
    "LEARNING_RATE",
    "MOMENTUM",
    "reference_model",
    "reference_data",
    "process_rows",
    "train_reference",
    "weights_of",
    "relative_difference",
    "load_weights",
    "sharded_alexnet_outputs",
    "main",
]

LEARNING_RATE = 0.05
MOMENTUM = 0.9


def reference_model(seed=0, smooth=True, synchronized_batchnorm=False):
    """Builds the reference CNN: 2 x (conv 3x3, BatchNormalization, activation), a pool, GAP, dense.

    Args:
        seed: the seed of its initial weights.
        smooth: GELU and average pooling (True), or ReLU and max pooling
            (False). Two runs that differ only in float32 rounding (the
            order of a sum over the batch) stay within about 1e-6 of each
            other with smooth functions. ReLU and max pooling have kinks: an
            activation within rounding of 0, or two window values within
            rounding of each other, send a different gradient backward, and
            the runs drift apart by orders of magnitude more within a few
            steps (notebook 24 measures both).
        synchronized_batchnorm: `BatchNormalization(synchronized=...)`: on
            TensorFlow under a `tf.distribute` strategy, whether the batch
            statistics are those of the global batch (True) or of each
            replica's share (False). JAX's data parallelism always uses the
            global batch's.

    Returns:
        A `keras.Model` from uint8 32x32x3 images to 10 logits.

    Example:

    >>> reference_model().count_params()
    5562
    """
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(1 / 255, name="rescale")(inputs)
    for number, filters in enumerate((16, 32), start=1):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{number}")(x)
        x = layers.BatchNormalization(synchronized=synchronized_batchnorm, name=f"bn{number}")(x)
        x = layers.Activation("gelu" if smooth else "relu", name=f"act{number}")(x)
        if number == 1:
            pool = layers.AveragePooling2D if smooth else layers.MaxPooling2D
            x = pool(2, name="pool1")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(10, name="logits")(x)
    return keras.Model(inputs, outputs, name="reference_cnn")


def reference_data(steps, batch_size):
    """The first `steps * batch_size` CIFAR-10 training images and labels, in order.

    Args:
        steps: number of training steps.
        batch_size: the global batch size.

    Returns:
        `(images, labels)`: uint8 `(steps * batch_size, 32, 32, 3)` and int `(steps * batch_size,)`.
    """
    from course_lib import data

    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    (x, y), _ = data.load_cifar10()
    count = steps * batch_size
    if count > len(x):
        raise ValueError(f"`steps * batch_size` ({count}) exceeds the {len(x)} training images.")
    return x[:count], y[:count, 0].astype("int32")


def process_rows(steps, batch_size, num_processes, process_id):
    """Indices of the rows of every global batch that process `process_id` feeds.

    With several processes each one passes its own share of every global
    batch to `fit` (the process with the lower id feeds the first rows, as JAX
    assembles a global batch from the processes in order).

    Returns:
        An int array of `steps * batch_size / num_processes` indices.

    Example:

    >>> process_rows(steps=2, batch_size=4, num_processes=2, process_id=1).tolist()
    [2, 3, 6, 7]
    """
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    num_processes = check_positive_int(num_processes, "num_processes")
    if not 0 <= process_id < num_processes or batch_size % num_processes:
        raise ValueError(
            f"`process_id` must be in [0, {num_processes}) and `batch_size` ({batch_size}) a multiple "
            f"of `num_processes` ({num_processes}); received process_id={process_id!r}."
        )
    share = batch_size // num_processes
    starts = np.arange(steps) * batch_size + process_id * share
    return (starts[:, None] + np.arange(share)).ravel()


def train_reference(model, images, labels, batch_size, jit_compile="auto", after_step=None):
    """Compiles `model` with SGD (momentum 0.9, rate 0.05) and trains one pass over the data, in order.

    Args:
        model: the model, built in the scope of the distribution (if any).
        images, labels: the data; each batch is the next `batch_size` rows.
        batch_size: the batch size passed to Keras: the global batch, or
            this process's share of it when each process feeds its own rows.
        jit_compile: `Model.compile`'s argument.
        after_step: None (train with `fit`), or a function called with the
            model after every step (train with `train_on_batch`, which
            hands back up-to-date variables; `fit` on JAX does so only at
            the end of an epoch).

    Returns:
        The mean training loss of the pass, a float.
    """
    import keras

    model.compile(
        optimizer=keras.optimizers.SGD(LEARNING_RATE, momentum=MOMENTUM),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    if after_step is None:
        history = model.fit(images, labels, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        return float(history.history["loss"][-1])
    losses = []
    for start in range(0, len(images), batch_size):
        losses.append(float(model.train_on_batch(images[start:start + batch_size], labels[start:start + batch_size])))
        after_step(model)
    return float(np.mean(losses))


def weights_of(model):
    """The model's variables as NumPy arrays (this process's copy of replicated ones)."""
    arrays = []
    for variable in model.weights:
        value = variable.value
        if hasattr(value, "is_fully_addressable") and not value.is_fully_addressable:
            value = value.addressable_data(0)  # replicated: every device holds all of it
        arrays.append(np.array(value))
    return arrays


def relative_difference(weights, reference):
    """Largest `max|w - r| / max|r|` over the variables: how far two sets of weights are apart.

    Example:

    >>> round(relative_difference([np.array([1.0, 2.0])], [np.array([1.0, 2.2])]), 4)
    0.0909
    """
    if len(weights) != len(reference):
        raise ValueError(f"`weights` has {len(weights)} arrays and `reference` {len(reference)}.")
    return max(float(np.abs(np.asarray(w, "float64") - r).max() / max(np.abs(r).max(), 1e-30))
               for w, r in zip(weights, reference))


def _save(path, arrays, record):
    """Writes `arrays` (a dict of name to list of arrays) and `record` to `path` atomically."""
    payload = {f"{name}/{i}": a for name, values in arrays.items() for i, a in enumerate(values)}
    payload["record"] = np.array(json.dumps(record))
    staged = f"{path}.{os.getpid()}.tmp.npz"
    np.savez(staged, **payload)
    os.replace(staged, path)


def load_weights(path, name):
    """The list of arrays stored under `name` by a worker's output file, and its record."""
    with np.load(path) as stored:
        count = sum(1 for key in stored.files if key.startswith(f"{name}/"))
        if not count:
            raise KeyError(f"{path} holds no weights named {name!r}; it holds {sorted(stored.files)}.")
        return [stored[f"{name}/{i}"] for i in range(count)], json.loads(str(stored["record"]))


def _run_data_parallel(args):
    import jax

    if args.processes > 1:
        # CPU devices of several processes reduce through Gloo (JAX's CPU collectives).
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    import keras

    from course_lib.distributed import sharding

    if args.processes > 1:
        keras.distribution.initialize(args.coordinator, args.processes, args.process_id)
    devices = len(keras.distribution.list_devices())
    images, labels = reference_data(args.steps, args.batch_size)
    rows = process_rows(args.steps, args.batch_size, args.processes, args.process_id)
    if devices > 1:
        distribution = sharding.data_parallel(args.batch_size)
        distribution.auto_shard_dataset = args.processes == 1
        keras.distribution.set_distribution(distribution)
    model = reference_model(args.seed)
    start = time.perf_counter()
    losses = train_reference(model, images[rows], labels[rows], args.batch_size // args.processes)
    return {"data_parallel": weights_of(model)}, {
        "devices": devices, "local_devices": len(jax.local_devices()), "loss": losses,
        "seconds": time.perf_counter() - start,
    }


def sharded_alexnet_outputs(images, width=1.0, devices=2, seed=0):
    """AlexNet's outputs on one device and with its filters split over `devices` (`alexnet_layout_map`).

    The split model receives the one-device model's weights, so the two must
    compute the same function. JAX backend only.

    Returns:
        `(unsharded, sharded, table)`: both models' class probabilities for
        `images` (NumPy arrays) and the split model's `sharding_table`.
    """
    import keras

    from course_lib.distributed import sharding
    from course_lib.models import alexnet

    keras.utils.set_random_seed(seed)
    single = alexnet(width=width)
    unsharded = np.asarray(single.predict(images, verbose=0))
    mesh = sharding.device_mesh((1, devices), ("batch", "model"))
    with keras.distribution.ModelParallel(layout_map=sharding.alexnet_layout_map(mesh)).scope():
        split = alexnet(width=width)
        split.set_weights(single.get_weights())
        sharded = np.asarray(split.predict(images, verbose=0))
    return unsharded, sharded, sharding.sharding_table(split)


def _run_model_parallel(args):
    images = np.random.default_rng(args.seed).uniform(0, 255, (2, 227, 227, 3)).astype("float32")
    start = time.perf_counter()
    unsharded, sharded, table = sharded_alexnet_outputs(images, args.width, args.devices, args.seed)
    return {"unsharded": [unsharded], "sharded": [sharded]}, {
        "devices": args.devices, "seconds": time.perf_counter() - start,
        "relative_difference": relative_difference([sharded], [unsharded]),
        "megabytes_per_device": table.filter(like="device ").sum().round(3).tolist(),
    }


def _run_mirrored(args):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.replicas)
    images, labels = reference_data(args.steps, args.batch_size)
    outputs, seconds = {}, {}
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(args.replicas)])
    for name, synchronized in (("single", False), ("mirrored_synchronized", True), ("mirrored_local", False)):
        start = time.perf_counter()
        if name == "single":
            model = reference_model(args.seed)
            train_reference(model, images, labels, args.batch_size, jit_compile=False)
        else:
            with strategy.scope():  # variables, optimizer and compile all in the strategy's scope
                model = reference_model(args.seed, synchronized_batchnorm=synchronized)
                train_reference(model, images, labels, args.batch_size, jit_compile=False)
        outputs[name] = weights_of(model)
        seconds[name] = time.perf_counter() - start
    return outputs, {"replicas": strategy.num_replicas_in_sync, "seconds": seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=("data-parallel", "mirrored", "model-parallel"),
                        help="data-parallel: the reference CNN on JAX; mirrored: on TensorFlow's "
                             "MirroredStrategy; model-parallel: AlexNet split over --devices (JAX)")
    parser.add_argument("--devices", type=int, default=1, help="JAX: CPU devices of this process")
    parser.add_argument("--processes", type=int, default=1, help="data-parallel: processes in the job")
    parser.add_argument("--process-id", type=int, default=0, help="data-parallel: this process's number")
    parser.add_argument("--coordinator", default=None, help="data-parallel: host:port of process 0")
    parser.add_argument("--replicas", type=int, default=2, help="mirrored: logical CPU devices")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=float, default=1.0, help="model-parallel: AlexNet's width multiplier")
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    if args.processes > 1 and not args.coordinator:
        parser.error("--coordinator host:port is required with --processes > 1")
    backend = "tensorflow" if args.experiment == "mirrored" else "jax"
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if backend == "tensorflow":
        outputs, record = _run_mirrored(args)
    else:
        if "jax" in sys.modules:
            raise RuntimeError("JAX was imported before the worker could set its device count.")
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + f" --xla_force_host_platform_device_count={args.devices}")
        outputs, record = (_run_data_parallel if args.experiment == "data-parallel" else _run_model_parallel)(args)
    record.update(experiment=args.experiment, backend=backend, process_id=args.process_id, processes=args.processes,
                  steps=args.steps, batch_size=args.batch_size, seed=args.seed)
    _save(args.output, outputs, record)
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
