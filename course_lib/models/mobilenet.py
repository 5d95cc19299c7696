"""MobileNet (Howard et al., 2017)."""

import keras

from course_lib._checks import check_number, check_rate
from course_lib.layers import DepthwiseSeparableConv
from course_lib.models._heads import pool_features
from course_lib.models._validation import validate_builder_args

__all__ = ["MOBILENET_BLOCKS", "mobilenet", "mobilenet_cifar"]

# (pointwise filters, stride) of the 13 depthwise separable blocks.
MOBILENET_BLOCKS = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)


def mobilenet(
    input_shape=(224, 224, 3),
    classes=1000,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    alpha=1.0,
    depth_multiplier=1,
    dropout=1e-3,
    stem_strides=2,
    name=None,
):
    """Builds MobileNet (v1): a 3x3 convolution and 13 depthwise separable blocks.

    A standard 3x3/2 convolution with 32 filters, then 13
    `DepthwiseSeparableConv` blocks (depthwise 3x3 and pointwise 1x1, each
    with BatchNormalization and ReLU6), global average pooling, dropout and a
    1x1 convolution as classifier, as `keras.applications.MobileNet` builds
    it. With `alpha=1.0` and 1000 classes it has 4,253,864 parameters (those
    of `keras.applications.MobileNet(weights=None)`, BatchNormalization's
    statistics included) and about 569M multiply-adds at 224x224.

    Args:
        input_shape: `(rows, cols, channels)`, at least 32x32.
        classes: number of classes.
        include_top: whether to build the classifier.
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation of the "predictions" layer.
        alpha: width multiplier of every layer's filters (0.25, 0.5, 0.75, 1.0
            in the paper).
        depth_multiplier: depthwise channels per input channel of each
            block (1 in the paper).
        dropout: dropout rate before the classifier.
        stem_strides: stride of the first convolution (2 in the paper; 1
            for 32x32 images, see `mobilenet_cifar`).
        name: name of the model (default "mobilenet_{alpha}").

    Returns:
        A `keras.Model`.

    Example:

    >>> mobilenet().count_params()
    4253864
    """
    shape = validate_builder_args(
        input_shape, classes, include_top, pooling, classifier_activation, min_size=32
    )
    alpha = check_number(alpha, "alpha", low=0, low_open=True)
    dropout = check_rate(dropout, "dropout")
    if stem_strides not in (1, 2):
        raise ValueError(f"`stem_strides` must be 1 or 2; received stem_strides={stem_strides!r}.")
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(
        int(32 * alpha), 3, strides=stem_strides, padding="same", use_bias=False, name="conv1"
    )(inputs)
    x = keras.layers.BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.ReLU(6.0, name="conv1_relu")(x)
    for i, (filters, strides) in enumerate(MOBILENET_BLOCKS, start=1):
        x = DepthwiseSeparableConv(
            int(filters * alpha), strides=strides, depth_multiplier=depth_multiplier,
            name=f"conv_dw_{i}",
        )(x)
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="global_average_pooling")(x)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        x = keras.layers.Conv2D(classes, 1, padding="same", name="conv_preds")(x)
        x = keras.layers.Reshape((classes,), name="reshape")(x)
        x = keras.layers.Activation(classifier_activation, name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    return keras.Model(inputs, x, name=name or f"mobilenet_{alpha:g}")


def mobilenet_cifar(
    input_shape=(32, 32, 3),
    classes=10,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    alpha=0.5,
    depth_multiplier=1,
    dropout=1e-3,
    name=None,
):
    """Builds MobileNet for 32x32 images: stride 1 in the first convolution.

    `mobilenet` with `stem_strides=1`: the 13 depthwise separable blocks and
    their four stride-2 steps are kept, so a 32x32 image ends at 2x2 (a
    224x224 one ends at 7x7 after five halvings). The course's recorded
    CIFAR-10 model uses `alpha=0.5`.

    Args:
        input_shape: `(rows, cols, channels)`, at least 16x16.
        classes: number of classes.
        include_top: whether to build the classifier.
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation of the "predictions" layer.
        alpha: width multiplier.
        depth_multiplier: depthwise channels per input channel.
        dropout: dropout rate before the classifier.
        name: name of the model (default "mobilenet_cifar_{alpha}").

    Returns:
        A `keras.Model`.

    Example:

    >>> mobilenet_cifar().output_shape
    (None, 10)
    """
    validate_builder_args(input_shape, classes, include_top, pooling, classifier_activation, min_size=16)
    return mobilenet(
        input_shape, classes, include_top, pooling, classifier_activation, alpha,
        depth_multiplier, dropout, stem_strides=1, name=name or f"mobilenet_cifar_{alpha:g}",
    )
