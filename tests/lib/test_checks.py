"""course_lib.grading.checks: the assignments' checks pass right answers and fail wrong ones.

The right answers here are the course's own implementations (`course_lib.ops`,
`course_lib.retrieval`, `course_lib.layers`), adapted to the assignments'
signatures; each wrong answer is one small bug. The assignments' full graders
are tested in tests/assignments.
"""

import numpy as np
import pytest

from course_lib import ops
from course_lib.grading.checks import a1, a2, a3


def _dense_2d(kernel, input_shape):
    # A1's conv_to_dense: one channel, one filter, (h, w) input.
    W, _ = ops.conv_to_dense(np.asarray(kernel)[:, :, None, None], None, (*input_shape, 1))
    out_h, out_w = input_shape[0] - kernel.shape[0] + 1, input_shape[1] - kernel.shape[1] + 1
    # Reorder ops' column-major flattening to A1's row-major one, on both sides.
    rows = np.arange(out_h * out_w).reshape(out_w, out_h).T.ravel()
    cols = np.arange(input_shape[0] * input_shape[1]).reshape(input_shape[1], input_shape[0]).T.ravel()
    return W[rows][:, cols]


def test_a1_checks_pass_the_course_implementations_and_fail_a_bug():
    import scipy.signal

    a1.check_output_size(ops.output_size, seed=0, paddings=("valid", "same", "full"), per_padding=3,
                         n_range=(6, 20), k_range=(1, 6), s_range=(1, 4))
    a1.check_against_scipy(ops.correlate2d, "correlate2d", scipy.signal.correlate2d, seed=0,
                           paddings=("valid", "same", "full"), size_range=(6, 10), kernel_sizes=(1, 3))
    a1.check_conv2d_forward(ops.conv2d_forward, seed=0, paddings=("valid", "same"), strides_list=(1, 2),
                            kernel_sizes=(3,), batch=1, size_range=(5, 8), channel_range=(1, 3), filter_range=(1, 3))
    a1.check_conv2d_backward(ops.conv2d_backward, seed=0, cases=(("same", 2),), x_shape=(1, 5, 4, 2),
                             kernel_shape=(3, 2, 2, 2))
    a1.check_max_pool2d_forward(ops.max_pool2d_forward, seed=0, cases=((2, None), (3, 1)), batch=1,
                                size_range=(5, 8), channels=2)
    a1.check_max_pool2d_backward(ops.max_pool2d_backward, seed=0, cases=((2, None), (3, 1)), batch=1,
                                 size_range=(5, 7), channels=1)
    a1.check_conv_to_dense(_dense_2d, seed=0, count=2, size_range=(4, 7), kernel_range=(1, 4), images=2)
    with pytest.raises(AssertionError, match=r"correlate2d\(image .* is wrong at"):
        a1.check_against_scipy(ops.convolve2d, "correlate2d", scipy.signal.correlate2d, seed=0, paddings=("valid",),
                               size_range=(6, 10), kernel_sizes=(3,))


def test_a2_counting_and_field_checks():
    def conv_params(k, c_in, c_out, bias=True):
        return k * k * c_in * c_out + (c_out if bias else 0)

    def bottleneck_block_params(c_in, c_mid):
        count = c_in * c_mid + 9 * c_mid * c_mid + 4 * c_mid * c_mid + 4 * (c_mid + c_mid + 4 * c_mid)
        return count + (c_in * 4 * c_mid + 4 * 4 * c_mid if c_in != 4 * c_mid else 0)

    def field(layers):
        result, jump = 1, 1
        for kernel_size, stride in layers:
            result, jump = result + (kernel_size - 1) * jump, jump * stride
        return result

    a2.check_parameter_counts(conv_params, lambda channels: 4 * channels, bottleneck_block_params, seed=0, rounds=2,
                              kernel_sizes=(1, 3), channel_max=16, bias_order=(True, False), bn_channel_max=32,
                              identities=(True, False), mid_max=8, in_max=32)
    a2.check_receptive_field(field, 5, seed=0, lengths=(2, 3), kernel_sizes=(1, 3, 5), strides=(1, 2), input_size=32,
                             check_vgg16_value=False)
    with pytest.raises(AssertionError, match="bias=True"):
        a2.check_parameter_counts(lambda k, c_in, c_out, bias=True: k * k * c_in * c_out, lambda c: 4 * c,
                                  bottleneck_block_params, seed=0, rounds=1, kernel_sizes=(3,), channel_max=8,
                                  bias_order=(True,), bn_channel_max=8, identities=(), mid_max=4, in_max=8)


def test_a2_inception_check_passes_the_course_module():
    from course_lib.layers import InceptionModule

    a2.check_inception_module(InceptionModule, seed=0, modules=[((3, 4, 5, 2, 6, 7), 3)], batch=1, size_range=(4, 6))
    with pytest.raises(ValueError, match="must differ"):
        a2.check_inception_module(InceptionModule, seed=0, modules=[((3, 3, 5, 2, 6, 7), 3)], batch=1, size_range=(4, 6))


def test_a3_checks_pass_the_course_implementations():
    from course_lib.retrieval import precision_at_k

    def nearest_neighbours(index, queries, k):
        if k > len(index):
            raise ValueError("k too large")
        distances = ((queries[:, None, :] - index[None, :, :]) ** 2).sum(axis=-1)
        return np.argsort(distances, axis=1, kind="stable")[:, :k]

    def tta_predict(model, images, views):
        if not views:
            raise ValueError("no views")
        return np.mean([model.predict(view(images), verbose=0) for view in views], axis=0)

    a3.check_nearest_neighbours(nearest_neighbours, seed=0, cases=((20, 3, 4, 5),), reference="sklearn",
                                check_too_large_k=True)
    a3.check_precision_at_k(lambda q, r, k: float(precision_at_k(q, r, k)), seed=0, cases=((6, 4, 2),), labels=3,
                            reference="course_lib", require_float=True)
    a3.check_tta_predict(tta_predict, seed=0, n=4, architecture=((4, 4, 1), 3, "relu", 2),
                         view_sets=[["identity", "flip_cols"]], check_no_views=True)
    with pytest.raises(AssertionError, match="should raise a ValueError"):
        a3.check_tta_predict(lambda m, x, v: tta_predict(m, x, v or [lambda b: b]), seed=0, n=4,
                             architecture=((4, 4, 1), 3, "relu", 2), view_sets=[["identity"]], check_no_views=True)
