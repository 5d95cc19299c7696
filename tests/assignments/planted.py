"""Wrong submissions the graders must catch, one bug each.

Each entry edits the solution notebook of an assignment (the autograder's copy,
which otter assign checked scores full marks): in the one code cell that
contains `cell`, the text `find` (which must occur exactly once there) becomes
`replace`. Graded, the edited notebook must score zero on `question` and full
marks on every other question; when `message` is given, the grader's output
for that question must contain it (a readable failure, not a crash).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Planted:
    name: str
    question: str
    cell: str
    find: str
    replace: str
    message: str = ""


PLANTED = {
    "A1_convolution_and_pooling": [
        Planted(
            "full_padding_off_by_one",
            "q1",
            "def output_size(",
            "return (n + kernel_size - 2) // stride + 1",
            "return (n + kernel_size - 1) // stride + 1",
            "output_size(",
        ),
        Planted(
            "correlation_with_the_kernel_flipped",
            "q2",
            "def correlate2d(",
            "kernel = np.asarray(kernel, dtype=np.float64)\n",
            "kernel = np.asarray(kernel, dtype=np.float64)[::-1, ::-1]\n",
            "correlate2d(image",
        ),
        Planted(
            "cell_that_does_not_run",
            "q3",
            "def convolve2d(",
            'def convolve2d(image, kernel, padding="valid"):',
            'def convolve2d(image, kernel, padding="valid")  # a syntax error',
            "`convolve2d` is not defined",
        ),
        Planted(
            "same_padding_on_the_wrong_side",
            "q4",
            "def conv2d_forward(",
            "return total // 2, total - total // 2",
            "return total - total // 2, total // 2",
            "is wrong at",
        ),
        Planted(
            "backward_pass_that_raises",
            "q5",
            "def conv2d_backward(",
            "    dbias = dout.sum(axis=(0, 1, 2))\n",
            "    dbias = dout.sum(axis=(0, 1, 2))\n    raise IndexError('index 7 is out of bounds')\n",
            "conv2d_backward(padding='valid', strides=1) raised IndexError: index 7 is out of bounds",
        ),
        Planted(
            "max_pool_returning_nans",
            "q6",
            "def max_pool2d_forward(",
            "return windows[:, ::strides, ::strides].max(axis=(-2, -1))",
            "return windows[:, ::strides, ::strides].max(axis=(-2, -1)) * np.nan",
            "NaN or infinite values",
        ),
        Planted(
            "max_pool_gradient_spread_over_the_window",
            "q7",
            "def max_pool2d_backward(",
            "    np.add.at(dx, (images, rows, cols, channels), dout)\n",
            "    for i in range(pool_size):\n"
            "        for j in range(pool_size):\n"
            "            dx[:, i : i + strides * (out_h - 1) + 1 : strides, j : j + strides * (out_w - 1) + 1 : strides] += dout\n",
            "max_pool2d_backward(x",
        ),
        Planted(
            "dense_matrix_transposed",
            "q8",
            "def conv_to_dense(",
            "    return matrix\n",
            "    return matrix.T\n",
            ".shape returned (",
        ),
    ],
    "A3_learning_with_little_data": [
        Planted(
            "mixup_lambda_can_be_0_or_1",
            "q1",
            "def mixup_batch(",
            "lambdas = np.clip(rng.beta(alpha, alpha, size=n), LAMBDA_EPSILON, 1 - LAMBDA_EPSILON).astype(np.float32)",
            "lambdas = rng.beta(alpha, alpha, size=n).astype(np.float32)",
            "lambdas are 0 or 1 in float32",
        ),
        Planted(
            "tta_averaging_the_images",
            "q2",
            "def tta_predict(",
            "    predictions = [model.predict(view(images), verbose=0) for view in views]\n    return np.mean(predictions, axis=0)\n",
            "    return model.predict(np.mean([view(images) for view in views], axis=0), verbose=0)\n",
            "tta_predict with",
        ),
        Planted(
            "backbone_left_trainable",
            "q3",
            "def build_transfer_model(",
            "    backbone.trainable = False\n",
            "",
            "the trainable weight shapes of",
        ),
        Planted(
            "neighbours_unsorted",
            "q4",
            "def nearest_neighbours(",
            'return np.argsort(squared, axis=1, kind="stable")[:, :k]',
            "return np.sort(np.argpartition(squared, k - 1, axis=1)[:, :k], axis=1)",
            "nearest_neighbours(index",
        ),
        Planted(
            "precision_over_all_retrieved",
            "q5",
            "def precision_at_k(",
            "relevant = retrieved_labels[:, :k] == query_labels[:, None]",
            "relevant = retrieved_labels == query_labels[:, None]",
            "precision_at_k(labels of",
        ),
    ],
    "A2_building_blocks": [
        Planted(
            "conv_params_forgetting_the_bias",
            "q1",
            "def conv_params(",
            "return kernel_size * kernel_size * c_in * c_out + (c_out if bias else 0)",
            "return kernel_size * kernel_size * c_in * c_out",
            "bias=True) returned",
        ),
        Planted(
            "residual_block_without_the_shortcut",
            "q2",
            "class ResidualBlock(",
            "return keras.ops.relu(self.merge([y, shortcut]))",
            "return keras.ops.relu(y)",
            "with random weights is wrong at",
        ),
        Planted(
            "inception_branches_concatenated_in_the_wrong_order",
            "q3",
            "class InceptionModule(",
            "for branch in (self.branch_1x1, self.branch_3x3, self.branch_5x5, self.branch_pool):",
            "for branch in (self.branch_3x3, self.branch_1x1, self.branch_5x5, self.branch_pool):",
            "(the 1x1 branch)",
        ),
        Planted(
            "inception_without_the_pool_projection",
            "q3",
            "class InceptionModule(",
            'self.branch_pool = [keras.layers.MaxPooling2D(3, strides=1, padding="same"), conv(pool_proj, 1)]',
            'self.branch_pool = [keras.layers.MaxPooling2D(3, strides=1, padding="same")]',
            "the shape of InceptionModule(",
        ),
        Planted(
            "depthwise_block_with_a_full_3x3_convolution",
            "q4",
            "class DepthwiseSeparableConv(",
            'keras.layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)',
            'keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)',
            ".count_params() on",
        ),
        Planted(
            "receptive_field_ignoring_the_jump",
            "q5",
            "def receptive_field(",
            "field += (kernel_size - 1) * jump",
            "field += kernel_size - 1",
            "receptive_field([(",
        ),
    ],
}
