"""Argument checks shared by every module of course_lib.

Public functions and layers check their arguments here, once, so that the
same mistake gets the same message everywhere (Keras keeps its own checks in
`keras/src/utils/argument_validation.py`). Every message names the argument
and what was expected: "`name` must be ...; received name=...".

Conventions:

- An int is a Python or NumPy integer, never a bool (`classes=True` is a
  mistake, not 1). The checks return Python ints, which Keras's seeds and
  layer configs need.
- A seed is None (fresh randomness at every run) or a non-negative int.
- Integer class labels have shape `(N,)` or `(N, 1)` (as `keras.datasets`
  returns them); one-hot or soft labels have shape `(N, classes)` and a float
  dtype. A wrong dtype raises a TypeError, a wrong shape or value a
  ValueError.
"""

import numbers

import numpy as np


def is_int(value):
    """Whether `value` is a Python or NumPy integer (bools are not).

    Example:

    >>> is_int(3), is_int(np.int64(3)), is_int(True), is_int(3.0)
    (True, True, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_positive_int(value, name, allow_none=False, allow_zero=False):
    """Returns `value` as a Python int, or raises a ValueError naming `name`.

    Args:
        value: the argument.
        name: its name, for the message.
        allow_none: whether None is accepted (and returned).
        allow_zero: whether 0 is accepted (a non-negative int).

    Returns:
        `int(value)`, or None.

    Example:

    >>> check_positive_int(np.int64(3), "filters")
    3
    """
    if value is None and allow_none:
        return None
    low = 0 if allow_zero else 1
    if not is_int(value) or value < low:
        kind = "non-negative" if allow_zero else "positive"
        alternative = "None or " if allow_none else ""
        raise ValueError(f"`{name}` must be {alternative}a {kind} int; received {name}={value!r}.")
    return int(value)


def check_positive_ints(values, name, length=None):
    """Returns a sequence of positive ints as a tuple, or raises a ValueError.

    Args:
        values: a list or tuple of ints (a single int is refused).
        name: the argument's name.
        length: the required length, or None for any (empty allowed).

    Example:

    >>> check_positive_ints([64, 32], "head_units")
    (64, 32)
    """
    what = f"a sequence of {length} positive ints" if length is not None else "a sequence of positive ints"
    if (
        not isinstance(values, (list, tuple))
        or (length is not None and len(values) != length)
        or not all(is_int(v) and v >= 1 for v in values)
    ):
        raise ValueError(f"`{name}` must be {what}; received {name}={values!r}.")
    return tuple(int(v) for v in values)


def check_depth_6n(depth, offset, examples, name="depth"):
    """Checks a CIFAR network's depth `6n + offset` (n >= 1) and returns `n`.

    He et al.'s CIFAR ResNets have `6n + 2` layers, wide ResNets and
    DenseNet-BC `6n + 4`: `n` blocks (or dense layers) in each of three stages.

    Args:
        depth: the argument.
        offset: the layers outside the stages (2 or 4).
        examples: a few valid depths, for the message.
        name: the argument's name.

    Example:

    >>> check_depth_6n(20, 2, (20, 32, 44))
    3
    >>> check_depth_6n(21, 2, (20, 32, 44))
    Traceback (most recent call last):
    ...
    ValueError: `depth` must be an int of the form 6n + 2 with n >= 1 (20, 32, 44, ...); received depth=21.
    """
    if not is_int(depth) or depth < 6 + offset or (depth - offset) % 6:
        listed = ", ".join(str(d) for d in examples)
        raise ValueError(
            f"`{name}` must be an int of the form 6n + {offset} with n >= 1 ({listed}, ...); "
            f"received {name}={depth!r}."
        )
    return (int(depth) - offset) // 6


def check_choice(value, name, options):
    """Returns `value` if it is one of `options`; otherwise a ValueError naming them.

    Example:

    >>> check_choice("same", "padding", ("valid", "same", "full"))
    'same'
    """
    if value not in options:
        choices = ", ".join(repr(o) for o in options)
        raise ValueError(f"`{name}` must be one of {choices}; received {name}={value!r}.")
    return value


def check_int_pair(value, name):
    """Returns an int or a pair of ints as a pair of positive ints.

    Example:

    >>> check_int_pair(3, "kernel_size"), check_int_pair((3, 5), "kernel_size")
    ((3, 3), (3, 5))
    """
    if is_int(value) and value >= 1:
        return (int(value),) * 2
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(is_int(v) and v >= 1 for v in value):
        return tuple(int(v) for v in value)
    raise ValueError(
        f"`{name}` must be a positive int or a pair of positive ints; received {name}={value!r}."
    )


def _interval(low, high, low_open, high_open):
    if high is None:
        if low is None:
            return "a number"
        if low == 0:
            return "a positive number" if low_open else "a non-negative number"
        return f"a number {'>' if low_open else '>='} {low}"
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    return f"a number in {left}{'-inf' if low is None else low}, {high}{right}"


def check_number(value, name, low=None, high=None, low_open=False, high_open=False):
    """Returns a real number within bounds as a float, or raises a ValueError.

    Args:
        value: the argument (an int or a float; not a bool).
        name: its name.
        low, high: the bounds, None for none.
        low_open, high_open: whether the bound itself is excluded.

    Returns:
        `float(value)`.

    Example:

    >>> check_number(0.5, "alpha", low=0, low_open=True)
    0.5
    >>> check_number(1.5, "rate", 0, 1, high_open=True)
    Traceback (most recent call last):
    ...
    ValueError: `rate` must be a number in [0, 1); received rate=1.5.
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:  # also NaN, which fails every comparison
        raise ValueError(
            f"`{name}` must be {_interval(low, high, low_open, high_open)}; received {name}={value!r}."
        )
    return float(value)


