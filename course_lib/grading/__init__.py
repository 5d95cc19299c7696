"""Checks for the graded assignments' tests, with messages a student can act on.

The assignments in `notebooks/assignments` are graded by otter-grader, which
runs each test case and shows the student the exception it raises. A bare
`assert np.allclose(a, b)` says nothing useful when it fails, and a student
function that raises, returns `None`, the wrong shape or NaNs must fail its
test with a message, not crash the grader. So the tests call the student's
code through `call` and compare with `assert_same_array` / `assert_equal`,
which raise `AssertionError`s that say what was expected and what came back.

This package is also the instructor's grader, in sub-modules that students
never import: `checks` (each assignment's checks, its honour-code rules),
`judge` (scores a submission with otter's tests, within budgets), `sandbox`
(the submission's code in bubblewrap's OS sandbox, answering by data only)
and `report` (the honour-code flags and the students' feedback).

Example:

>>> import numpy as np
>>> from course_lib.grading import assert_same_array, call
>>> result = call(np.add, np.ones(2), np.ones(2), name="add")
>>> assert_same_array(result, np.full(2, 2.0), name="add(ones, ones)")
"""

import re

import numpy as np

# Gradient checks live in their own module; the assignments' tests import them from here.
from course_lib.gradcheck import numerical_gradient, relative_error

__all__ = [
    "call",
    "assert_equal",
    "unpack",
    "assert_same_array",
    "numerical_gradient",
    "relative_error",
    "layer_output",
    "randomize_weights",
    "random_weights",
    "assign_weights",
    "in_submission",
    "Answers",
    "layer_answers",
    "saved_model",
]


def _describe(value):
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r:.60}"


def call(function, *args, name=None, **kwargs):
    """Calls a student's function, turning any exception into a readable failure.

    Args:
        function: the student's function (a missing definition arrives as `None`).
        *args, **kwargs: passed to `function`.
        name: how the call reads in messages, e.g. `"output_size(7, 3, 'same', 2)"`
            (default: the function's `__name__`).

    Returns:
        What `function` returns.

    Raises:
        AssertionError: if `function` is not callable or raises; the message
            names the function, the exception and its text.
    """
    name = name or getattr(function, "__name__", "the function")
    if not callable(function):
        defined = name.split("(")[0]
        raise AssertionError(
            f"`{defined}` is not defined as a function (got {_describe(function)}): run its cell, and fix any error it shows."
        )
    try:
        return function(*args, **kwargs)
    except Exception as error:  # the student's bug, reported instead of crashing the grader
        # Keras decorates errors raised in `call` with terminal colour codes: drop them.
        message = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
        raise AssertionError(f"{name} raised {type(error).__name__}: {message}") from None


def assert_equal(actual, expected, name):
    """Asserts `actual == expected` for ints, tuples and other exact values.

    Args:
        actual: what the student's code returned.
        expected: the right value.
        name: what was computed, e.g. `"output_size(7, 3, 'same', 2)"`.
    """
    if actual is None and expected is not None:
        raise AssertionError(f"{name} returned None: is a `return` missing, or the `...` still there?")
    if isinstance(expected, (int, np.integer)) and not isinstance(expected, bool):
        if isinstance(actual, bool) or not isinstance(actual, (int, np.integer)):
            raise AssertionError(f"{name} should return an int, got {_describe(actual)}.")
    if actual != expected:
        raise AssertionError(f"{name} returned {actual!r}; expected {expected!r}.")


