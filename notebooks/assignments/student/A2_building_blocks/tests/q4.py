from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 3

@test_case(points=None, hidden=False)
def test_depthwise_separable_conv(DepthwiseSeparableConv):
    from course_lib.grading.checks.a2 import check_depthwise_separable_conv
    check_depthwise_separable_conv(DepthwiseSeparableConv, seed=444, configs=[(3, 7, 1), (5, 4, 2)], batch=2, size_range=(5, 10))

