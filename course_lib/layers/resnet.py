"""Residual blocks of ResNet (He et al., 2016), Wide ResNet (Zagoruyko and
Komodakis, 2016) and ResNeXt (Xie et al., 2017)."""

import keras

from course_lib._checks import check_bool, check_image_input, check_positive_int, check_rate
from course_lib.layers._chain import apply_chain, build_chain, chain_output_shape
from course_lib.layers.grouped import GroupedConv2D

__all__ = ["BN_EPSILON", "ResidualBlock", "BottleneckBlock", "ResNeXtBlock"]

# keras.applications' ResNets use this BatchNormalization epsilon.
BN_EPSILON = 1.001e-5


def _batch_norm(name):
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=name)


class _ShortcutBlock(keras.layers.Layer):
    """Adds a shortcut to a residual branch; the shared part of the blocks.

    The shortcut is the identity when the branch keeps the shape, and a 1x1
    convolution with the branch's stride (plus BatchNormalization in the
    post-activation form) when it changes the depth or the resolution.
    Subclasses set `self.out_depth` and fill `self.residual` (the residual
    branch, a chain of layers) in `__init__`; `build()` builds the branch and
    makes the shortcut, which depends on the input's depth.
    """

    def __init__(self, strides=1, preactivation=False, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.strides = check_positive_int(strides, "strides")
        self.preactivation = check_bool(preactivation, "preactivation")
        self.use_bias = check_bool(use_bias, "use_bias")
        self.add = keras.layers.Add()
        self.relu = keras.layers.ReLU()

    def _make_shortcut(self, in_depth):
        if self.strides == 1 and in_depth == self.out_depth:
            return []
        conv = keras.layers.Conv2D(
            self.out_depth, 1, strides=self.strides, use_bias=self.use_bias, name="shortcut_conv"
        )
        return [conv] if self.preactivation else [conv, _batch_norm("shortcut_bn")]

    def build(self, input_shape):
        check_image_input(input_shape, type(self).__name__)
        if self.preactivation:
            # Pre-activation (He et al., 2016b): BN and ReLU come first, and a
            # projection shortcut starts from the pre-activated input.
            self.pre = [_batch_norm("pre_bn"), keras.layers.ReLU()]
            build_chain(self.pre, input_shape)
        self.shortcut = self._make_shortcut(input_shape[-1])
        build_chain(self.shortcut, input_shape)
        build_chain(self.residual, input_shape)

    def call(self, inputs, training=None):
        x = inputs
        if self.preactivation:
            x = apply_chain(self.pre, x, training)
        shortcut = apply_chain(self.shortcut, x if self.shortcut else inputs, training)
        y = self.add([apply_chain(self.residual, x, training), shortcut])
        return y if self.preactivation else self.relu(y)

    def compute_output_shape(self, input_shape):
        return chain_output_shape(self.residual, input_shape)

    def receptive_field_paths(self):
        """The chains of sub-layers from input to output (see `receptive_field`)."""
        pre = list(self.pre) if self.preactivation else []
        return [pre + list(self.residual), pre + list(self.shortcut)]

    def get_config(self):
        config = super().get_config()
        config.update(strides=self.strides, preactivation=self.preactivation, use_bias=self.use_bias)
        return config


@keras.saving.register_keras_serializable(package="course_lib")
class ResidualBlock(_ShortcutBlock):
    """The basic residual block: two 3x3 convolutions and a shortcut.

    Computes `relu(F(x) + shortcut(x))` where `F` is conv3x3-BN-ReLU-conv3x3-BN
    (post-activation, the original ResNet-18/34 block). With
    `preactivation=True` it computes `F(x) + shortcut(x)` with
    `F = BN-ReLU-conv3x3-BN-ReLU-[dropout]-conv3x3`, the form of Wide ResNets.
    The shortcut is the identity when the shape is kept, else a 1x1
    projection with stride `strides`.

    Args:
        filters: depth of both convolutions and of the output.
        strides: stride of the first convolution (and of the projection).
        preactivation: whether to use the pre-activation form.
        dropout_rate: dropout between the two convolutions (Wide ResNet).
        use_bias: whether the convolutions have biases (no need before BN).
        **kwargs: base layer keyword arguments.

    Input shape:
        4-D tensor `(batch, rows, cols, channels)`.

    Output shape:
        `(batch, ceil(rows / strides), ceil(cols / strides), filters)`.

    Example:

    >>> block = ResidualBlock(64, strides=2)
    >>> tuple(block(keras.ops.zeros((1, 32, 32, 16))).shape)
    (1, 16, 16, 64)
    """

    def __init__(self, filters, strides=1, preactivation=False, dropout_rate=0.0, use_bias=False, **kwargs):
        super().__init__(strides=strides, preactivation=preactivation, use_bias=use_bias, **kwargs)
        filters = check_positive_int(filters, "filters")
        self.filters = filters
        self.dropout_rate = check_rate(dropout_rate, "dropout_rate")
        self.out_depth = filters

        def conv(name, strides=1):
            return keras.layers.Conv2D(
                filters, 3, strides=strides, padding="same", use_bias=use_bias, name=name
            )

        if preactivation:
            self.residual = [conv("conv1", strides), _batch_norm("bn1"), keras.layers.ReLU()]
            if dropout_rate:
                self.residual.append(keras.layers.Dropout(dropout_rate))
            self.residual.append(conv("conv2"))
        else:
            self.residual = [
                conv("conv1", strides),
                _batch_norm("bn1"),
                keras.layers.ReLU(),
                *([keras.layers.Dropout(dropout_rate)] if dropout_rate else []),
                conv("conv2"),
                _batch_norm("bn2"),
            ]

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, dropout_rate=self.dropout_rate)
        return config


