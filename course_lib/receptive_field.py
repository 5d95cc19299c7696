"""Receptive fields of the units of a Keras CNN, computed and measured.

The *receptive field* of a unit is the patch of input pixels its value depends
on. Along each spatial axis it is described by three numbers (Araujo, Norris and
Sim, "Computing receptive fields of convolutional neural networks", Distill,
2019; Dumoulin and Visin, "A guide to convolution arithmetic", 2016):

- the **field** `r`: how many input pixels one unit sees;
- the **jump** `j`: how many input pixels apart two neighbouring units' fields
  are (the layer's stride measured in input pixels);
- the **start**: the input coordinate of the centre of the first unit's field
  (pixel centres at 0, 1, 2, ...; negative or half-integer values are normal:
  padding lets a field hang over the border, even windows have a centre between
  two pixels).

The input has `r = 1, j = 1, start = 0`. A layer with kernel (or window) size
`k`, dilation `d` (effective size `k_eff = d * (k - 1) + 1`), stride `s` and
`pad_before` zeros in front of its input maps them to

    r_out     = r_in + (k_eff - 1) * j_in
    j_out     = j_in * s
    start_out = start_in + ((k_eff - 1) / 2 - pad_before) * j_in

`course_lib.ops.receptive_field_step` holds these rules (Keras's "same"
padding included) for one window along one axis; `receptive_field` applies
them layer by layer to a model's graph; `empirical_receptive_field` measures
the field from the gradient of one unit with respect to the input, with the
backend's automatic differentiation.
"""

import typing

import keras
import numpy as np

from course_lib._checks import check_array, check_model, check_number, check_seed, is_int
from course_lib._keras_compat import nodes_by_depth
from course_lib.ops import receptive_field_step

__all__ = [
    "POINTWISE_LAYERS",
    "MERGE_LAYERS",
    "GLOBAL_LAYERS",
    "WINDOW_LAYERS",
    "COLUMNS",
    "receptive_field",
    "EmpiricalField",
    "empirical_receptive_field",
]

# Layers that act on each position on its own (or on the channels of one
# position): the field, jump and start of their output are those of their input.
POINTWISE_LAYERS = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.PReLU,
    keras.layers.ELU,
    keras.layers.BatchNormalization,  # at inference: one affine map per channel
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.ActivityRegularization,
    keras.layers.Identity,
    keras.layers.Rescaling,
    keras.layers.Normalization,  # constants per feature, whatever its axis
)
# Layers that combine several tensors of the same grid position by position.
MERGE_LAYERS = (
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Average,
    keras.layers.Maximum,
    keras.layers.Minimum,
    keras.layers.Concatenate,
)
# Layers after which a unit depends on every input pixel.
GLOBAL_LAYERS = (
    keras.layers.Flatten,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
)
# Sliding windows: (kernel or pool size, strides, padding, dilation).
WINDOW_LAYERS = (
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
)

COLUMNS = [
    "type",
    "output_shape",
    "kernel",
    "stride",
    "field_rows",
    "field_cols",
    "jump_rows",
    "jump_cols",
    "start_rows",
    "start_cols",
]


class _Geometry(typing.NamedTuple):
    """Field, jump and start along (rows, cols) of the units of one tensor.

    `jump` and `start` are None once the units no longer sit on a grid (after
    Flatten or global pooling): their field is then the whole input.
    """

    field: tuple
    jump: typing.Optional[tuple]
    start: typing.Optional[tuple]

    @property
    def is_global(self):
        return self.jump is None


def _window(layer):
    """`(kernel, strides, padding, dilation)` of a sliding-window layer, per axis."""
    if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        return tuple(layer.pool_size), tuple(layer.strides), layer.padding, (1, 1)
    return (
        tuple(layer.kernel_size),
        tuple(layer.strides),
        layer.padding,
        tuple(layer.dilation_rate),
    )


def _apply_window(layer, geometry, input_size):
    """The three rules for one sliding-window layer; returns the new geometry."""
    kernel, strides, padding, dilation = _window(layer)
    if geometry.is_global:
        return geometry, kernel, strides
    axes = [
        receptive_field_step(
            geometry.field[axis], geometry.jump[axis], geometry.start[axis],
            dilation[axis] * (kernel[axis] - 1) + 1, strides[axis], padding, input_size[axis],
        )
        for axis in range(2)
    ]
    return _Geometry(*(tuple(values) for values in zip(*axes))), kernel, strides


