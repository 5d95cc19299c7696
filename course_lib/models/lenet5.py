"""LeNet-5, the convolutional network of LeCun et al. (1998), as a Keras model."""

import keras

from course_lib.models._validation import validate_builder_args

__all__ = ["PAPER_INPUT_SIZE", "MIN_INPUT_SIZE", "lenet5"]

# The paper's retina is 32x32: MNIST's 28x28 digits centred in a 2-pixel
# zero border. Smaller images get "same" padding in the first convolution,
# which adds exactly that border for a 5x5 kernel.
PAPER_INPUT_SIZE = 32
# Smallest image the two 5x5 convolutions and two 2x2 poolings can take:
# rows -> rows // 2 ("same" conv, pool) -> rows // 2 - 4 (valid conv) -> >= 2.
MIN_INPUT_SIZE = 12


def lenet5(
    input_shape=(28, 28, 1),
    classes=10,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    activation="relu",
    name="lenet5",
):
    """Instantiates the LeNet-5 architecture.

    Reference:
    - [Gradient-Based Learning Applied to Document Recognition](
      http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf)
      (LeCun, Bottou, Bengio and Haffner, Proceedings of the IEEE, 1998)

    The classic variant, layer by layer (names as in the paper):

    | layer         | Keras layer                 | output (28x28x1 input) |
    | ------------- | --------------------------- | ---------------------- |
    | `c1_conv`     | 6 filters 5x5               | 28x28x6                |
    | `s2_pool`     | 2x2 max pooling, stride 2   | 14x14x6                |
    | `c3_conv`     | 16 filters 5x5, valid       | 10x10x16               |
    | `s4_pool`     | 2x2 max pooling, stride 2   | 5x5x16                 |
    | `flatten`     | Flatten                     | 400                    |
    | `c5_dense`    | Dense 120                   | 120                    |
    | `f6_dense`    | Dense 84                    | 84                     |
    | `predictions` | Dense `classes`             | `classes`              |

    With `classes=10` it has 61,706 parameters on 28x28x1 and on 32x32x1
    inputs. The paper's input is 32x32 (a 28x28 digit in a 2-pixel border)
    and all its convolutions are "valid"; on images smaller than 32x32 the
    first convolution uses "same" padding instead, which for a 5x5 kernel
    adds that same 2-pixel zero border, so the rest of the network sees the
    paper's sizes.

    Two modern choices differ from the paper, because they train faster: the
    subsampling layers S2 and S4 are max poolings (the paper averages each
    2x2 window and then scales it by a trainable weight and bias), and the
    hidden layers use ReLU (the paper uses a scaled tanh; pass
    `activation="tanh"` for it). C5 is a 5x5 convolution over a 5x5 input in
    the paper, which is a dense layer on the flattened S4 output, as here;
    C3 connects every S2 map (the paper connects each C3 map to a chosen
    subset) and the output is a dense layer, not the paper's RBF units.

    The model takes images scaled as the caller chooses (e.g. pixel values
    divided by 255); it holds no preprocessing layer.

    Args:
        input_shape: shape of one image, channels last, `(rows, cols,
            channels)`, at least 12x12. Defaults to MNIST's `(28, 28, 1)`.
        classes: number of classes, a positive int. Used only when
            `include_top=True`.
        include_top: whether to include the classifier, the three dense
            layers (C5, F6 and the output layer). Without it the model is
            the convolutional feature extractor and ends at `s4_pool`.
        pooling: global pooling of the feature extractor's output when
            `include_top=False`:
            - `None`: the model outputs the 4D output of `s4_pool`;
            - `"avg"`: global average pooling, 2D output `(batch, 16)`;
            - `"max"`: global max pooling, 2D output `(batch, 16)`.
            Must be `None` when `include_top=True`.
        classifier_activation: activation of the output layer: a string, a
            callable, or `None` to return the logits. Ignored unless
            `include_top=True`.
        activation: activation of the hidden layers (C1, C3, C5, F6), e.g.
            `"relu"` (default) or `"tanh"` (the paper).
        name: the model's name.

    Returns:
        A `keras.Model` (functional).

    Raises:
        ValueError: `input_shape` is not `(rows, cols, channels)` of at least
            12x12, `classes` is not a positive int, `pooling` is not one of
            `None`, `"avg"`, `"max"`, or is set with `include_top=True`.

    Example:

    >>> model = lenet5()
    >>> model.count_params()
    61706
    >>> lenet5(include_top=False, pooling="avg").output_shape
    (None, 16)
    """
    input_shape = validate_builder_args(
        input_shape,
        classes,
        include_top,
        pooling,
        classifier_activation,
        min_size=MIN_INPUT_SIZE,
    )
    rows, cols, _ = input_shape
    first_padding = "same" if min(rows, cols) < PAPER_INPUT_SIZE else "valid"

    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Conv2D(
        6, 5, padding=first_padding, activation=activation, name="c1_conv"
    )(inputs)
    x = keras.layers.MaxPooling2D(2, name="s2_pool")(x)
    x = keras.layers.Conv2D(16, 5, activation=activation, name="c3_conv")(x)
    x = keras.layers.MaxPooling2D(2, name="s4_pool")(x)

    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(120, activation=activation, name="c5_dense")(x)
        x = keras.layers.Dense(84, activation=activation, name="f6_dense")(x)
        x = keras.layers.Dense(
            classes, activation=classifier_activation, name="predictions"
        )(x)
    elif pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)

    return keras.Model(inputs, x, name=name)
