"""course_lib.grading: the checks behind the assignments' tests fail with readable messages."""

import keras
import numpy as np
import pytest

from course_lib.grading import (
    assert_equal,
    assert_same_array,
    assign_weights,
    call,
    layer_output,
    numerical_gradient,
    random_weights,
    randomize_weights,
    relative_error,
    unpack,
)


def test_call_returns_the_result_and_reports_exceptions_and_missing_functions():
    assert call(np.add, 1, 2) == 3

    def broken(x):
        return [1, 2][x]

    with pytest.raises(AssertionError, match=r"broken\(5\) raised IndexError: list index out of range"):
        call(broken, 5, name="broken(5)")
    with pytest.raises(AssertionError, match=r"`conv2d_forward` is not defined as a function \(got None\)"):
        call(None, 1, name="conv2d_forward(x (2, 3))")


def test_assert_equal_names_the_value_and_the_expectation():
    assert_equal(3, 3, "f()")
    assert_equal(np.int64(3), 3, "f()")
    with pytest.raises(AssertionError, match=r"f\(\) returned 4; expected 3\."):
        assert_equal(4, 3, "f()")
    with pytest.raises(AssertionError, match="returned None: is a `return` missing"):
        assert_equal(None, 3, "f()")
    with pytest.raises(AssertionError, match="should return an int, got float 3.0"):
        assert_equal(3.0, 3, "f()")
    with pytest.raises(AssertionError, match="should return an int"):
        assert_equal(True, 1, "f()")


@pytest.mark.parametrize(
    ("actual", "message"),
    [
        (None, "returned None"),
        ("text", "should return a numeric array, got str 'text'"),
        (np.zeros((3, 2)), r"returned shape \(3, 2\); expected shape \(2, 3\)"),
        (np.full((2, 3), np.nan), "NaN or infinite values at 6 of 6 positions"),
        (np.arange(6.0).reshape(2, 3) + np.eye(2, 3), r"wrong at 2 of 6 positions; the largest error is 1 at index \(0, 0\)"),
    ],
)
def test_assert_same_array_reports_the_first_problem(actual, message):
    expected = np.arange(6.0).reshape(2, 3)
    assert_same_array(expected.tolist(), expected, "f(x)")  # lists of numbers are arrays too
    with pytest.raises(AssertionError, match=message):
        assert_same_array(actual, expected, "f(x)")


def test_assert_same_array_uses_the_tolerances():
    assert_same_array(np.array([1.0 + 1e-7]), np.array([1.0]), "f")
    with pytest.raises(AssertionError):
        assert_same_array(np.array([1.001]), np.array([1.0]), "f", rtol=1e-5, atol=0)


def test_unpack_checks_the_tuple():
    assert unpack([1, 2], ("a", "b"), "f()") == (1, 2)
    with pytest.raises(AssertionError, match=r"f\(\) returned None.*a tuple \(a, b\)"):
        unpack(None, ("a", "b"), "f()")
    with pytest.raises(AssertionError, match=r"should return a tuple \(a, b\), got int 3"):
        unpack(3, ("a", "b"), "f()")
    with pytest.raises(AssertionError, match="should return a tuple"):
        unpack((1, 2, 3), ("a", "b"), "f()")


def test_numerical_gradient_matches_the_analytic_gradient():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    weights = rng.normal(size=(3, 4))
    gradient = numerical_gradient(lambda v: float(np.sum(np.sin(v) * weights)), x.copy())
    error = relative_error(gradient, np.cos(x) * weights)
    print(f"relative error of the numerical gradient: {error:.2e}")
    assert error < 1e-8
    before = x.copy()
    numerical_gradient(lambda v: float(v.sum()), x)
    np.testing.assert_array_equal(x, before)  # restored after each perturbation
    with pytest.raises(ValueError, match="float64"):
        numerical_gradient(lambda v: 0.0, np.zeros(3, dtype="float32"))


def test_relative_error():
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([1.0], [3.0]) == pytest.approx(0.5)


class _Unanswered(keras.layers.Layer):
    def call(self, inputs):
        ...


class _Raising(keras.layers.Layer):
    def call(self, inputs):
        raise ValueError("x")