def _shift(geometry, before):
    """ZeroPadding2D (before > 0) or Cropping2D (before < 0): moves the start."""
    if geometry.is_global:
        return geometry
    start = tuple(
        None if s is None else s - b * j for s, b, j in zip(geometry.start, before, geometry.jump)
    )
    return _Geometry(geometry.field, geometry.jump, start)


def _merge(layer, geometries, whole_input):
    """The field of a merge layer: the union of its incoming paths' fields.

    Along each axis, a unit's field on path p is the interval of centre
    `start_p` and length `r_p`; the merged field is the smallest interval that
    covers them all (the largest `r_p` when the paths are centred alike, as with
    odd kernels and 'same' padding). The paths must agree on the jump, or the
    units of the merged tensor would not sit on one grid.
    """
    if any(g.is_global for g in geometries):
        return _Geometry(whole_input, None, None)
    jumps = {g.jump for g in geometries}
    if len(jumps) > 1:
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) merges paths whose jumps "
            f"(effective strides) differ: {sorted(jumps)}. Their units do not sit on "
            "one grid, so they have no common receptive field."
        )
    if any(s is None for g in geometries for s in g.start):
        # Unknown starts: the largest field is all that can be said.
        field = tuple(max(g.field[axis] for g in geometries) for axis in range(2))
        return _Geometry(field, geometries[0].jump, (None, None))
    field, start = [], []
    for axis in range(2):
        low = min(g.start[axis] - (g.field[axis] - 1) / 2 for g in geometries)
        high = max(g.start[axis] + (g.field[axis] - 1) / 2 for g in geometries)
        field.append(int(round(high - low + 1)))
        start.append((low + high) / 2)
    return _Geometry(tuple(field), geometries[0].jump, tuple(start))


def _check_data_format(layer):
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) uses "
            f"data_format={layer.data_format!r}; receptive_field supports "
            "channels_last models only."
        )


def _layer_geometry(layer, geometries, input_shape, whole_input):
    """The output geometry of one (non-model) layer, with its kernel and stride."""
    _check_data_format(layer)
    one = geometries[0]
    input_size = tuple(input_shape[1:3]) if len(input_shape) == 4 else (None, None)
    if isinstance(layer, WINDOW_LAYERS):
        return _apply_window(layer, one, input_size)
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return _shift(one, tuple(p[0] for p in layer.padding)), None, None
    if isinstance(layer, keras.layers.Cropping2D):
        return _shift(one, tuple(-c[0] for c in layer.cropping)), None, None
    if isinstance(layer, MERGE_LAYERS):
        return _merge(layer, geometries, whole_input), None, None
    if isinstance(layer, GLOBAL_LAYERS):
        return _Geometry(whole_input, None, None), None, None
    if isinstance(layer, keras.layers.Reshape) and one.is_global:
        # e.g. MobileNet's head reshapes its globally pooled (1, 1, C) maps.
        return one, None, None
    if isinstance(layer, keras.layers.Dense):
        # On a 4-D tensor Dense acts on the channels of each position (a 1x1
        # convolution); after Flatten its units see the whole input anyway.
        return one, None, None
    if isinstance(layer, (keras.layers.Softmax, keras.layers.LayerNormalization)):
        axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
        if all(a in (-1, len(input_shape) - 1) for a in axes):
            return one, None, None
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) works along axis={layer.axis}, "
            "which mixes spatial positions; receptive_field supports it along the "
            "channel axis (-1) only."
        )
    if isinstance(layer, POINTWISE_LAYERS):
        return one, None, None
    if hasattr(layer, "receptive_field_paths"):
        return _composite_geometry(layer, one, input_shape, whole_input), None, None
    raise ValueError(
        f"Layer '{layer.name}' of type {type(layer).__name__} is not supported by "
        "receptive_field: it handles Conv2D, DepthwiseConv2D, SeparableConv2D, "
        "MaxPooling2D, AveragePooling2D, ZeroPadding2D, Cropping2D, merge layers "
        "(Add, Concatenate, ...), Flatten, global pooling, Dense and layers that act "
        "on each position alone (activations, BatchNormalization, Dropout, ...)."
    )


