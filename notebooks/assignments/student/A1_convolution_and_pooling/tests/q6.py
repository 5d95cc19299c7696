from otter.test_files import test_case

OK_FORMAT = False

name = "q6"
points = 1

@test_case(points=None, hidden=False)
def test_max_pool2d_forward_against_keras(max_pool2d_forward):
    from course_lib.grading.checks.a1 import check_max_pool2d_forward
    check_max_pool2d_forward(max_pool2d_forward, seed=606, cases=((2, None), (3, 2), (2, 1)), batch=2, size_range=(6, 11), channels=3)

