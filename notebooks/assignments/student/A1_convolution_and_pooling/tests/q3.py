from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 1

@test_case(points=None, hidden=False)
def test_convolve2d_against_scipy(convolve2d):
    import scipy.signal
    from course_lib.grading.checks.a1 import check_against_scipy
    check_against_scipy(convolve2d, 'convolve2d', scipy.signal.convolve2d, seed=303, paddings=('valid', 'same', 'full'), size_range=(6, 12), kernel_sizes=(3, 5))

