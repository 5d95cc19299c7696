"""Tests of course_lib.analysis on the backend named by KERAS_BACKEND."""

import keras
import numpy as np
import pytest

from course_lib import layers as L
from course_lib.analysis import count_macs, layer_macs, layer_table, measure_throughput, parameter_table


def _model(*layers, shape=(8, 8, 3)):
    return keras.Sequential([keras.Input(shape), *layers])


@pytest.mark.parametrize(
    "layer, expected",
    [
        # 6x6 outputs, 3x3x3 window, 4 filters
        (keras.layers.Conv2D(4, 3), 6 * 6 * 3 * 3 * 3 * 4),
        # "same" at stride 2: 4x4 outputs
        (keras.layers.Conv2D(4, 3, strides=2, padding="same"), 4 * 4 * 3 * 3 * 3 * 4),
        # depthwise: one 3x3 window per channel and multiplier
        (keras.layers.DepthwiseConv2D(3, depth_multiplier=2), 6 * 6 * 3 * 3 * 3 * 2),
        # separable: depthwise, then a 1x1 from 3 to 5 maps
        (keras.layers.SeparableConv2D(5, 3), 6 * 6 * (3 * 3 * 3 + 3 * 5)),
        (keras.layers.Dense(7), 8 * 8 * 3 * 7),  # a dense layer per position
        (keras.layers.MaxPooling2D(2), 0),
    ],
    ids=["conv", "conv_stride2", "depthwise", "separable", "dense", "pool"],
)
def test_layer_macs_formulas(layer, expected):
    model = _model(layer)
    assert layer_macs(model.layers[0]) == expected
    assert count_macs(model) == expected


def test_grouped_convolution_divides_the_cost():
    full = _model(keras.layers.Conv2D(8, 3), shape=(8, 8, 4))
    grouped = _model(keras.layers.Conv2D(8, 3, groups=4), shape=(8, 8, 4))
    assert count_macs(full) == 4 * count_macs(grouped)


def test_count_macs_descends_into_composite_layers():
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(inputs, L.ResidualBlock(4)(inputs))
    # two 3x3 convolutions from 4 to 4 maps on an 8x8 grid, identity shortcut
    assert count_macs(model) == 2 * 8 * 8 * 3 * 3 * 4 * 4


