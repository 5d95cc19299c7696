"""Tests of course_lib.analysis on the backend named by KERAS_BACKEND."""

import keras
import numpy as np
import pytest

from course_lib import layers as L
from course_lib.analysis import count_macs, layer_macs, measure_throughput, parameter_table


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
