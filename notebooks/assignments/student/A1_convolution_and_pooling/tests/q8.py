from otter.test_files import test_case

OK_FORMAT = False

name = "q8"
points = 2

@test_case(points=None, hidden=False)
def test_conv_to_dense_against_scipy(conv_to_dense):
    import numpy as np
    import scipy.signal
    from course_lib.grading import assert_equal, assert_same_array, call
    rng = np.random.default_rng(808)
    for _ in range(3):
        h, w = rng.integers(4, 8, size=2)
        kernel = rng.normal(size=rng.integers(1, 4, size=2))
        name = f'conv_to_dense(kernel {kernel.shape}, ({h}, {w}))'
        matrix = call(conv_to_dense, kernel, (int(h), int(w)), name=name)
        out = scipy.signal.correlate2d(np.zeros((h, w)), kernel, 'valid')
        assert_equal(np.shape(matrix), (out.size, h * w), f'{name}.shape')
        images = rng.normal(size=(5, h, w))
        expected = np.stack([scipy.signal.correlate2d(image, kernel, 'valid').ravel() for image in images])
        assert_same_array(images.reshape(5, -1) @ np.asarray(matrix).T, expected, f'{name} @ image')

