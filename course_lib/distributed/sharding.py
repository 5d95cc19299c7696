"""Where a model's arrays live on several devices, and what the devices send each other.

Keras 3.15's `keras.distribution` (`DeviceMesh`, `LayoutMap`,
`DataParallel`, `ModelParallel`) is implemented for the JAX backend: a
distribution says how each variable and each batch is laid out over a mesh of
devices, and XLA's partitioner compiles one program per device, adding the
communication (all-gathers, all-reduces) the layouts require. This module
checks the arguments of a distribution before Keras sees them, lists where
each variable lives (`sharding_table`, `plot_sharding`), and lists the
communication a compiled function does (`collectives`).

The TensorFlow backend distributes with `tf.distribute` instead
(`MirroredStrategy` and others); the PyTorch backend has no distribution API
in Keras 3.15.
"""

import re

import keras
import numpy as np
import pandas as pd

from course_lib._checks import check_positive_int, is_int
from course_lib._optional import install_hint

__all__ = [
    "COLLECTIVES",
    "data_parallel",
    "device_mesh",
    "alexnet_layout_map",
    "sharding_table",
    "plot_sharding",
    "collectives",
]

COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")
_BYTES = {"f64": 8, "f32": 4, "f16": 2, "bf16": 2, "s64": 8, "s32": 4, "u32": 4, "s16": 2, "s8": 1,
          "u8": 1, "pred": 1}
_COLLECTIVE_LINE = re.compile(
    r"=\s*(?P<type>.+?)\s+(?P<op>" + "|".join(COLLECTIVES) + r")(?:-start)?\("
)
_ARRAY = re.compile(r"\b(?P<dtype>[a-z]+\d*)\[(?P<dims>[\d,]*)\]")


def _require_jax(what):
    if keras.backend.backend() != "jax":
        raise RuntimeError(
            f"{what} needs Keras's JAX backend (keras.distribution is implemented for JAX in "
            f"Keras 3.15); this process runs {keras.backend.backend()!r}. Set "
            f"KERAS_BACKEND=jax before Keras is imported (JAX installs with: {install_hint('jax')})."
        )


def _devices(devices):
    """`devices` (None, a count or a list of names) as a list of Keras device names."""
    available = keras.distribution.list_devices()
    if devices is None:
        return available
    if is_int(devices):
        count = check_positive_int(devices, "devices")
        if count > len(available):
            raise ValueError(
                f"`devices` asks for {count} devices but this process has {len(available)} "
                f"({', '.join(available)}). On a CPU, set "
                f"XLA_FLAGS=--xla_force_host_platform_device_count={count} before JAX is imported."
            )
        return available[:count]
    devices = list(devices)
    unknown = [d for d in devices if d not in available]
    if not devices or unknown:
        raise ValueError(
            f"`devices` must be a count or a non-empty list of these devices: {available}; "
            f"received devices={devices!r}."
        )
    return devices


def data_parallel(batch_size, devices=None):
    """`keras.distribution.DataParallel` over `devices`, once they are checked to split `batch_size`.

    Every device holds a full copy of the variables and takes `batch_size /
    devices` images of each batch; the gradients are all-reduced, so the
    step is that of one device on the whole batch.

    Args:
        batch_size: the global batch size, a multiple of the number of devices.
        devices: None (every device), a count (the first ones), or a list of
            Keras device names such as `"cpu:0"`.

    Returns:
        A `keras.distribution.DataParallel`. Use it with
        `keras.distribution.set_distribution(...)` or `with ....scope():`
        when building and training the model.

    Example:

    >>> distribution = data_parallel(batch_size=8, devices=1)  # doctest: +SKIP
    """
    _require_jax("data_parallel")
    batch_size = check_positive_int(batch_size, "batch_size")
    devices = _devices(devices)
    if batch_size % len(devices):
        raise ValueError(
            f"`batch_size` ({batch_size}) must be a multiple of the number of devices "
            f"({len(devices)}): each device takes an equal share of every batch."
        )
    return keras.distribution.DataParallel(devices=devices)


