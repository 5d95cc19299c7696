"""Standardised inputs: a layer in front of the network with the training set's channel statistics.

A network trains best when its inputs have mean 0 and variance 1 in every
channel. The course puts that step inside the model, as its first layer, so
that the model takes images as stored (uint8, 0-255) and the statistics,
computed once on the training images, travel with the saved model:

- `channel_statistics` computes the per-channel mean and variance;
- `standardization` makes the `keras.layers.Normalization` layer from them;
- `with_standardization` puts that layer in front of a network, as one model.

`course_lib.experiment.run` standardises every network it trains this way.
"""

import keras
import numpy as np

from course_lib._checks import check_array

__all__ = ["channel_statistics", "standardization", "with_standardization"]


def channel_statistics(x):
    """Per-channel mean and variance of images `x` `(N, rows, cols, channels)`, as two lists.

    Args:
        x: images `(N, rows, cols, channels)`, real numbers.

    Returns:
        A dict with "mean" and "variance", each a list of one float per
        channel (the keyword arguments of `keras.layers.Normalization`).

    Raises:
        TypeError: `x` does not hold real numbers.
        ValueError: `x` is not 4-D, is empty, or holds NaN or infinity (a
            standardisation with NaN statistics outputs NaN for every image).

    Example:

    >>> channel_statistics(np.array([0, 2]).reshape(2, 1, 1, 1))
    {'mean': [1.0], 'variance': [1.0]}
    """
    x = check_array(x, "x", ndim=4, shape="(N, rows, cols, channels)", finite=True)
    pixels = x.reshape(-1, x.shape[-1]).astype("float64")
    return {"mean": pixels.mean(0).tolist(), "variance": pixels.var(0).tolist()}


def standardization(x):
    """A `keras.layers.Normalization` with the per-channel mean and variance of `x`.

    Put it first in a model, so that the model takes images as stored (uint8,
    0-255) and every later layer sees inputs of mean 0 and variance 1 per
    channel, whatever the dataset's brightness and contrast.

    Args:
        x: training images `(N, rows, cols, channels)`.

    Returns:
        A `keras.layers.Normalization(axis=-1)` with those statistics as
        constants (they are part of its config, not of its weights).

    Example:

    >>> x = np.array([0, 2]).reshape(2, 1, 1, 1)
    >>> keras.ops.convert_to_numpy(standardization(x)(x)).ravel().tolist()
    [-1.0, 1.0]
    """
    return keras.layers.Normalization(axis=-1, **channel_statistics(x), name="standardize")


def with_standardization(network, x_train, name=None, standardize=True):
    """`network` behind a standardisation layer fitted on `x_train`, as one model.

    Args:
        network: a `keras.Model` taking standardised images, or a pair
            `(training_model, inference_model)` sharing their layers (as
            `googlenet(aux_heads=True)` returns it).
        x_train: the training images whose statistics standardise the inputs.
        name: name of the model (default: the network's).
        standardize: False to divide the pixels by 255 instead (a control:
            see `course_lib.experiment.Recipe.standardize`).

    Returns:
        A `keras.Model` taking images as stored and returning `network`'s
        output; for a pair, a pair of such models sharing the standardisation.

    Raises:
        ValueError: `x_train` is not a non-empty batch of images with the
            network's channels, or holds NaN or infinity.

    Example:

    >>> network = keras.Sequential([keras.Input((1, 1, 1)), keras.layers.Flatten()], name="network")
    >>> x = np.array([0, 2]).reshape(2, 1, 1, 1)
    >>> model = with_standardization(network, x)
    >>> [layer.name for layer in model.layers[1:]]
    ['standardize', 'network']
    >>> keras.ops.convert_to_numpy(model(x)).ravel().tolist()
    [-1.0, 1.0]
    """
    pair = isinstance(network, (tuple, list))
    networks = tuple(network) if pair else (network,)
    if not all(isinstance(n, keras.Model) for n in networks) or len(networks) not in (1, 2):
        raise TypeError(f"`network` must be a keras.Model or a pair of them; received {network!r}.")
    inputs = keras.Input(networks[0].input_shape[1:], name="image")
    if standardize:
        x_train = check_array(x_train, "x_train", ndim=4, shape="(N, rows, cols, channels)", finite=True)
        scale = standardization(x_train)
        channels = inputs.shape[-1]
        if channels is not None and np.shape(x_train)[-1] != channels:
            raise ValueError(
                f"`x_train` must have the network's {channels} channels; received x_train of shape "
                f"{np.shape(x_train)} for inputs of shape {tuple(inputs.shape)}."
            )
    else:
        scale = keras.layers.Rescaling(1 / 255, name="rescale")
    standardized = scale(inputs)
    models = tuple(keras.Model(inputs, n(standardized), name=name or n.name) for n in networks)
    return models if pair else models[0]
