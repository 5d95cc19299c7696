# %% [raw]
# # ASSIGNMENT CONFIG
# name: A1_convolution_and_pooling
# init_cell: false
# check_all_cell: true
# export_cell:
#   pdf: false
#   instructions: "Locally: save the notebook, then run the cell below; it writes a zip next to the notebook. Submit that zip. In Colab: File > Download > Download .ipynb, and submit the .ipynb."
# tests:
#   files: true
#   ok_format: false
# generate: true

# %% [markdown]
# # A1 · Convolution and pooling from scratch
#
# In this assignment you write, in NumPy, the operations a convolutional layer
# and a max-pooling layer perform, forward and backward. Each answer is checked
# against a reference (SciPy, Keras or numerical gradients) on random inputs.
#
# **Time budget:** about 3 hours. **Material:** notebooks 02 (convolution),
# 03 (conv layers and pooling), 05 (the conv layer as a dense layer) and
# 07 (backpropagation through max pooling).
#
# | question | topic | points |
# | --- | --- | ---: |
# | q1 | output sizes for valid, same and full padding, with strides | 2 |
# | q2 | `correlate2d` | 2 |
# | q3 | `convolve2d` | 1 |
# | q4 | a vectorised `conv2d_forward` | 3 |
# | q5 | `conv2d_backward` | 3 |
# | q6 | `max_pool2d_forward` | 1 |
# | q7 | `max_pool2d_backward` | 2 |
# | q8 | the convolution as a dense layer | 2 |
# | total | | 16 |
#
# **How to work.** Run the setup cell, then answer each question by replacing
# the `...` in its cell. Run the `grader.check("qN")` cell below it to run the
# question's public tests; they show what is wrong when they fail. Your grade
# also uses hidden tests of the same kind, on other random inputs, so make your
# function correct in general, not just for the public tests.
#
# - **Local Jupyter:** open this notebook from `notebooks/assignments/student/`
#   in a clone of the course after `make lab`; the `tests/` folder next to it
#   holds the public tests.
# - **Google Colab:** open the notebook in Colab; the setup cell installs the
#   course and fetches the public tests.
#
# **Rules.** Use NumPy only (SciPy and Keras are for checking, as in the tests).
# Do not import the answers from `course_lib.ops`, which the course notebooks
# use: the point is to write them. Each question is graded on its own, so a
# later question should not depend on an earlier one being right (you may still
# reuse your functions).

# %%
# Setup: works locally and in Google Colab.
ASSIGNMENT = "A1_convolution_and_pooling"
try:
    import course_lib
except ModuleNotFoundError:  # the public repository is not known yet: no Colab install
    raise RuntimeError("course_lib is missing: run `make lab` in a clone of the course.")
import otter
from course_lib.runtime import setup_notebook
info = setup_notebook(seed=0)
grader = otter.Notebook(f"{ASSIGNMENT}.ipynb")

# %%
import numpy as np

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 2

# %% [markdown]
# ## q1 · Output sizes (2 points)
#
# A window of $k$ rows slides over $n$ rows with stride $s$. Write
# `output_size(n, kernel_size, padding="valid", stride=1)` returning the number
# of output rows (an `int`) for
#
# - `"valid"`: no padding, the window stays inside the input;
# - `"same"`: Keras's convention, $\lceil n / s \rceil$ outputs (padding chosen
#   to make it so);
# - `"full"`: $k - 1$ zeros on each side, so that every position where the
#   window overlaps the input at least once counts.
#
# Any other `padding` should raise a `ValueError`.
#
# *Hint:* with $p$ zeros added in total, the count is
# $\lfloor (n + p - k) / s \rfloor + 1$.

# %% [raw]
# # BEGIN SOLUTION

