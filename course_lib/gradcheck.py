"""Gradient checks: numerical gradients and two relative errors.

A hand-written backward pass is checked against a gradient computed by finite
differences (`numerical_gradient`), and the two are compared with CS231n's
relative error (`relative_error`): for every entry, `|a - b| / (|a| + |b|)`,
and the largest over the entries. In float64, below 1e-7 the two agree (the
finite differences' own error is about that size), above 1e-4 the backward
pass usually has a bug. The notebooks and the graded assignments use these
functions (the assignments through `course_lib.grading`).

Entry by entry, an entry near 0 in both arrays has a large relative error for
a tiny difference. That is what a gradient check wants (a wrong entry is
wrong however small), but not what a comparison of two computations of the
same output wants when the output has zeros (a filter on a flat image region)
or was computed in float32 (whose rounding error is relative to the largest
values, not to each entry). `normwise_relative_error` divides the largest
difference by the largest magnitude instead.
"""

import numpy as np

from course_lib._checks import check_array, check_number

__all__ = ["normwise_relative_error", "numerical_gradient", "relative_error"]


def _check_pair(a, b, eps):
    """`a` and `b` as float64 arrays (real numbers, not empty, broadcastable) and `eps` as a float."""
    a = check_array(a, "a").astype(np.float64)
    b = check_array(b, "b").astype(np.float64)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"`a` and `b` must have the same shape (or broadcastable shapes); received shapes {a.shape} and {b.shape}."
        ) from None
    return a, b, check_number(eps, "eps", low=0, low_open=True)


def relative_error(a, b, eps=1e-12):
    """CS231n's relative error: the largest over the entries of `|a - b| / max(|a| + |b|, eps)`.

    Args:
        a, b: arrays of the same shape (or broadcastable), compared in float64.
        eps: floor of the denominator, so that two zeros agree.

    Returns:
        A float in [0, 1]: 0 when the arrays are equal, 1 when an entry is 0
        in one and not in the other, or of opposite signs.

    Example:

    >>> round(relative_error([1.0, 2.0], [1.0, 2.0002]), 6)
    5e-05
    >>> relative_error([0.0, 1.0], [1e-9, 1.0])  # entry by entry: 1e-9 against 0 is all wrong
    1.0
    """
    a, b, eps = _check_pair(a, b, eps)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), eps)))


def normwise_relative_error(a, b, eps=1e-12):
    """The largest difference relative to the largest magnitude: `max |a - b| / max(max(|a| + |b|), eps)`.

    Where `relative_error` compares each entry with its own size, this
    compares every difference with the size of the largest entry: the right
    yardstick for two computations of the same output in floating point,
    whose rounding errors scale with the largest values.

    Args:
        a, b: arrays of the same shape (or broadcastable), compared in float64.
        eps: floor of the denominator, so that two zero arrays agree.

    Returns:
        A float in [0, 1], never larger than `relative_error(a, b)`.

    Example:

    >>> normwise_relative_error([0.0, 1.0], [1e-9, 1.0])  # 1e-9 against a largest |a| + |b| of 2
    5e-10
    """
    a, b, eps = _check_pair(a, b, eps)
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(a) + np.abs(b))), eps))


def numerical_gradient(f, x, h=1e-5):
    """Centred-difference gradient of a scalar function `f` at the array `x`.

    Args:
        f: a function of one array returning a float.
        x: float64 array; perturbed in place one entry at a time and restored.
        h: the step.

    Returns:
        An array of `x`'s shape: `(f(x + h e_i) - f(x - h e_i)) / (2 h)` at entry i.

    Raises:
        TypeError: `f` is not callable.
        ValueError: `x` is not a float64 array, `h` is not a positive
            number, or `f` does not return a scalar.

    Example:

    >>> numerical_gradient(lambda v: float(np.sum(v ** 2)), np.array([1.0, -2.0])).round(6).tolist()
    [2.0, -4.0]
    """
    if not callable(f):
        raise TypeError(f"`f` must be a function of one array returning a float; received {type(f).__name__}.")
    x = np.asarray(x)
    if x.dtype != np.float64:
        raise ValueError(f"`x` must be a float64 array; received dtype {x.dtype}.")
    h = check_number(h, "h", low=0, low_open=True)

    def value(point):
        result = np.asarray(f(point))
        if result.size != 1:
            raise ValueError(f"`f` must return a scalar; it returned shape {result.shape}.")
        return float(result.reshape(()))

    gradient = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        saved = x[index]
        x[index] = saved + h
        above = value(x)
        x[index] = saved - h
        below = value(x)
        x[index] = saved
        gradient[index] = (above - below) / (2 * h)
    return gradient
