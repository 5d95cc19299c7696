"""MobileNet's depthwise separable convolution block (Howard et al., 2017)."""

import keras

from course_lib._checks import check_image_input, check_positive_int
from course_lib.layers._chain import apply_chain, build_chain, chain_output_shape

__all__ = ["DepthwiseSeparableConv"]


@keras.saving.register_keras_serializable(package="course_lib")
class DepthwiseSeparableConv(keras.layers.Layer):
    """A depthwise convolution, then a pointwise (1x1) convolution.

    The depthwise convolution filters each input channel with its own
    `kernel_size` kernel; the pointwise convolution mixes the channels into
    `filters` maps. As in MobileNet, each is followed by BatchNormalization
    and ReLU6, and a stride-2 block pads its input by one row and column at
    the bottom and right, then uses valid padding (Keras's MobileNet layout).
    With `use_batch_norm=False` and `activation=None` the block computes the
    same function as `keras.layers.SeparableConv2D` with the same weights.

    Parameters: `K * kh * kw` (depthwise) plus `K * filters` (pointwise) for
    `K` input channels, against `K * kh * kw * filters` for a standard
    convolution, plus BatchNormalization's or the pointwise bias.

    Args:
        filters: number of output channels of the pointwise convolution.
        kernel_size: size of the depthwise window.
        strides: stride of the depthwise convolution (1 or 2).
        depth_multiplier: depthwise output channels per input channel.
        use_batch_norm: whether to add BatchNormalization after each stage
            (then the convolutions have no biases).
        activation: activation after each stage (`"relu6"` in MobileNet, or
            None).
        **kwargs: base layer keyword arguments.

    Input shape:
        4-D tensor `(batch, rows, cols, channels)`.

    Output shape:
        `(batch, ceil(rows / strides), ceil(cols / strides), filters)`.

    Example:

    >>> block = DepthwiseSeparableConv(64)
    >>> tuple(block(keras.ops.zeros((1, 112, 112, 32))).shape)
    (1, 112, 112, 64)
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        strides=1,
        depth_multiplier=1,
        use_batch_norm=True,
        activation="relu6",
        **kwargs,
    ):
        super().__init__(**kwargs)
        filters = check_positive_int(filters, "filters")
        kernel_size = check_positive_int(kernel_size, "kernel_size")
        depth_multiplier = check_positive_int(depth_multiplier, "depth_multiplier")
        if strides not in (1, 2):
            raise ValueError(f"`strides` must be 1 or 2; received strides={strides!r}.")
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.depth_multiplier = depth_multiplier
        self.use_batch_norm = use_batch_norm
        self.activation = activation

        def finish(name):
            chain = [keras.layers.BatchNormalization(name=f"{name}_bn")] if use_batch_norm else []
            if activation is not None:
                chain.append(keras.layers.Activation(activation, name=f"{name}_act"))
            return chain

        pad = [keras.layers.ZeroPadding2D(((0, 1), (0, 1)))] if strides == 2 else []
        self.chain = pad + [
            keras.layers.DepthwiseConv2D(
                kernel_size,
                strides=strides,
                padding="valid" if strides == 2 else "same",
                depth_multiplier=depth_multiplier,
                use_bias=False,
                name="depthwise",
            ),
            *finish("depthwise"),
            keras.layers.Conv2D(filters, 1, use_bias=not use_batch_norm, name="pointwise"),
            *finish("pointwise"),
        ]

    def build(self, input_shape):
        check_image_input(input_shape, "DepthwiseSeparableConv")
        build_chain(self.chain, input_shape)

    def call(self, inputs, training=None):
        return apply_chain(self.chain, inputs, training)

    def compute_output_shape(self, input_shape):
        return chain_output_shape(self.chain, input_shape)

    def receptive_field_paths(self):
        """The chains of sub-layers from input to output (see `receptive_field`)."""
        return [list(self.chain)]

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            depth_multiplier=self.depth_multiplier,
            use_batch_norm=self.use_batch_norm,
            activation=self.activation,
        )
        return config
