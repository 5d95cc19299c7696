"""VGG16 (Simonyan and Zisserman, 2015)."""

import keras

from course_lib.models._heads import dense_head
from course_lib.models._validation import validate_builder_args

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
    if isinstance(width, bool) or not isinstance(width, (int, float)) or width <= 0:
        raise ValueError(f"`width` must be a positive number; received width={width!r}.")
    inputs = keras.Input(shape)
    x = inputs
    for block, (filters, convs) in enumerate(VGG16_BLOCKS, start=1):
        for i in range(1, convs + 1):
            x = keras.layers.Conv2D(
                max(1, int(filters * width)), 3, padding="same", activation="relu",
                name=f"block{block}_conv{i}",
            )(x)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    x = dense_head(
        x, include_top, pooling, classes, classifier_activation, (dense_units,) * 2, dropout
    )
    return keras.Model(inputs, x, name=name)