def device_mesh(shape, axis_names, devices=None):
    """`keras.distribution.DeviceMesh` of the given shape, once the devices are checked.

    Args:
        shape: the mesh's shape, e.g. `(2, 2)`; its product is the number of devices used.
        axis_names: one name per axis, e.g. `("batch", "model")`.
        devices: as in `data_parallel`; default: the first `prod(shape)` devices.

    Returns:
        A `keras.distribution.DeviceMesh`.

    Example:

    >>> mesh = device_mesh((1, 1), ("batch", "model"))  # doctest: +SKIP
    """
    _require_jax("device_mesh")
    shape = tuple(check_positive_int(n, "shape") for n in np.atleast_1d(shape))
    axis_names = tuple(axis_names)
    if len(axis_names) != len(shape) or not all(isinstance(a, str) for a in axis_names):
        raise ValueError(
            f"`axis_names` must be {len(shape)} strings, one per axis of shape={shape}; "
            f"received axis_names={axis_names!r}."
        )
    count = int(np.prod(shape))
    devices = _devices(count if devices is None else devices)
    if len(devices) != count:
        raise ValueError(f"a mesh of shape {shape} needs {count} devices; received {len(devices)}.")
    return keras.distribution.DeviceMesh(shape, list(axis_names), devices)


def alexnet_layout_map(mesh, model_axis="model"):
    """Krizhevsky et al.'s two-GPU split of AlexNet as a `keras.distribution.LayoutMap`.

    Every convolution and dense layer of `course_lib.models.alexnet` keeps
    half of its output filters (or units) on each device of the mesh's
    `model_axis`: kernels are split along their last axis, biases along
    their only one. Other variables are replicated.

    Args:
        mesh: a `keras.distribution.DeviceMesh` with an axis named `model_axis`.
        model_axis: the name of the axis the filters are split over.

    Returns:
        A `keras.distribution.LayoutMap`; pass it to
        `keras.distribution.ModelParallel(layout_map=...)`.

    Example:

    >>> layout = alexnet_layout_map(device_mesh((1, 1), ("batch", "model")))  # doctest: +SKIP
    >>> layout["conv2/kernel"].axes  # doctest: +SKIP
    (None, None, None, 'model')
    """
    _require_jax("alexnet_layout_map")
    if model_axis not in mesh.axis_names:
        raise ValueError(f"`model_axis` ({model_axis!r}) is not an axis of the mesh {mesh.axis_names}.")
    layout = keras.distribution.LayoutMap(mesh)
    layout[r"conv\d/kernel"] = (None, None, None, model_axis)
    layout[r"(fc\d|predictions)/kernel"] = (None, model_axis)
    layout[r"(conv\d|fc\d|predictions)/bias"] = (model_axis,)
    return layout


