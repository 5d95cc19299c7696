from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 2

@test_case(points=None, hidden=False)
def test_correlate2d_against_scipy(correlate2d):
    import scipy.signal
    from course_lib.grading.checks.a1 import check_against_scipy
    check_against_scipy(correlate2d, 'correlate2d', scipy.signal.correlate2d, seed=202, paddings=('valid', 'same', 'full'), size_range=(6, 12), kernel_sizes=(1, 3, 5))

