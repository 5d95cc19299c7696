"""The Inception module of GoogLeNet (Szegedy et al., 2015)."""

import keras

from course_lib._checks import check_image_input, check_positive_int
from course_lib.layers._chain import apply_chain, build_chain, chain_output_shape, conv_unit

__all__ = ["InceptionModule"]


@keras.saving.register_keras_serializable(package="course_lib")
class InceptionModule(keras.layers.Layer):
    """Parallel 1x1, 3x3 and 5x5 convolutions and 3x3 max pooling, concatenated.

    Four branches see the same input and their outputs are stacked along the
    depth axis: a 1x1 convolution; a 3x3 convolution; a 5x5 convolution; and
    a 3x3 max pooling (stride 1). The "reduce" 1x1 convolutions before the
    3x3 and 5x5 branches and the projection after the pooling are the
    module's bottlenecks: they shrink the depth that the expensive
    convolutions see. Set a reduce or projection size to 0 to drop it (the
    naive module). Every convolution is followed by `activation`.

    Args:
        filters_1x1: filters of the 1x1 branch (0 drops the branch).
        filters_3x3_reduce: filters of the 1x1 bottleneck before the 3x3
            convolution (0: none).
        filters_3x3: filters of the 3x3 convolution.
        filters_5x5_reduce: filters of the 1x1 bottleneck before the 5x5
            convolution (0: none).
        filters_5x5: filters of the 5x5 convolution.
        filters_pool_proj: filters of the 1x1 projection after the pooling
            (0: the pooled input passes through with its own depth).
        activation: activation after every convolution.
        batch_norm: whether to put BatchNormalization between each
            convolution and its activation: the module of BN-Inception (Ioffe
            and Szegedy, 2015), the paper that introduced BatchNormalization
            on this very network.
        **kwargs: base layer keyword arguments.

    Input shape:
        4-D tensor `(batch, rows, cols, channels)`.

    Output shape:
        `(batch, rows, cols, depth)` with depth the sum of the branches'
        depths: `filters_1x1 + filters_3x3 + filters_5x5 + filters_pool_proj`
        (`channels` in place of the last when it is 0).

    Example:

    >>> module = InceptionModule(64, 96, 128, 16, 32, 32)  # GoogLeNet's 3a
    >>> tuple(module(keras.ops.zeros((1, 28, 28, 192))).shape)
    (1, 28, 28, 256)
    """

    def __init__(
        self,
        filters_1x1,
        filters_3x3_reduce,
        filters_3x3,
        filters_5x5_reduce,
        filters_5x5,
        filters_pool_proj,
        activation="relu",
        batch_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        filters_1x1 = check_positive_int(filters_1x1, "filters_1x1", allow_zero=True)
        filters_3x3_reduce = check_positive_int(filters_3x3_reduce, "filters_3x3_reduce", allow_zero=True)
        filters_3x3 = check_positive_int(filters_3x3, "filters_3x3")
        filters_5x5_reduce = check_positive_int(filters_5x5_reduce, "filters_5x5_reduce", allow_zero=True)
        filters_5x5 = check_positive_int(filters_5x5, "filters_5x5")
        filters_pool_proj = check_positive_int(filters_pool_proj, "filters_pool_proj", allow_zero=True)
        self.filters_1x1 = filters_1x1
        self.filters_3x3_reduce = filters_3x3_reduce
        self.filters_3x3 = filters_3x3
        self.filters_5x5_reduce = filters_5x5_reduce
        self.filters_5x5 = filters_5x5
        self.filters_pool_proj = filters_pool_proj
        self.activation = activation
        self.batch_norm = batch_norm

        def conv(filters, size, name):
            return conv_unit(filters, size, name, activation, batch_norm, padding="same")

        self.branches = []
        if filters_1x1:
            self.branches.append(conv(filters_1x1, 1, "1x1"))
        self.branches.append(
            (conv(filters_3x3_reduce, 1, "3x3_reduce") if filters_3x3_reduce else [])
            + conv(filters_3x3, 3, "3x3")
        )
        self.branches.append(
            (conv(filters_5x5_reduce, 1, "5x5_reduce") if filters_5x5_reduce else [])
            + conv(filters_5x5, 5, "5x5")
        )
        self.branches.append(
            [keras.layers.MaxPooling2D(3, strides=1, padding="same", name="pool")]
            + (conv(filters_pool_proj, 1, "pool_proj") if filters_pool_proj else [])
        )
        self.concat = keras.layers.Concatenate(axis=-1)

    def build(self, input_shape):
        check_image_input(input_shape, "InceptionModule")
        for branch in self.branches:
            build_chain(branch, input_shape)

    def call(self, inputs, training=None):
        return self.concat([apply_chain(branch, inputs, training) for branch in self.branches])

    def compute_output_shape(self, input_shape):
        depth = sum(chain_output_shape(branch, input_shape)[-1] for branch in self.branches)
        return tuple(input_shape[:-1]) + (depth,)

    def receptive_field_paths(self):
        """The chains of sub-layers from input to output (see `receptive_field`)."""
        return [list(branch) for branch in self.branches]

    def get_config(self):
        config = super().get_config()
        config.update(
            filters_1x1=self.filters_1x1,
            filters_3x3_reduce=self.filters_3x3_reduce,
            filters_3x3=self.filters_3x3,
            filters_5x5_reduce=self.filters_5x5_reduce,
            filters_5x5=self.filters_5x5,
            filters_pool_proj=self.filters_pool_proj,
            activation=self.activation,
            batch_norm=self.batch_norm,
        )
        return config
