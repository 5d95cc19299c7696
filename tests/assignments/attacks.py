"""Attacks on the grader, as a hostile student would plant them into a submission.

Each attack is one code cell of A1 (convolution and pooling), planted right
after the setup cell, as in issue 12's report (there, attack (a) made otter
run score an untouched notebook 11 of 16), except those in `AFTER_THE_ANSWERS`,
which replace answers and so come last. `{marker}` in its source is replaced by a path where the
attack writes what it did, so a test can check that it really ran (an attack
that silently does nothing would prove nothing). `LOOP_IN_AN_ANSWER` is the
one attack that edits an answer cell instead.
"""

ATTACKS = {
    "a_replace_course_lib_grading": '''
import course_lib.grading as grading
for name in grading.__all__:
    setattr(grading, name, lambda *args, **kwargs: None)
open({marker!r}, "w").write(str(len(grading.__all__)))
''',
    "b_patch_numpy_comparisons": '''
import numpy as np
import numpy.testing
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast_shapes(np.shape(a), np.shape(b)), dtype=bool)
numpy.testing.assert_allclose = lambda *args, **kwargs: None
numpy.testing.assert_array_equal = lambda *args, **kwargs: None
open({marker!r}, "w").write("patched")
''',
    "c_patch_reference_functions": '''
import keras
import scipy.signal
import course_lib.gradcheck
keras.ops.conv = lambda *args, **kwargs: None
keras.ops.max_pool = lambda *args, **kwargs: None
scipy.signal.correlate = scipy.signal.correlate2d = scipy.signal.convolve2d = lambda *args, **kwargs: None
course_lib.gradcheck.numerical_gradient = lambda *args, **kwargs: None
open({marker!r}, "w").write("patched")
''',
    "d_redefine_isinstance_and_float": '''
import builtins
open({marker!r}, "w").write("patched")
builtins.isinstance = lambda *args: True
builtins.float = lambda *args: 0.0
''',
    "e_patch_otter_internals": '''
import otter.test_files.abstract_test as abstract_test
import otter.test_files.exception_test as exception_test

def run_passing_everything(self, env):
    self.test_case_results = [
        abstract_test.TestCaseResult(test_case=case, message="passed", passed=True) for case in self.test_cases
    ]

exception_test.ExceptionTestFile.run = run_passing_everything
abstract_test.TestFile.score = property(lambda self: self.possible)
abstract_test.TestFile.passed_all = property(lambda self: True)
open({marker!r}, "w").write("patched")
''',
    "f_read_the_autograders_files": '''
import glob
import os
import re

import course_lib

repo = os.path.dirname(os.path.dirname(course_lib.__file__))
files = glob.glob(os.path.join(repo, "build", "assignments", "**", "*.py"), recursive=True)
files += glob.glob(os.path.join(repo, "notebooks", "assignments", "source", "*.py"))
files += glob.glob({autograder!r} + "/**/*", recursive=True)
numbers = [int(n) for path in files if os.path.isfile(path) for n in re.findall(r"\\b\\d+\\b", open(path, errors="ignore").read())]
answer = max(set(numbers), key=numbers.count)  # the most common number in the hidden tests

def conv2d_backward(*args, **kwargs):  # q5, unanswered
    return (answer, answer, answer)

def conv_to_dense(kernel, input_shape):  # q8, unanswered
    return [[answer]]

open({marker!r}, "w").write(str(len(files)))
''',
    "g_forge_the_results_files": '''
import json
import os

forged = {{"tests": [{{"name": f"q{{i}}", "score": 3, "max_score": 3}} for i in range(1, 9)]}}
for folder in (os.getcwd(), os.path.dirname(os.getcwd())):
    for name in ("results.json", "results.pkl", "grading_results.json"):
        with open(os.path.join(folder, name), "w") as file:
            json.dump(forged, file)
open({marker!r}, "w").write("forged")
''',
    "h_objects_that_lie_in_comparisons": '''
import numpy as np

class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

class LyingArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)

    def __ne__(self, other):
        return np.zeros(np.shape(other), dtype=bool)

class LyingInt(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

def conv2d_backward(dout, x, kernel, *args, **kwargs):
    return AlwaysEqual(), AlwaysEqual(), AlwaysEqual()

def max_pool2d_forward(x, pool_size=2, strides=None):
    return np.zeros(1).view(LyingArray)

def max_pool2d_backward(dout, x, pool_size=2, strides=None):
    return np.zeros(np.shape(x)).view(LyingArray)

def conv_to_dense(kernel, input_shape):
    return AlwaysEqual()

open({marker!r}, "w").write(str(LyingInt(1) == 2))
''',
    "j_print_a_gigabyte": '''
import sys
for _ in range(1024):
    sys.stdout.write("x" * (1 << 20))
sys.stdout.flush()
open({marker!r}, "w").write("printed")
''',
}

AFTER_THE_ANSWERS = {"f_read_the_autograders_files", "h_objects_that_lie_in_comparisons"}

# Attack (i): an answer cell that never ends.
LOOP_IN_AN_ANSWER = "\nwhile True:\n    pass\n"
