"""ResNet (He et al., 2016) and Wide ResNet (Zagoruyko and Komodakis, 2016)."""

import keras

from course_lib._checks import check_depth_6n, check_number, check_positive_int
from course_lib.layers import BottleneckBlock, ResidualBlock
from course_lib.layers.resnet import BN_EPSILON
from course_lib.models._heads import global_pool_head
from course_lib.models._validation import validate_builder_args

__all__ = [
    "RESNET_DEPTHS",
    "STAGE_FILTERS",
    "resnet_stem",
    "resnet",
    "resnet_cifar",
    "resnet9_cifar",
    "resnet50",
    "wide_resnet",
]

# Blocks per stage, and whether the stages use bottleneck blocks.
RESNET_DEPTHS = {
    18: ((2, 2, 2, 2), False),
    34: ((3, 4, 6, 3), False),
    50: ((3, 4, 6, 3), True),
    101: ((3, 4, 23, 3), True),
    152: ((3, 8, 36, 3), True),
}
STAGE_FILTERS = (64, 128, 256, 512)


def resnet_stem(inputs, filters=64, use_bias=True):
    """The ImageNet stem: 7x7/2 convolution, BN, ReLU, 3x3/2 max pooling."""
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = keras.layers.Conv2D(filters, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name="conv1_bn")(x)
    x = keras.layers.ReLU(name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def resnet(
    depth=50,
    input_shape=(224, 224, 3),
    classes=1000,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    width=1.0,
    stride_on="1x1",
    use_bias=None,
    name=None,
):
    """Builds a ResNet of depth 18, 34, 50, 101 or 152 (the ImageNet layout).

    A stem (7x7/2 convolution, 3x3/2 max pooling), four stages of residual
    blocks with 64, 128, 256 and 512 filters (the first block of stages 2-4
    halves the resolution, with a projection shortcut), global average
    pooling and the classifier. Depths 18 and 34 use `ResidualBlock` (two 3x3
    convolutions), 50, 101 and 152 use `BottleneckBlock` (1x1, 3x3, 1x1,
    output depth 4x).

    Conventions, which decide the parameter counts (1000 classes):
    - depths 50, 101, 152 follow `keras.applications.ResNet50/101/152`:
      biases on every convolution, stride on the first 1x1 convolution;
      ResNet-50 has 25,636,712 parameters, like `keras.applications.ResNet50`.
    - depths 18 and 34 follow torchvision (Keras has no such application):
      no biases before BatchNormalization; ResNet-18 has 11,689,512
      trainable parameters (torchvision stores no BN statistics among them).

    Args:
        depth: one of 18, 34, 50, 101, 152.
        input_shape: `(rows, cols, channels)`, at least 32x32.
        classes: number of classes.
        include_top: whether to build the classifier.
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation of the "predictions" layer.
        width: multiplier of every stage's filters (1.0: the paper's).
        stride_on: `"1x1"` (Keras, the paper) or `"3x3"` (torchvision's
            "v1.5") for the bottleneck blocks.
        use_bias: biases on the convolutions; None for the convention above.
        name: name of the model (default "resnet{depth}").

    Returns:
        A `keras.Model`.

    Example:

    >>> resnet(50).count_params()
    25636712
    """
    if depth not in RESNET_DEPTHS:
        raise ValueError(
            f"`depth` must be one of {sorted(RESNET_DEPTHS)}; received depth={depth!r}."
        )
    shape = validate_builder_args(
        input_shape, classes, include_top, pooling, classifier_activation, min_size=32
    )
    width = check_number(width, "width", low=0, low_open=True)
    if stride_on not in ("1x1", "3x3"):
        raise ValueError(f"`stride_on` must be '1x1' or '3x3'; received stride_on={stride_on!r}.")
    blocks, bottleneck = RESNET_DEPTHS[depth]
    if use_bias is None:
        use_bias = bottleneck
    inputs = keras.Input(shape)
    x = resnet_stem(inputs, max(1, int(64 * width)), use_bias)
    for stage, (count, filters) in enumerate(zip(blocks, STAGE_FILTERS), start=2):
        filters = max(1, int(filters * width))
        for i in range(1, count + 1):
            strides = 2 if (i == 1 and stage > 2) else 1
            block_name = f"conv{stage}_block{i}"
            if bottleneck:
                x = BottleneckBlock(
                    filters, strides=strides, stride_on=stride_on, use_bias=use_bias, name=block_name
                )(x)
            else:
                x = ResidualBlock(filters, strides=strides, use_bias=use_bias, name=block_name)(x)
    x = global_pool_head(x, include_top, pooling, classes, classifier_activation)
    return keras.Model(inputs, x, name=name or f"resnet{depth}")


def resnet_cifar(
    depth=20,
    input_shape=(32, 32, 3),
    classes=10,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    filters=16,
    name=None,
):
    """Builds the CIFAR-10 ResNet of He et al. (2016, section 4.2): 6n + 2 layers.

    A 3x3 convolution with `filters` (16) filters, BN and ReLU, then three
    stages of n `ResidualBlock`s with 16, 32 and 64 filters at 32x32, 16x16
    and 8x8 (the first block of stages 2 and 3 halves the resolution), global
    average pooling and the classifier: ResNet-20, -32, -44, -56 and -110
    for n = 3, 5, 7, 9, 18. The paper's CIFAR networks use parameter-free
    shortcuts (option A: identity with zero-padded channels) where the shape
    changes; `ResidualBlock` uses a 1x1 projection (option B), which adds two
    small convolutions: ResNet-20 has 272,474 trainable parameters here
    against the paper's 0.27M.

    Args:
        depth: 6n + 2 with n >= 1 (20, 32, 44, 56, 110, ...).
        input_shape: `(rows, cols, channels)`, at least 8x8.
        classes: number of classes.
        include_top: whether to build the classifier.
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation of the "predictions" layer.
        filters: filters of the first stage (16 in the paper); the later
            stages have 2x and 4x as many.
        name: name of the model (default "resnet{depth}").

    Returns:
        A `keras.Model`.

    Example:

    >>> model = resnet_cifar(20)
    >>> sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    272474
    """
    per_stage = check_depth_6n(depth, 2, (20, 32, 44, 56, 110))
    filters = check_positive_int(filters, "filters")
    shape = validate_builder_args(
        input_shape, classes, include_top, pooling, classifier_activation, min_size=8
    )
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name="conv1_conv")(inputs)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name="conv1_bn")(x)
    x = keras.layers.ReLU(name="conv1_relu")(x)
    for stage in range(1, 4):
        for i in range(1, per_stage + 1):
            strides = 2 if (i == 1 and stage > 1) else 1
            x = ResidualBlock(
                filters * 2 ** (stage - 1), strides=strides, name=f"stage{stage}_block{i}"
            )(x)
    x = global_pool_head(x, include_top, pooling, classes, classifier_activation)
    return keras.Model(inputs, x, name=name or f"resnet{depth}")