# %%
def output_size(n, kernel_size, padding="valid", stride=1):
    # BEGIN SOLUTION
    if padding == "valid":
        return (n - kernel_size) // stride + 1
    if padding == "same":
        return -(-n // stride)
    if padding == "full":
        return (n + kernel_size - 2) // stride + 1
    raise ValueError(f"`padding` must be 'valid', 'same' or 'full'; received {padding!r}.")
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_output_size_against_keras_and_scipy(output_size):
    # Every test case draws sizes for all three paddings, so a mistake in one fails each case.
    from course_lib.grading.checks.a1 import check_output_size

    check_output_size(output_size, seed=101, paddings=("valid", "same", "full"), per_padding=5,
                      n_range=(6, 30), k_range=(1, 6), s_range=(1, 4))


# %%
# HIDDEN
def test_output_size_hidden(output_size):
    from course_lib.grading.checks.a1 import check_output_size

    check_output_size(output_size, seed=9001, paddings=("full", "same", "valid"), per_padding=8,
                      n_range=(3, 64), k_range=(1, 8), s_range=(1, 6))


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2
# points: 2

# %% [markdown]
# ## q2 · Cross-correlation (2 points)
#
# Write `correlate2d(image, kernel, padding="valid")` for a 2-D `image` of shape
# `(H, W)` and a 2-D `kernel` of shape `(kh, kw)` with odd `kh` and `kw`:
#
# $$\text{out}[p, q] = \sum_{i, j} \text{padded}[p + i, q + j]\, \text{kernel}[i, j]$$
#
# where `padded` is the image with zeros around it: none for `"valid"`,
# $(k - 1) / 2$ on each side for `"same"`, $k - 1$ on each side for `"full"`.
# Return a float array. It must equal `scipy.signal.correlate2d(image, kernel, mode=padding)`.
#
# *Hint:* `np.pad`, then `np.lib.stride_tricks.sliding_window_view(padded, (kh, kw))`
# gives every window at once, and `np.einsum` sums the products: no Python loop needed.

# %% [raw]
# # BEGIN SOLUTION

# %%
def correlate2d(image, kernel, padding="valid"):
    # BEGIN SOLUTION
    kernel = np.asarray(kernel, dtype=np.float64)
    kh, kw = kernel.shape
    pads = {
        "valid": ((0, 0), (0, 0)),
        "same": ((kh // 2, kh // 2), (kw // 2, kw // 2)),
        "full": ((kh - 1, kh - 1), (kw - 1, kw - 1)),
    }[padding]
    padded = np.pad(np.asarray(image, dtype=np.float64), pads)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw))
    return np.einsum("pqij,ij->pq", windows, kernel)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_correlate2d_against_scipy(correlate2d):
    import scipy.signal

    from course_lib.grading.checks.a1 import check_against_scipy

    check_against_scipy(correlate2d, "correlate2d", scipy.signal.correlate2d, seed=202,
                        paddings=("valid", "same", "full"), size_range=(6, 12), kernel_sizes=(1, 3, 5))


# %%
# HIDDEN
def test_correlate2d_hidden(correlate2d):
    import scipy.signal

    from course_lib.grading.checks.a1 import check_against_scipy

    check_against_scipy(correlate2d, "correlate2d", scipy.signal.correlate2d, seed=9002,
                        paddings=("full", "same", "valid") * 2, size_range=(5, 20), kernel_sizes=(1, 3, 5))


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3
# points: 1

# %% [markdown]
# ## q3 · Convolution (1 point)
#
# The convolution of signal processing flips the kernel:
# $\text{out}[p, q] = \sum_{i, j} \text{image}[p - i, q - j]\, \text{kernel}[i, j]$.
# Write `convolve2d(image, kernel, padding="valid")`, with the same paddings as
# `correlate2d`. It must equal `scipy.signal.convolve2d(image, kernel, mode=padding)`.
#
# *Hint:* a convolution is a cross-correlation with the kernel rotated by 180 degrees.

# %% [raw]
# # BEGIN SOLUTION

# %%
def convolve2d(image, kernel, padding="valid"):
    # BEGIN SOLUTION
    kernel = np.asarray(kernel, dtype=np.float64)[::-1, ::-1]
    kh, kw = kernel.shape
    pads = {
        "valid": ((0, 0), (0, 0)),
        "same": ((kh // 2, kh // 2), (kw // 2, kw // 2)),
        "full": ((kh - 1, kh - 1), (kw - 1, kw - 1)),
    }[padding]
    padded = np.pad(np.asarray(image, dtype=np.float64), pads)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw))
    return np.einsum("pqij,ij->pq", windows, kernel)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_convolve2d_against_scipy(convolve2d):
    import scipy.signal

    from course_lib.grading.checks.a1 import check_against_scipy

    check_against_scipy(convolve2d, "convolve2d", scipy.signal.convolve2d, seed=303,
                        paddings=("valid", "same", "full"), size_range=(6, 12), kernel_sizes=(3, 5))


# %%
# HIDDEN
def test_convolve2d_hidden(convolve2d):
    import scipy.signal

    from course_lib.grading.checks.a1 import check_against_scipy

    check_against_scipy(convolve2d, "convolve2d", scipy.signal.convolve2d, seed=9003,
                        paddings=("full", "same", "valid") * 2, size_range=(5, 20), kernel_sizes=(3, 5))


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q4
# points: 3

# %% [markdown]
# ## q4 · The forward pass of a convolutional layer (3 points)
#
# Write `conv2d_forward(x, kernel, bias, padding="valid", strides=1)`, what
# `keras.layers.Conv2D` computes (without activation) on a batch:
#
# - `x`: shape `(N, H, W, C)`; `kernel`: shape `(kh, kw, C, F)`; `bias`: shape `(F,)`;
# - `out[n, p, q, f] = bias[f] + sum over i, j, c of padded[n, p*s + i, q*s + j, c] * kernel[i, j, c, f]`;
# - `padding="valid"` adds nothing; `padding="same"` follows Keras: the output has
#   $\lceil H / s \rceil$ rows, the padding needed for that is
#   $P = \max((H_\text{out} - 1) s + k_h - H, 0)$ rows in total, with
#   $\lfloor P / 2 \rfloor$ on top and the rest at the bottom (columns alike);
# - returns an array of shape `(N, H_out, W_out, F)`.
#
# Vectorise it: at most a loop over the kernel's $k_h k_w$ positions, no loop
# over images, pixels or channels. *Hint:* `sliding_window_view(padded, (kh, kw), axis=(1, 2))`
# has shape `(N, H', W', C, kh, kw)`; take every `s`-th window and `np.einsum`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def conv2d_forward(x, kernel, bias, padding="valid", strides=1):
    # BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    kh, kw = kernel.shape[:2]

    def pads(n, k):
        if padding == "valid":
            return 0, 0
        total = max((-(-n // strides) - 1) * strides + k - n, 0)
        return total // 2, total - total // 2

    padded = np.pad(x, ((0, 0), pads(x.shape[1], kh), pads(x.shape[2], kw), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))
    windows = windows[:, ::strides, ::strides]
    return np.einsum("npqcij,ijcf->npqf", windows, kernel) + np.asarray(bias, dtype=np.float64)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_conv2d_forward_against_keras(conv2d_forward):
    from course_lib.grading.checks.a1 import check_conv2d_forward

    check_conv2d_forward(conv2d_forward, seed=404, paddings=("valid", "same"), strides_list=(1, 2), kernel_sizes=(2, 3),
                         batch=2, size_range=(5, 10), channel_range=(2, 4), filter_range=(2, 5))


# %%
# HIDDEN
def test_conv2d_forward_hidden(conv2d_forward):
    from course_lib.grading.checks.a1 import check_conv2d_forward

    check_conv2d_forward(conv2d_forward, seed=9004, paddings=("same", "valid"), strides_list=(2, 1, 3),
                         kernel_sizes=(3, 2, 1), batch=3, size_range=(6, 13), channel_range=(2, 5), filter_range=(1, 5))


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q5
# points: 3

# %% [markdown]
# ## q5 · The backward pass of a convolutional layer (3 points)
#
# Given `dout`, the gradient of a loss with respect to the output of
# `conv2d_forward(x, kernel, bias, padding, strides)`, write
# `conv2d_backward(dout, x, kernel, padding="valid", strides=1)` returning the
# tuple `(dx, dkernel, dbias)` of gradients with respect to `x`, `kernel` and
# `bias` (same shapes as those). The tests compare them with numerical gradients.
#
# *Hints:* `dbias` sums `dout` over everything but the filters. `dkernel` is an
# `einsum` of the same windows as the forward pass with `dout`. For `dx`, each
# kernel position `(i, j)` sends `dout @ kernel[i, j].T` back to the padded
# input positions it read (a loop over `i, j` is fine); then cut the padding off.

# %% [raw]
# # BEGIN SOLUTION

# %%
def conv2d_backward(dout, x, kernel, padding="valid", strides=1):
    # BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    (_, h, w, _), (kh, kw) = x.shape, kernel.shape[:2]
    out_h, out_w = dout.shape[1:3]

    def pads(n, k):
        if padding == "valid":
            return 0, 0
        total = max((-(-n // strides) - 1) * strides + k - n, 0)
        return total // 2, total - total // 2

    (top, bottom), (left, right) = pads(h, kh), pads(w, kw)
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))
    windows = windows[:, ::strides, ::strides]
    dbias = dout.sum(axis=(0, 1, 2))
    dkernel = np.einsum("npqcij,npqf->ijcf", windows, dout)
    dpadded = np.zeros_like(padded)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i, i + strides * (out_h - 1) + 1, strides)
            cols = slice(j, j + strides * (out_w - 1) + 1, strides)
            dpadded[:, rows, cols, :] += dout @ kernel[i, j].T
    dx = dpadded[:, top : top + h, left : left + w, :]
    return dx, dkernel, dbias
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_conv2d_backward_against_numerical_gradients(conv2d_backward):
    from course_lib.grading.checks.a1 import check_conv2d_backward

    check_conv2d_backward(conv2d_backward, seed=505, cases=(("valid", 1), ("same", 2), ("same", 1), ("valid", 2)),
                          x_shape=(2, 6, 5, 2), kernel_shape=(3, 2, 2, 3))


# %%
# HIDDEN
def test_conv2d_backward_hidden(conv2d_backward):
    from course_lib.grading.checks.a1 import check_conv2d_backward

    check_conv2d_backward(conv2d_backward, seed=9005, cases=(("same", 2), ("valid", 1), ("same", 3), ("valid", 2)),
                          x_shape=(3, 7, 6, 3), kernel_shape=(2, 3, 3, 2))


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q6
# points: 1

# %% [markdown]
# ## q6 · Max pooling, forward (1 point)
#
# Write `max_pool2d_forward(x, pool_size=2, strides=None)` for `x` of shape
# `(N, H, W, C)`: the maximum of each `pool_size` x `pool_size` window of each
# channel, windows `strides` apart (`None` means `strides = pool_size`), no
# padding. It must equal `keras.ops.max_pool(x, pool_size, strides, "valid")`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def max_pool2d_forward(x, pool_size=2, strides=None):
    # BEGIN SOLUTION
    strides = strides or pool_size
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(x), (pool_size, pool_size), axis=(1, 2))
    return windows[:, ::strides, ::strides].max(axis=(-2, -1))
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_max_pool2d_forward_against_keras(max_pool2d_forward):
    from course_lib.grading.checks.a1 import check_max_pool2d_forward

    check_max_pool2d_forward(max_pool2d_forward, seed=606, cases=((2, None), (3, 2), (2, 1)), batch=2,
                             size_range=(6, 11), channels=3)


# %%
# HIDDEN
def test_max_pool2d_forward_hidden(max_pool2d_forward):
    from course_lib.grading.checks.a1 import check_max_pool2d_forward

    check_max_pool2d_forward(max_pool2d_forward, seed=9006, cases=((3, None), (2, 2), (3, 1), (4, 3)), batch=3,
                             size_range=(8, 15), channels=2)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q7
# points: 2

# %% [markdown]
# ## q7 · Max pooling, backward (2 points)
#
# The maximum passes its gradient to the one input that won, and nothing to the
# others. Write `max_pool2d_backward(dout, x, pool_size=2, strides=None)`
# returning `dx`, of `x`'s shape. When windows overlap (`strides < pool_size`),
# an input that wins several windows receives the sum of their gradients. The
# tests use inputs without ties and compare with numerical gradients.
#
# *Hint:* `argmax` over each flattened window, `np.divmod` to turn it into a row
# and column, and `np.add.at` to accumulate.

# %% [raw]
# # BEGIN SOLUTION

# %%
def max_pool2d_backward(dout, x, pool_size=2, strides=None):
    # BEGIN SOLUTION
    strides = strides or pool_size
    x = np.asarray(x, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    n, out_h, out_w, c = dout.shape
    windows = np.lib.stride_tricks.sliding_window_view(x, (pool_size, pool_size), axis=(1, 2))
    windows = windows[:, ::strides, ::strides].reshape(n, out_h, out_w, c, pool_size * pool_size)
    di, dj = np.divmod(windows.argmax(axis=-1), pool_size)
    rows = np.arange(out_h)[None, :, None, None] * strides + di
    cols = np.arange(out_w)[None, None, :, None] * strides + dj
    images = np.arange(n)[:, None, None, None]
    channels = np.arange(c)[None, None, None, :]
    dx = np.zeros_like(x)
    np.add.at(dx, (images, rows, cols, channels), dout)
    return dx
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_max_pool2d_backward_against_numerical_gradients(max_pool2d_backward):
    from course_lib.grading.checks.a1 import check_max_pool2d_backward

    check_max_pool2d_backward(max_pool2d_backward, seed=707, cases=((2, None), (3, 2), (2, 1)), batch=2,
                              size_range=(5, 9), channels=2)


# %%
# HIDDEN
def test_max_pool2d_backward_hidden(max_pool2d_backward):
    from course_lib.grading.checks.a1 import check_max_pool2d_backward

    check_max_pool2d_backward(max_pool2d_backward, seed=9007, cases=((3, 1), (2, None), (3, None), (4, 2)), batch=2,
                              size_range=(6, 11), channels=3)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q8
# points: 2

# %% [markdown]
# ## q8 · The convolution as a dense layer (2 points)
#
# A "valid" cross-correlation of an `(H, W)` image with a `(kh, kw)` kernel is a
# linear map, so it is a matrix. Write `conv_to_dense(kernel, input_shape)`
# returning the matrix `M` of shape `(H_out * W_out, H * W)` with
# `M @ image.ravel() == correlate2d(image, kernel, "valid").ravel()` for every image
# (`ravel` in NumPy's row-major order).
#
# *Hint:* row `p * W_out + q` of `M` is the kernel placed at `(p, q)` in an
# otherwise zero `(H, W)` image, flattened.
#
# Afterwards, count: how many of `M`'s entries are non-zero, and how many
# different values do they take? This is the sparsity and the weight sharing of
# notebook 05.

# %% [raw]
# # BEGIN SOLUTION

# %%
def conv_to_dense(kernel, input_shape):
    # BEGIN SOLUTION
    kernel = np.asarray(kernel, dtype=np.float64)
    (kh, kw), (h, w) = kernel.shape, input_shape
    out_h, out_w = h - kh + 1, w - kw + 1
    matrix = np.zeros((out_h * out_w, h * w))
    for p in range(out_h):
        for q in range(out_w):
            placed = np.zeros((h, w))
            placed[p : p + kh, q : q + kw] = kernel
            matrix[p * out_w + q] = placed.ravel()
    return matrix
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_conv_to_dense_against_scipy(conv_to_dense):
    from course_lib.grading.checks.a1 import check_conv_to_dense

    check_conv_to_dense(conv_to_dense, seed=808, count=3, size_range=(4, 8), kernel_range=(1, 4), images=5)


# %%
# HIDDEN
def test_conv_to_dense_hidden(conv_to_dense):
    from course_lib.grading.checks.a1 import check_conv_to_dense

    check_conv_to_dense(conv_to_dense, seed=9008, count=4, size_range=(5, 10), kernel_range=(2, 5), images=4)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Before you submit
#
# Restart the kernel and run all cells (Kernel > Restart Kernel and Run All
# Cells): the grader runs your notebook from the top, so a function that only
# works because of a cell you ran earlier and then deleted will fail there.
