"""`course_lib.gradcheck`: the two relative errors (numerical_gradient is tested in test_grading.py)."""

import numpy as np
import pytest

from course_lib import grading
from course_lib.gradcheck import normwise_relative_error, numerical_gradient, relative_error


def test_the_two_measures_on_hand_computed_cases():
    # Entry by entry: |0 - 1e-6| / 1e-6 = 1 and |4 - 4.004| / 8.004; the largest is 1.
    a, b = [0.0, 4.0], [1e-6, 4.004]
    assert relative_error(a, b) == pytest.approx(1.0)
    # Normwise: the largest difference, 0.004, over the largest |a| + |b|, 8.004.
    assert normwise_relative_error(a, b) == pytest.approx(0.004 / 8.004)
    assert relative_error([2.0, -1.0], [2.0, 1.0]) == pytest.approx(1.0)  # opposite signs
    assert normwise_relative_error([2.0, -1.0], [2.0, 1.0]) == pytest.approx(2.0 / 4.0)


def test_equal_arrays_and_zeros_agree():
    for measure in (relative_error, normwise_relative_error):
        assert measure(np.zeros((2, 3)), np.zeros((2, 3))) == 0.0
        assert measure([1.5, -2.0], [1.5, -2.0]) == 0.0


def test_normwise_never_exceeds_elementwise_and_both_are_symmetric():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.normal(size=(4, 5)) * rng.uniform(1e-6, 1e3)
        b = a + rng.normal(size=(4, 5)) * 1e-4
        assert normwise_relative_error(a, b) <= relative_error(a, b) <= 1.0
        assert relative_error(a, b) == relative_error(b, a)
        assert normwise_relative_error(a, b) == normwise_relative_error(b, a)


def test_grading_re_exports_the_gradient_check():
    # The assignments import them from course_lib.grading.
    assert grading.relative_error is relative_error
    assert grading.numerical_gradient is numerical_gradient
