"""Tests of course_lib.layers on the backend named by KERAS_BACKEND."""

import keras
import numpy as np
import pytest

from course_lib import layers as L

RNG = np.random.default_rng(0)

CASES = [
    (lambda: L.MLPConv(12, kernel_size=5, mlp_filters=(10, 6)), (2, 12, 12, 3), (2, 12, 12, 6)),
    (lambda: L.MLPConv(8, kernel_size=3, strides=2, padding="valid"), (2, 11, 11, 3), (2, 5, 5, 8)),
    (lambda: L.InceptionModule(4, 3, 5, 2, 3, 2), (2, 9, 9, 6), (2, 9, 9, 14)),
    (lambda: L.InceptionModule(0, 0, 5, 0, 3, 0), (2, 9, 9, 6), (2, 9, 9, 14)),
    (lambda: L.ResidualBlock(6), (2, 8, 8, 6), (2, 8, 8, 6)),
    (lambda: L.ResidualBlock(10, strides=2), (2, 9, 9, 6), (2, 5, 5, 10)),
    (lambda: L.ResidualBlock(6, preactivation=True, dropout_rate=0.3), (2, 8, 8, 4), (2, 8, 8, 6)),
    (lambda: L.BottleneckBlock(4), (2, 8, 8, 6), (2, 8, 8, 16)),
    (lambda: L.BottleneckBlock(4, strides=2, stride_on="3x3"), (2, 8, 8, 16), (2, 4, 4, 16)),
    (lambda: L.ResNeXtBlock(8, cardinality=4), (2, 8, 8, 6), (2, 8, 8, 16)),
    (lambda: L.ResNeXtBlock(8, cardinality=2, strides=2), (2, 8, 8, 16), (2, 4, 4, 16)),
    (lambda: L.DenseBlock(3, growth_rate=4), (2, 8, 8, 6), (2, 8, 8, 18)),
    (lambda: L.DenseBlock(2, growth_rate=5, bottleneck=False, dropout_rate=0.2), (2, 8, 8, 6), (2, 8, 8, 16)),
    (lambda: L.TransitionLayer(compression=0.5), (2, 8, 9, 18), (2, 4, 4, 9)),
    (lambda: L.DepthwiseSeparableConv(7), (2, 8, 8, 5), (2, 8, 8, 7)),
    (lambda: L.DepthwiseSeparableConv(7, strides=2, depth_multiplier=2), (2, 8, 8, 5), (2, 4, 4, 7)),
    (lambda: L.GroupedConv2D(8, 3, groups=4, padding="same"), (2, 7, 7, 12), (2, 7, 7, 8)),
    (lambda: L.MLPConv(8, kernel_size=3, mlp_filters=(6,), batch_norm=True), (2, 9, 9, 3), (2, 9, 9, 6)),
    (lambda: L.InceptionModule(4, 3, 5, 2, 3, 2, batch_norm=True), (2, 9, 9, 6), (2, 9, 9, 14)),
    (lambda: L.BottleneckBlock(4, groups=2, stride_on="3x3", strides=2), (2, 8, 8, 6), (2, 4, 4, 16)),
]
IDS = [f"{i}" for i in range(len(CASES))]


def _random(shape):
    return RNG.normal(size=shape).astype("float32")


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("make, in_shape, out_shape", CASES, ids=IDS)
def test_output_shape_matches_compute_output_shape(make, in_shape, out_shape):
    layer = make()
    y = layer(_random(in_shape))
    assert tuple(y.shape) == out_shape
    assert tuple(layer.compute_output_shape(in_shape)) == out_shape
    assert tuple(layer.compute_output_shape((None,) + in_shape[1:])) == (None,) + out_shape[1:]


@pytest.mark.parametrize("make, in_shape, out_shape", CASES, ids=IDS)
def test_save_and_load_round_trip(make, in_shape, out_shape, tmp_path):
    inputs = keras.Input(in_shape[1:])
    model = keras.Model(inputs, make()(inputs))
    x = _random(in_shape)
    # Give every weight (biases, BatchNormalization's gamma, beta and moving
    # statistics too) a random value, so that a load that forgot one shows.
    for weight in model.weights:
        weight.assign(RNG.uniform(0.5, 1.5, weight.shape).astype("float32"))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(_numpy(loaded(x)), _numpy(model(x)), rtol=1e-5, atol=1e-5)
    layer, restored = model.layers[-1], loaded.layers[-1]
    assert type(restored) is type(layer)
    assert restored.get_config() == layer.get_config()
    assert len(restored.weights) == len(layer.weights)