def resnet9_cifar(
    input_shape=(32, 32, 3),
    classes=10,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    width=1.0,
    name="resnet9",
):
    """Builds a ResNet-9 for 32x32 images, in the layout of Page's DAWNBench network (2018).

    Few layers, wide, and downsampled early: a 3x3 convolution (64 filters
    at width 1.0), then three stages, each a 3x3 convolution (128, 256, 512
    filters) with BN and ReLU followed by 2x2 max pooling; stages 1 and 3 end
    with a `ResidualBlock` (two 3x3 convolutions and an identity shortcut).
    Global average pooling and the classifier close it: 8 convolutions and a
    dense layer. Most of its multiply-adds run at 16x16 and 8x8, on wide
    layers that CPUs and GPUs compute efficiently; with a tuned recipe, David
    Page trained it to 94 % on CIFAR-10 in 24 epochs (DAWNBench, 2018).

    Args:
        input_shape: `(rows, cols, channels)`, at least 8x8.
        classes: number of classes.
        include_top: whether to build the classifier.
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation of the "predictions" layer.
        width: multiplier of every layer's filters (the course's recorded
            model: 0.5).
        name: name of the model.

    Returns:
        A `keras.Model`.

    Example:

    >>> resnet9_cifar(width=0.5).output_shape
    (None, 10)
    """
    shape = validate_builder_args(
        input_shape, classes, include_top, pooling, classifier_activation, min_size=8
    )
    width = check_number(width, "width", low=0, low_open=True)

    def conv_bn_relu(x, filters, layer_name):
        x = keras.layers.Conv2D(max(1, int(filters * width)), 3, padding="same", use_bias=False,
                                name=f"{layer_name}_conv")(x)
        x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{layer_name}_bn")(x)
        return keras.layers.ReLU(name=f"{layer_name}_relu")(x)

    inputs = keras.Input(shape)
    x = conv_bn_relu(inputs, 64, "prep")
    for stage, (filters, residual) in enumerate(((128, True), (256, False), (512, True)), start=1):
        x = conv_bn_relu(x, filters, f"stage{stage}")
        x = keras.layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
        if residual:
            x = ResidualBlock(max(1, int(filters * width)), name=f"stage{stage}_block")(x)
    x = global_pool_head(x, include_top, pooling, classes, classifier_activation)
    return keras.Model(inputs, x, name=name)


