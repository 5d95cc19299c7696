from otter.test_files import test_case

OK_FORMAT = False

name = "q8"
points = 2

@test_case(points=None, hidden=False)
def test_conv_to_dense_against_scipy(conv_to_dense):
    from course_lib.grading.checks.a1 import check_conv_to_dense
    check_conv_to_dense(conv_to_dense, seed=808, count=3, size_range=(4, 8), kernel_range=(1, 4), images=5)

