from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2

@test_case(points=None, hidden=False)
def test_output_size_against_keras_and_scipy(output_size):
    from course_lib.grading.checks.a1 import check_output_size
    check_output_size(output_size, seed=101, paddings=('valid', 'same', 'full'), per_padding=5, n_range=(6, 30), k_range=(1, 6), s_range=(1, 4))

