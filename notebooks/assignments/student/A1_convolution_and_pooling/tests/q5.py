from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 3

@test_case(points=None, hidden=False)
def test_conv2d_backward_against_numerical_gradients(conv2d_backward):
    import numpy as np
    import scipy.signal
    from course_lib.grading import assert_same_array, call, numerical_gradient, unpack

    def reference_forward(x, kernel, bias, padding, strides):
        (_, h, w, _), (kh, kw) = (x.shape, kernel.shape[:2])
        pads = []
        for n, k in ((h, kh), (w, kw)):
            total = 0 if padding == 'valid' else max((-(-n // strides) - 1) * strides + k - n, 0)
            pads.append((total // 2, total - total // 2))
        x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
        out = np.stack([np.stack([sum((scipy.signal.correlate2d(image[:, :, c], kernel[:, :, c, f], 'valid') for c in range(x.shape[3]))) for f in range(kernel.shape[3])], axis=-1) for image in x])
        return out[:, ::strides, ::strides] + bias
    rng = np.random.default_rng(505)
    for padding, strides in (('valid', 1), ('same', 2), ('same', 1), ('valid', 2)):
        x, kernel, bias = (rng.normal(size=(2, 6, 5, 2)), rng.normal(size=(3, 2, 2, 3)), rng.normal(size=3))
        dout = rng.normal(size=reference_forward(x, kernel, bias, padding, strides).shape)
        expected = [numerical_gradient(lambda v: np.sum(reference_forward(v, kernel, bias, padding, strides) * dout), x), numerical_gradient(lambda v: np.sum(reference_forward(x, v, bias, padding, strides) * dout), kernel), numerical_gradient(lambda v: np.sum(reference_forward(x, kernel, v, padding, strides) * dout), bias)]
        name = f'conv2d_backward(padding={padding!r}, strides={strides})'
        result = call(conv2d_backward, dout, x, kernel, padding, strides, name=name)
        result = unpack(result, ('dx', 'dkernel', 'dbias'), name)
        for part, got, want in zip(('dx', 'dkernel', 'dbias'), result, expected):
            assert_same_array(got, want, f'{part} of {name}', rtol=1e-05, atol=1e-06)

