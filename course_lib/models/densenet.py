"""DenseNet (Huang et al., 2017)."""

import keras

from course_lib._checks import check_depth_6n, check_positive_int, check_positive_ints
from course_lib.layers import DenseBlock, TransitionLayer
from course_lib.layers.densenet import BN_EPSILON
from course_lib.models._heads import global_pool_head
from course_lib.models._validation import validate_builder_args
from course_lib.models.resnet import resnet_stem

__all__ = ["densenet", "densenet121", "densenet_cifar"]


def densenet(
    blocks=(6, 12, 24, 16),
    growth_rate=32,
    compression=0.5,
    input_shape=(224, 224, 3),
    classes=1000,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    stem_filters=None,
    name=None,
):
    """Builds a DenseNet-BC: dense blocks joined by compressing transitions.

    The ImageNet stem (7x7/2 convolution with `2 * growth_rate` filters, 3x3/2
    max pooling), dense blocks of `blocks[i]` layers each adding
    `growth_rate` maps (with 1x1 bottlenecks), a `TransitionLayer` after each
    block but the last, then BN, ReLU, global average pooling and the
    classifier, as `keras.applications.DenseNet121` builds it.

    Args:
        blocks: layers per dense block ((6, 12, 24, 16) for DenseNet-121).
        growth_rate: maps added by each layer, k.
        compression: fraction of maps kept by each transition, theta.
        input_shape: `(rows, cols, channels)`, at least 32x32.
        classes: number of classes.
        include_top: whether to build the classifier.
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation of the "predictions" layer.
        stem_filters: filters of the stem (default `2 * growth_rate`).
        name: name of the model.

    Returns:
        A `keras.Model`.
    """
    shape = validate_builder_args(
        input_shape, classes, include_top, pooling, classifier_activation, min_size=32
    )
    blocks = check_positive_ints(blocks, "blocks")
    if not blocks:
        raise ValueError(f"`blocks` must be a non-empty sequence of positive ints; received blocks={blocks!r}.")
    inputs = keras.Input(shape)
    x = resnet_stem(inputs, stem_filters or 2 * growth_rate, use_bias=False)
    for i, layers in enumerate(blocks, start=2):
        x = DenseBlock(layers, growth_rate, name=f"conv{i}")(x)
        if i < len(blocks) + 1:
            x = TransitionLayer(compression, name=f"pool{i}")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = global_pool_head(x, include_top, pooling, classes, classifier_activation)
    return keras.Model(inputs, x, name=name or "densenet")


def densenet121(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
                classifier_activation="softmax", name="densenet121"):
    """Builds DenseNet-121 (k = 32): 8,062,504 parameters at 1000 classes.

    The count (BatchNormalization statistics included) equals
    `keras.applications.DenseNet121(weights=None)`'s; see `densenet`.
    """
    return densenet((6, 12, 24, 16), 32, 0.5, input_shape, classes, include_top, pooling,
                    classifier_activation, name=name)


def densenet_cifar(
    depth=40,
    growth_rate=12,
    compression=0.5,
    input_shape=(32, 32, 3),
    classes=10,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    name=None,
):
    """Builds the CIFAR DenseNet-BC of Huang et al. (2017, section 3): depth 6n + 4.

    A 3x3 convolution with `2 * growth_rate` filters, three dense blocks of n
    bottleneck layers (BN-ReLU-conv1x1 to 4k maps, BN-ReLU-conv3x3 to k
    maps) at 32x32, 16x16 and 8x8, joined by `TransitionLayer`s that keep
    `compression` of the maps and halve the resolution, then BN, ReLU,
    global average pooling and the classifier. The depth counts the
    convolutions and the classifier: 6n + 4 (two convolutions per layer, the
    first convolution, two transitions and the classifier). DenseNet-BC-100
    with k = 12 (n = 16) is the paper's smallest BC network (0.8M
    parameters).

    Args:
        depth: 6n + 4 with n >= 1 (22, 28, 40, 100, ...).
        growth_rate: maps added by each layer, k.
        compression: fraction of maps kept by each transition, theta.
        input_shape: `(rows, cols, channels)`, at least 8x8.
        classes: number of classes.
        include_top: whether to build the classifier.
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation of the "predictions" layer.
        name: name of the model (default "densenet_bc_{depth}_{k}").

    Returns:
        A `keras.Model`.

    Example:

    >>> densenet_cifar(28).output_shape
    (None, 10)
    """
    layers = check_depth_6n(depth, 4, (22, 28, 40, 100))
    growth_rate = check_positive_int(growth_rate, "growth_rate")
    shape = validate_builder_args(
        input_shape, classes, include_top, pooling, classifier_activation, min_size=8
    )
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(2 * growth_rate, 3, padding="same", use_bias=False, name="conv1")(inputs)
    for i in range(1, 4):
        x = DenseBlock(layers, growth_rate, name=f"dense{i}")(x)
        if i < 3:
            x = TransitionLayer(compression, name=f"transition{i}")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = global_pool_head(x, include_top, pooling, classes, classifier_activation)
    return keras.Model(inputs, x, name=name or f"densenet_bc_{depth}_{growth_rate}")
