"""The checks of the arguments every model builder shares with `keras.applications`.

Every builder in `course_lib.models`, from `lenet5` to `densenet`, takes
`input_shape`, `classes`, `include_top`, `pooling` and
`classifier_activation`, as a `keras.applications` builder does. They are
checked here, once, with the conventions and messages of
`course_lib._checks`; each builder checks its own knobs (width, depth,
cardinality, ...) with `course_lib._checks` too.
"""

import keras

from course_lib._checks import check_bool, check_classifier, check_positive_int, is_int

POOLING_MODES = (None, "avg", "max")


def validate_input_shape(input_shape, min_size):
    """Checks a channels-last image shape and returns it as a tuple of ints.

    Args:
        input_shape: `(rows, cols, channels)`.
        min_size: smallest number of rows and columns the network can take,
            an int or a `(rows, cols)` pair.

    Returns:
        `input_shape` as a tuple of three Python ints.

    Raises:
        ValueError: `input_shape` is not three positive ints, or is smaller
            than `min_size`.
    """
    min_rows, min_cols = (min_size, min_size) if is_int(min_size) else tuple(min_size)
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if shape is None or len(shape) != 3 or not all(is_int(d) and d > 0 for d in shape):
        raise ValueError(
            "`input_shape` must be a tuple of three positive ints (rows, cols, channels), "
            f"channels last; received input_shape={input_shape!r}."
        )
    shape = tuple(int(d) for d in shape)
    rows, cols, _ = shape
    if rows < min_rows or cols < min_cols:
        raise ValueError(
            f"`input_shape` must be at least ({min_rows}, {min_cols}, channels) for this "
            f"network (channels last: (rows, cols, channels)); received input_shape={shape}."
        )
    return shape


def validate_builder_args(
    input_shape, classes, include_top, pooling, classifier_activation, min_size
):
    """Checks the arguments of a `keras.applications`-style builder.

    Args:
        input_shape: `(rows, cols, channels)`, channels last.
        classes: number of classes, a positive int.
        include_top: bool, whether the classifier is built.
        pooling: `None`, `"avg"` or `"max"`; must be `None` when
            `include_top=True` (the classifier already reduces the features).
        classifier_activation: `None`, the name of a Keras activation or a
            callable.
        min_size: smallest rows and columns the network can take (int or
            `(rows, cols)`).

    Returns:
        `input_shape` as a tuple of three Python ints.

    Raises:
        ValueError: an argument has a wrong value (the message names it), or
            `classes=1` with a softmax (a constant output of 1.0).
        TypeError: `include_top` is not a bool, or `classifier_activation` is
            neither None, a string nor a callable.

    Example:

    >>> validate_builder_args((28, 28, 1), 10, True, None, "softmax", min_size=12)
    (28, 28, 1)
    """
    shape = validate_input_shape(input_shape, min_size)
    check_positive_int(classes, "classes")
    check_bool(include_top, "include_top")
    if include_top:
        check_classifier(classes, classifier_activation)
    if pooling is not None and not (isinstance(pooling, str) and pooling in POOLING_MODES):
        raise ValueError(
            "`pooling` must be one of None, 'avg', 'max'; "
            f"received pooling={pooling!r}."
        )
    if include_top and pooling is not None:
        raise ValueError(
            "`pooling` only applies to the feature extractor: pass include_top=False "
            f"to use pooling={pooling!r}, or pooling=None with include_top=True."
        )
    if classifier_activation is not None:
        if isinstance(classifier_activation, str):
            try:
                keras.activations.get(classifier_activation)
            except ValueError:
                raise ValueError(
                    "`classifier_activation` must be None, the name of a Keras activation "
                    "(e.g. 'softmax') or a callable; "
                    f"received classifier_activation={classifier_activation!r}."
                ) from None
        elif not callable(classifier_activation):
            raise TypeError(
                "`classifier_activation` must be None, a string or a callable; "
                f"received classifier_activation={classifier_activation!r}."
            )
    return shape
