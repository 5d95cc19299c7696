"""The checks behind the graded assignments' tests, one module per assignment.

Each question's checking code is written once, here, as a function of the
student's answer and of the random draws (seed, sizes, cases). The public test
in the student's notebook calls it with one seed and set of sizes, the hidden
test with others, so the two never drift apart and the hidden seeds stay in
the hidden test files. The checks compare with SciPy, Keras or numerical
gradients through `course_lib.grading`, whose messages say what was expected.
"""

# The checks are in the sub-modules a1, a2 and a3; the package itself re-exports nothing.
__all__ = []
