"""Gradients through the Keras backend's own automatic differentiation.

Keras 3 has no backend-independent gradient function (training steps are
written per backend), so this module holds the one place where the course asks
TensorFlow, JAX or PyTorch for a gradient. The from-scratch references in
`course_lib.ops` and the empirical receptive field are checked against it.
"""

import keras
import numpy as np

from course_lib._checks import check_model

__all__ = ["value_and_gradient", "weight_gradients"]


def _check_float(x, name):
    """Returns `x` (as an array unless it is a tensor), or raises a TypeError unless its dtype is a float."""
    if not hasattr(x, "dtype"):
        x = np.asarray(x)
    try:
        dtype = keras.backend.standardize_dtype(x.dtype)
    except ValueError:  # strings, objects
        dtype = str(x.dtype)
    if not dtype.startswith(("float", "bfloat")):
        raise TypeError(
            f"`{name}` must have a float dtype (a gradient is taken with respect to real numbers); "
            f"received {name} of dtype {dtype}. Convert it first, e.g. np.asarray({name}, 'float32')."
        )
    return x


def value_and_gradient(fn, x):
    """Evaluates a scalar function and its gradient with the backend's autodiff.

    Args:
        fn: a function of one tensor that returns a scalar tensor, written with
            `keras.ops` (or Keras layers and models).
        x: NumPy array (or tensor) at which to evaluate `fn` and its gradient.

    Returns:
        `(value, gradient)` as NumPy arrays; `gradient` has the shape of `x`.
        Float64 inputs stay float64 on TensorFlow and PyTorch; JAX computes in
        float32 unless `jax_enable_x64` is on.

    Example:

    >>> import numpy as np
    >>> value, grad = value_and_gradient(lambda t: keras.ops.sum(t ** 2), np.ones(3))
    >>> grad.tolist()
    [2.0, 2.0, 2.0]
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable; received {type(fn).__name__}.")

    def scalar_fn(t):
        value = fn(t)
        if tuple(keras.ops.shape(value)) != ():
            raise ValueError(
                f"`fn` must return a scalar; it returned shape {tuple(keras.ops.shape(value))}."
            )
        return value

    x = keras.ops.convert_to_tensor(_check_float(x, "x"))
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            value = scalar_fn(x)
        gradient = tape.gradient(value, x)
    elif backend == "jax":
        import jax

        value, gradient = jax.value_and_grad(scalar_fn)(x)
    elif backend == "torch":
        import torch

        x = x.detach().clone().requires_grad_(True)
        value = scalar_fn(x)
        (gradient,) = torch.autograd.grad(value, x)
        value = value.detach()
    else:
        raise NotImplementedError(f"No gradient for the Keras backend {backend!r}.")
    return keras.ops.convert_to_numpy(value), keras.ops.convert_to_numpy(gradient)


def weight_gradients(model, loss_fn, x, y, training=False):
    """The gradient of a loss with respect to each trainable weight of a model.

    One backward pass through the backend's automatic differentiation, without
    an optimizer step: the weights are not changed.

    Args:
        model: a built Keras model.
        loss_fn: `loss_fn(y, predictions)` returning a scalar tensor, e.g. a
            `keras.losses.Loss` instance.
        x: the model's input (NumPy array or tensor).
        y: the targets `loss_fn` compares the predictions with.
        training: the `training` argument of the forward pass (dropout and
            BatchNormalization behave as in `fit` when True; the moving
            statistics are not updated).

    Returns:
        `(loss, gradients)`: the loss as a float, and a list of NumPy arrays,
        one per entry of `model.trainable_weights`, in that order.

    Example:

    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    >>> model.set_weights([np.array([[1.0], [2.0]])])
    >>> loss, (kernel_gradient,) = weight_gradients(
    ...     model, keras.losses.MeanSquaredError(), np.array([[1.0, 1.0]]), np.array([[0.0]]))
    >>> loss, kernel_gradient.ravel().tolist()  # d(3^2)/dw = 2 * 3 * x
    (9.0, [6.0, 6.0])
    """
    check_model(model)
    if not callable(loss_fn):
        raise TypeError(f"`loss_fn` must be callable; received {type(loss_fn).__name__}.")
    x = keras.ops.convert_to_tensor(x)
    y = keras.ops.convert_to_tensor(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"`x` and `y` must have the same number of examples; received x of shape {tuple(x.shape)} "
            f"and y of shape {tuple(y.shape)}."
        )
    weights = model.trainable_weights
    # A forward pass with training=True updates BatchNormalization's moving
    # statistics on TensorFlow and PyTorch; they are put back afterwards.
    state = [keras.ops.convert_to_numpy(w) for w in model.non_trainable_weights]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=training))
        gradients = tape.gradient(loss, weights)
    elif backend == "jax":
        import jax

        trainable = [w.value for w in weights]
        non_trainable = [w.value for w in model.non_trainable_weights]

        def loss_of(values):
            predictions, _ = model.stateless_call(values, non_trainable, x, training=training)
            return loss_fn(y, predictions)

        loss, gradients = jax.value_and_grad(loss_of)(trainable)
    elif backend == "torch":
        import torch

        loss = loss_fn(y, model(x, training=training))
        gradients = torch.autograd.grad(loss, [w.value for w in weights])
        loss = loss.detach()
    else:
        raise NotImplementedError(f"No gradient for the Keras backend {backend!r}.")
    for variable, value in zip(model.non_trainable_weights, state):
        variable.assign(value)
    return float(keras.ops.convert_to_numpy(loss)), [keras.ops.convert_to_numpy(g) for g in gradients]
