"""course_lib.blockcheck: a hand-written block against course_lib's layer."""

import keras
import pytest

from course_lib.blockcheck import compare_with_course_lib
from course_lib.layers import ResidualBlock

EPSILON = 1.001e-5  # ResidualBlock's BatchNormalization epsilon (Keras's ResNets)


def conv_bn(x, filters, strides=1, size=3):
    x = keras.layers.Conv2D(filters, size, strides=strides, padding="same" if size > 1 else "valid",
                            use_bias=False)(x)
    return keras.layers.BatchNormalization(epsilon=EPSILON)(x)


def residual_block(x, filters, strides=1, shortcut=True):
    y = keras.layers.ReLU()(conv_bn(x, filters, strides))
    y = conv_bn(y, filters)
    if not shortcut:
        return keras.layers.ReLU()(y)
    if strides != 1 or x.shape[-1] != filters:
        x = conv_bn(x, filters, strides, size=1)
    return keras.layers.ReLU()(keras.layers.Add()([y, x]))


def test_the_same_block_gives_the_same_outputs_in_both_copy_modes():
    difference, ours, theirs = compare_with_course_lib(lambda x: residual_block(x, 8), ResidualBlock(8), (6, 6, 8))
    assert difference < 1e-4 and ours.count_params() == theirs.count_params()
    # A projection shortcut: the functional model lists the shortcut's layers among the branch's.
    difference, _, _ = compare_with_course_lib(lambda x: residual_block(x, 16, 2), ResidualBlock(16, strides=2),
                                               (8, 8, 8), copy_by_kind=True)
    assert difference < 1e-4


def test_a_block_that_differs_is_caught():
    # Without its shortcut, the block computes another function: the check must see it.
    difference, _, _ = compare_with_course_lib(lambda x: residual_block(x, 8, shortcut=False), ResidualBlock(8),
                                               (6, 6, 8))
    assert difference > 0.1
    # With BatchNormalization's default epsilon (1e-3 instead of 1.001e-5), the random moving
    # variances make the difference visible too: the statistics are not left at 0 and 1.
    def wrong_epsilon(x):
        y = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(x)
        y = keras.layers.ReLU()(keras.layers.BatchNormalization()(y))
        y = keras.layers.BatchNormalization()(keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(y))
        return keras.layers.ReLU()(keras.layers.Add()([y, x]))

    difference, _, _ = compare_with_course_lib(wrong_epsilon, ResidualBlock(8), (6, 6, 8))
    assert difference > 1e-4


def test_copying_by_kind_refuses_blocks_with_other_layers():
    with pytest.raises(ValueError, match="Conv2D layers with weights"):
        compare_with_course_lib(lambda x: residual_block(x, 8), ResidualBlock(16, strides=2), (8, 8, 8),
                                copy_by_kind=True)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(make_ours="block"), TypeError, "`make_ours`"),
    (dict(theirs=lambda x: x), TypeError, "`theirs`"),
    (dict(input_shape=(6, 6)), ValueError, "`input_shape`"),
    (dict(copy_by_kind="yes"), TypeError, "`copy_by_kind`"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    arguments = dict(make_ours=lambda x: residual_block(x, 8), theirs=ResidualBlock(8), input_shape=(6, 6, 8))
    with pytest.raises(error, match=match):
        compare_with_course_lib(**{**arguments, **kwargs})
