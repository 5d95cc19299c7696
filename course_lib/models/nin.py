"""Network in Network (Lin, Chen and Yan, 2014), CIFAR-10 layout."""

import keras

from course_lib._checks import check_bool, check_number, check_rate
from course_lib.layers import MLPConv
from course_lib.models._heads import pool_features
from course_lib.models._validation import validate_builder_args

__all__ = ["nin"]


def nin(
    input_shape=(32, 32, 3),
    classes=10,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    width=1.0,
    dropout=0.5,
    batch_norm=False,
    name="nin",
):
    """Builds Network in Network: three MLPConv blocks and global average pooling.

    The layout of the NiN Caffe model-zoo network for CIFAR-10:

    | block | convolutions | then |
    | --- | --- | --- |
    | 1 | 5x5 192, 1x1 160, 1x1 96 | 3x3/2 max pool, dropout |
    | 2 | 5x5 192, 1x1 192, 1x1 192 | 3x3/2 average pool, dropout |
    | 3 | 3x3 192, 1x1 192, 1x1 `classes` | global average pooling, softmax |

    There is no fully connected layer: the last 1x1 convolution makes one
    feature map per class, and global average pooling turns each map into
    that class's score. With 10 classes the network has 966,986 parameters.

    Args:
        input_shape: `(rows, cols, channels)`, at least 8x8.
        classes: number of classes (feature maps of the last convolution).
        include_top: whether to build the class maps and the global average
            pooling; without, the model ends with block 3's 192 maps.
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation applied to the pooled class scores.
        width: multiplier of the hidden filters (1.0: the paper's 192-160-96).
        dropout: dropout rate after blocks 1 and 2.
        batch_norm: whether to put BatchNormalization between every
            convolution and its ReLU (the paper predates it; the course's
            recorded CIFAR-10 model uses it, with `width=0.5`).
        name: name of the model.

    Returns:
        A `keras.Model`.

    Example:

    >>> nin().count_params()
    966986
    """
    shape = validate_builder_args(
        input_shape, classes, include_top, pooling, classifier_activation, min_size=8
    )
    width = check_number(width, "width", low=0, low_open=True)
    dropout = check_rate(dropout, "dropout")
    batch_norm = check_bool(batch_norm, "batch_norm")

    def n(filters):
        return max(1, int(filters * width))

    inputs = keras.Input(shape)
    x = MLPConv(n(192), 5, mlp_filters=(n(160), n(96)), batch_norm=batch_norm, name="block1")(inputs)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    x = keras.layers.Dropout(dropout, name="dropout1")(x)
    x = MLPConv(n(192), 5, mlp_filters=(n(192), n(192)), batch_norm=batch_norm, name="block2")(x)
    x = keras.layers.AveragePooling2D(3, strides=2, padding="same", name="pool2")(x)
    x = keras.layers.Dropout(dropout, name="dropout2")(x)
    if include_top:
        # Block 3 ends with one ReLU feature map per class (as in Caffe).
        x = MLPConv(n(192), 3, mlp_filters=(n(192), classes), batch_norm=batch_norm, name="block3")(x)
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Activation(classifier_activation, name="predictions")(x)
    else:
        x = MLPConv(n(192), 3, mlp_filters=(n(192),), batch_norm=batch_norm, name="block3")(x)
        x = pool_features(x, pooling)
    return keras.Model(inputs, x, name=name)