def assert_same_array(actual, expected, name, rtol=1e-5, atol=1e-6):
    """Asserts that `actual` is an array of `expected`'s shape with close, finite values.

    Args:
        actual: what the student's code returned (an array, or anything
            `np.asarray` turns into a numeric array).
        expected: the reference array.
        name: what was computed, used in the messages.
        rtol, atol: tolerances of `np.allclose`, relative to the values and absolute.

    Raises:
        AssertionError: naming the first problem found: not an array, wrong
            shape, NaN or infinite values, or the number of wrong entries with
            the largest error and where it is.
    """
    expected = np.asarray(expected)
    if actual is None:
        raise AssertionError(f"{name} returned None: is a `return` missing, or the `...` still there?")
    try:
        values = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{name} should return a numeric array, got {_describe(actual)}.") from None
    if values.shape != expected.shape:
        raise AssertionError(f"{name} returned shape {values.shape}; expected shape {expected.shape}.")
    bad = ~np.isfinite(values)
    if bad.any():
        raise AssertionError(f"{name} returned NaN or infinite values at {int(bad.sum())} of {values.size} positions.")
    wrong = ~np.isclose(values, expected, rtol=rtol, atol=atol)
    if wrong.any():
        error = np.abs(values - expected)
        where = np.unravel_index(np.argmax(error), error.shape)
        raise AssertionError(
            f"{name} is wrong at {int(wrong.sum())} of {values.size} positions; the largest error is "
            f"{error[where]:.3g} at index {tuple(int(i) for i in where)} (got {values[where]:.6g}, "
            f"expected {expected[where]:.6g})."
        )


def unpack(result, parts, name):
    """Checks that a student's function returned a tuple of `parts`, and returns it.

    Args:
        result: what the function returned.
        parts: the names of the expected items, e.g. `("dx", "dkernel", "dbias")`.
        name: what was computed, used in the messages.

    Returns:
        `result` as a tuple of `len(parts)` items.
    """
    expected = f"a tuple ({', '.join(parts)})"
    if result is None:
        raise AssertionError(f"{name} returned None: is a `return` missing, or the `...` still there? It should return {expected}.")
    if not isinstance(result, (tuple, list)) or len(result) != len(parts):
        raise AssertionError(f"{name} should return {expected}, got {_describe(result)}.")
    return tuple(result)


def layer_output(layer, inputs, name, **kwargs):
    """Calls a student's Keras layer (or model) on `inputs`, failing readably.

    Args:
        layer: a Keras layer or model (or any callable).
        inputs: a NumPy array or tensor, or a symbolic `keras.Input`.
        name: how the call reads in messages, e.g. `"ResidualBlock(8, strides=2)(x)"`.
        **kwargs: passed to the call, e.g. `training=False`.

    Returns:
        The output as a NumPy array; for a symbolic input, the symbolic output.

    Raises:
        AssertionError: if the call raises, returns None (a `call()` that
            still ends in `...`) or returns something that is not a tensor.
    """
    import keras

    result = call(layer, inputs, name=name, **kwargs)
    if result is None:
        raise AssertionError(f"{name} returned None: does `call()` return its result, or is the `...` still there?")
    if isinstance(result, keras.KerasTensor):
        return result
    try:
        return np.asarray(keras.ops.convert_to_numpy(result))
    except Exception:
        raise AssertionError(f"{name} should return a tensor, got {_describe(result)}.") from None


def _random_value(name, shape, rng):
    if name in ("gamma", "moving_variance"):  # scales and variances: positive
        return rng.uniform(0.5, 2.0, size=shape)
    if name in ("kernel", "depthwise_kernel", "pointwise_kernel") and len(shape) > 1:
        fan_in = int(np.prod(shape[:-1])) or 1
        return rng.normal(size=shape) / np.sqrt(fan_in)
    return rng.normal(scale=0.5, size=shape)


def randomize_weights(layer, rng):
    """Gives every float variable of a Keras layer a random value; returns the values.

    Variables with the same name and shape get the same value. A test can so
    compare a student's layer with a reference computed from those values
    without knowing how the student named or ordered the sublayers: the
    reference looks its weights up by `(name, shape)`, e.g.
    `values["kernel", (3, 3, 8, 16)]` or `values["moving_variance", (16,)]`.
    Kernels are normal with variance 1 / fan-in, BatchNormalization's `gamma`
    and `moving_variance` uniform in [0.5, 2], everything else normal with
    standard deviation 0.5.

    Args:
        layer: a built Keras layer or model.
        rng: a `np.random.Generator`.

    Returns:
        `{(variable name, shape): float64 array}`, one entry per distinct key.
    """
    values = {}
    for variable in layer.weights:
        if not np.issubdtype(np.dtype(variable.dtype), np.floating):
            continue
        key = (variable.name, tuple(int(n) for n in variable.shape))
        if key not in values:
            values[key] = _random_value(*key, rng)
        variable.assign(values[key].astype(variable.dtype))
    return values


