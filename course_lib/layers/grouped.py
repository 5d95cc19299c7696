"""Grouped convolution computed group by group (AlexNet's two-GPU split, ResNeXt)."""

import keras

__all__ = ["GroupedConv2D"]


@keras.saving.register_keras_serializable(package="course_lib")
class GroupedConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` with `groups > 1`, computed as one convolution per group.

    The layer has exactly the weights of `Conv2D(filters, kernel_size,
    groups=groups)`: a kernel of shape `(rows, cols, channels // groups,
    filters)`, where group `g` connects input channels `g * channels // groups`
    to `(g + 1) * channels // groups - 1` with output filters `g * filters //
    groups` to `(g + 1) * filters // groups - 1`. Only the computation
    differs: the input and the kernel are split into `groups` parts, each part
    is an ordinary convolution, and the results are concatenated. This is how
    AlexNet's two GPUs computed it, and on CPUs it is many times faster than
    TensorFlow's grouped kernel (`benchmarks/grouped_conv.md` times both).

    Args:
        filters: number of output filters, divisible by `groups`.
        kernel_size: int or pair, the window.
        groups: number of groups; must divide the input channels and
            `filters`. With 1 this is a plain `Conv2D`.
        **kwargs: the other arguments of `keras.layers.Conv2D` (strides,
            padding, activation, use_bias, initializers, ...), channels last.

    Input shape:
        4-D tensor `(batch, rows, cols, channels)`.

    Output shape:
        4-D tensor `(batch, new_rows, new_cols, filters)`, as `Conv2D`.

    Example:

    >>> conv = GroupedConv2D(8, 3, groups=2, padding="same")
    >>> tuple(conv(keras.ops.zeros((1, 5, 5, 4))).shape)
    (1, 5, 5, 8)
    >>> tuple(conv.kernel.shape)
    (3, 3, 2, 8)
    """

    def __init__(self, filters, kernel_size, groups=1, **kwargs):
        if kwargs.get("data_format", "channels_last") != "channels_last":
            raise ValueError(
                "`data_format` must be 'channels_last' for GroupedConv2D; "
                f"received data_format={kwargs['data_format']!r}."
            )
        super().__init__(filters, kernel_size, groups=groups, **kwargs)
        self.data_format = "channels_last"

    def convolution_op(self, inputs, kernel):
        if self.groups == 1:
            return super().convolution_op(inputs, kernel)
        parts = zip(
            keras.ops.split(inputs, self.groups, axis=-1),
            keras.ops.split(kernel, self.groups, axis=-1),
        )
        return keras.ops.concatenate(
            [super(GroupedConv2D, self).convolution_op(x, k) for x, k in parts], axis=-1
        )
