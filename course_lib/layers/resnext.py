"""The ResNeXt block (Xie et al., 2017): aggregated residual transformations."""

import keras

from course_lib.layers._utils import check_positive_int
from course_lib.layers.grouped import GroupedConv2D
from course_lib.layers.resnet import BN_EPSILON, _ShortcutBlock


@keras.saving.register_keras_serializable(package="course_lib")
class ResNeXtBlock(_ShortcutBlock):
    """A bottleneck block whose 3x3 stage is split into `cardinality` paths.

    The paths have the same topology (1x1 reduce, 3x3, 1x1 restore) and are
    summed; this equals one bottleneck whose 3x3 convolution is *grouped*:
    `Conv2D(filters, 3, groups=cardinality)` connects each group of
    `filters // cardinality` channels only to itself. The sum is added to the
    shortcut and passes a ReLU. The grouped convolution is a `GroupedConv2D`
    (the weights of `Conv2D(groups=cardinality)`, computed group by group,
    which is much faster on CPUs).

    Args:
        filters: total width of the grouped 3x3 stage (cardinality times the
            width of one path; ResNeXt-50 32x4d: 128 in its first stage).
        cardinality: number of paths (groups); must divide `filters`.
        strides: stride of the block, on the 3x3 convolution (as torchvision).
        expansion: output depth is `expansion * filters` (2 in ResNeXt).
        use_bias: whether the convolutions have biases (none before BN).
        **kwargs: base layer keyword arguments.

    Input shape:
        4-D tensor `(batch, rows, cols, channels)`.

    Output shape:
        `(batch, ceil(rows / strides), ceil(cols / strides), expansion * filters)`.

    Example:

    >>> block = ResNeXtBlock(128, cardinality=32)
    >>> tuple(block(keras.ops.zeros((1, 56, 56, 64))).shape)
    (1, 56, 56, 256)
    """

    def __init__(self, filters, cardinality=32, strides=1, expansion=2, use_bias=False, **kwargs):
        super().__init__(strides=strides, use_bias=use_bias, **kwargs)
        check_positive_int(filters, "filters")
        check_positive_int(cardinality, "cardinality")
        check_positive_int(expansion, "expansion")
        if filters % cardinality:
            raise ValueError(
                f"`cardinality` must divide `filters`; received filters={filters}, "
                f"cardinality={cardinality}."
            )
        self.filters = filters
        self.cardinality = cardinality
        self.expansion = expansion
        self.out_depth = expansion * filters

        def bn(name):
            return keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=name)

        self.residual = [
            keras.layers.Conv2D(filters, 1, use_bias=use_bias, name="conv1"),
            bn("bn1"),
            keras.layers.ReLU(),
            GroupedConv2D(
                filters, 3, strides=strides, padding="same", groups=cardinality,
                use_bias=use_bias, name="grouped_conv",
            ),
            bn("bn2"),
            keras.layers.ReLU(),
            keras.layers.Conv2D(self.out_depth, 1, use_bias=use_bias, name="conv3"),
            bn("bn3"),
        ]

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, cardinality=self.cardinality, expansion=self.expansion)
        config.pop("preactivation")  # always post-activation
        return config