def check_rate(value, name):
    """Returns a dropout-like rate in [0, 1) as a float, or raises a ValueError."""
    return check_number(value, name, 0, 1, high_open=True)


def check_string(value, name):
    """Returns `value` if it is a non-empty string, else raises a ValueError."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"`{name}` must be a non-empty string; received {name}={value!r}.")
    return value


def check_bool(value, name):
    """Returns `value` if it is True or False, else raises a TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False; received {name}={value!r}.")
    return bool(value)


def check_seed(seed, name="seed", allow_none=True):
    """Returns a seed as a Python int (or None), or raises a ValueError.

    A seed is None (fresh randomness at every run) or a non-negative int,
    Python or NumPy (NumPy's and Keras's generators take both). Functions
    that record or resume a run by its seed pass `allow_none=False`.

    Example:

    >>> check_seed(np.int32(7)), check_seed(None)
    (7, None)
    """
    return check_positive_int(seed, name, allow_none=allow_none, allow_zero=True)


def class_indices(labels, name="y", num_classes=None):
    """Integer class labels of shape `(N,)` or `(N, 1)`, as a 1-D array.

    Args:
        labels: array-like of integer class labels (an empty one is allowed).
        name: the argument's name.
        num_classes: if given, every label must lie in `[0, num_classes)`.

    Returns:
        A 1-D NumPy integer array (a view of `labels` when possible).

    Raises:
        ValueError: `labels` has another shape (e.g. one-hot), or a label is
            out of range.
        TypeError: `labels` is not of an integer dtype.

    Example:

    >>> class_indices([[3], [0], [1]]).tolist()
    [3, 0, 1]
    """
    array = np.asarray(labels)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    expected = f"`{name}` must hold integer class labels of shape (N,) or (N, 1)"
    if array.ndim != 1:
        hint = " (one-hot labels: take their argmax)" if array.ndim == 2 else ""
        raise ValueError(f"{expected}{hint}; received {name} of shape {np.shape(labels)}.")
    if array.size == 0:
        return array.astype("int64")
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{expected}; received {name} of dtype {array.dtype}.")
    if num_classes is not None and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(
            f"`{name}` must hold labels in [0, {num_classes}); received labels in "
            f"[{array.min()}, {array.max()}]."
        )
    return array


