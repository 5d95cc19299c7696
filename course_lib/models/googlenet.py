"""GoogLeNet (Szegedy et al., 2015), Inception v1."""

import keras

from course_lib._checks import check_bool, check_number, check_rate
from course_lib.layers import InceptionModule, LocalResponseNormalization
from course_lib.layers._chain import conv_unit
from course_lib.models._heads import global_pool_head
from course_lib.models._validation import validate_builder_args

__all__ = ["GOOGLENET_LAYOUT", "AUX_AFTER", "AUX_LOSS_WEIGHTS", "googlenet", "googlenet_cifar"]

# (name, filters_1x1, 3x3_reduce, 3x3, 5x5_reduce, 5x5, pool_proj), Table 1 of the paper;
# "pool" marks a 3x3/2 max pooling.
GOOGLENET_LAYOUT = (
    ("inception_3a", 64, 96, 128, 16, 32, 32),
    ("inception_3b", 128, 128, 192, 32, 96, 64),
    "pool",
    ("inception_4a", 192, 96, 208, 16, 48, 64),
    ("inception_4b", 160, 112, 224, 24, 64, 64),
    ("inception_4c", 128, 128, 256, 24, 64, 64),
    ("inception_4d", 112, 144, 288, 32, 64, 64),
    ("inception_4e", 256, 160, 320, 32, 128, 128),
    "pool",
    ("inception_5a", 256, 160, 320, 32, 128, 128),
    ("inception_5b", 384, 192, 384, 48, 128, 128),
)
# The auxiliary classifiers sit on these modules' outputs.
AUX_AFTER = ("inception_4a", "inception_4d")
# The paper weights each auxiliary loss by 0.3 in training.
AUX_LOSS_WEIGHTS = {"predictions": 1.0, "aux1_predictions": 0.3, "aux2_predictions": 0.3}


def _aux_head(x, index, classes, classifier_activation, width):
    """5x5/3 average pooling, 1x1 conv 128, dense 1024, dropout 0.7, classifier."""
    size = min(5, x.shape[1], x.shape[2])  # small inputs: pool what there is
    x = keras.layers.AveragePooling2D(size, strides=3, name=f"aux{index}_pool")(x)
    x = keras.layers.Conv2D(
        max(1, int(128 * width)), 1, activation="relu", name=f"aux{index}_conv"
    )(x)
    x = keras.layers.Flatten(name=f"aux{index}_flatten")(x)
    x = keras.layers.Dense(max(1, int(1024 * width)), activation="relu", name=f"aux{index}_fc")(x)
    x = keras.layers.Dropout(0.7, name=f"aux{index}_dropout")(x)
    return keras.layers.Dense(
        classes, activation=classifier_activation, name=f"aux{index}_predictions"
    )(x)


def _modules_and_head(inputs, x, n, width, batch_norm, include_top, pooling, classes,
                      classifier_activation, dropout, aux_heads, name):
    """The nine Inception modules of Table 1 and the head, shared by both builders."""
    aux_outputs = []
    pools = 2
    for entry in GOOGLENET_LAYOUT:
        if entry == "pool":
            pools += 1
            x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{pools}")(x)
            continue
        module_name, *filters = entry
        x = InceptionModule(*(n(f) for f in filters), batch_norm=batch_norm, name=module_name)(x)
        if aux_heads and module_name in AUX_AFTER:
            aux_outputs.append(
                _aux_head(x, len(aux_outputs) + 1, classes, classifier_activation, width)
            )
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        x = keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = global_pool_head(x, False, pooling, classes, classifier_activation)
    inference = keras.Model(inputs, x, name=name)
    if not aux_heads:
        return inference
    training = keras.Model(inputs, [x, *aux_outputs], name=f"{name}_training")
    return training, inference


