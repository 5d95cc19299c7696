"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012)."""

import keras

from course_lib._checks import check_bool, check_number, check_rate
from course_lib.layers import GroupedConv2D, LocalResponseNormalization
from course_lib.models._heads import dense_head
from course_lib.models._validation import validate_builder_args

__all__ = ["alexnet", "alexnet_cifar"]


def alexnet(
    input_shape=(227, 227, 3),
    classes=1000,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    groups=2,
    local_response_norm=True,
    dropout=0.5,
    width=1.0,
    name="alexnet",
):
    """Builds AlexNet: five convolutions and three fully connected layers.

    | layer | filters, window, stride | output at 227x227 |
    | --- | --- | --- |
    | conv1 | 96, 11x11, 4; LRN; max pool 3x3/2 | 27x27x96 |
    | conv2 | 256, 5x5, 1, `groups`; LRN; max pool 3x3/2 | 13x13x256 |
    | conv3 | 384, 3x3, 1 (sees both halves) | 13x13x384 |
    | conv4 | 384, 3x3, 1, `groups` | 13x13x384 |
    | conv5 | 256, 3x3, 1, `groups`; max pool 3x3/2 | 6x6x256 |
    | fc1, fc2 | 4096 each, ReLU, dropout | 4096 |
    | predictions | `classes` | |

    The paper trained on two GPUs, each holding half of the filters of every
    layer; conv2, conv4 and conv5 only saw the half on their own GPU. That is
    a grouped convolution with `groups=2` (`keras.layers.Conv2D(groups=2)`),
    which halves those layers' weights; the builder uses `GroupedConv2D`,
    which has the same weights and computes the two halves separately, as the
    two GPUs did (and much faster on a CPU). With 1000 classes the network has
    60,965,224 parameters with `groups=2` and 62,378,344 with `groups=1`
    (weights and biases of every layer; LRN has no weights). Input 227x227
    (the paper's "224" does not give its 55x55 first map with an 11x11 window
    and stride 4).

    Args:
        input_shape: `(rows, cols, channels)`, at least 67x67 (smaller
            inputs vanish in the three poolings).
        classes: number of classes.
        include_top: whether to build the fully connected layers.
        pooling: global pooling of the features when `include_top=False`:
            None, "avg" or "max".
        classifier_activation: activation of the "predictions" layer.
        groups: 2 for the two-GPU layout, 1 for a single device.
        local_response_norm: whether to add LRN after conv1 and conv2.
        dropout: dropout rate of fc1 and fc2 (0.5 in the paper).
        width: multiplier of every layer's filters and units, to train small
            AlexNet-style networks on a CPU (1.0: the paper's network).
        name: name of the model.

    Returns:
        A `keras.Model`.

    Example:

    >>> alexnet().count_params()
    60965224
    """
    shape = validate_builder_args(
        input_shape, classes, include_top, pooling, classifier_activation, min_size=67
    )
    if groups not in (1, 2):
        raise ValueError(f"`groups` must be 1 or 2; received groups={groups!r}.")
    dropout = check_rate(dropout, "dropout")
    local_response_norm = check_bool(local_response_norm, "local_response_norm")
    width = check_number(width, "width", low=0, low_open=True)

    def n(filters):
        # Keep the filters divisible by the groups.
        return max(groups, int(round(filters * width / groups)) * groups)

    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(n(96), 11, strides=4, activation="relu", name="conv1")(inputs)
    if local_response_norm:
        x = LocalResponseNormalization(name="lrn1")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = GroupedConv2D(n(256), 5, padding="same", groups=groups, activation="relu", name="conv2")(x)
    if local_response_norm:
        x = LocalResponseNormalization(name="lrn2")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool2")(x)
    x = keras.layers.Conv2D(n(384), 3, padding="same", activation="relu", name="conv3")(x)
    x = GroupedConv2D(n(384), 3, padding="same", groups=groups, activation="relu", name="conv4")(x)
    x = GroupedConv2D(n(256), 3, padding="same", groups=groups, activation="relu", name="conv5")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool5")(x)
    units = (max(1, int(4096 * width)),) * 2
    x = dense_head(x, include_top, pooling, classes, classifier_activation, units, dropout)
    return keras.Model(inputs, x, name=name)