def _composite_geometry(layer, geometry, input_shape, whole_input):
    """The field of a composite layer: the union of its paths' fields.

    The course's composite layers (`course_lib.layers`) list the chains of
    sub-layers an input can take through them with `receptive_field_paths()`
    (a residual block: its residual branch and its shortcut; an Inception
    module: its four branches); each chain is followed like a small model and
    the results merged like the outputs of a merge layer.
    """
    results = []
    for path in layer.receptive_field_paths():
        path_geometry, shape = geometry, tuple(input_shape)
        for sublayer in path:
            path_geometry, _, _ = _layer_geometry(sublayer, [path_geometry], shape, whole_input)
            shape = tuple(sublayer.compute_output_shape(shape))
        results.append(path_geometry)
    return _merge(layer, results, whole_input)


def _spatial_input_shape(model):
    """The `(None, H, W, C)` shape of the model's single image input."""
    nodes_by_depth(model)  # raises if the model is not built
    if len(model.inputs) != 1:
        raise ValueError(
            f"Model '{model.name}' has {len(model.inputs)} inputs; receptive_field "
            "needs a model with one image input."
        )
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4:
        raise ValueError(
            f"Model '{model.name}' must take images of shape (batch, rows, cols, channels); "
            f"its input has shape {shape}."
        )
    return shape


def _propagate(model, input_geometry, whole_input, prefix, rows):
    """Walks one model's graph in topological order; returns its outputs' geometries.

    Appends one row per layer call to `rows`. A model used as a layer is walked
    in turn, its rows named `outer/inner`.
    """
    geometry_of = {}  # id(KerasTensor) -> _Geometry
    calls = {}  # layer name -> how many times it was seen (shared layers)
    for nodes in reversed(nodes_by_depth(model)):  # inputs first
        for node in nodes:
            layer = node.operation
            calls[layer.name] = calls.get(layer.name, 0) + 1
            name = prefix + layer.name
            if calls[layer.name] > 1:
                name += f"[{calls[layer.name] - 1}]"
            kernel = stride = None
            if node.is_input:
                geometry = input_geometry
            else:
                incoming = [geometry_of[id(t)] for t in node.input_tensors]
                input_shape = tuple(node.input_tensors[0].shape)
                if isinstance(layer, keras.Model):
                    if len(incoming) != 1:
                        raise ValueError(
                            f"Nested model '{layer.name}' takes {len(incoming)} inputs; "
                            "receptive_field supports nested models with one input."
                        )
                    geometry = _propagate(layer, incoming[0], whole_input, name + "/", rows)
                else:
                    geometry, kernel, stride = _layer_geometry(
                        layer, incoming, input_shape, whole_input
                    )
            geometries = geometry if isinstance(geometry, list) else [geometry] * len(node.outputs)
            for tensor, tensor_geometry in zip(node.outputs, geometries):
                geometry_of[id(tensor)] = tensor_geometry
            if not (node.is_input and prefix):  # a nested model's input adds no row
                rows.append(
                    (name, type(layer).__name__, tuple(node.outputs[0].shape[1:]), kernel, stride, geometries[0])
                )
    return [geometry_of[id(t)] for t in model.outputs]


