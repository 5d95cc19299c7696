"""Shared helpers of the course's composite layers."""

import keras

from course_lib._keras_compat import call_takes_training


def build_chain(layers, input_shape):
    """Builds `layers` one after the other and returns the final output shape.

    Composite layers must build their sub-layers in `build()` (not lazily on
    the first call), so that `keras.models.load_model` finds every weight.
    """
    shape = tuple(input_shape)
    for layer in layers:
        if not layer.built:
            layer.build(shape)
        shape = tuple(layer.compute_output_shape(shape))
    return shape


def apply_chain(layers, x, training=None):
    """Calls `layers` in order, passing `training` to those that take it."""
    for layer in layers:
        # BatchNormalization, Dropout and composite layers behave differently in training.
        x = layer(x, training=training) if call_takes_training(layer) else layer(x)
    return x


def check_positive_int(value, name, allow_none=False, allow_zero=False):
    """Raises a ValueError naming `name` unless `value` is a positive int."""
    if value is None and allow_none:
        return
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"`{name}` must be a {kind} int; received {name}={value!r}.")


def check_rate(value, name):
    """Raises a ValueError naming `name` unless 0 <= value < 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a float in [0, 1); received {name}={value!r}.")


def check_image_input(input_shape, layer_name):
    """Raises a ValueError unless `input_shape` is a 4-D channels-last shape."""
    if len(input_shape) != 4 or input_shape[-1] is None:
        raise ValueError(
            f"{layer_name} expects inputs of shape (batch, height, width, channels) "
            f"with a known number of channels; received input_shape={tuple(input_shape)}."
        )


def conv_unit(filters, kernel_size, name, activation="relu", batch_norm=False, **conv_kwargs):
    """A convolution and its activation, with BatchNormalization between them if asked.

    Without `batch_norm`: `[Conv2D(activation=activation)]`, as the 2012-2014
    papers built their layers. With it: `[Conv2D(use_bias=False),
    BatchNormalization, Activation]` (the bias would be cancelled by BN's
    mean subtraction), the form BN-Inception (Ioffe and Szegedy, 2015)
    introduced.
    """
    if not batch_norm:
        return [keras.layers.Conv2D(filters, kernel_size, activation=activation, name=name, **conv_kwargs)]
    return [
        keras.layers.Conv2D(filters, kernel_size, use_bias=False, name=name, **conv_kwargs),
        keras.layers.BatchNormalization(name=f"{name}_bn"),
        keras.layers.Activation(activation, name=f"{name}_{activation}"),
    ]
