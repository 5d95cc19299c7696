from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 2

@test_case(points=None, hidden=False)
def test_precision_at_k(precision_at_k):
    from course_lib.grading.checks.a3 import check_precision_at_k
    check_precision_at_k(precision_at_k, seed=505, cases=((20, 10, 5), (8, 6, 1), (12, 4, 3)), labels=3, reference='by hand', require_float=True)