def resnet50(input_shape=(224, 224, 3), classes=1000, include_top=True, pooling=None,
             classifier_activation="softmax", **kwargs):
    """Builds ResNet-50, `resnet(50, ...)`: see `resnet`."""
    return resnet(50, input_shape, classes, include_top, pooling, classifier_activation, **kwargs)


def wide_resnet(
    depth=28,
    width=10,
    input_shape=(32, 32, 3),
    classes=10,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    dropout_rate=0.0,
    name=None,
):
    """Builds a Wide ResNet WRN-`depth`-`width` for CIFAR-sized images.

    A 3x3 convolution with 16 filters, three groups of `(depth - 4) / 6`
    pre-activation residual blocks with `16 * width`, `32 * width` and
    `64 * width` filters (groups 2 and 3 halve the resolution), then BN, ReLU,
    global average pooling and the classifier. Widening (`width` = k) instead
    of deepening: WRN-28-10 matches much deeper thin ResNets and trains
    faster on GPUs. No convolution has a bias. WRN-28-10 with 10 classes has
    36,479,194 trainable parameters (the paper's 36.5M; BatchNormalization's
    moving statistics are not trainable).

    Args:
        depth: total depth, with `(depth - 4)` divisible by 6 (16, 22, 28, 40).
        width: widening factor k (1 gives a thin pre-activation ResNet).
        input_shape: `(rows, cols, channels)`, at least 8x8.
        classes: number of classes.
        include_top: whether to build the classifier.
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation of the "predictions" layer.
        dropout_rate: dropout between the two convolutions of each block (the
            paper uses 0.3 on CIFAR).
        name: name of the model (default "wrn_{depth}_{width}").

    Returns:
        A `keras.Model`.

    Example:

    >>> model = wide_resnet(28, 10)
    >>> sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    36479194
    """
    per_group = check_depth_6n(depth, 4, (10, 16, 22, 28, 40))
    width = check_positive_int(width, "width")
    shape = validate_builder_args(
        input_shape, classes, include_top, pooling, classifier_activation, min_size=8
    )
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv1")(inputs)
    for group, filters in enumerate((16 * width, 32 * width, 64 * width), start=1):
        for i in range(1, per_group + 1):
            strides = 2 if (i == 1 and group > 1) else 1
            x = ResidualBlock(
                filters, strides=strides, preactivation=True, dropout_rate=dropout_rate,
                name=f"group{group}_block{i}",
            )(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name="final_bn")(x)
    x = keras.layers.ReLU(name="final_relu")(x)
    x = global_pool_head(x, include_top, pooling, classes, classifier_activation)
    return keras.Model(inputs, x, name=name or f"wrn_{depth}_{width}")