def googlenet(
    input_shape=(224, 224, 3),
    classes=1000,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    aux_heads=False,
    local_response_norm=True,
    dropout=0.4,
    width=1.0,
    name="googlenet",
):
    """Builds GoogLeNet: a stem and nine Inception modules (Table 1 of the paper).

    Stem: 7x7/2 convolution (64), 3x3/2 max pooling, LRN, 1x1 (64) and 3x3
    (192) convolutions, LRN, 3x3/2 max pooling; then modules 3a-3b, pooling,
    4a-4e, pooling, 5a-5b, global average pooling, dropout 0.4 and the
    classifier. Every convolution has a ReLU and "same" padding.

    Parameters (1000 classes, no auxiliary heads): 6,998,552 weights and
    biases, against the paper's "about 6.8M" (the sum of its Table 1). The
    difference is the biases (7,544) and Table 1's own rounding and small
    inconsistencies: e.g. its conv1 row says 2.7K, while a 7x7 convolution
    from 3 to 64 channels has 9,408 weights; `tests/lib/test_models.py`
    compares every row.

    Args:
        input_shape: `(rows, cols, channels)`, at least 32x32.
        classes: number of classes.
        include_top: whether to build the classifier.
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation of the classifiers.
        aux_heads: whether to also return a training model with the two
            auxiliary classifiers on 4a and 4d (requires `include_top`).
        local_response_norm: whether to add the stem's two LRN layers.
        dropout: dropout rate before the classifier.
        width: multiplier of every module's filters (1.0: the paper's).
        name: name of the model.

    Returns:
        A `keras.Model`; with `aux_heads=True` a pair
        `(training_model, inference_model)` sharing their layers: the training
        model has three outputs ("predictions", "aux1_predictions",
        "aux2_predictions"; compile it with
        `loss_weights=AUX_LOSS_WEIGHTS`), the inference model only the first.

    Example:

    >>> googlenet().count_params()
    6998552
    """
    shape = validate_builder_args(
        input_shape, classes, include_top, pooling, classifier_activation, min_size=32
    )
    aux_heads = check_bool(aux_heads, "aux_heads")
    local_response_norm = check_bool(local_response_norm, "local_response_norm")
    width = check_number(width, "width", low=0, low_open=True)
    dropout = check_rate(dropout, "dropout")
    if aux_heads and not include_top:
        raise ValueError("`aux_heads=True` needs `include_top=True`: the heads are classifiers.")

    def n(filters):
        return max(1, int(filters * width)) if filters else 0

    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(n(64), 7, strides=2, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    if local_response_norm:
        x = LocalResponseNormalization(name="lrn1")(x)
    x = keras.layers.Conv2D(n(64), 1, activation="relu", name="conv2_reduce")(x)
    x = keras.layers.Conv2D(n(192), 3, padding="same", activation="relu", name="conv2")(x)
    if local_response_norm:
        x = LocalResponseNormalization(name="lrn2")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
    return _modules_and_head(
        inputs, x, n, width, False, include_top, pooling, classes, classifier_activation, dropout,
        aux_heads, name,
    )


def googlenet_cifar(
    input_shape=(32, 32, 3),
    classes=10,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    aux_heads=False,
    batch_norm=True,
    dropout=0.4,
    width=0.5,
    name="googlenet_cifar",
):
    """Builds GoogLeNet for 32x32 images: the nine Inception modules of Table 1.

    The ImageNet stem shrinks 224x224 to 28x28 (8x) before module 3a; at
    32x32 that would leave 4x4. This variant's stem is two 3x3 convolutions
    (64 and 192 filters at width 1.0) and one 3x3/2 max pooling, so that
    modules 3a-3b run at 16x16, 4a-4e at 8x8 and 5a-5b at 4x4; then global
    average pooling, dropout and the classifier, as in the paper. With
    `batch_norm=True` (the default) every convolution is followed by
    BatchNormalization: BN-Inception (Ioffe and Szegedy, 2015), the network
    on which BatchNormalization was introduced; it replaces the LRN layers.
    Filters are scaled by `width` (the course's recorded model: 0.5).

    Args:
        input_shape: `(rows, cols, channels)`, at least 8x8.
        classes: number of classes.
        include_top: whether to build the classifier.
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation of the classifiers.
        aux_heads: whether to also return a training model with the two
            auxiliary classifiers on 4a and 4d (see `googlenet`).
        batch_norm: whether to put BatchNormalization after every convolution.
        dropout: dropout rate before the classifier.
        width: multiplier of every module's filters.
        name: name of the model.

    Returns:
        A `keras.Model`, or with `aux_heads=True` the pair
        `(training_model, inference_model)` as `googlenet` returns it.

    Example:

    >>> googlenet_cifar().output_shape
    (None, 10)
    """
    shape = validate_builder_args(
        input_shape, classes, include_top, pooling, classifier_activation, min_size=8
    )
    aux_heads = check_bool(aux_heads, "aux_heads")
    batch_norm = check_bool(batch_norm, "batch_norm")
    dropout = check_rate(dropout, "dropout")
    if aux_heads and not include_top:
        raise ValueError("`aux_heads=True` needs `include_top=True`: the heads are classifiers.")
    width = check_number(width, "width", low=0, low_open=True)

    def n(filters):
        return max(1, int(filters * width)) if filters else 0

    inputs = keras.Input(shape)
    x = inputs
    for filters, layer_name in ((64, "conv1"), (192, "conv2")):
        for layer in conv_unit(n(filters), 3, layer_name, batch_norm=batch_norm, padding="same"):
            x = layer(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
    return _modules_and_head(
        inputs, x, n, width, batch_norm, include_top, pooling, classes, classifier_activation,
        dropout, aux_heads, name,
    )