def alexnet_cifar(
    input_shape=(32, 32, 3),
    classes=10,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    groups=2,
    local_response_norm=True,
    dropout=0.5,
    width=0.5,
    name="alexnet_cifar",
):
    """Builds an AlexNet for 32x32 images: AlexNet's layers, scaled to CIFAR-10.

    The same eight layers as `alexnet` (five convolutions, LRN after the
    first two, three overlapping 3x3/2 max poolings, two dropout-regularised
    dense layers and the classifier, conv2/4/5 split into `groups`), resized
    for an image 7x smaller than ImageNet's 227x227:

    | layer | filters (width 1.0), window, stride | output at 32x32 |
    | --- | --- | --- |
    | conv1 | 64, 5x5, 1; LRN; max pool 3x3/2 | 16x16x64 |
    | conv2 | 192, 5x5, 1, `groups`; LRN; max pool 3x3/2 | 8x8x192 |
    | conv3 | 384, 3x3, 1 | 8x8x384 |
    | conv4 | 256, 3x3, 1, `groups` | 8x8x256 |
    | conv5 | 256, 3x3, 1, `groups`; max pool 3x3/2 | 4x4x256 |
    | fc1, fc2 | 1024 each, ReLU, dropout | 1024 |

    The filter counts are those of torchvision's single-GPU AlexNet; conv1 is
    5x5 with stride 1 instead of 11x11 with stride 4, and the poolings use
    "same" padding, so pool5 still has a 4x4 grid (with `alexnet`'s stem a
    32x32 image would vanish). There is no BatchNormalization, as in 2012.
    The course's recorded CIFAR-10 model (`course_lib.zoo`) uses
    `width=0.5`.

    Args:
        input_shape: `(rows, cols, channels)`, at least 8x8.
        classes: number of classes.
        include_top: whether to build the dense layers.
        pooling: global pooling of the features when `include_top=False`:
            None, "avg" or "max".
        classifier_activation: activation of the "predictions" layer.
        groups: 2 for the two-GPU layout, 1 for a single device.
        local_response_norm: whether to add LRN after conv1 and conv2.
        dropout: dropout rate of fc1 and fc2.
        width: multiplier of every layer's filters and units.
        name: name of the model.

    Returns:
        A `keras.Model`.

    Example:

    >>> alexnet_cifar().output_shape
    (None, 10)
    """
    shape = validate_builder_args(
        input_shape, classes, include_top, pooling, classifier_activation, min_size=8
    )
    if groups not in (1, 2):
        raise ValueError(f"`groups` must be 1 or 2; received groups={groups!r}.")
    dropout = check_rate(dropout, "dropout")
    local_response_norm = check_bool(local_response_norm, "local_response_norm")
    width = check_number(width, "width", low=0, low_open=True)

    def n(filters):
        return max(groups, int(round(filters * width / groups)) * groups)

    def conv(x, filters, size, layer_groups, name):
        return GroupedConv2D(
            n(filters), size, padding="same", groups=layer_groups, activation="relu", name=name
        )(x)

    inputs = keras.Input(shape)
    x = conv(inputs, 64, 5, 1, "conv1")
    if local_response_norm:
        x = LocalResponseNormalization(name="lrn1")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    x = conv(x, 192, 5, groups, "conv2")
    if local_response_norm:
        x = LocalResponseNormalization(name="lrn2")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
    x = conv(x, 384, 3, 1, "conv3")
    x = conv(x, 256, 3, groups, "conv4")
    x = conv(x, 256, 3, groups, "conv5")
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool5")(x)
    units = (max(1, int(1024 * width)),) * 2
    x = dense_head(x, include_top, pooling, classes, classifier_activation, units, dropout)
    return keras.Model(inputs, x, name=name)
