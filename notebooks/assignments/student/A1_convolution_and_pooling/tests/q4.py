from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 3

@test_case(points=None, hidden=False)
def test_conv2d_forward_against_keras(conv2d_forward):
    import keras
    import numpy as np
    from course_lib.grading import assert_same_array, call
    rng = np.random.default_rng(404)
    for padding in ('valid', 'same'):
        for strides in (1, 2):
            for k in (2, 3):
                n, h, w = (2, int(rng.integers(5, 10)), int(rng.integers(5, 10)))
                c, f = (int(rng.integers(2, 4)), int(rng.integers(2, 5)))
                x = rng.normal(size=(n, h, w, c)).astype('float32')
                kernel = rng.normal(size=(k, k, c, f)).astype('float32')
                bias = rng.normal(size=f).astype('float32')
                expected = keras.ops.convert_to_numpy(keras.ops.conv(x, kernel, strides, padding)) + bias
                name = f'conv2d_forward(x {x.shape}, kernel {kernel.shape}, padding={padding!r}, strides={strides})'
                result = call(conv2d_forward, x, kernel, bias, padding, strides, name=name)
                assert_same_array(result, expected, name, rtol=0.0001, atol=0.0001)

