from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 2

@test_case(points=None, hidden=False)
def test_correlate2d_against_scipy(correlate2d):
    import numpy as np
    import scipy.signal
    from course_lib.grading import assert_same_array, call
    rng = np.random.default_rng(202)
    for padding in ('valid', 'same', 'full'):
        h, w = rng.integers(6, 12, size=2)
        kh, kw = rng.choice([1, 3, 5], size=2)
        image, kernel = (rng.normal(size=(h, w)), rng.normal(size=(kh, kw)))
        name = f'correlate2d(image {image.shape}, kernel {kernel.shape}, {padding!r})'
        result = call(correlate2d, image, kernel, padding, name=name)
        assert_same_array(result, scipy.signal.correlate2d(image, kernel, mode=padding), name)

