from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 3

@test_case(points=None, hidden=False)
def test_conv2d_backward_against_numerical_gradients(conv2d_backward):
    from course_lib.grading.checks.a1 import check_conv2d_backward
    check_conv2d_backward(conv2d_backward, seed=505, cases=(('valid', 1), ('same', 2), ('same', 1), ('valid', 2)), x_shape=(2, 6, 5, 2), kernel_shape=(3, 2, 2, 3))