def receptive_field(model):
    """Tabulates the receptive field of every layer of a 2-D CNN.

    Walks the model's graph in topological order and applies, per spatial axis,
    `r_out = r_in + (k_eff - 1) * j_in`, `j_out = j_in * s` and
    `start_out = start_in + ((k_eff - 1) / 2 - pad_before) * j_in`, with
    `k_eff = d * (k - 1) + 1` for a dilation `d` and Keras's 'same' padding
    (the odd zero, if any, goes after the input).

    - Conv2D, DepthwiseConv2D, SeparableConv2D (its 1x1 pointwise step changes
      nothing), MaxPooling2D, AveragePooling2D: the rules above.
    - ZeroPadding2D and Cropping2D move the start only.
    - Activations, BatchNormalization (at inference), Dropout, Dense on a 4-D
      tensor (a 1x1 convolution) and other position-wise layers change nothing.
    - Merge layers (Add, Concatenate, ...): the smallest field covering the
      fields of all incoming paths, which is the largest of them when the
      paths are centred alike; the paths must have the same jump.
    - Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D and every layer after
      them: the units no longer sit on a grid and each Dense unit after them
      sees every pixel, so the table gives the whole input as field
      (`<NA>` if the input size is unknown) and no jump or start.
    - The course's composite layers (`course_lib.layers`: residual blocks,
      Inception modules, dense blocks, ...) list their paths with
      `receptive_field_paths()`; their field is the union over the paths.
    - A model used as a layer (e.g. a Sequential inside a functional model) is
      walked too; its layers' rows are named `outer/inner`, and its own row
      gives the field of its first output.

    The field is the theoretical one: it may be larger than the input, and
    units near the border see part of it as padding. Other layers (Conv1D,
    Conv3D, Conv2DTranspose, UpSampling2D, Reshape, Lambda, ...) raise a
    ValueError that names them.

    Args:
        model: a built `keras.Model` (Sequential or functional) with one input
            of shape `(batch, rows, cols, channels)`.

    Returns:
        A pandas DataFrame indexed by layer name (the input first, as the
        identity: field 1, jump 1, start 0), with the columns `type`,
        `output_shape`, `kernel` and `stride` (`(rows, cols)` of the sliding
        window, None for other layers), `field_rows`, `field_cols`,
        `jump_rows`, `jump_cols`, `start_rows`, `start_cols` (the input
        coordinate of the centre of the first unit's field, pixel centres at
        0, 1, 2, ...).

    Example:

    >>> convs = [keras.layers.Conv2D(8, 3) for _ in range(3)]
    >>> model = keras.Sequential([keras.Input((32, 32, 1))] + convs)
    >>> int(receptive_field(model).loc[model.layers[-1].name, "field_rows"])
    7
    """
    import pandas as pd

    check_model(model)
    shape = _spatial_input_shape(model)
    whole_input = tuple(shape[1:3])
    rows = []
    _propagate(model, _Geometry((1, 1), (1, 1), (0.0, 0.0)), whole_input, "", rows)

    records = []
    for name, kind, output_shape, kernel, stride, g in rows:
        field = [pd.NA if f is None else f for f in g.field]
        jump = (pd.NA, pd.NA) if g.is_global else g.jump
        start = (pd.NA, pd.NA) if g.is_global else tuple(pd.NA if s is None else s for s in g.start)
        records.append(
            [name, kind, output_shape, kernel, stride, *field, *jump, *start]
        )
    table = pd.DataFrame(records, columns=["layer"] + COLUMNS).set_index("layer")
    for column in ("field_rows", "field_cols", "jump_rows", "jump_cols"):
        table[column] = table[column].astype("Int64")
    for column in ("start_rows", "start_cols"):
        table[column] = table[column].astype("Float64")
    return table


class EmpiricalField(typing.NamedTuple):
    """What `empirical_receptive_field` measured.

    Attributes:
        size: `(rows, cols)` of the smallest box holding every input pixel with
            a non-zero gradient.
        gradient: `(H, W)` NumPy array, the absolute gradient summed over the
            input channels (the map to plot).
        unit: `(row, col)` of the output unit whose gradient was taken.
        bounds: `(top, left, bottom, right)` of that box, inclusive pixel
            indices (None if the gradient is zero everywhere).
    """

    size: tuple
    gradient: np.ndarray
    unit: tuple
    bounds: typing.Optional[tuple]