def check_soft_labels(labels, name="labels"):
    """Checks one-hot or soft labels: a float dtype and shape `(batch, classes)`.

    Only static properties are checked, so that `labels` may be a NumPy
    array, a backend tensor or a symbolic `KerasTensor` (inside a model or a
    `tf.data` pipeline).

    Raises:
        TypeError: `labels` has an integer dtype (class indices).
        ValueError: `labels` is not 2-D, or has fewer than 2 columns.
    """
    import keras

    if not keras.backend.is_float_dtype(labels.dtype):
        raise TypeError(
            f"`{name}` must be one-hot or soft labels of a float dtype, shape (batch, classes); "
            f"received {name} of dtype {keras.backend.standardize_dtype(labels.dtype)}. "
            "Mixing integer class indices is meaningless: convert them with "
            "keras.utils.to_categorical(labels, num_classes)."
        )
    if len(labels.shape) != 2:
        raise ValueError(
            f"`{name}` must be 2-D, shape (batch, classes) (one-hot or soft labels); "
            f"received {name} of shape {tuple(labels.shape)}."
        )
    if labels.shape[-1] is not None and labels.shape[-1] < 2:
        # A single column is class indices stored as floats, not a distribution over classes.
        raise ValueError(
            f"`{name}` must have one column per class (at least 2), one-hot or soft; received {name} of "
            f"shape {tuple(labels.shape)}. Convert class indices with keras.utils.to_categorical."
        )


def check_model(model, name="model"):
    """Raises a TypeError naming `name` unless `model` is a `keras.Model`."""
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"`{name}` must be a keras.Model; received {type(model).__name__}.")


def check_image_batch(images, name="images"):
    """Returns a batch of channels-last images `(N, rows, cols, channels)` as an array.

    Raises:
        ValueError: `images` is not 4-D.
    """
    array = np.asarray(images)
    if array.ndim != 4:
        raise ValueError(
            f"`{name}` must be a batch of images of shape (N, rows, cols, channels); "
            f"received shape {array.shape}."
        )
    return array


def check_image_input(input_shape, layer_name):
    """Raises a ValueError unless a layer's `input_shape` is 4-D with known channels."""
    if len(input_shape) != 4 or input_shape[-1] is None:
        raise ValueError(
            f"{layer_name} expects inputs of shape (batch, height, width, channels) "
            f"with a known number of channels; received input_shape={tuple(input_shape)}."
        )


def check_array(value, name, ndim=None, shape="", finite=False, allow_empty=False):
    """Returns `value` as a NumPy array of real numbers, or raises an error naming `name`.

    Args:
        value: the argument (array-like).
        name: its name, for the message.
        ndim: the required rank, an int or a tuple of allowed ranks (None:
            any).
        shape: what the shape should be, for the message (e.g. "(N, rows,
            cols, channels)").
        finite: whether NaN and infinite values are refused.
        allow_empty: whether an array without elements is accepted.

    Returns:
        `np.asarray(value)`.

    Raises:
        TypeError: `value` does not hold real numbers (strings, objects,
            booleans, complex numbers).
        ValueError: a wrong rank, no elements, or a non-finite value.

    Example:

    >>> check_array([[1, 2]], "kernel", ndim=2).shape
    (1, 2)
    >>> check_array([1.0, float("nan")], "x", finite=True)
    Traceback (most recent call last):
    ...
    ValueError: `x` must hold finite numbers; received 1 NaN and 0 infinite values among its 2 values.
    """
    try:
        array = np.asarray(value)
    except ValueError:  # ragged nested sequences
        raise ValueError(f"`{name}` must be an array{' of shape ' + shape if shape else ''}; "
                         f"received a ragged sequence.") from None
    if array.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must hold real numbers; received {name} of dtype {array.dtype}.")
    if ndim is not None and array.ndim not in ((ndim,) if is_int(ndim) else tuple(ndim)):
        expected = f"shape {shape}" if shape else f"rank {ndim}"
        raise ValueError(f"`{name}` must have {expected}; received {name} of shape {array.shape}.")
    if array.size == 0 and not allow_empty:
        raise ValueError(f"`{name}` must not be empty; received {name} of shape {array.shape}.")
    if finite:
        check_finite(array, name)
    return array