def random_weights(keys, rng):
    """Random values for weights named by `(name, shape)`, drawn where the reference is computed.

    The values follow `randomize_weights`'s rules (kernels with variance 1 /
    fan-in, positive scales and variances). The judge draws them, a probe
    only assigns them (`assign_weights`), so the reference never depends on
    what the submission reports.

    Args:
        keys: `(variable name, shape)` pairs, e.g. `("kernel", (3, 3, 8, 16))`.
        rng: a `np.random.Generator`.

    Returns:
        `{(name, shape): float64 array}`, one entry per distinct key, drawn in the order given.

    Example:

    >>> values = random_weights([("gamma", (4,)), ("kernel", (3, 3, 2, 4))], np.random.default_rng(0))
    >>> bool((values["gamma", (4,)] > 0).all()), values["kernel", (3, 3, 2, 4)].shape
    (True, (3, 3, 2, 4))
    """
    values = {}
    for name, shape in keys:
        key = (str(name), tuple(int(n) for n in shape))
        if key not in values:
            values[key] = _random_value(*key, rng)
    return values


def assign_weights(layer, values, name="the layer"):
    """Gives every float variable of a Keras layer its value from `values`, by `(name, shape)`.

    Args:
        layer: a built Keras layer or model.
        values: `{(variable name, shape): array}`, e.g. from `random_weights`.
        name: how the layer reads in messages.

    Raises:
        AssertionError: if the layer has a float variable whose `(name, shape)`
            is not in `values` (a weight the reference does not know).
    """
    for variable in layer.weights:
        if not np.issubdtype(np.dtype(variable.dtype), np.floating):
            continue
        key = (variable.name, tuple(int(n) for n in variable.shape))
        if key not in values:
            raise AssertionError(
                f"{name} has a weight `{key[0]}` of shape {key[1]} that the reference block does not have: "
                "see the layers it needs (e.g. a convolution with `use_bias=False`)."
            )
        variable.assign(np.asarray(values[key]).astype(variable.dtype))


def in_submission(probe, *args, **kwargs):
    """Calls `probe(*args, **kwargs)` where the submission's code lives, and returns its result.

    In the student's notebook (`grader.check`) that is here. In the judge
    (`course_lib.grading.judge`), where the student's functions and classes are
    remote handles, the probe's source is sent to the submission's process
    and run there; only its result, as data, comes back, and the test compares
    that with references it computes itself. So a probe must be
    self-contained (its own imports, no variables from around it) and return
    data: numbers, strings, arrays, and lists, tuples and dicts of them.

    Args:
        probe: a function of the arguments.
        *args, **kwargs: its arguments, among them the student's objects.

    Returns:
        What the probe returns.
    """
    import inspect
    import textwrap

    from course_lib.grading.sandbox import Ref

    def is_remote(value):
        return getattr(value, "__course_remote__", False) is True

    remote = next((value for value in (*args, *kwargs.values()) if is_remote(value)), None)
    if remote is None:
        return probe(*args, **kwargs)
    if probe.__code__.co_freevars:
        raise ValueError(f"the probe {probe.__name__} uses variables from around it: {probe.__code__.co_freevars}")
    source = textwrap.dedent(inspect.getsource(probe))
    args = [Ref(value.__name__) if is_remote(value) else value for value in args]
    kwargs = {key: Ref(value.__name__) if is_remote(value) else value for key, value in kwargs.items()}
    return remote.run_probe(source, probe.__name__, args, kwargs)


class Answers(dict):
    """A probe's answers; a missing answer raises the probe's error as an `AssertionError`.

    A probe stops at the first step that fails and records its message under
    `"error"`; the test then fails at the first answer it needs that was never
    given, with that message.
    """

    def __missing__(self, key):
        raise AssertionError(dict.get(self, "error") or f"no answer for {key!r}")


