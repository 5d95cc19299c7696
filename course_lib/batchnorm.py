"""BatchNormalization's moving statistics: momentum for the run, re-estimation after it.

A `keras.layers.BatchNormalization` layer normalises with the statistics of
the batch in training, and with its *moving* mean and variance in inference.
These are updated at every training step,

    moving = momentum * moving + (1 - momentum) * batch_statistic,

starting from mean 0 and variance 1, with Keras's default momentum 0.99. After
`n` steps the starting values still weigh `momentum ** n`: 0.89 after 12
steps, 0.37 after 100, 0.007 after 500. A short training therefore evaluates
the network with statistics that are mostly the initial ones, and its test
accuracy can sit near chance while its training accuracy is fine. Two fixes:

- `momentum_for_steps(steps)`: a momentum under which the starting values
  weigh at most 1 % by the end of a run of `steps` steps (0.68 for 12
  steps, 0.99 from 459 steps on).
- `recompute_batchnorm_statistics(model, x)`: after training, replace every
  moving mean and variance by the average of the batch statistics over
  `x`, with the weights fixed (as the SWA authors do, Izmailov et al., 2018).
"""

import keras
import numpy as np

from course_lib._checks import check_array, check_number, check_positive_int
from course_lib._keras_compat import flatten_layers

__all__ = [
    "KERAS_MOMENTUM",
    "batchnorm_layers",
    "momentum_for_steps",
    "set_batchnorm_momentum",
    "recompute_batchnorm_statistics",
]

# The default momentum of keras.layers.BatchNormalization.
KERAS_MOMENTUM = 0.99


def batchnorm_layers(model):
    """Every `BatchNormalization` layer in `model`, nested ones included, in build order."""
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"`model` must be a Keras model or layer; received {type(model).__name__}.")
    layers = [model] + flatten_layers(model)
    return [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]


def momentum_for_steps(steps, weight_left=0.01, maximum=KERAS_MOMENTUM):
    """The largest momentum under which the initial statistics fade within `steps` steps.

    Solves `momentum ** steps = weight_left` and caps the result at
    `maximum` (Keras's 0.99): long runs keep the default, short ones get a
    momentum that forgets the initial mean 0 and variance 1.

    Args:
        steps: training steps of the run (batches times epochs), >= 1.
        weight_left: weight of the initial statistics left after `steps`
            steps, in (0, 1).
        maximum: the largest momentum returned.

    Returns:
        A float in (0, maximum].

    Example:

    >>> round(momentum_for_steps(12), 3)
    0.681
    >>> momentum_for_steps(10_000)
    0.99
    """
    steps = check_positive_int(steps, "steps")
    weight_left = check_number(weight_left, "weight_left", 0, 1, low_open=True, high_open=True)
    maximum = check_number(maximum, "maximum", 0, 1, low_open=True, high_open=True)
    return min(maximum, weight_left ** (1.0 / steps))


def set_batchnorm_momentum(model, momentum):
    """Sets the momentum of every BatchNormalization layer of `model` (before compiling).

    Args:
        model: a Keras model or layer.
        momentum: a float in [0, 1).

    Returns:
        The number of layers changed.
    """
    momentum = check_number(momentum, "momentum", 0, 1, high_open=True)
    layers = batchnorm_layers(model)
    for layer in layers:
        layer.momentum = float(momentum)
    return len(layers)


def recompute_batchnorm_statistics(model, x, batch_size=128):
    """Re-estimates every BatchNormalization layer's moving statistics on `x`.

    The model runs forward over `x` in batches of `batch_size`, in training
    mode, with its weights unchanged. Batch `i` (counting from 1) is given
    the momentum `1 - 1 / i`, so that after the pass each moving mean is the
    average of the batch means and each moving variance the average of the
    batch variances: the statistics the network meets on this data, instead
    of an exponential average dominated by the initial values (after a short
    training) or by outdated weights.

    Training mode also switches on the model's dropout and random
    augmentation layers, if any, during the pass; the statistics then
    describe the training-time inputs of each layer, as they do in training.

    Args:
        model: a built Keras model with BatchNormalization layers.
        x: the inputs (a NumPy array of training images, not the test set),
            preprocessed as the model expects them.
        batch_size: images per batch; the last, smaller batch is dropped
            unless it is the only one.

    Returns:
        The number of BatchNormalization layers re-estimated (0 if none: the
        model is then unchanged).

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization()])
    >>> x = np.arange(8, dtype="float32").reshape(2, 4)
    >>> recompute_batchnorm_statistics(model, x, batch_size=2)
    1
    >>> keras.ops.convert_to_numpy(model.layers[0].moving_mean).tolist()
    [2.0, 3.0, 4.0, 5.0]
    """
    layers = batchnorm_layers(model)
    batch_size = check_positive_int(batch_size, "batch_size")
    x = np.asarray(x)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"`x` must be a batch of inputs, first axis the example; received shape {x.shape}.")
    # NaN or infinite inputs would become the moving statistics of every layer, silently.
    x = check_array(x, "x", finite=True)
    if not layers:
        return 0
    batches = max(1, len(x) // batch_size)
    saved = [layer.momentum for layer in layers]
    try:
        for i in range(batches):
            for layer in layers:
                layer.momentum = 1.0 - 1.0 / (i + 1)
            model(x[i * batch_size : (i + 1) * batch_size], training=True)
    finally:
        for layer, momentum in zip(layers, saved):
            layer.momentum = momentum
    return len(layers)