def test_layer_output_returns_arrays_or_symbolic_tensors_and_fails_readably():
    output = layer_output(keras.layers.Dense(2), np.ones((1, 3), "float32"), "d")
    assert isinstance(output, np.ndarray) and output.shape == (1, 2)
    assert isinstance(layer_output(keras.layers.Dense(2), keras.Input((3,)), "d"), keras.KerasTensor)
    with pytest.raises(AssertionError, match="returned None"):
        layer_output(_Unanswered(), np.ones((1, 3), "float32"), "Unanswered()(x)")
    with pytest.raises(AssertionError, match=r"(?s)raised ValueError: .*\bx\b") as error:
        layer_output(_Raising(), np.ones((1, 3), "float32"), "Raising()(x)")
    assert "\x1b[" not in str(error.value)  # no terminal colour codes in the grader's report


def test_randomize_weights_gives_equal_keys_equal_values():
    inputs = keras.Input((5, 5, 3))
    first, second = keras.layers.Conv2D(4, 1), keras.layers.Conv2D(4, 1)
    keras.Model(inputs, [first(inputs), second(inputs)])
    values = randomize_weights(first, np.random.default_rng(0))
    randomize_weights(second, np.random.default_rng(1))
    assert set(values) == {("kernel", (1, 1, 3, 4)), ("bias", (4,))}
    both = keras.Model(inputs, [first(inputs), second(inputs)])
    values = randomize_weights(both, np.random.default_rng(2))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(first.kernel), keras.ops.convert_to_numpy(second.kernel))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(first.kernel), values["kernel", (1, 1, 3, 4)], rtol=1e-6)


def test_randomize_weights_keeps_scales_and_variances_positive():
    norm = keras.layers.BatchNormalization()
    norm.build((None, 6))
    randomize_weights(norm, np.random.default_rng(0))
    assert (keras.ops.convert_to_numpy(norm.gamma) > 0).all()
    assert (keras.ops.convert_to_numpy(norm.moving_variance) > 0).all()


def test_assign_weights_takes_the_judges_values_by_name_and_shape_and_refuses_unknown_ones():
    layer = keras.layers.Dense(3)
    layer.build((None, 2))
    values = random_weights([("kernel", (2, 3)), ("bias", (3,))], np.random.default_rng(0))
    assign_weights(layer, values)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.kernel), values["kernel", (2, 3)], rtol=1e-6)
    with pytest.raises(AssertionError, match=r"has a weight `bias` of shape \(3,\)"):
        assign_weights(layer, {("kernel", (2, 3)): values["kernel", (2, 3)]}, "Dense(3)")


def test_honour_code_flags_find_forbidden_imports_and_calls_through_aliases():
    from course_lib.grading.report import honour_code_flags

    cells = [
        "import numpy as np\nfrom course_lib.runtime import setup_notebook",
        "import keras\ny = keras.ops.conv(x, k)",
        "from scipy import ndimage as nd\nimport tensorflow as tf\nwith tf.GradientTape() as tape:\n    pass",
        "import importlib\nops = importlib.import_module('course_lib.ops')",
        "def broken(:",
    ]
    forbidden = ("course_lib.ops", "scipy.ndimage", "keras.ops.conv", "GradientTape", "keras.ops.max_pool")
    assert honour_code_flags(cells, forbidden) == [
        "GradientTape (cell 3)", "course_lib.ops (cell 4)", "keras.ops.conv (cell 2)", "scipy.ndimage (cell 3)",
    ]
    assert honour_code_flags(["import numpy as np\nnp.convolve"], forbidden) == []


def test_feedback_shows_public_messages_and_hidden_names_only():
    from course_lib.grading.judge import CaseResult, GradingResult
    from course_lib.grading.report import feedback

    result = GradingResult(
        scores={"q1": (1.0, 2.0)}, outputs={}, notes=[], seconds=1.0,
        cases={"q1": [
            CaseResult("test_public", False, False, "❌ Test case failed\nf(3) returned 4; expected 5.", 1.0),
            CaseResult("test_hidden", True, True, "✅ Test case passed", 1.0),
            CaseResult("test_hidden_2", True, False, "❌ check(seed=9001) failed: f(17) returned 1", 1.0),
        ]},
    )
    text = feedback("A1: alice.ipynb", result, ["code cell 3 did not finish"], ["scipy.signal (cell 2)"])
    assert "**Total: 1 / 2**" in text and "## q1: 1 / 2" in text
    assert "f(3) returned 4; expected 5." in text and "code cell 3 did not finish" in text and "scipy.signal" in text
    assert "hidden test `test_hidden`: passed" in text and "hidden test `test_hidden_2`: failed" in text
    assert "9001" not in text and "f(17)" not in text
