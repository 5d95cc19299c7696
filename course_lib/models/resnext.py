"""ResNeXt (Xie et al., 2017)."""

import keras

from course_lib._checks import check_positive_int, check_positive_ints
from course_lib.layers import ResNeXtBlock
from course_lib.layers.resnet import BN_EPSILON
from course_lib.models._heads import global_pool_head
from course_lib.models._validation import validate_builder_args
from course_lib.models.resnet import resnet_stem

__all__ = ["resnext", "resnext50_32x4d", "resnext_cifar"]


def resnext(
    blocks=(3, 4, 6, 3),
    cardinality=32,
    bottleneck_width=4,
    input_shape=(224, 224, 3),
    classes=1000,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    name=None,
):
    """Builds a ResNeXt: a ResNet whose blocks aggregate `cardinality` paths.

    The ResNet-50 skeleton (stem, four stages) with `ResNeXtBlock`s: in
    stage s (0-3), the grouped 3x3 convolution is
    `cardinality * bottleneck_width * 2**s` wide and the block outputs twice
    that. Conventions of torchvision's `resnext50_32x4d`: no convolution
    biases, stride on the grouped 3x3 convolution, projection shortcuts with
    BatchNormalization.

    Args:
        blocks: blocks per stage ((3, 4, 6, 3) for ResNeXt-50).
        cardinality: number of paths (groups) per block, C.
        bottleneck_width: width of one path in the first stage, d.
        input_shape: `(rows, cols, channels)`, at least 32x32.
        classes: number of classes.
        include_top: whether to build the classifier.
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation of the "predictions" layer.
        name: name of the model.

    Returns:
        A `keras.Model`.
    """
    shape = validate_builder_args(
        input_shape, classes, include_top, pooling, classifier_activation, min_size=32
    )
    blocks = check_positive_ints(blocks, "blocks")
    cardinality = check_positive_int(cardinality, "cardinality")
    bottleneck_width = check_positive_int(bottleneck_width, "bottleneck_width")
    inputs = keras.Input(shape)
    x = resnet_stem(inputs, 64, use_bias=False)
    for stage, count in enumerate(blocks):
        filters = cardinality * bottleneck_width * 2**stage
        for i in range(1, count + 1):
            strides = 2 if (i == 1 and stage > 0) else 1
            x = ResNeXtBlock(
                filters, cardinality=cardinality, strides=strides, name=f"conv{stage + 2}_block{i}"
            )(x)
    x = global_pool_head(x, include_top, pooling, classes, classifier_activation)
    return keras.Model(inputs, x, name=name or f"resnext_{cardinality}x{bottleneck_width}d")


def resnext50_32x4d(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
                    classifier_activation="softmax", name="resnext50_32x4d"):
    """Builds ResNeXt-50 (32x4d): 25,028,904 trainable parameters at 1000 classes.

    The count equals torchvision's `resnext50_32x4d` (which stores no
    BatchNormalization statistics among its parameters); see `resnext`.
    """
    return resnext((3, 4, 6, 3), 32, 4, input_shape, classes, include_top, pooling,
                   classifier_activation, name=name)


def resnext_cifar(
    blocks=(2, 2, 2),
    cardinality=8,
    bottleneck_width=4,
    input_shape=(32, 32, 3),
    classes=10,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    stem_filters=64,
    name=None,
):
    """Builds a ResNeXt for 32x32 images, laid out as the paper's CIFAR networks.

    As ResNeXt-29 (Xie et al., 2017, section 5.3): a 3x3 convolution with
    `stem_filters` filters, then three stages of `ResNeXtBlock`s at 32x32,
    16x16 and 8x8 (the first block of stages 2 and 3 halves the
    resolution), global average pooling and the classifier. In stage s
    (0-2) the grouped 3x3 convolution is `cardinality * bottleneck_width *
    2**s` wide and the block outputs twice that. ResNeXt-29 has three blocks
    per stage and 8x64d paths (34.4M parameters); the default here, two
    blocks per stage and 8x4d, is small enough to train on a CPU.

    Args:
        blocks: blocks per stage (three stages).
        cardinality: number of paths (groups) per block, C.
        bottleneck_width: width of one path in the first stage, d.
        input_shape: `(rows, cols, channels)`, at least 8x8.
        classes: number of classes.
        include_top: whether to build the classifier.
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation of the "predictions" layer.
        stem_filters: filters of the first convolution (64 in the paper).
        name: name of the model (default "resnext_cifar_{C}x{d}d").

    Returns:
        A `keras.Model`.

    Example:

    >>> resnext_cifar().output_shape
    (None, 10)
    """
    shape = validate_builder_args(
        input_shape, classes, include_top, pooling, classifier_activation, min_size=8
    )
    blocks = check_positive_ints(blocks, "blocks", length=3)
    cardinality = check_positive_int(cardinality, "cardinality")
    bottleneck_width = check_positive_int(bottleneck_width, "bottleneck_width")
    stem_filters = check_positive_int(stem_filters, "stem_filters")
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(stem_filters, 3, padding="same", use_bias=False, name="conv1_conv")(inputs)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name="conv1_bn")(x)
    x = keras.layers.ReLU(name="conv1_relu")(x)
    for stage, count in enumerate(blocks):
        filters = cardinality * bottleneck_width * 2**stage
        for i in range(1, count + 1):
            strides = 2 if (i == 1 and stage > 0) else 1
            x = ResNeXtBlock(
                filters, cardinality=cardinality, strides=strides, name=f"stage{stage + 1}_block{i}"
            )(x)
    x = global_pool_head(x, include_top, pooling, classes, classifier_activation)
    return keras.Model(inputs, x, name=name or f"resnext_cifar_{cardinality}x{bottleneck_width}d")
