from otter.test_files import test_case

OK_FORMAT = False

name = "q6"
points = 1

@test_case(points=None, hidden=False)
def test_max_pool2d_forward_against_keras(max_pool2d_forward):
    import keras
    import numpy as np
    from course_lib.grading import assert_same_array, call
    rng = np.random.default_rng(606)
    for pool_size, strides in ((2, None), (3, 2), (2, 1)):
        x = rng.normal(size=(2, int(rng.integers(6, 11)), int(rng.integers(6, 11)), 3)).astype('float32')
        expected = keras.ops.convert_to_numpy(keras.ops.max_pool(x, pool_size, strides or pool_size, 'valid'))
        name = f'max_pool2d_forward(x {x.shape}, pool_size={pool_size}, strides={strides})'
        result = call(max_pool2d_forward, x, pool_size, strides, name=name)
        assert_same_array(result, expected, name)