def test_parameter_table_blocks_and_shares():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="block1_conv1")(inputs)
    x = keras.layers.Conv2D(4, 3, name="block1_conv2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(10, name="head_dense")(x)
    table = parameter_table(keras.Model(inputs, x))
    assert list(table.index) == ["block1", "head"]
    assert table.loc["block1", "layers"] == 2
    assert table.loc["block1", "parameters"] == (27 * 4 + 4) + (36 * 4 + 4)
    assert table.loc["head", "parameters"] == 4 * 4 * 4 * 10 + 10
    assert table.loc["head", "macs"] == 4 * 4 * 4 * 10
    assert np.isclose(table["parameter_share"].sum(), 1.0)
    custom = parameter_table(keras.Model(inputs, x), block_of=lambda name: name)
    assert len(custom) == 3


def test_layer_table_of_lenet5():
    from course_lib.models import lenet5

    model = lenet5(input_shape=(28, 28, 1), classes=10)
    table = layer_table(model)
    names = ["c1_conv", "s2_pool", "c3_conv", "s4_pool", "flatten", "c5_dense", "f6_dense", "predictions"]
    assert list(table.index) == names
    assert list(table.columns) == [
        "type", "window", "stride", "output_shape", "parameters", "macs", "receptive_field"]
    # LeCun et al. (1998): N filters of k x k over C maps have N (k k C + 1) parameters,
    # a dense layer of m units on n inputs (n + 1) m; 61,706 in all for this variant.
    parameters = [6 * (5 * 5 * 1 + 1), 0, 16 * (5 * 5 * 6 + 1), 0, 0, (400 + 1) * 120, (120 + 1) * 84,
                  (84 + 1) * 10]
    assert table["parameters"].tolist() == parameters
    assert sum(parameters) == 61_706
    # One multiply-add per weight and output position (biases not counted).
    assert table["macs"].tolist() == [28 * 28 * 5 * 5 * 6, 0, 10 * 10 * 5 * 5 * 6 * 16, 0, 0, 400 * 120,
                                      120 * 84, 84 * 10]
    assert table["output_shape"].tolist() == [
        (28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16), (400,), (120,), (84,), (10,)]
    assert table.loc["c1_conv", "window"] == (5, 5) and table.loc["c1_conv", "stride"] == (1, 1)
    assert table.loc["s2_pool", "window"] == (2, 2) and table.loc["s2_pool", "stride"] == (2, 2)
    assert table.loc["c5_dense", "window"] is None
    # As in test_receptive_field.test_lenet5_stack: 5, 5 + 1 = 6, 6 + 4 * 2 = 14, 14 + 1 * 2 = 16,
    # then every unit after Flatten sees the whole 28x28 input.
    fields = table["receptive_field"].tolist()
    assert fields == [(5, 5), (6, 6), (14, 14), (16, 16)] + [(28, 28)] * 4


def test_layer_table_of_alexnet():
    from course_lib.models.alexnet import alexnet

    table = layer_table(alexnet())  # 227x227, the two-GPU groups
    assert table.loc["conv1", "parameters"] == 11 * 11 * 3 * 96 + 96
    assert table.loc["conv1", "macs"] == 55 * 55 * 11 * 11 * 3 * 96  # 105 M
    # conv2 is split in two groups of 48 input maps each.
    assert table.loc["conv2", "parameters"] == 5 * 5 * 48 * 256 + 256
    assert table.loc["conv2", "macs"] == 27 * 27 * 5 * 5 * 48 * 256
    assert table.loc["fc1", "parameters"] == (6 * 6 * 256 + 1) * 4096
    # r_out = r_in + (k - 1) j_in: 11, pool 3/2 -> 19 (j 8), conv2 5 -> 51, pool -> 67 (j 16),
    # three 3x3 -> 99, 131, 163, pool5 -> 195, AlexNet's published receptive field.
    fields = {name: table.loc[name, "receptive_field"][0]
              for name in ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5")}
    assert list(fields.values()) == [11, 19, 51, 67, 99, 131, 163, 195]
    assert table.loc["lrn1", "receptive_field"] == (11, 11)  # normalises across channels only
    assert table["parameters"].sum() == 60_965_224


def test_layer_table_sums_composite_layers_and_skips_the_input():
    inputs = keras.Input((8, 8, 4), name="image")
    x = L.ResidualBlock(4, name="block")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(x))
    table = layer_table(model)
    assert list(table.index) == ["block", "gap", "out"]
    block = table.loc["block"]
    # Two 3x3 convolutions (no bias) and two BatchNormalizations on 4 maps, identity shortcut.
    assert block["parameters"] == 2 * (3 * 3 * 4 * 4) + 2 * 4 * 4
    assert block["macs"] == 2 * 8 * 8 * 3 * 3 * 4 * 4
    assert block["window"] is None and block["receptive_field"] == (5, 5)
    assert table.loc["gap", "receptive_field"] == (8, 8)
    assert table["macs"].sum() == count_macs(model)
    with pytest.raises(TypeError, match="`model` must be a keras.Model"):
        layer_table(keras.layers.Dense(3))


def test_measure_throughput_reports_both_rates():
    model = _model(keras.layers.Conv2D(2, 3), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax"))
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.weights]
    result = measure_throughput(model, batch_size=4, steps=2, warmup=1)
    assert result["inference"] > 0 and result["training"] > 0 and result["batch_size"] == 4
    assert keras.backend.backend() in result["device"]
    for a, b in zip(before, model.weights):  # the training step used a clone
        np.testing.assert_array_equal(a, keras.ops.convert_to_numpy(b))


def test_bad_input():
    with pytest.raises(TypeError, match="`model` must be a keras.Model"):
        count_macs(keras.layers.Dense(3))
    free = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match="fixed size"):
        count_macs(free)
    with pytest.raises(ValueError, match="`batch_size` must be a positive int"):
        measure_throughput(_model(keras.layers.Flatten()), batch_size=0)
    with pytest.raises(TypeError, match="`block_of` must be a function"):
        parameter_table(_model(keras.layers.Flatten()), block_of="name")