@keras.saving.register_keras_serializable(package="course_lib")
class BottleneckBlock(_ShortcutBlock):
    """The bottleneck residual block of ResNet-50/101/152, and of ResNeXt with `groups`.

    A 1x1 convolution reduces the depth to `filters`, a 3x3 convolution works
    at that depth, and a 1x1 convolution restores it to `expansion * filters`;
    each is followed by BatchNormalization, with ReLUs in between, and the sum
    with the shortcut passes a final ReLU.

    With `groups > 1` the 3x3 convolution is grouped: each of the `groups`
    slices of `filters // groups` channels is convolved on its own. This is
    ResNeXt's block (Xie et al., 2017): `groups` paths of the same topology,
    summed, are one bottleneck with a grouped 3x3 convolution (see
    `ResNeXtBlock`). The grouped convolution is a `GroupedConv2D` (the
    weights of `Conv2D(groups=groups)`, computed group by group, which is
    much faster on CPUs).

    Args:
        filters: depth of the reduced (3x3) stage.
        strides: stride of the block.
        expansion: output depth is `expansion * filters`.
        stride_on: `"1x1"` puts the stride on the first 1x1 convolution, as
            `keras.applications.ResNet50` and the original paper do; `"3x3"`
            puts it on the 3x3 convolution (torchvision's "ResNet v1.5", and
            ResNeXt): same parameters, more multiply-adds, slightly more
            accurate.
        use_bias: whether the convolutions have biases (Keras's ResNet50 has
            them; they are redundant before BatchNormalization).
        groups: groups of the 3x3 convolution; must divide `filters`. 1 is
            ResNet's block.
        **kwargs: base layer keyword arguments.

    Input shape:
        4-D tensor `(batch, rows, cols, channels)`.

    Output shape:
        `(batch, ceil(rows / strides), ceil(cols / strides), expansion * filters)`.

    Example:

    >>> block = BottleneckBlock(64)
    >>> tuple(block(keras.ops.zeros((1, 56, 56, 64))).shape)
    (1, 56, 56, 256)
    >>> grouped = BottleneckBlock(128, groups=32, expansion=2, stride_on="3x3", use_bias=False)
    >>> tuple(grouped(keras.ops.zeros((1, 56, 56, 64))).shape)
    (1, 56, 56, 256)
    """

    def __init__(self, filters, strides=1, expansion=4, stride_on="1x1", use_bias=True, groups=1, **kwargs):
        super().__init__(strides=strides, use_bias=use_bias, **kwargs)
        filters = check_positive_int(filters, "filters")
        expansion = check_positive_int(expansion, "expansion")
        groups = self._check_groups(groups, filters)
        if stride_on not in ("1x1", "3x3"):
            raise ValueError(f"`stride_on` must be '1x1' or '3x3'; received stride_on={stride_on!r}.")
        self.filters = filters
        self.expansion = expansion
        self.stride_on = stride_on
        self.groups = groups
        self.out_depth = expansion * filters
        first, middle = (self.strides, 1) if stride_on == "1x1" else (1, self.strides)
        if groups == 1:
            conv3x3 = keras.layers.Conv2D(
                filters, 3, strides=middle, padding="same", use_bias=self.use_bias, name="conv2"
            )
        else:
            conv3x3 = GroupedConv2D(
                filters, 3, strides=middle, padding="same", groups=groups, use_bias=self.use_bias,
                name="grouped_conv",
            )
        self.residual = [
            keras.layers.Conv2D(filters, 1, strides=first, use_bias=self.use_bias, name="conv1"),
            _batch_norm("bn1"),
            keras.layers.ReLU(),
            conv3x3,
            _batch_norm("bn2"),
            keras.layers.ReLU(),
            keras.layers.Conv2D(self.out_depth, 1, use_bias=self.use_bias, name="conv3"),
            _batch_norm("bn3"),
        ]

    @staticmethod
    def _check_groups(groups, filters, name="groups"):
        groups = check_positive_int(groups, name)
        if filters % groups:
            raise ValueError(
                f"`{name}` must divide `filters`; received filters={filters}, {name}={groups}."
            )
        return groups

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, expansion=self.expansion, stride_on=self.stride_on, groups=self.groups
        )
        config.pop("preactivation")  # always post-activation
        return config


