from otter.test_files import test_case

OK_FORMAT = False

name = "q7"
points = 2

@test_case(points=None, hidden=False)
def test_max_pool2d_backward_against_numerical_gradients(max_pool2d_backward):
    import numpy as np
    from course_lib.grading import assert_same_array, call, numerical_gradient

    def reference_forward(x, pool_size, strides):
        windows = np.lib.stride_tricks.sliding_window_view(x, (pool_size, pool_size), axis=(1, 2))
        return windows[:, ::strides, ::strides].max(axis=(-2, -1))
    rng = np.random.default_rng(707)
    for pool_size, strides in ((2, None), (3, 2), (2, 1)):
        shape = (2, int(rng.integers(5, 9)), int(rng.integers(5, 9)), 2)
        x = rng.permutation(np.prod(shape)).reshape(shape) / 10.0
        dout = rng.normal(size=reference_forward(x, pool_size, strides or pool_size).shape)
        expected = numerical_gradient(lambda v: np.sum(reference_forward(v, pool_size, strides or pool_size) * dout), x)
        name = f'max_pool2d_backward(x {shape}, pool_size={pool_size}, strides={strides})'
        result = call(max_pool2d_backward, dout, x, pool_size, strides, name=name)
        assert_same_array(result, expected, name)