def check_finite(array, name):
    """Raises a ValueError naming `name` if the NumPy array `array` holds NaN or infinity.

    Example:

    >>> check_finite(np.array([1.0, np.inf]), "mean")
    Traceback (most recent call last):
    ...
    ValueError: `mean` must hold finite numbers; received 0 NaN and 1 infinite values among its 2 values.
    """
    array = np.asarray(array)
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        nans = int(np.isnan(array).sum())
        infinite = int(np.isinf(array).sum())
        raise ValueError(
            f"`{name}` must hold finite numbers; received {nans} NaN and {infinite} infinite values "
            f"among its {array.size} values."
        )


def check_distributions(labels, name="labels", atol=1e-3):
    """Checks that each row of a concrete label array is a probability distribution.

    One-hot and soft labels (label smoothing, mixup) are non-negative and
    each row sums to 1; rows summing to 3 or holding negative values would
    be mixed and trained on without any error. `labels` must already have
    passed `check_soft_labels`.

    Args:
        labels: a NumPy array `(batch, classes)`.
        name: the argument's name.
        atol: tolerance on each row's sum (float16 labels round).

    Raises:
        ValueError: a value is NaN, infinite or negative, or a row does not
            sum to 1.

    Example:

    >>> check_distributions(np.array([[0.9, 0.1], [3.0, 0.0]], "float32"))
    Traceback (most recent call last):
    ...
    ValueError: Each row of `labels` must be a probability distribution over the classes (non-negative, summing to 1); row 1 sums to 3.
    """
    labels = np.asarray(labels)
    check_finite(labels, name)
    if labels.size and labels.min() < 0:
        row = int(np.argwhere(labels < 0)[0][0])
        raise ValueError(
            f"Each row of `{name}` must be a probability distribution over the classes (non-negative, "
            f"summing to 1); row {row} holds {labels[row].min():.4g}."
        )
    sums = labels.astype("float64").sum(axis=-1)
    wrong = np.flatnonzero(np.abs(sums - 1) > atol)
    if wrong.size:
        raise ValueError(
            f"Each row of `{name}` must be a probability distribution over the classes (non-negative, "
            f"summing to 1); row {wrong[0]} sums to {sums[wrong[0]]:.4g}."
        )


def _is_softmax(activation):
    return activation == "softmax" or getattr(activation, "__name__", None) == "softmax"


def check_classifier(classes, classifier_activation, name="classes"):
    """Returns `classes` as an int, refusing a softmax over a single class.

    A softmax over one output is always 1.0, whatever the input: the model
    cannot learn anything. A binary classifier has one sigmoid output or two
    softmax outputs.

    Example:

    >>> check_classifier(1, "sigmoid")
    1
    >>> check_classifier(1, "softmax")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `classes=1` with classifier_activation='softmax' always outputs 1.0: a softmax over one ...
    """
    classes = check_positive_int(classes, name)
    if classes == 1 and _is_softmax(classifier_activation):
        raise ValueError(
            f"`{name}=1` with classifier_activation='softmax' always outputs 1.0: a softmax over one class "
            "is constant. For two classes, use classes=1 with classifier_activation='sigmoid', "
            "or classes=2 with 'softmax'."
        )
    return classes
