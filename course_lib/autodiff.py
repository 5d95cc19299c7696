"""Gradients through the Keras backend's own automatic differentiation.

Keras 3 has no backend-independent gradient function (training steps are
written per backend), so this module holds the one place where the course asks
TensorFlow, JAX or PyTorch for a gradient. The from-scratch references in
`course_lib.ops` and the empirical receptive field are checked against it.
"""

import keras


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

    x = keras.ops.convert_to_tensor(x)
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