def sharding_table(model):
    """Where each variable of `model` lives: its layout and its bytes on each device.

    Args:
        model: a built Keras model (JAX backend), e.g. built inside a
            distribution's scope.

    Returns:
        A pandas DataFrame indexed by variable path, with the columns
        `shape`, `layout` (the sharded axis of each dimension, None where
        every device has all of it), `shard` (the shape each device holds),
        `copies` (how many devices hold each element) and one column per
        device with the megabytes (10^6 bytes) it holds.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])  # doctest: +SKIP
    >>> sharding_table(model)["shard"].tolist()  # doctest: +SKIP
    [(4, 2), (2,)]
    """
    _require_jax("sharding_table")
    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError(f"`model` must be a built keras.Model; received {type(model).__name__}.")
    import jax

    devices = sorted(jax.devices(), key=lambda d: d.id)
    rows = {}
    for variable in model.weights:
        value = variable.value
        sharding = value.sharding
        spec = getattr(sharding, "spec", None)
        layout = tuple(spec) + (None,) * (len(value.shape) - len(spec)) if spec is not None else None
        shard = tuple(sharding.shard_shape(value.shape))
        megabytes = int(np.prod(shard)) * value.dtype.itemsize / 1e6
        holders = sharding.device_set
        copies = len(holders) * int(np.prod(shard)) // max(1, int(np.prod(value.shape)))
        rows[variable.path] = {
            "shape": tuple(value.shape),
            "layout": layout,
            "shard": shard,
            "copies": copies,
            **{f"device {d.id}": megabytes if d in holders else 0.0 for d in devices},
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("variable")


def plot_sharding(table, ax=None, title="Megabytes of each variable on each device"):
    """Draws `sharding_table`'s per-device megabytes as a variables x devices heat map.

    Args:
        table: a DataFrame returned by `sharding_table`.
        ax: a matplotlib Axes (default: a new figure's).
        title: the plot's title.

    Returns:
        The matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    columns = [c for c in table.columns if str(c).startswith("device ")]
    if not columns:
        raise ValueError("`table` must come from sharding_table: it has no 'device N' columns.")
    values = table[columns].to_numpy(float)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 * len(columns) + 4, 0.32 * len(table) + 1.5))
    image = ax.imshow(values, cmap="Blues", aspect="auto", vmin=0)
    for (row, column), megabytes in np.ndenumerate(values):
        ax.text(column, row, f"{megabytes:.2f}" if megabytes else "-", ha="center", va="center",
                fontsize=8, color="white" if megabytes > 0.6 * values.max() else "black")
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(table)), table.index)
    ax.set_xlabel("device")
    ax.set_ylabel("variable")
    ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, label="MB on the device")
    return ax


def _layer_of(op_name, layer_names):
    """The first of `layer_names` that is a part of `op_name`, inside transformations like `jvp(...)`."""
    for part in op_name.split("/"):
        while (wrapped := re.fullmatch(r"[\w.-]+\((.*)\)", part)) is not None:
            part = wrapped.group(1)
        if part in layer_names:
            return part
    return ""


def collectives(compiled, layer_names=()):
    """The communication in a compiled JAX function: one row per collective operation.

    Args:
        compiled: the result of `jax.jit(f).lower(...).compile()`, or its
            optimized HLO text (`compiled.as_text()`).
        layer_names: names of the model's layers; each collective is
            attributed to the first of them found in its operation's name
            (XLA keeps Keras's name scopes), or "" if none.

    Returns:
        A pandas DataFrame with the columns `operation` (all-reduce,
        all-gather, reduce-scatter, all-to-all or collective-permute),
        `layer`, `result` (the result's type, e.g. `f32[2,27,27,96]`) and
        `megabytes` (of the result, 10^6 bytes).

    Example:

    >>> hlo = '%g = f32[2,4]{1,0} all-gather(f32[1,4]{1,0} %x), metadata={op_name="jit(f)/dense/dot"}'
    >>> collectives(hlo, ["dense"]).to_dict("records")
    [{'operation': 'all-gather', 'layer': 'dense', 'result': 'f32[2,4]', 'megabytes': 3.2e-05}]
    """
    text = compiled if isinstance(compiled, str) else compiled.as_text()
    layer_names = set(layer_names)
    rows = []
    for line in text.splitlines():
        match = _COLLECTIVE_LINE.search(line)
        if not match:
            continue
        arrays = _ARRAY.findall(match.group("type"))
        size = sum(_BYTES.get(dtype, 4) * int(np.prod([int(d) for d in dims.split(",") if d]))
                   for dtype, dims in arrays)
        op_name = re.search(r'op_name="([^"]*)"', line)
        rows.append({
            "operation": match.group("op"),
            "layer": _layer_of(op_name.group(1), layer_names) if op_name else "",
            "result": ", ".join(f"{dtype}[{dims}]" for dtype, dims in arrays),
            "megabytes": size / 1e6,
        })
    return pd.DataFrame(rows, columns=["operation", "layer", "result", "megabytes"])
