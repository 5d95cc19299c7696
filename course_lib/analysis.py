"""What a network costs: multiply-adds, parameters per layer and per block, measured speed."""

import math
import time

import keras
import numpy as np
import pandas as pd

from course_lib._checks import check_bool, check_model, check_positive_int, check_seed
from course_lib._keras_compat import leaf_layers

__all__ = ["layer_macs", "count_macs", "layer_table", "parameter_table", "measure_throughput"]


def _input_shape(layer):
    config = layer.get_build_config()
    if not config or "input_shape" not in config:
        raise ValueError(
            f"Layer {layer.name!r} is not built: build the model (or call it once) "
            "before counting its multiply-adds."
        )
    return tuple(config["input_shape"])


def layer_macs(layer):
    """Multiply-accumulates of one built layer for one input image.

    Conv2D: `H' W' kh kw (C / groups) F`; DepthwiseConv2D:
    `H' W' kh kw C m`; SeparableConv2D: its depthwise part plus
    `H' W' (C m) F`; Dense: `inputs x units` per position. Other layers
    (pooling, normalisation, activations, additions) count 0: they cost
    little next to these, and papers leave them out too.

    Args:
        layer: a built Keras layer.

    Returns:
        An int.

    Raises:
        TypeError: `layer` is not a Keras layer.
    """
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(f"`layer` must be a Keras layer; received {type(layer).__name__}.")
    if not isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D,
                              keras.layers.SeparableConv2D, keras.layers.Dense)):
        return 0
    in_shape = _input_shape(layer)
    out_shape = tuple(layer.compute_output_shape(in_shape))
    if isinstance(layer, keras.layers.Dense):
        positions = math.prod(out_shape[1:-1])
        return positions * in_shape[-1] * layer.units
    rows, cols, channels = out_shape[1], out_shape[2], in_shape[-1]
    kh, kw = layer.kernel_size
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return rows * cols * kh * kw * channels * layer.depth_multiplier
    if isinstance(layer, keras.layers.SeparableConv2D):
        depthwise = channels * layer.depth_multiplier
        return rows * cols * (kh * kw * depthwise + depthwise * layer.filters)
    return rows * cols * kh * kw * (channels // layer.groups) * layer.filters


def count_macs(model):
    """Counts the multiply-accumulates of one forward pass of one image.

    Sums `layer_macs` over every Conv2D, DepthwiseConv2D, SeparableConv2D and
    Dense layer, including those nested inside composite layers, at the
    model's input size. A multiply-add counts once (some papers say "FLOPs"
    for twice this number). For reference, at 224x224: VGG16 about 15.47 G,
    MobileNet about 569 M, ResNet-50 3.86 G with Keras's stride on the first
    1x1 convolution of a block (4.09 G with the stride on the 3x3, "v1.5").

    Args:
        model: a built `keras.Model` with a fixed input size.

    Returns:
        An int.

    Example:

    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)])
    >>> count_macs(model)  # 6 * 6 positions * 3 * 3 * 3 weights * 4 filters
    3888
    """
    check_model(model)
    shape = model.input_shape
    if isinstance(shape, list) or any(d is None for d in shape[1:]):
        raise ValueError(
            f"`model` must have one input of fixed size to count its cost; received input "
            f"shape {shape}."
        )
    return sum(layer_macs(layer) for layer in leaf_layers(model))


def _total_macs(layer):
    """Multiply-adds of a top-level layer, those of its sub-layers included."""
    return sum(layer_macs(leaf) for leaf in leaf_layers(layer)) + layer_macs(layer)


def layer_table(model):
    """One row per layer of a CNN: what it computes, what it costs, what it sees.

    The columns come from the course's own functions: the window, stride,
    output shape and receptive field from `course_lib.receptive_field`, the
    multiply-adds from `layer_macs` (composite layers sum their sub-layers),
    the parameters from Keras's `count_params`.

    Args:
        model: a built `keras.Model` with one image input of fixed size
            `(rows, cols, channels)` (channels last) whose layers
            `receptive_field` supports.

    Returns:
        A DataFrame indexed by layer name, one row per layer of
        `model.layers` (the input layer left out), with the columns `type`
        (the layer's class), `window` (`(rows, cols)` of a convolution's
        kernel or a pooling's window, None for other layers), `stride`
        (likewise), `output_shape` (without the batch axis), `parameters`,
        `macs` (multiply-adds for one image) and `receptive_field` (`(rows,
        cols)` of the input patch one output unit depends on: the whole
        input after Flatten or global pooling).

    Example:

    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, name="conv"),
    ...                           keras.layers.MaxPooling2D(2, name="pool")])
    >>> table = layer_table(model)
    >>> table.loc["conv", "window"], int(table.loc["conv", "parameters"]), int(table.loc["conv", "macs"])
    ((3, 3), 40, 1296)
    >>> table.loc["pool", "stride"], table.loc["pool", "output_shape"], table.loc["pool", "receptive_field"]
    ((2, 2), (3, 3, 4), (4, 4))
    """
    from course_lib.receptive_field import receptive_field

    check_model(model)
    fields = receptive_field(model)
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        row = fields.loc[layer.name]  # a shared layer's first call
        field = (row["field_rows"], row["field_cols"])
        rows.append({
            "layer": layer.name,
            "type": type(layer).__name__,
            "window": row["kernel"],
            "stride": row["stride"],
            "output_shape": row["output_shape"],
            "parameters": layer.count_params() if layer.built else 0,
            "macs": _total_macs(layer),
            "receptive_field": None if any(pd.isna(f) for f in field) else tuple(int(f) for f in field),
        })
    return pd.DataFrame(rows).set_index("layer")


def _default_block(name):
    return name.split("_")[0]


def parameter_table(model, block_of=_default_block):
    """Parameters and multiply-adds per block of a model, as a DataFrame.

    Args:
        model: a built `keras.Model`.
        block_of: maps a top-level layer's name to its block's name; by
            default the part before the first underscore ("block1_conv2" ->
            "block1", "conv2_block3" -> "conv2").

    Returns:
        A DataFrame indexed by block, in model order, with the columns
        `layers`, `parameters`, `trainable`, `macs`, `parameter_share` and
        `macs_share` (fractions of the totals); blocks without parameters or
        multiply-adds are left out.

    Example:

    >>> table = parameter_table(keras.applications.VGG16(weights=None))
    >>> int(table.loc["fc1", "parameters"])
    102764544
    """
    check_model(model)
    if not callable(block_of):
        raise TypeError("`block_of` must be a function from a layer name to a block name.")
    rows = {}
    for layer in model.layers:
        parameters = layer.count_params() if layer.built else 0
        trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
        macs = _total_macs(layer)
        if not parameters and not macs:
            continue
        row = rows.setdefault(
            block_of(layer.name), {"layers": 0, "parameters": 0, "trainable": 0, "macs": 0}
        )
        row["layers"] += 1
        row["parameters"] += parameters
        row["trainable"] += trainable
        row["macs"] += macs
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "block"
    table["parameter_share"] = table["parameters"] / table["parameters"].sum()
    table["macs_share"] = table["macs"] / max(table["macs"].sum(), 1)
    return table


def measure_throughput(model, batch_size=32, steps=10, warmup=2, training=True, seed=0):
    """Measures images per second for inference and for a training step.

    Random inputs of the model's input size; the training step is a compiled
    `train_on_batch` with SGD and a sparse cross-entropy (or mean squared
    error when the output is not a class vector) on a clone of the model, so
    the model itself is not changed. The first `warmup` calls (compilation,
    memory allocation) are not timed.

    Args:
        model: a `keras.Model` with one input of fixed size.
        batch_size: images per step.
        steps: timed steps (the median step time is used).
        warmup: untimed steps before them.
        training: whether to also time a training step.
        seed: None or a non-negative int, the seed of the random inputs.

    Returns:
        A dict with `inference` (images/s) and, when `training`, `training`
        (images/s), plus `batch_size` and `device` (Keras's backend and the
        device it runs on).
    """
    from course_lib.runtime import backend_device

    check_model(model)
    batch_size = check_positive_int(batch_size, "batch_size")
    steps = check_positive_int(steps, "steps")
    warmup = check_positive_int(warmup, "warmup", allow_zero=True)
    training = check_bool(training, "training")
    shape = model.input_shape
    if isinstance(shape, list) or any(d is None for d in shape[1:]):
        raise ValueError(f"`model` must have one input of fixed size; received input shape {shape}.")
    rng = np.random.default_rng(check_seed(seed))
    x = rng.uniform(0, 1, (batch_size,) + tuple(shape[1:])).astype("float32")

    def median_rate(step):
        for _ in range(warmup):
            step()
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        return batch_size / float(np.median(times))

    result = {"batch_size": batch_size}
    result["inference"] = median_rate(lambda: model.predict_on_batch(x))
    if training:
        clone = keras.models.clone_model(model)
        out = clone.output_shape
        if len(out) == 2 and out[-1] > 1:
            y = rng.integers(0, out[-1], batch_size)
            loss = "sparse_categorical_crossentropy"
        else:
            y = np.zeros((batch_size,) + tuple(out[1:]), "float32")
            loss = "mse"
        clone.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss)
        result["training"] = median_rate(lambda: clone.train_on_batch(x, y))
    _, device, _ = backend_device()
    result["device"] = f"{keras.backend.backend()} on {device}"
    return result
