from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 3

@test_case(points=None, hidden=False)
def test_conv2d_forward_against_keras(conv2d_forward):
    from course_lib.grading.checks.a1 import check_conv2d_forward
    check_conv2d_forward(conv2d_forward, seed=404, paddings=('valid', 'same'), strides_list=(1, 2), kernel_sizes=(2, 3), batch=2, size_range=(5, 10), channel_range=(2, 4), filter_range=(2, 5))

