from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2

@test_case(points=None, hidden=False)
def test_output_size_against_keras_and_scipy(output_size):
    import keras
    import numpy as np
    import scipy.signal
    from course_lib.grading import assert_equal, call
    rng = np.random.default_rng(101)
    for padding in ('valid', 'same', 'full'):
        for _ in range(5):
            n, k, s = (int(rng.integers(6, 30)), int(rng.integers(1, 6)), int(rng.integers(1, 4)))
            if padding == 'full':
                expected = scipy.signal.correlate(np.zeros(n), np.zeros(k), mode='full')[::s].size
            else:
                out = keras.ops.conv(np.zeros((1, n, 1), 'float32'), np.zeros((k, 1, 1), 'float32'), s, padding)
                expected = int(out.shape[1])
            result = call(output_size, n, k, padding, s, name=f'output_size({n}, {k}, {padding!r}, {s})')
            assert_equal(result, expected, f'output_size({n}, {k}, {padding!r}, {s})')

