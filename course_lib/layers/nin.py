"""Network in Network's MLPConv block (Lin, Chen and Yan, 2014)."""

import keras

from course_lib._checks import check_image_input, check_positive_int, check_positive_ints
from course_lib.layers._chain import apply_chain, build_chain, chain_output_shape, conv_unit

__all__ = ["MLPConv"]


@keras.saving.register_keras_serializable(package="course_lib")
class MLPConv(keras.layers.Layer):
    """The Network-in-Network block: a small MLP slid over the volume.

    A `kernel_size` x `kernel_size` convolution followed by 1x1 convolutions,
    each with a ReLU. A 1x1 convolution is a dense layer applied to the depth
    vector of every position, so the stack computes a multi-layer perceptron
    at every position of the input.

    Args:
        filters: number of filters of the first (spatial) convolution.
        kernel_size: size of the first convolution's window (int or pair).
        mlp_filters: filters of the following 1x1 convolutions, a sequence
            of ints; `None` means two of `filters` each (the paper's blocks).
        strides: strides of the first convolution.
        padding: `"same"` or `"valid"`, padding of the first convolution.
        activation: activation after every convolution.
        batch_norm: whether to put BatchNormalization between each
            convolution and its activation (not in the paper, which predates
            it; the course's CIFAR-10 recipe uses it, see `nin`).
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Input shape:
        4-D tensor `(batch, rows, cols, channels)`.

    Output shape:
        4-D tensor `(batch, new_rows, new_cols, mlp_filters[-1])`.

    Example:

    >>> block = MLPConv(192, kernel_size=5, mlp_filters=(160, 96))
    >>> tuple(block(keras.ops.zeros((1, 32, 32, 3))).shape)
    (1, 32, 32, 96)
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        mlp_filters=None,
        strides=1,
        padding="same",
        activation="relu",
        batch_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        filters = check_positive_int(filters, "filters")
        mlp_filters = (filters, filters) if mlp_filters is None else tuple(mlp_filters)
        mlp_filters = check_positive_ints(mlp_filters, "mlp_filters")
        self.filters = filters
        self.kernel_size = kernel_size
        self.mlp_filters = mlp_filters
        self.strides = strides
        self.padding = padding
        self.activation = activation
        self.batch_norm = batch_norm
        self.convs = conv_unit(
            filters, kernel_size, "conv", activation, batch_norm, strides=strides, padding=padding
        )
        for i, units in enumerate(mlp_filters):
            self.convs += conv_unit(units, 1, f"mlp_{i}", activation, batch_norm)

    def build(self, input_shape):
        check_image_input(input_shape, "MLPConv")
        build_chain(self.convs, input_shape)

    def call(self, inputs, training=None):
        return apply_chain(self.convs, inputs, training)

    def compute_output_shape(self, input_shape):
        return chain_output_shape(self.convs, input_shape)

    def receptive_field_paths(self):
        """The chains of sub-layers from input to output (see `receptive_field`)."""
        return [list(self.convs)]

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            mlp_filters=list(self.mlp_filters),
            strides=self.strides,
            padding=self.padding,
            activation=self.activation,
            batch_norm=self.batch_norm,
        )
        return config