@keras.saving.register_keras_serializable(package="course_lib")
class ResNeXtBlock(BottleneckBlock):
    """ResNeXt's block (Xie et al., 2017): a bottleneck split into `cardinality` paths.

    The paths have the same topology (1x1 reduce, 3x3, 1x1 restore) and are
    summed; this equals one bottleneck whose 3x3 convolution is *grouped*:
    `Conv2D(filters, 3, groups=cardinality)` connects each group of
    `filters // cardinality` channels (the bottleneck width of one path)
    only to itself. The sum is added to the shortcut and passes a ReLU.

    It is a `BottleneckBlock` with `groups=cardinality`, in the conventions
    of torchvision's ResNeXt: the stride on the grouped 3x3 convolution, no
    convolution biases, and an output twice as deep as the grouped stage.

    Args:
        filters: total width of the grouped 3x3 stage (cardinality times the
            width of one path; ResNeXt-50 32x4d: 128 in its first stage).
        cardinality: number of paths (groups); must divide `filters`.
        strides: stride of the block, on the 3x3 convolution.
        expansion: output depth is `expansion * filters` (2 in ResNeXt).
        use_bias: whether the convolutions have biases (none before BN).
        **kwargs: base layer keyword arguments.

    Input shape:
        4-D tensor `(batch, rows, cols, channels)`.

    Output shape:
        `(batch, ceil(rows / strides), ceil(cols / strides), expansion * filters)`.

    Example:

    >>> block = ResNeXtBlock(128, cardinality=32)  # 32 paths of width 4
    >>> tuple(block(keras.ops.zeros((1, 56, 56, 64))).shape), block.bottleneck_width
    ((1, 56, 56, 256), 4)
    """

    def __init__(self, filters, cardinality=32, strides=1, expansion=2, use_bias=False, **kwargs):
        cardinality = self._check_groups(cardinality, check_positive_int(filters, "filters"), "cardinality")
        super().__init__(
            filters, strides=strides, expansion=expansion, stride_on="3x3", use_bias=use_bias,
            groups=cardinality, **kwargs,
        )
        self.cardinality = cardinality

    @property
    def bottleneck_width(self):
        """The width of one path, `filters // cardinality` (the "d" of "32x4d")."""
        return self.filters // self.cardinality

    def get_config(self):
        config = super().get_config()
        for fixed in ("groups", "stride_on"):
            config.pop(fixed)
        config.update(cardinality=self.cardinality)
        return config
