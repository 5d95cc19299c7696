from otter.test_files import test_case

OK_FORMAT = False

name = "q7"
points = 2

@test_case(points=None, hidden=False)
def test_max_pool2d_backward_against_numerical_gradients(max_pool2d_backward):
    from course_lib.grading.checks.a1 import check_max_pool2d_backward
    check_max_pool2d_backward(max_pool2d_backward, seed=707, cases=((2, None), (3, 2), (2, 1)), batch=2, size_range=(5, 9), channels=2)