def layer_answers(layer_class, args, kwargs, x, values, name, **call_kwargs):
    """Everything the assignments' layer tests ask of a student's layer class, as data.

    A probe for `in_submission`: it makes `layer_class(*args, **kwargs)`, calls
    it on `x`, counts its parameters, gives its weights the judge's `values`
    (`assign_weights`: by name and shape, so the probe chooses nothing), calls
    it again, wraps it in a `keras.Model`, and rebuilds it from `get_config()`
    with the same weights. The test computes the reference from `values`,
    which it drew itself, never from what the probe returns.

    Returns:
        A dict with `type_name`, `is_layer`, `output`, `count_params`,
        `random_output`, `model_output`, `config_is_dict` and `clone_output`,
        up to the first step that failed, whose message is under `error`.
    """
    import keras
    import numpy as np  # noqa: F401  (a probe is self-contained)

    from course_lib.grading import assign_weights, call, layer_output

    on_x = f"{name}(x) for x of shape {x.shape}"
    answers = {}
    try:
        layer = call(layer_class, *args, name=name, **kwargs)
        answers["type_name"] = type(layer).__name__
        answers["is_layer"] = isinstance(layer, keras.layers.Layer)
        if not answers["is_layer"]:
            return answers
        answers["output"] = layer_output(layer, x, on_x, **call_kwargs)
        answers["count_params"] = call(layer.count_params, name=f"{name}.count_params()")
        assign_weights(layer, values, name)
        answers["random_output"] = layer_output(layer, x, on_x, **call_kwargs)
        inputs = keras.Input(x.shape[1:])
        model = call(keras.Model, inputs, layer_output(layer, inputs, f"{name} on a keras.Input"), name="keras.Model")
        answers["model_output"] = layer_output(model, x, "model(x)", **call_kwargs)
        config = call(layer.get_config, name=f"{name}.get_config()")
        answers["config_is_dict"] = isinstance(config, dict)
        if not answers["config_is_dict"]:
            return answers
        clone = call(type(layer).from_config, config, name=f"{type(layer).__name__}.from_config({name}.get_config())")
        layer_output(clone, x, f"the clone from_config({name}.get_config()) on x", **call_kwargs)
        assign_weights(clone, values, f"the clone from_config({name}.get_config())")
        answers["clone_output"] = layer_output(clone, x, "clone(x)", **call_kwargs)
    except AssertionError as error:
        answers["error"] = str(error)
    return answers


def saved_model(data, name):
    """Loads a Keras model from the bytes of a `.keras` file, as a probe returns them.

    The file is loaded with `safe_mode=True`: built-in Keras layers and the
    course's registered ones only, no `Lambda` code. So a judge can check a
    student's model (its shapes, its weights, training it) without running
    any of the student's code.

    Args:
        data: the file's bytes, as a 1-D `uint8` array.
        name: what built the model, used in the messages.

    Returns:
        The `keras.Model`.

    Raises:
        AssertionError: if `data` is not the bytes of a `.keras` file that loads safely.
    """
    import os
    import tempfile

    import keras

    import course_lib.layers  # noqa: F401  registers the course's layers, which the backbone uses

    data = np.asarray(data) if isinstance(data, np.ndarray) else data
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 1):
        raise AssertionError(f"{name}: expected the bytes of a .keras file, got {_describe(data)}.")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as file:
            file.write(data.tobytes())
        try:
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as error:
            message = re.sub(r"\x1b\[[0-9;]*m", "", str(error))[:500]
            raise AssertionError(f"{name} could not be loaded back from its .keras file: {type(error).__name__}: {message}") from None
    if not isinstance(model, keras.Model):
        raise AssertionError(f"{name} should be a keras.Model, got {type(model).__name__}.")
    _reapply_frozen(model)
    return model


def _reapply_frozen(layer):
    # Keras 3.15 loads a frozen nested model with the variables of its inner
    # custom layers trainable, though each layer's saved `trainable` is False;
    # setting the flag again applies it to the variables, as in the saved model.
    for sublayer in getattr(layer, "layers", []):
        _reapply_frozen(sublayer)
    if not layer.trainable:
        layer.trainable = True
        layer.trainable = False
