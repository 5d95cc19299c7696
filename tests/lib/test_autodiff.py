"""Tests of course_lib.autodiff on the backend named by KERAS_BACKEND."""

import keras
import numpy as np
import pytest

from course_lib.autodiff import value_and_gradient, weight_gradients


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


def _linear_model(rng, inputs=3, outputs=2):
    model = keras.Sequential([keras.Input((inputs,)), keras.layers.Dense(outputs)])
    model.set_weights([rng.normal(size=(inputs, outputs)).astype("float32"),
                       rng.normal(size=outputs).astype("float32")])
    return model


def test_weight_gradients_of_a_linear_model_match_the_closed_form():
    rng = np.random.default_rng(1)
    model = _linear_model(rng)
    x = rng.normal(size=(5, 3)).astype("float32")
    y = rng.normal(size=(5, 2)).astype("float32")
    kernel, bias = model.get_weights()
    residual = x @ kernel + bias - y
    loss, (kernel_gradient, bias_gradient) = weight_gradients(model, keras.losses.MeanSquaredError(), x, y)
    # loss = mean over all 10 entries of residual^2
    np.testing.assert_allclose(loss, np.mean(residual**2), rtol=1e-5)
    np.testing.assert_allclose(kernel_gradient, 2 * x.T @ residual / residual.size, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bias_gradient, 2 * residual.sum(axis=0) / residual.size, rtol=1e-4, atol=1e-6)
    # No step was taken.
    for before, after in zip((kernel, bias), model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_weight_gradients_follow_the_trainable_weights_and_leave_batchnorm_statistics():
    rng = np.random.default_rng(2)
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(3, name="hidden"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.Dense(2, activation="softmax", name="out"),
    ])
    model.get_layer("hidden").trainable = False
    statistics = [keras.ops.convert_to_numpy(w) for w in model.get_layer("bn").non_trainable_weights]
    x = rng.normal(size=(8, 4)).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, 2, 8), 2)
    _, gradients = weight_gradients(model, keras.losses.CategoricalCrossentropy(), x, y, training=True)
    assert [g.shape for g in gradients] == [tuple(w.shape) for w in model.trainable_weights]
    assert len(gradients) == 4  # bn gamma and beta, out kernel and bias: the frozen layer has none
    assert all(np.isfinite(g).all() and np.abs(g).sum() > 0 for g in gradients)
    for before, after in zip(statistics, model.get_layer("bn").non_trainable_weights):
        np.testing.assert_array_equal(before, keras.ops.convert_to_numpy(after))


def test_weight_gradients_reject_bad_arguments():
    model = _linear_model(np.random.default_rng(0))
    with pytest.raises(TypeError, match="`model`"):
        weight_gradients("not a model", keras.losses.MeanSquaredError(), np.zeros((1, 3)), np.zeros((1, 2)))
    with pytest.raises(TypeError, match="`loss_fn`"):
        weight_gradients(model, "mse", np.zeros((1, 3)), np.zeros((1, 2)))
