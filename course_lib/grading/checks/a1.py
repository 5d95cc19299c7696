"""Checks of assignment A1, convolution and pooling from scratch (`notebooks/assignments`).

Each function draws its inputs from `np.random.default_rng(seed)`, calls the
student's function through `course_lib.grading.call` and compares the result
with a reference, raising an `AssertionError` that says what is wrong.

Example:

>>> import scipy.signal
>>> check_against_scipy(lambda image, kernel, padding: scipy.signal.correlate2d(image, kernel, mode=padding),
...                     "correlate2d", scipy.signal.correlate2d, seed=0, paddings=("valid",),
...                     size_range=(6, 12), kernel_sizes=(3,))
"""

import numpy as np

from course_lib.grading import assert_equal, assert_same_array, call, numerical_gradient, unpack

__all__ = [
    "FORBIDDEN_IMPORTS",
    "JUDGE_IMPORTS",
    "check_output_size",
    "check_against_scipy",
    "check_conv2d_forward",
    "check_conv2d_backward",
    "check_max_pool2d_forward",
    "check_max_pool2d_backward",
    "check_conv_to_dense",
]

# The honour code: what A1's rules forbid in an answer (NumPy only). `make grade` lists, per
# submission, the ones its code uses; the score is not changed, the instructor decides.
FORBIDDEN_IMPORTS = (
    "course_lib.ops", "course_lib.gradcheck", "course_lib.autodiff", "course_lib.layers", "scipy.signal",
    "scipy.ndimage", "keras.ops.conv", "keras.ops.conv_transpose", "keras.ops.depthwise_conv",
    "keras.ops.separable_conv", "keras.ops.max_pool", "keras.ops.average_pool", "GradientTape", "torch", "jax",
)

# What these checks import inside their functions: the judge imports them before any submission runs.
JUDGE_IMPORTS = ("keras", "scipy.signal")


def check_output_size(output_size, seed, paddings, per_padding, n_range, k_range, s_range):
    """q1: `output_size(n, k, padding, s)` against Keras ("valid", "same") and SciPy ("full")."""
    import keras
    import scipy.signal

    rng = np.random.default_rng(seed)
    for padding in paddings:
        for _ in range(per_padding):
            n, k, s = int(rng.integers(*n_range)), int(rng.integers(*k_range)), int(rng.integers(*s_range))
            k = min(k, n)
            if padding == "full":
                expected = scipy.signal.correlate(np.zeros(n), np.zeros(k), mode="full")[::s].size
            else:
                out = keras.ops.conv(np.zeros((1, n, 1), "float32"), np.zeros((k, 1, 1), "float32"), s, padding)
                expected = int(out.shape[1])
            name = f"output_size({n}, {k}, {padding!r}, {s})"
            assert_equal(call(output_size, n, k, padding, s, name=name), expected, name)


def check_against_scipy(function, function_name, reference, seed, paddings, size_range, kernel_sizes):
    """q2, q3: a 2-D `function(image, kernel, padding)` against SciPy's `reference(image, kernel, mode=padding)`."""
    rng = np.random.default_rng(seed)
    for padding in paddings:
        h, w = rng.integers(*size_range, size=2)
        kh, kw = rng.choice(kernel_sizes, size=2)
        image, kernel = rng.normal(size=(h, w)), rng.normal(size=(kh, kw))
        name = f"{function_name}(image {image.shape}, kernel {kernel.shape}, {padding!r})"
        result = call(function, image, kernel, padding, name=name)
        assert_same_array(result, reference(image, kernel, mode=padding), name)


def check_conv2d_forward(conv2d_forward, seed, paddings, strides_list, kernel_sizes, batch, size_range, channel_range,
                         filter_range):
    """q4: `conv2d_forward(x, kernel, bias, padding, strides)` against `keras.ops.conv` plus the bias."""
    import keras

    rng = np.random.default_rng(seed)
    for padding in paddings:
        for strides in strides_list:
            for k in kernel_sizes:
                h, w = int(rng.integers(*size_range)), int(rng.integers(*size_range))
                c, f = int(rng.integers(*channel_range)), int(rng.integers(*filter_range))
                x = rng.normal(size=(batch, h, w, c)).astype("float32")
                kernel = rng.normal(size=(k, k, c, f)).astype("float32")
                bias = rng.normal(size=f).astype("float32")
                expected = keras.ops.convert_to_numpy(keras.ops.conv(x, kernel, strides, padding)) + bias
                name = f"conv2d_forward(x {x.shape}, kernel {kernel.shape}, padding={padding!r}, strides={strides})"
                result = call(conv2d_forward, x, kernel, bias, padding, strides, name=name)
                assert_same_array(result, expected, name, rtol=1e-4, atol=1e-4)


