from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 1

@test_case(points=None, hidden=False)
def test_convolve2d_against_scipy(convolve2d):
    import numpy as np
    import scipy.signal
    from course_lib.grading import assert_same_array, call
    rng = np.random.default_rng(303)
    for padding in ('valid', 'same', 'full'):
        h, w = rng.integers(6, 12, size=2)
        kh, kw = rng.choice([3, 5], size=2)
        image, kernel = (rng.normal(size=(h, w)), rng.normal(size=(kh, kw)))
        name = f'convolve2d(image {image.shape}, kernel {kernel.shape}, {padding!r})'
        result = call(convolve2d, image, kernel, padding, name=name)
        assert_same_array(result, scipy.signal.convolve2d(image, kernel, mode=padding), name)