def empirical_receptive_field(
    model, layer_name, input_shape=None, channel=None, unit=None, inputs=None, seed=0, atol=0.0
):
    """Measures a layer's receptive field from the gradient of one of its units.

    The gradient of one output unit with respect to the input image is zero on
    every pixel outside the unit's receptive field. This function takes that
    gradient with the backend's automatic differentiation
    (`course_lib.autodiff.value_and_gradient`), with the model's own weights
    in inference mode, and returns the box of pixels where it is not zero.

    The box can be smaller than the theoretical field of `receptive_field`:
    a ReLU that is off, a max-pooling window (its gradient goes to one entry
    only) or weights that cancel hide pixels, which is why trained networks
    have a smaller *effective* receptive field. With positive weights and
    identity activations (or average pooling) the whole theoretical field
    lights up, as long as it fits inside the input.

    Args:
        model: a built `keras.Model` with one input `(batch, rows, cols, channels)`.
        layer_name: name of a layer of `model` (at the top level) with a 4-D
            output `(batch, rows, cols, channels)`.
        input_shape: `(rows, cols, channels)` of the image to use; defaults to
            the model's input shape, and is required if that has a None size.
        channel: which output channel to differentiate; None (default) sums
            the unit over all channels.
        unit: `(row, col)` of the output unit; defaults to the central one,
            `((rows - 1) // 2, (cols - 1) // 2)` of the layer's output.
        inputs: optional image `(rows, cols, channels)` to differentiate at;
            defaults to standard normal noise drawn with `seed`.
        seed: None or a non-negative int, the seed of the noise image.
        atol: gradient magnitudes at or below `atol` count as zero.

    Returns:
        An `EmpiricalField` `(size, gradient, unit, bounds)`.

    Example:

    >>> model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.AveragePooling2D(3, 1)])
    >>> empirical_receptive_field(model, model.layers[0].name).size
    (3, 3)
    """
    from course_lib.autodiff import value_and_gradient

    check_model(model)
    model_shape = _spatial_input_shape(model)
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(
            f"`layer_name` must name a layer of model '{model.name}'; received "
            f"layer_name={layer_name!r}. Its layers are: {', '.join(names)}."
        )
    atol = check_number(atol, "atol", low=0)
    if inputs is not None:
        inputs = check_array(inputs, "inputs", ndim=3, shape="(rows, cols, channels), one image", finite=True)
        inputs = inputs.astype("float32")
        if input_shape is not None and tuple(input_shape) != inputs.shape:
            raise ValueError(
                f"`inputs` has shape {inputs.shape} but input_shape={tuple(input_shape)}."
            )
        input_shape = inputs.shape
    if input_shape is None:
        input_shape = tuple(model_shape[1:])
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or any(s is None or int(s) < 1 for s in input_shape):
        raise ValueError(
            "`input_shape` must be (rows, cols, channels) with positive sizes; "
            f"received input_shape={input_shape} (model input {model_shape[1:]})."
        )
    if inputs is None:
        inputs = np.random.default_rng(check_seed(seed)).standard_normal(input_shape).astype("float32")

    sub_model = keras.Model(model.inputs, model.get_layer(layer_name).output)
    output_shape = sub_model.compute_output_shape((1,) + input_shape)
    if len(output_shape) != 4:
        raise ValueError(
            f"Layer '{layer_name}' must output (batch, rows, cols, channels) to have a "
            f"spatial receptive field; its output has shape {output_shape}."
        )
    if unit is None:
        unit = ((output_shape[1] - 1) // 2, (output_shape[2] - 1) // 2)
    unit = tuple(int(u) for u in unit)
    if len(unit) != 2 or not all(0 <= u < n for u, n in zip(unit, output_shape[1:3])):
        raise ValueError(
            f"`unit` must be (row, col) inside the layer's output {output_shape[1:3]}; "
            f"received unit={unit}."
        )
    if channel is not None and (
        not is_int(channel) or not 0 <= channel < output_shape[3]
    ):
        raise ValueError(
            f"`channel` must be None or in [0, {output_shape[3]}); received channel={channel}."
        )

    def unit_value(x):
        out = sub_model(x, training=False)[0, unit[0], unit[1]]
        return keras.ops.sum(out) if channel is None else out[channel]

    _, gradient = value_and_gradient(unit_value, inputs[None])
    gradient = np.abs(gradient[0]).sum(axis=-1)
    rows = np.flatnonzero((gradient > atol).any(axis=1))
    cols = np.flatnonzero((gradient > atol).any(axis=0))
    if rows.size == 0:
        return EmpiricalField((0, 0), gradient, unit, None)
    bounds = (int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1]))
    size = (bounds[2] - bounds[0] + 1, bounds[3] - bounds[1] + 1)
    return EmpiricalField(size, gradient, unit, bounds)
