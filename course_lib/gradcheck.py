"""Gradient checks: numerical gradients and the relative error of CS231n.

A hand-written backward pass is checked against a gradient computed by finite
differences, and the two are compared with the relative error
`|a - b| / (|a| + |b|)`: below 1e-7 the two agree to rounding, above 1e-4 the
backward pass usually has a bug. The notebooks and the graded assignments use
these two functions (the assignments through `course_lib.grading`).
"""

import numpy as np

__all__ = ["numerical_gradient", "relative_error"]


def relative_error(a, b, eps=1e-12):
    """The largest element-wise relative error `|a - b| / max(|a| + |b|, eps)` (CS231n's measure).

    Example:

    >>> round(relative_error([1.0, 2.0], [1.0, 2.0002]), 6)
    5e-05
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), eps)))


def numerical_gradient(f, x, h=1e-5):
    """Centred-difference gradient of a scalar function `f` at the array `x`.

    Args:
        f: a function of one array returning a float.
        x: float64 array; perturbed in place one entry at a time and restored.
        h: the step.

    Returns:
        An array of `x`'s shape: `(f(x + h e_i) - f(x - h e_i)) / (2 h)` at entry i.
    """
    x = np.asarray(x)
    if x.dtype != np.float64:
        raise ValueError(f"`x` must be a float64 array; received dtype {x.dtype}.")
    gradient = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        saved = x[index]
        x[index] = saved + h
        above = f(x)
        x[index] = saved - h
        below = f(x)
        x[index] = saved
        gradient[index] = (above - below) / (2 * h)
    return gradient
