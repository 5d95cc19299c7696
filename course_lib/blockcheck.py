"""Checking a block written by hand in plain Keras against course_lib's layer.

The architecture notebooks write each central block (residual, bottleneck,
ResNeXt, dense...) in a few lines of functional Keras, then check that it
computes what course_lib's layer computes: the same weights in, the same
outputs out. `compare_with_course_lib` does that check, the way `gradcheck`
checks a gradient. BatchNormalization's scales, offsets and moving
statistics are drawn at random first: left at their initial values (1, 0,
0 and 1), a normalisation layer in inference mode is nearly the identity,
and a block that forgot one would still pass.
"""

import keras
import numpy as np

from course_lib._checks import check_bool, check_positive_ints, check_seed
from course_lib._keras_compat import leaf_layers

__all__ = ["compare_with_course_lib"]


def _randomize_normalization(layer, rng):
    for weight in layer.weights:
        if weight.name in ("gamma", "moving_variance"):  # must stay positive
            weight.assign(rng.uniform(0.5, 1.5, weight.shape))
        elif weight.name in ("beta", "moving_mean"):
            weight.assign(rng.normal(0, 0.5, weight.shape))


def _copy_by_kind(source, target):
    """Copies convolution to convolution, normalisation to normalisation, ..., each kind in order."""
    sources = [layer for layer in leaf_layers(source) if layer.weights]
    targets = [layer for layer in target.layers if layer.weights]
    for kind in dict.fromkeys(type(layer) for layer in sources):
        from_layers = [layer for layer in sources if type(layer) is kind]
        to_layers = [layer for layer in targets if type(layer) is kind]
        if len(from_layers) != len(to_layers):
            raise ValueError(f"course_lib's block has {len(from_layers)} {kind.__name__} layers with weights and "
                             f"ours has {len(to_layers)}: the blocks differ.")
        for from_layer, to_layer in zip(from_layers, to_layers):
            to_layer.set_weights(from_layer.get_weights())


def compare_with_course_lib(make_ours, theirs, input_shape, seed=0, copy_by_kind=False):
    """Our block against course_lib's, with course_lib's weights copied into ours.

    Builds `theirs` on `input_shape`, gives its BatchNormalization layers
    random scales, offsets and moving statistics, copies every weight into
    a functional model of `make_ours`, and applies both to the same random
    batch of two inputs, in inference mode (moving statistics) and in
    training mode (the batch's statistics).

    Args:
        make_ours: a function from a Keras tensor to a Keras tensor (the
            block written by hand, in the functional API).
        theirs: the course_lib layer, not yet built.
        input_shape: `(rows, cols, channels)` of one input.
        seed: seeds the normalisation statistics and the input batch.
        copy_by_kind: False copies `theirs.get_weights()` into ours in one
            list, which needs both to list their weights in the same order.
            True copies layer by layer within each kind (every
            convolution in order, then every normalisation, ...): for a
            functional block whose layers are listed by depth, with the
            shortcut's among the residual branch's.

    Returns:
        `(difference, ours, theirs)`: the largest absolute difference of the
        outputs over both modes, our functional model and the built layer.

    Example:

    >>> from course_lib.layers import ResidualBlock
    >>> def residual_block(x, filters):
    ...     y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    ...     y = keras.layers.ReLU()(keras.layers.BatchNormalization(epsilon=1.001e-5)(y))
    ...     y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    ...     y = keras.layers.BatchNormalization(epsilon=1.001e-5)(y)
    ...     return keras.layers.ReLU()(keras.layers.Add()([y, x]))
    >>> difference, ours, theirs = compare_with_course_lib(lambda x: residual_block(x, 8), ResidualBlock(8), (6, 6, 8))
    >>> difference < 1e-4
    True
    """
    if not callable(make_ours):
        raise TypeError(f"`make_ours` must be a function from a Keras tensor to a Keras tensor; "
                        f"received {make_ours!r}.")
    if not isinstance(theirs, keras.layers.Layer):
        raise TypeError(f"`theirs` must be a Keras layer (course_lib's block); received {theirs!r}.")
    input_shape = check_positive_ints(input_shape, "input_shape", length=3)
    seed = check_seed(seed)
    copy_by_kind = check_bool(copy_by_kind, "copy_by_kind")
    rng = np.random.default_rng(seed)
    inputs = keras.Input(input_shape)
    ours = keras.Model(inputs, make_ours(inputs))
    theirs.build((None, *input_shape))
    _randomize_normalization(theirs, rng)
    if copy_by_kind:
        _copy_by_kind(theirs, ours)
    else:
        ours.set_weights(theirs.get_weights())  # the same weights, in the same order
    x = rng.normal(size=(2, *input_shape)).astype("float32")
    outputs = [(ours(x, training=training), theirs(x, training=training)) for training in (False, True)]
    difference = max(float(np.abs(keras.ops.convert_to_numpy(a - b)).max()) for a, b in outputs)
    return difference, ours, theirs
