"""Dense blocks and transition layers of DenseNet (Huang et al., 2017)."""

import keras

from course_lib._checks import check_image_input, check_number, check_positive_int, check_rate
from course_lib.layers._chain import apply_chain, build_chain

__all__ = ["BN_EPSILON", "DenseBlock", "TransitionLayer"]

# keras.applications' DenseNets use this BatchNormalization epsilon.
BN_EPSILON = 1.001e-5


def _bn_relu_conv(filters, kernel_size, index, name):
    return [
        keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}{index}_bn"),
        keras.layers.ReLU(),
        keras.layers.Conv2D(
            filters, kernel_size, padding="same", use_bias=False, name=f"{name}{index}_conv"
        ),
    ]


@keras.saving.register_keras_serializable(package="course_lib")
class DenseBlock(keras.layers.Layer):
    """A dense block: every layer sees the concatenation of all earlier outputs.

    Layer `i` maps the concatenation `[x, y_1, ..., y_{i-1}]` to `growth_rate`
    new feature maps `y_i` with BN-ReLU-conv3x3 (DenseNet-B: preceded by a
    BN-ReLU-conv1x1 bottleneck to `4 * growth_rate` maps). The block returns
    `[x, y_1, ..., y_L]`: its depth grows by `growth_rate` per layer.

    Args:
        num_layers: number of layers `L` in the block.
        growth_rate: feature maps each layer adds (`k` in the paper).
        bottleneck: whether each layer starts with the 1x1 bottleneck.
        dropout_rate: dropout after each convolution (0 for none).
        **kwargs: base layer keyword arguments.

    Input shape:
        4-D tensor `(batch, rows, cols, channels)`.

    Output shape:
        `(batch, rows, cols, channels + num_layers * growth_rate)`.

    Example:

    >>> block = DenseBlock(6, growth_rate=32)
    >>> tuple(block(keras.ops.zeros((1, 56, 56, 64))).shape)
    (1, 56, 56, 256)
    """

    def __init__(self, num_layers, growth_rate, bottleneck=True, dropout_rate=0.0, **kwargs):
        super().__init__(**kwargs)
        num_layers = check_positive_int(num_layers, "num_layers")
        growth_rate = check_positive_int(growth_rate, "growth_rate")
        dropout_rate = check_rate(dropout_rate, "dropout_rate")
        self.num_layers = num_layers
        self.growth_rate = growth_rate
        self.bottleneck = bottleneck
        self.dropout_rate = dropout_rate
        self.units = []
        for i in range(num_layers):
            unit = _bn_relu_conv(4 * growth_rate, 1, i, "bottleneck") if bottleneck else []
            unit += _bn_relu_conv(growth_rate, 3, i, "layer")
            if dropout_rate:
                unit.append(keras.layers.Dropout(dropout_rate))
            self.units.append(unit)
        self.concat = keras.layers.Concatenate(axis=-1)

    def build(self, input_shape):
        check_image_input(input_shape, "DenseBlock")
        shape = tuple(input_shape)
        for unit in self.units:
            build_chain(unit, shape)
            shape = shape[:-1] + (shape[-1] + self.growth_rate,)

    def call(self, inputs, training=None):
        x = inputs
        for unit in self.units:
            x = self.concat([x, apply_chain(unit, x, training)])
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] + self.num_layers * self.growth_rate,)

    def receptive_field_paths(self):
        """The chains of sub-layers from input to output (see `receptive_field`).

        The input itself is part of the output, and the longest chain runs
        through every layer of the block.
        """
        return [[], [layer for unit in self.units for layer in unit]]

    def get_config(self):
        config = super().get_config()
        config.update(
            num_layers=self.num_layers,
            growth_rate=self.growth_rate,
            bottleneck=self.bottleneck,
            dropout_rate=self.dropout_rate,
        )
        return config


@keras.saving.register_keras_serializable(package="course_lib")
class TransitionLayer(keras.layers.Layer):
    """DenseNet's transition between dense blocks: compress, then halve.

    BN-ReLU, a 1x1 convolution to `floor(compression * channels)` maps
    (DenseNet-C compresses with 0.5), and 2x2 average pooling with stride 2.

    Args:
        compression: fraction of the feature maps to keep, in (0, 1].
        **kwargs: base layer keyword arguments.

    Input shape:
        4-D tensor `(batch, rows, cols, channels)`.

    Output shape:
        `(batch, rows // 2, cols // 2, floor(compression * channels))`.

    Example:

    >>> layer = TransitionLayer(compression=0.5)
    >>> tuple(layer(keras.ops.zeros((1, 56, 56, 256))).shape)
    (1, 28, 28, 128)
    """

    def __init__(self, compression=0.5, **kwargs):
        super().__init__(**kwargs)
        self.compression = check_number(compression, "compression", 0, 1, low_open=True)

    def build(self, input_shape):
        check_image_input(input_shape, "TransitionLayer")
        filters = int(input_shape[-1] * self.compression)
        if filters < 1:
            raise ValueError(
                f"`compression={self.compression}` leaves no feature map of {input_shape[-1]}."
            )
        self.chain = [
            keras.layers.BatchNormalization(epsilon=BN_EPSILON, name="bn"),
            keras.layers.ReLU(),
            keras.layers.Conv2D(filters, 1, use_bias=False, name="conv"),
            keras.layers.AveragePooling2D(2, strides=2, name="pool"),
        ]
        build_chain(self.chain, input_shape)

    def call(self, inputs, training=None):
        return apply_chain(self.chain, inputs, training)

    def receptive_field_paths(self):
        """The chains of sub-layers from input to output (see `receptive_field`)."""
        return [list(self.chain)]

    def compute_output_shape(self, input_shape):
        rows, cols = (None if n is None else n // 2 for n in input_shape[1:3])
        return (input_shape[0], rows, cols, int(input_shape[-1] * self.compression))

    def get_config(self):
        config = super().get_config()
        config.update(compression=self.compression)
        return config
