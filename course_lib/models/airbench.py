"""airbench94's network (Keller Jordan, 2024): CIFAR-10 to 94 % in a few seconds of GPU time."""

import keras

from course_lib._checks import check_bool, check_number, check_positive_ints, check_rate
from course_lib.initializers import Dirac
from course_lib.layers.whitening import PatchWhitening
from course_lib.models._heads import pool_features
from course_lib.models._validation import validate_builder_args

__all__ = ["airbench94"]


def airbench94(
    input_shape=(32, 32, 3),
    classes=10,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    widths=(64, 256, 256),
    batchnorm_momentum=0.6,
    output_scale=1 / 9,
    dirac=True,
    residual=False,
    whitening=True,
    name="airbench94",
):
    """Builds the network of airbench94 (Jordan, arXiv 2404.00498), the legacy, non-Muon version.

    | layer | output at 32x32 input |
    | --- | --- |
    | `PatchWhitening` (2x2, frozen kernel, trainable bias), GELU | 31x31x24 |
    | group 1: conv 3x3, 2x2 max pool, BN, GELU, conv 3x3, BN, GELU | 15x15x64 |
    | group 2: the same | 7x7x256 |
    | group 3: the same | 3x3x256 |
    | 3x3 max pool, flatten, dense (no bias), times `output_scale` | 10 |

    Every convolution is 3x3 with "same" padding and no bias; every
    BatchNormalization has no scale (only a bias), epsilon 1e-12 and
    momentum 0.6 (PyTorch's 0.4: Keras counts the momentum of the old
    value). The output is scaled by 1/9 before the softmax, which with the
    recipe's label smoothing keeps the logits small. There is no residual
    connection: Dirac initialisation (`course_lib.initializers.Dirac`)
    starts each convolution as an identity on its first channels instead.
    With 10 classes the network has 1,971,352 trainable parameters
    (1,970,000 in the convolutions, BatchNormalization biases and classifier,
    24 in the whitening bias, no others), and 288 frozen whitening weights.

    The whitening layer must be fitted before training:
    `model.get_layer("whiten").adapt(standardised_images)`;
    `course_lib.speedrun.build_model` does it and puts the standardisation in
    front.

    Args:
        input_shape: `(rows, cols, channels)`, at least 25x25 (the last 3x3 pooling needs a 3x3 map).
        classes: number of classes.
        include_top: whether to build the classifier.
        pooling: None, "avg" or "max" global pooling when `include_top=False`.
        classifier_activation: activation of the "predictions" layer.
        widths: filters of the three groups (airbench94: 64, 256, 256).
        batchnorm_momentum: Keras momentum of the BatchNormalization layers.
        output_scale: factor of the logits before the activation.
        dirac: whether to initialise the convolutions with `Dirac`
            (False: PyTorch's default uniform initialisation only).
        whitening: whether the first layer is the frozen `PatchWhitening`
            (fitted before training) followed by GELU, as in airbench94;
            False for the first layer of airbench's ablation baseline: a
            trainable 2x2 convolution with as many filters (24 for RGB) and
            a bias, then BatchNormalization and GELU.
        residual: whether each group ends with a third convolution and BN
            whose output is added to the group's first activation (an
            identity shortcut around conv 2 and 3, then GELU), as the groups
            of airbench95 and airbench96: a residual network.
        name: name of the model.

    Returns:
        A `keras.Model` taking standardised images.

    Example:

    >>> model = airbench94()
    >>> sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    1971352
    """
    shape = validate_builder_args(input_shape, classes, include_top, pooling, classifier_activation, min_size=25)
    widths = check_positive_ints(widths, "widths", length=3)
    batchnorm_momentum = check_rate(batchnorm_momentum, "batchnorm_momentum")
    output_scale = check_number(output_scale, "output_scale", low=0, low_open=True)
    dirac = check_bool(dirac, "dirac")
    residual = check_bool(residual, "residual")
    whitening = check_bool(whitening, "whitening")
    base = keras.initializers.VarianceScaling(1 / 3, mode="fan_in", distribution="uniform")

    def conv_bn_gelu(x, filters, layer_name, pool):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False,
                                kernel_initializer=Dirac(base) if dirac else base, name=f"{layer_name}_conv")(x)
        if pool:
            x = keras.layers.MaxPooling2D(2, name=f"{layer_name}_pool")(x)
        x = keras.layers.BatchNormalization(momentum=batchnorm_momentum, epsilon=1e-12, scale=False,
                                            name=f"{layer_name}_norm")(x)
        return keras.layers.Activation("gelu", name=f"{layer_name}_gelu")(x)

    inputs = keras.Input(shape)
    if whitening:
        x = PatchWhitening(kernel_size=2, name="whiten")(inputs)
    else:
        x = keras.layers.Conv2D(2 * 2 * 2 * shape[-1], 2, kernel_initializer=base, name="stem_conv")(inputs)
        x = keras.layers.BatchNormalization(momentum=batchnorm_momentum, epsilon=1e-12, scale=False,
                                            name="stem_norm")(x)
    x = keras.layers.Activation("gelu", name="whiten_gelu" if whitening else "stem_gelu")(x)
    for group, filters in enumerate(widths, start=1):
        x = conv_bn_gelu(x, filters, f"group{group}_1", pool=True)
        if not residual:
            x = conv_bn_gelu(x, filters, f"group{group}_2", pool=False)
            continue
        shortcut = x
        x = conv_bn_gelu(x, filters, f"group{group}_2", pool=False)
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False,
                                kernel_initializer=Dirac(base) if dirac else base, name=f"group{group}_3_conv")(x)
        x = keras.layers.BatchNormalization(momentum=batchnorm_momentum, epsilon=1e-12, scale=False,
                                            name=f"group{group}_3_norm")(x)
        x = keras.layers.Add(name=f"group{group}_add")([x, shortcut])
        x = keras.layers.Activation("gelu", name=f"group{group}_3_gelu")(x)
    if include_top:
        x = keras.layers.MaxPooling2D(3, name="pool")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(classes, use_bias=False, kernel_initializer=base, name="logits")(x)
        x = keras.layers.Rescaling(output_scale, name="scale")(x)
        x = keras.layers.Activation(classifier_activation, name="predictions")(x)
    else:
        x = pool_features(x, pooling)
    return keras.Model(inputs, x, name=name)
