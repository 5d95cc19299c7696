"""Chains: lists of Keras layers applied one after the other.

The course's composite layers (`course_lib.layers`) hold their sub-layers in
chains: a residual branch, an Inception branch, a convolution with its
BatchNormalization and activation. The models (`course_lib.models`) and the
augmentation pipelines (`course_lib.augment`) use the same helpers.
"""

import keras

from course_lib._keras_compat import call_takes_training


def build_chain(layers, input_shape):
    """Builds `layers` one after the other and returns the final output shape.

    Composite layers must build their sub-layers in `build()` (not lazily on
    the first call), so that `keras.models.load_model` finds every weight.

    Example:

    >>> chain = conv_unit(8, 3, "conv", batch_norm=True)
    >>> build_chain(chain, (None, 32, 32, 3))
    (None, 30, 30, 8)
    """
    shape = tuple(input_shape)
    for layer in layers:
        if not layer.built:
            layer.build(shape)
        shape = tuple(layer.compute_output_shape(shape))
    return shape


def chain_output_shape(layers, input_shape):
    """The output shape of `layers` applied in order (nothing is built)."""
    shape = tuple(input_shape)
    for layer in layers:
        shape = tuple(layer.compute_output_shape(shape))
    return shape


def apply_chain(layers, x, training=None):
    """Calls `layers` in order, passing `training` to those that take it."""
    for layer in layers:
        # BatchNormalization, Dropout and composite layers behave differently in training.
        x = layer(x, training=training) if call_takes_training(layer) else layer(x)
    return x


def conv_unit(filters, kernel_size, name, activation="relu", batch_norm=False, **conv_kwargs):
    """A convolution and its activation, with BatchNormalization between them if asked.

    Without `batch_norm`: `[Conv2D(activation=activation)]`, as the 2012-2014
    papers built their layers. With it: `[Conv2D(use_bias=False),
    BatchNormalization, Activation]` (the bias would be cancelled by BN's
    mean subtraction), the form BN-Inception (Ioffe and Szegedy, 2015)
    introduced.

    Args:
        filters: filters of the convolution.
        kernel_size: its window, an int or a pair.
        name: name of the convolution; BatchNormalization and the activation
            are named `f"{name}_bn"` and `f"{name}_{activation}"`.
        activation: the activation.
        batch_norm: whether to insert BatchNormalization.
        **conv_kwargs: other arguments of `keras.layers.Conv2D` (strides,
            padding, ...).

    Returns:
        A list of Keras layers, to apply in order.

    Example:

    >>> [type(layer).__name__ for layer in conv_unit(64, 3, "conv1", batch_norm=True)]
    ['Conv2D', 'BatchNormalization', 'Activation']
    """
    if not batch_norm:
        return [keras.layers.Conv2D(filters, kernel_size, activation=activation, name=name, **conv_kwargs)]
    return [
        keras.layers.Conv2D(filters, kernel_size, use_bias=False, name=name, **conv_kwargs),
        keras.layers.BatchNormalization(name=f"{name}_bn"),
        keras.layers.Activation(activation, name=f"{name}_{activation}"),
    ]