def test_mlpconv_is_a_dense_layer_slid_over_positions():
    block = L.MLPConv(5, kernel_size=3, mlp_filters=(4,), activation=None)
    x = _random((2, 6, 6, 3))
    y = _numpy(block(x))
    features = _numpy(block.convs[0](x))
    kernel, bias = (_numpy(w) for w in block.convs[1].weights)
    np.testing.assert_allclose(y, features @ kernel[0, 0] + bias, rtol=1e-5, atol=1e-5)


def test_inception_concatenates_its_branches_in_order():
    module = L.InceptionModule(2, 0, 3, 0, 4, 0)
    x = _random((1, 7, 7, 5))
    y = _numpy(module(x))
    one, three, five, pool = (b for b in module.branches)
    np.testing.assert_allclose(y[..., :2], _numpy(one[0](x)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y[..., 2:5], _numpy(three[0](x)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y[..., 5:9], _numpy(five[0](x)), rtol=1e-5, atol=1e-6)
    # The pooling branch without projection passes the input's depth through.
    np.testing.assert_allclose(y[..., 9:], _numpy(keras.layers.MaxPooling2D(3, 1, "same")(x)))


def test_inception_bottlenecks_cut_parameters():
    naive = L.InceptionModule(64, 0, 128, 0, 32, 0)
    reduced = L.InceptionModule(64, 96, 128, 16, 32, 32)
    naive.build((None, 28, 28, 192))
    reduced.build((None, 28, 28, 192))
    # GoogLeNet's inception (3a), each convolution k*k*in*out weights + out biases.
    convs = [(1, 192, 64), (1, 192, 96), (3, 96, 128), (1, 192, 16), (5, 16, 32), (1, 192, 32)]
    assert reduced.count_params() == sum(k * k * i * o + o for k, i, o in convs)
    assert naive.count_params() > 2 * reduced.count_params()


def _zero_last_conv(block, name):
    conv = next(layer for layer in block.residual if layer.name == name)
    conv.kernel.assign(np.zeros(conv.kernel.shape, "float32"))


@pytest.mark.parametrize("kind", ["basic", "bottleneck", "resnext"])
def test_identity_shortcut_passes_the_input_when_the_branch_is_zero(kind):
    # With the last convolution zeroed, BN (at its initial statistics, in
    # inference) outputs beta = 0, so the block computes relu(0 + x) = relu(x).
    block, last = {
        "basic": (L.ResidualBlock(8), "conv2"),
        "bottleneck": (L.BottleneckBlock(2), "conv3"),
        "resnext": (L.ResNeXtBlock(4, cardinality=2, expansion=2), "conv3"),
    }[kind]
    x = _random((2, 5, 5, 8))
    block.build(x.shape)
    assert block.shortcut == []  # identity: no projection weights
    _zero_last_conv(block, last)
    np.testing.assert_allclose(_numpy(block(x, training=False)), np.maximum(x, 0), atol=1e-6)


def test_projection_shortcut_when_the_shape_changes():
    block = L.ResidualBlock(8, strides=2)
    block.build((None, 8, 8, 4))
    assert [layer.name for layer in block.shortcut] == ["shortcut_conv", "shortcut_bn"]
    assert block.shortcut[0].strides == (2, 2)
    deeper = L.ResidualBlock(8)
    deeper.build((None, 8, 8, 4))
    assert deeper.shortcut[0].filters == 8


def test_bottleneck_stride_position_changes_cost_not_parameters():
    v1, v15 = L.BottleneckBlock(64, strides=2), L.BottleneckBlock(64, strides=2, stride_on="3x3")
    for block in (v1, v15):
        block.build((None, 56, 56, 256))
    assert v1.count_params() == v15.count_params()
    assert v1.residual[0].strides == (2, 2) and v15.residual[3].strides == (2, 2)


def test_resnext_grouped_conv_equals_the_sum_of_paths():
    # A grouped 3x3 convolution is `cardinality` independent convolutions on
    # slices of the depth, concatenated: the paths of the ResNeXt block.
    block = L.ResNeXtBlock(8, cardinality=4)
    x = _random((1, 6, 6, 8))
    block.build(x.shape)
    grouped = block.residual[3]
    kernel = _numpy(grouped.kernel)  # (3, 3, 8 / 4, 8)
    assert kernel.shape == (3, 3, 2, 8)
    y = _numpy(grouped(x))
    for g in range(4):
        path = keras.layers.Conv2D(2, 3, padding="same", use_bias=False)
        path.build((None, 6, 6, 2))
        path.kernel.assign(kernel[..., 2 * g : 2 * g + 2])
        np.testing.assert_allclose(
            y[..., 2 * g : 2 * g + 2], _numpy(path(x[..., 2 * g : 2 * g + 2])), rtol=1e-5, atol=1e-5
        )


def _resnext_parameters(channels, filters, cardinality, expansion, strides, use_bias):
    """Parameters of a ResNeXt block, counted from the paper's layout (Xie et al., 2017).

    conv1x1 (channels -> filters), grouped conv3x3 (each of the `cardinality`
    groups maps filters / cardinality channels to as many filters), conv1x1
    (filters -> expansion * filters), each followed by BatchNormalization (4
    numbers per channel), and a projection (conv1x1 + BN) when the shape
    changes.
    """
    out = expansion * filters
    bias = 1 if use_bias else 0
    count = channels * filters + bias * filters
    count += 3 * 3 * (filters // cardinality) * filters + bias * filters
    count += filters * out + bias * out
    count += 4 * (filters + filters + out)
    if strides != 1 or channels != out:
        count += channels * out + bias * out + 4 * out
    return count


# (input channels, filters, cardinality, expansion, strides, use_bias)
RESNEXT_CONFIGURATIONS = [
    (6, 8, 4, 2, 1, False),  # projection: 6 -> 16 channels
    (32, 16, 2, 2, 2, False),  # projection: stride 2
    (16, 8, 8, 2, 1, False),  # identity shortcut, depthwise 3x3 (one channel per group)
    (48, 12, 3, 4, 1, True),  # identity shortcut, biases
    (64, 128, 32, 2, 1, False),  # ResNeXt-50 32x4d, first block
]


@pytest.mark.parametrize("channels, filters, cardinality, expansion, strides, use_bias", RESNEXT_CONFIGURATIONS)
def test_resnext_block_parameters(channels, filters, cardinality, expansion, strides, use_bias):
    expected = _resnext_parameters(channels, filters, cardinality, expansion, strides, use_bias)
    resnext = L.ResNeXtBlock(
        filters, cardinality=cardinality, strides=strides, expansion=expansion, use_bias=use_bias
    )
    resnext.build((None, 8, 8, channels))
    assert resnext.count_params() == expected
    # The same block as a grouped BottleneckBlock: the same weights, in the same order.
    bottleneck = L.BottleneckBlock(
        filters, strides=strides, expansion=expansion, stride_on="3x3", use_bias=use_bias, groups=cardinality
    )
    bottleneck.build((None, 8, 8, channels))
    assert bottleneck.count_params() == expected
    assert [tuple(w.shape) for w in bottleneck.weights] == [tuple(w.shape) for w in resnext.weights]


def test_resnext_block_is_a_grouped_bottleneck_with_its_own_config():
    block = L.ResNeXtBlock(8, cardinality=4, strides=2, name="block")
    assert isinstance(block, L.BottleneckBlock)
    assert (block.groups, block.stride_on, block.use_bias, block.bottleneck_width) == (4, "3x3", False, 2)
    config = block.get_config()
    assert {"cardinality", "filters", "strides", "expansion", "use_bias"} <= set(config)
    assert not {"groups", "stride_on", "preactivation"} & set(config)
    # A config as the former course_lib.layers.resnext.ResNeXtBlock saved it.
    saved = {"name": "old", "trainable": True, "dtype": "float32", "strides": 1, "use_bias": False,
             "filters": 16, "cardinality": 8, "expansion": 2}
    restored = L.ResNeXtBlock.from_config(saved)
    assert (restored.filters, restored.groups, restored.out_depth) == (16, 8, 32)


def test_dense_block_keeps_its_input_and_grows_by_the_growth_rate():
    block = L.DenseBlock(3, growth_rate=4)
    x = _random((2, 6, 6, 5))
    y = _numpy(block(x))
    np.testing.assert_array_equal(y[..., :5], x)
    assert y.shape[-1] == 5 + 3 * 4
    # Layer i sees 5 + 4 i maps: its bottleneck's kernel says so.
    depths = [unit[2].kernel.shape[2] for unit in block.units]
    assert depths == [5, 9, 13]


def test_transition_compresses_and_halves():
    layer = L.TransitionLayer(compression=0.25)
    y = layer(_random((1, 8, 8, 16)))
    assert tuple(y.shape) == (1, 4, 4, 4)


@pytest.mark.parametrize("strides", [1, 2])
def test_depthwise_separable_equals_separable_conv2d(strides):
    block = L.DepthwiseSeparableConv(6, strides=strides, use_batch_norm=False, activation=None)
    reference = keras.layers.SeparableConv2D(6, 3, strides=strides, padding="same")
    x = _random((2, 8, 8, 4))
    block.build(x.shape)
    reference.build(x.shape)
    depthwise = next(layer for layer in block.chain if layer.name == "depthwise")
    pointwise = next(layer for layer in block.chain if layer.name == "pointwise")
    reference.set_weights([_numpy(depthwise.kernel), *(_numpy(w) for w in pointwise.weights)])
    np.testing.assert_allclose(_numpy(block(x)), _numpy(reference(x)), rtol=1e-5, atol=1e-5)


def test_depthwise_separable_parameter_count():
    # Depthwise K*3*3 plus pointwise K*F, plus BatchNormalization's 4 per channel.
    block = L.DepthwiseSeparableConv(64)
    block.build((None, 56, 56, 32))
    assert block.count_params() == 32 * 9 + 32 * 64 + 4 * 32 + 4 * 64


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: L.MLPConv(0), "`filters` must be a positive int"),
        (lambda: L.MLPConv(4, mlp_filters=(3, -1)), "`mlp_filters`"),
        (lambda: L.InceptionModule(1, 1, 0, 1, 1, 1), "`filters_3x3` must be a positive int"),
        (lambda: L.InceptionModule(-1, 1, 1, 1, 1, 1), "`filters_1x1` must be a non-negative int"),
        (lambda: L.ResidualBlock(8, strides=0), "`strides` must be a positive int"),
        (lambda: L.ResidualBlock(8, dropout_rate=1.0), r"`dropout_rate` must be a number in \[0, 1\)"),
        (lambda: L.BottleneckBlock(8, stride_on="5x5"), "`stride_on` must be"),
        (lambda: L.BottleneckBlock(8, expansion=0), "`expansion` must be a positive int"),
        (lambda: L.ResNeXtBlock(30, cardinality=8), "`cardinality` must divide `filters`"),
        (lambda: L.BottleneckBlock(30, groups=8), "`groups` must divide `filters`"),
        (lambda: L.BottleneckBlock(30, groups=0), "`groups` must be a positive int"),
        (lambda: L.DenseBlock(0, 12), "`num_layers` must be a positive int"),
        (lambda: L.DenseBlock(4, 12.5), "`growth_rate` must be a positive int"),
        (lambda: L.TransitionLayer(compression=0), r"`compression` must be a number in \(0, 1\]"),
        (lambda: L.DepthwiseSeparableConv(8, strides=3), "`strides` must be 1 or 2"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("make, in_shape, out_shape", CASES[:1] + CASES[4:5] + CASES[11:12], ids=["mlp", "res", "dense"])
def test_non_image_input_is_rejected(make, in_shape, out_shape):
    with pytest.raises(ValueError, match=r"\(batch, height, width, channels\)"):
        make().build((None, 10, 3))


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_grouped_conv_equals_keras_conv_with_groups(groups):
    x = _random((2, 7, 7, 8))
    reference = keras.layers.Conv2D(12, 3, strides=2, padding="same", groups=groups)
    grouped = L.GroupedConv2D(12, 3, strides=2, padding="same", groups=groups)
    reference.build(x.shape)
    grouped.build(x.shape)
    assert [tuple(w.shape) for w in grouped.weights] == [tuple(w.shape) for w in reference.weights]
    grouped.set_weights([_random(tuple(w.shape)) for w in reference.weights])
    reference.set_weights(grouped.get_weights())
    np.testing.assert_allclose(_numpy(grouped(x)), _numpy(reference(x)), rtol=1e-5, atol=1e-5)


def test_grouped_conv_rejects_channels_first():
    with pytest.raises(ValueError, match="channels_last"):
        L.GroupedConv2D(4, 3, groups=2, data_format="channels_first")


def test_batch_norm_puts_a_normalisation_between_convolution_and_activation():
    block = L.MLPConv(8, kernel_size=3, mlp_filters=(6,), batch_norm=True)
    block.build((None, 9, 9, 3))
    kinds = [type(layer).__name__ for layer in block.convs]
    assert kinds == ["Conv2D", "BatchNormalization", "Activation"] * 2
    assert not block.convs[0].use_bias
    module = L.InceptionModule(4, 3, 5, 2, 3, 2, batch_norm=True)
    module.build((None, 9, 9, 6))
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for branch in module.branches for layer in branch) == 6


def test_local_response_normalization_equals_the_formula():
    x = RNG.uniform(0, 30, size=(2, 3, 4, 7)).astype("float32")
    layer = L.LocalResponseNormalization(depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
    squares = np.pad(x.astype("float64") ** 2, [(0, 0)] * 3 + [(2, 2)])
    energy = sum(squares[..., i : i + 7] for i in range(5))
    expected = x / (2.0 + 1e-4 * energy) ** 0.75
    np.testing.assert_allclose(_numpy(layer(x)), expected, rtol=1e-5)