def _reference_conv_forward(x, kernel, bias, padding, strides):
    # SciPy's correlation summed over input channels, on Keras's padding.
    import scipy.signal

    (_, h, w, _), (kh, kw) = x.shape, kernel.shape[:2]
    pads = []
    for n, k in ((h, kh), (w, kw)):
        total = 0 if padding == "valid" else max((-(-n // strides) - 1) * strides + k - n, 0)
        pads.append((total // 2, total - total // 2))
    x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    out = np.stack([
        np.stack([
            sum(scipy.signal.correlate2d(image[:, :, c], kernel[:, :, c, f], "valid") for c in range(x.shape[3]))
            for f in range(kernel.shape[3])
        ], axis=-1)
        for image in x
    ])
    return out[:, ::strides, ::strides] + bias


def check_conv2d_backward(conv2d_backward, seed, cases, x_shape, kernel_shape):
    """q5: `conv2d_backward(dout, x, kernel, padding, strides)` against numerical gradients of a SciPy forward pass."""
    rng = np.random.default_rng(seed)
    for padding, strides in cases:
        x, kernel, bias = rng.normal(size=x_shape), rng.normal(size=kernel_shape), rng.normal(size=kernel_shape[-1])
        dout = rng.normal(size=_reference_conv_forward(x, kernel, bias, padding, strides).shape)

        def loss(x, kernel, bias):
            return np.sum(_reference_conv_forward(x, kernel, bias, padding, strides) * dout)

        expected = [
            numerical_gradient(lambda v: loss(v, kernel, bias), x),
            numerical_gradient(lambda v: loss(x, v, bias), kernel),
            numerical_gradient(lambda v: loss(x, kernel, v), bias),
        ]
        name = f"conv2d_backward(padding={padding!r}, strides={strides})"
        result = unpack(call(conv2d_backward, dout, x, kernel, padding, strides, name=name), ("dx", "dkernel", "dbias"), name)
        for part, got, want in zip(("dx", "dkernel", "dbias"), result, expected):
            assert_same_array(got, want, f"{part} of {name}", rtol=1e-5, atol=1e-6)


def check_max_pool2d_forward(max_pool2d_forward, seed, cases, batch, size_range, channels):
    """q6: `max_pool2d_forward(x, pool_size, strides)` against `keras.ops.max_pool` ("valid")."""
    import keras

    rng = np.random.default_rng(seed)
    for pool_size, strides in cases:
        x = rng.normal(size=(batch, int(rng.integers(*size_range)), int(rng.integers(*size_range)), channels)).astype("float32")
        expected = keras.ops.convert_to_numpy(keras.ops.max_pool(x, pool_size, strides or pool_size, "valid"))
        name = f"max_pool2d_forward(x {x.shape}, pool_size={pool_size}, strides={strides})"
        assert_same_array(call(max_pool2d_forward, x, pool_size, strides, name=name), expected, name)


def check_max_pool2d_backward(max_pool2d_backward, seed, cases, batch, size_range, channels):
    """q7: `max_pool2d_backward(dout, x, pool_size, strides)` against numerical gradients (inputs without ties)."""

    def forward(x, pool_size, strides):
        windows = np.lib.stride_tricks.sliding_window_view(x, (pool_size, pool_size), axis=(1, 2))
        return windows[:, ::strides, ::strides].max(axis=(-2, -1))

    rng = np.random.default_rng(seed)
    for pool_size, strides in cases:
        shape = (batch, int(rng.integers(*size_range)), int(rng.integers(*size_range)), channels)
        x = rng.permutation(np.prod(shape)).reshape(shape) / 10.0  # distinct values: no ties
        stride = strides or pool_size
        dout = rng.normal(size=forward(x, pool_size, stride).shape)
        expected = numerical_gradient(lambda v: np.sum(forward(v, pool_size, stride) * dout), x)
        name = f"max_pool2d_backward(x {shape}, pool_size={pool_size}, strides={strides})"
        assert_same_array(call(max_pool2d_backward, dout, x, pool_size, strides, name=name), expected, name)


def check_conv_to_dense(conv_to_dense, seed, count, size_range, kernel_range, images):
    """q8: `conv_to_dense(kernel, (h, w))`'s matrix times flattened images against SciPy's valid correlation."""
    import scipy.signal

    rng = np.random.default_rng(seed)
    for _ in range(count):
        h, w = rng.integers(*size_range, size=2)
        kernel = rng.normal(size=rng.integers(*kernel_range, size=2))
        name = f"conv_to_dense(kernel {kernel.shape}, ({h}, {w}))"
        matrix = call(conv_to_dense, kernel, (int(h), int(w)), name=name)
        out = scipy.signal.correlate2d(np.zeros((h, w)), kernel, "valid")
        assert_equal(np.shape(matrix), (out.size, h * w), f"{name}.shape")
        batch = rng.normal(size=(images, h, w))
        expected = np.stack([scipy.signal.correlate2d(image, kernel, "valid").ravel() for image in batch])
        assert_same_array(batch.reshape(images, -1) @ np.asarray(matrix).T, expected, f"{name} @ image")
