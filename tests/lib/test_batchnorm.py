"""Tests of course_lib.batchnorm on the backend named by KERAS_BACKEND."""

import keras
import numpy as np
import pytest

from course_lib import batchnorm
from course_lib.layers import ResidualBlock

RNG = np.random.default_rng(0)


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_batchnorm_layers_finds_nested_layers():
    model = keras.Sequential([keras.Input((8, 8, 3)), ResidualBlock(4, strides=2), keras.layers.BatchNormalization()])
    layers = batchnorm.batchnorm_layers(model)
    assert len(layers) == 4  # two in the branch, one on the projection, one at the end
    assert batchnorm.set_batchnorm_momentum(model, 0.5) == 4
    assert all(layer.momentum == 0.5 for layer in layers)
    with pytest.raises(ValueError, match="momentum"):
        batchnorm.set_batchnorm_momentum(model, 1.0)
    with pytest.raises(TypeError, match="model"):
        batchnorm.batchnorm_layers("model")


@pytest.mark.parametrize("steps", [1, 12, 100, 458])
def test_momentum_for_steps_leaves_one_percent_of_the_initial_statistics(steps):
    momentum = batchnorm.momentum_for_steps(steps)
    assert momentum**steps == pytest.approx(0.01)


def test_momentum_for_steps_keeps_the_keras_default_for_long_runs():
    assert batchnorm.momentum_for_steps(459) == batchnorm.KERAS_MOMENTUM == 0.99
    with pytest.raises(ValueError, match="steps"):
        batchnorm.momentum_for_steps(0)
    with pytest.raises(ValueError, match="weight_left"):
        batchnorm.momentum_for_steps(10, weight_left=1.5)


def test_recomputed_statistics_are_the_average_batch_statistics():
    dense = keras.layers.Dense(3)
    bn = keras.layers.BatchNormalization()
    model = keras.Sequential([keras.Input((5,)), dense, bn])
    x = RNG.normal(size=(64, 5)).astype("float32") * 3 + 1
    assert batchnorm.recompute_batchnorm_statistics(model, x, batch_size=16) == 1
    features = _numpy(dense(x)).reshape(4, 16, 3)
    np.testing.assert_allclose(_numpy(bn.moving_mean), features.mean(1).mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_numpy(bn.moving_variance), features.var(1).mean(0), rtol=1e-5, atol=1e-5)
    assert bn.momentum == 0.99  # restored


def test_after_recompute_inference_equals_training_mode_on_the_whole_batch():
    model = keras.Sequential([keras.Input((6, 6, 2)), ResidualBlock(3), keras.layers.GlobalAveragePooling2D()])
    x = RNG.normal(size=(32, 6, 6, 2)).astype("float32")
    before = _numpy(model(x, training=False))
    batchnorm.recompute_batchnorm_statistics(model, x, batch_size=32)
    after = _numpy(model(x, training=False))
    # Inner BN layers see the outputs of earlier BN layers in training mode, so with one batch
    # of all the data the recomputed statistics make inference mode equal training mode.
    np.testing.assert_allclose(after, _numpy(model(x, training=True)), rtol=1e-3, atol=1e-4)
    assert not np.allclose(before, after, atol=1e-3)


def test_recompute_checks_its_arguments_and_ignores_models_without_batchnorm():
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert batchnorm.recompute_batchnorm_statistics(plain, np.zeros((4, 3), "float32")) == 0
    with pytest.raises(ValueError, match="batch_size"):
        batchnorm.recompute_batchnorm_statistics(plain, np.zeros((4, 3)), batch_size=0)
    with pytest.raises(ValueError, match="first axis the example"):
        batchnorm.recompute_batchnorm_statistics(plain, np.zeros(3))
