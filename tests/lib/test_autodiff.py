"""Tests of course_lib.autodiff on the backend named by KERAS_BACKEND."""

import keras
import numpy as np
import pytest

from course_lib.autodiff import value_and_gradient


def test_gradient_of_a_quadratic_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4)).astype("float32")
    x = rng.normal(size=4).astype("float32")
    value, grad = value_and_gradient(lambda t: keras.ops.sum(t * keras.ops.matmul(a, t)), x)
    np.testing.assert_allclose(value, x @ a @ x, rtol=1e-5)
    np.testing.assert_allclose(grad, (a + a.T) @ x, rtol=1e-5, atol=1e-6)
    assert grad.shape == x.shape


def test_gradient_through_a_keras_layer():
    layer = keras.layers.Dense(1, use_bias=False)
    layer.build((None, 3))
    w = keras.ops.convert_to_numpy(layer.kernel)[:, 0]
    x = np.ones((1, 3), "float32")
    _, grad = value_and_gradient(lambda t: keras.ops.sum(layer(t)), x)
    np.testing.assert_allclose(grad[0], w, rtol=1e-6)


def test_bad_input():
    with pytest.raises(TypeError, match="`fn` must be callable"):
        value_and_gradient(3, np.ones(2))
    with pytest.raises(ValueError, match="must return a scalar"):
        value_and_gradient(lambda t: t * 2, np.ones(2, "float32"))
