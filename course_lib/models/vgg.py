"""VGG16 (Simonyan and Zisserman, 2015)."""

import keras

from course_lib._checks import check_bool, check_number, check_positive_int, check_rate
from course_lib.layers._chain import conv_unit
from course_lib.models._heads import dense_head
from course_lib.models._validation import validate_builder_args

__all__ = ["VGG16_BLOCKS", "vgg16", "vgg16_cifar"]

# Filters and number of 3x3 convolutions of VGG16's five blocks.
VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def vgg16(
    input_shape=(224, 224, 3),
    classes=1000,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    width=1.0,
    dense_units=4096,
    dropout=0.0,
    batch_norm=False,
    name="vgg16",
):
    """Builds VGG16: thirteen 3x3 convolutions in five blocks, three dense layers.

    Every convolution is 3x3 with stride 1 and "same" padding, followed by a
    ReLU; each block ends with 2x2 max pooling; the head is two dense layers
    of 4096 units and the classifier. The layer names, shapes and the
    138,357,544 parameters (weights and biases, 1000 classes) equal
    `keras.applications.VGG16(weights=None)`'s.

    Args:
        input_shape: `(rows, cols, channels)`, at least 32x32.
        classes: number of classes.
        include_top: whether to build the dense layers ("fc1", "fc2",
            "predictions").
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation of the "predictions" layer.
        width: multiplier of the filters, to train small VGG-style networks
            (1.0: VGG16).
        dense_units: units of fc1 and fc2 (4096 in VGG16).
        dropout: dropout after fc1 and fc2 (the paper used 0.5 in training;
            Keras's application has none).
        batch_norm: whether to put BatchNormalization between every
            convolution and its ReLU (torchvision's `vgg16_bn`; VGG predates
            BatchNormalization).
        name: name of the model.

    Returns:
        A `keras.Model`.

    Example:

    >>> vgg16().count_params()
    138357544
    """
    shape = validate_builder_args(
        input_shape, classes, include_top, pooling, classifier_activation, min_size=32
    )
    width = check_number(width, "width", low=0, low_open=True)
    dense_units = check_positive_int(dense_units, "dense_units")
    dropout = check_rate(dropout, "dropout")
    batch_norm = check_bool(batch_norm, "batch_norm")
    inputs = keras.Input(shape)
    x = inputs
    for block, (filters, convs) in enumerate(VGG16_BLOCKS, start=1):
        for i in range(1, convs + 1):
            for layer in conv_unit(
                max(1, int(filters * width)), 3, f"block{block}_conv{i}",
                batch_norm=batch_norm, padding="same",
            ):
                x = layer(x)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    x = dense_head(
        x, include_top, pooling, classes, classifier_activation, (dense_units,) * 2, dropout
    )
    return keras.Model(inputs, x, name=name)


def vgg16_cifar(
    input_shape=(32, 32, 3),
    classes=10,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    width=0.5,
    dense_units=256,
    dropout=0.5,
    batch_norm=True,
    name="vgg16_cifar",
):
    """Builds VGG16 for 32x32 images: VGG16's thirteen convolutions, a small head.

    `vgg16` with CIFAR-10 settings: the five blocks of 3x3 convolutions are
    kept (after the fifth 2x2 pooling a 32x32 image is 1x1), the filters are
    scaled by `width` (0.5: 32 to 256), the two dense layers have
    `dense_units` units with dropout, and every convolution is followed by
    BatchNormalization (torchvision's `vgg16_bn`), which lets the 13-layer
    stack train from a random start with one learning rate; the VGG authors
    instead initialised their deep configurations from a trained shallower one.

    Args:
        input_shape: `(rows, cols, channels)`, at least 32x32.
        classes: number of classes.
        include_top: whether to build the dense layers.
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation of the "predictions" layer.
        width: multiplier of the filters.
        dense_units: units of fc1 and fc2.
        dropout: dropout after fc1 and fc2.
        batch_norm: whether to put BatchNormalization after each convolution.
        name: name of the model.

    Returns:
        A `keras.Model`.

    Example:

    >>> vgg16_cifar().output_shape
    (None, 10)
    """
    return vgg16(input_shape, classes, include_top, pooling, classifier_activation, width,
                 dense_units, dropout, batch_norm, name)
