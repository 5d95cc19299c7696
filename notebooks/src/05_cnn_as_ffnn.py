# %% [markdown]
# # 05 · The convolutional layer as a dense layer
#
# A convolutional layer is a special dense layer. Flatten its input and its output
# into vectors, and the layer computes $y = Wx + b$ like any fully connected layer.
# Its weight matrix $W$ is of a very particular kind. Almost all of it is zero, and
# its non-zero entries are the same few kernel weights, repeated. This notebook
# builds that matrix for real layers and looks at it. Then it checks that a Keras
# `Dense` layer holding it computes exactly what `Conv2D` computes.
#
# **Learning objectives.** After this notebook you can
#
# 1. flatten a volume into a vector with the course's convention and find where
#    each pixel lands;
# 2. build the matrix $W$ and the vector $b$ of a convolutional layer with
#    `course_lib.ops.conv_to_dense`, and check them against Keras on real images;
# 3. point out, in $W$, the two ideas that make CNNs work: **sparse connectivity**
#    (each output reads a small window) and **weight sharing** (every window uses
#    the same kernel);
# 4. count the non-zero entries of $W$ with a formula, and explain why no one
#    stores a convolutional layer as a dense matrix.

# %%
# Setup: works locally and in Google Colab.
try:
    import course_lib
except ModuleNotFoundError:  # the public repository is not known yet: no Colab install
    raise RuntimeError("course_lib is missing: run `make lab` in a clone of the course.")
from course_lib.runtime import setup_notebook
info = setup_notebook(seed=42)

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course_lib import data, diagrams
from course_lib.ops import conv2d_forward, conv_to_dense, flatten_volume, unflatten_volume

# %% [markdown]
# ## 1. From a volume to a vector
#
# A dense layer takes a vector. To feed it a volume of $H \times W \times C$
# values, we read it in a fixed order. The course's convention:
#
# - each channel is read column by column: the left-most column first, each column
#   from top to bottom;
# - the channels follow one after the other.
#
# The value at row $i$, column $j$, channel $c$ lands at position
# $c \cdot HW + j \cdot H + i$ (counting from 0). Here is a small 3x2x2 volume whose
# values are their own row, column and channel digits:

# %%
# NBVAL_CHECK_OUTPUT
small = np.array([[[100 * i + 10 * j + c for c in range(2)] for j in range(2)] for i in range(3)])
print("channel 0:\n", small[:, :, 0])
print("channel 1:\n", small[:, :, 1])
print("flattened:", flatten_volume(small).tolist())

# %% [markdown]
# **Check.** Flattening only reorders the values: `unflatten_volume` must undo it.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
n_rows, n_cols, n_channels = small.shape
vector = flatten_volume(small)
for i in range(n_rows):
    for j in range(n_cols):
        for c in range(n_channels):
            assert vector[c * n_rows * n_cols + j * n_rows + i] == small[i, j, c]
assert np.array_equal(unflatten_volume(vector, small.shape), small)
print(f"Check: x[i, j, c] lands at v[c*H*W + j*H + i] for all {small.size} values, "
      "and unflatten_volume undoes the flattening.")

# %% [markdown]
# > **Lecture vs. course: the order of flattening.** The course flattens the way
# > the lecture notes do: each channel column by column, then the channels one
# > after the other. Keras's `Flatten` layer (like NumPy's `reshape`) reads the
# > volume in its memory order instead. It goes row by row, and within each pixel
# > through its channels, so $x[i, j, c]$ lands at $(iW + j)\,C + c$.
# >
# > Neither is wrong. They list the same values in two orders, so one vector is a
# > fixed **permutation** of the other. A dense layer built for one order serves
# > the other once its columns (inputs) and rows (outputs) are permuted the same
# > way; section 5 checks it. Within one channel, the two orders differ by swapping
# > the roles of rows and columns: column-major against row-major.

# %%
# NBVAL_CHECK_OUTPUT
keras_vector = keras.ops.convert_to_numpy(keras.layers.Flatten()(small[None]))[0]
# Position k of the course's vector holds the value at position order[k] of Keras's.
order = flatten_volume(np.arange(small.size).reshape(small.shape))
print("Keras Flatten:", keras_vector.tolist())
print("course's order as positions of Keras's vector:", order.tolist())
assert np.array_equal(keras_vector[order], flatten_volume(small))
assert sorted(order.tolist()) == list(range(small.size)) and not np.array_equal(order, np.arange(small.size))

# %% [markdown]
# ## 2. A convolutional layer on MNIST digits
#
# Our layer has $F = 3$ filters of $5 \times 5$ on $28 \times 28 \times 1$ digits,
# with "valid" padding and stride 1. Its output is $24 \times 24 \times 3$. Keras
# initialises the kernel at random. We also give it random biases, so that the
# bias part of the check is not trivially zero.

# %%
(x_train, y_train), (x_test, y_test) = data.load_mnist()
digits = (x_test[:256] / 255.0).astype("float32")[..., None]  # (256, 28, 28, 1)

conv = keras.layers.Conv2D(3, 5, padding="valid", name="conv")
conv.build((None, 28, 28, 1))
rng = np.random.default_rng(0)
kernel = keras.ops.convert_to_numpy(conv.kernel)
bias = rng.normal(scale=0.1, size=3).astype("float32")
conv.set_weights([kernel, bias])

input_shape = digits.shape[1:]
output_shape = tuple(conv.compute_output_shape((None,) + input_shape)[1:])
W, b = conv_to_dense(kernel, bias, input_shape)
print("kernel", kernel.shape, "| input", input_shape, "| output", output_shape)
print("W", W.shape, "| b", b.shape)

# %% [markdown]
# **Check.** $W$ has one row per output value and one column per input value.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
out_size, in_size = int(np.prod(output_shape)), int(np.prod(input_shape))
assert output_shape == (28 - 5 + 1, 28 - 5 + 1, 3)
assert W.shape == (out_size, in_size) == (1728, 784) and b.shape == (out_size,)
print(f"Check: W has 24 x 24 x 3 = {out_size} rows and 28 x 28 x 1 = {in_size} columns, "
      "and b one entry per row.")

# %% [markdown]
# ## 3. The sparsity pattern
#
# Start small. With one $3 \times 3$ kernel on a $5 \times 5$ input, all of $W$ fits
# on the page. The diagram draws it below the im2col product of notebook 02, with
# pixels, taps and outputs numbered in the course's order. Look at the rows of $W$:
# each holds the same nine weights, shifted to its window, and zeros elsewhere.

# %%
diagrams.show(diagrams.im2col(input_size=5, kernel_size=3))

# %% [markdown]
# Back to the digits. Each output value reads one $5 \times 5$ window of the digit,
# 25 of the 784 inputs: a row of $W$ holds 25 non-zeros. With the column-by-column
# flattening, a window's 5 columns are 5 runs of 5 consecutive inputs, 28 positions
# apart. The first plot shows all of $W$, a dot per non-zero entry. The second zooms
# in on its top-left corner. The first output rows of filter 0 slide their window
# one pixel down at a time, so their runs shift one position to the right.

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
axes[0].spy(W, markersize=0.05, aspect="auto", color="black")
axes[0].set_title(f"All of W: {np.count_nonzero(W):,} non-zeros out of {W.size:,}")
axes[0].set_xlabel("input index (flattened digit)")
axes[0].set_ylabel("output index (flattened feature maps)")
crop = W[:40, :150]
limit = np.abs(crop).max()
image = axes[1].imshow(crop, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
axes[1].set_title("Top-left corner: rows 0-39, columns 0-149")
axes[1].set_xlabel("input index")
axes[1].set_ylabel("output index")
fig.colorbar(image, ax=axes[1], label="weight")
plt.show()

# %% [markdown]
# **Check.** A row has one non-zero per pixel of its 5x5 window, and each column
# of the window is a run of consecutive inputs.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert (np.count_nonzero(W, axis=1) == 5 * 5).all()
first_row_columns = np.flatnonzero(W[0])
assert first_row_columns.tolist() == [28 * j + i for j in range(5) for i in range(5)]
print("columns read by output 0:", first_row_columns.reshape(5, 5).tolist())
print("Check: every row of W holds 25 non-zeros; those of output 0 (row 0, column 0 of filter 0) "
      "are 5 runs of 5 consecutive inputs, 28 apart.")

# %% [markdown]
# ## 4. Shared weights
#
# Take the rows of $W$ for three neighbouring outputs of filter 0: at positions
# (row 10, column 10), (11, 10) and (10, 11). Put each back on the 28x28 grid of
# the input with `unflatten_volume`. (The plots show rows and columns 6-19 of that
# grid; the rest is zero.) Each is the same $5 \times 5$ kernel, at a position
# shifted by one pixel. One set of weights is shared by all
# $24 \cdot 24 = 576$ positions.


# %%
def row_of(p, q, f, height=output_shape[0], width=output_shape[1]):
    """Row of W for the output at row p, column q of filter f (flatten_volume's order)."""
    return f * height * width + q * height + p


units = [(10, 10, 0), (11, 10, 0), (10, 11, 0)]
fig, axes = plt.subplots(1, 4, figsize=(13, 3.4), layout="constrained")
limit = np.abs(kernel[..., 0, 0]).max()
axes[0].imshow(kernel[..., 0, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
axes[0].set_title("kernel of filter 0 (5x5)")
zoom = slice(6, 20)  # the part of the 28x28 grid around the windows
for ax, (p, q, f) in zip(axes[1:], units):
    grid = unflatten_volume(W[row_of(p, q, f)], input_shape)[..., 0]
    image = ax.imshow(grid[zoom, zoom], cmap="RdBu_r", vmin=-limit, vmax=limit, extent=(5.5, 19.5, 19.5, 5.5))
    ax.set_title(f"row of W, output ({p}, {q}), filter {f}")
for ax in axes:
    ax.set_xlabel("column (pixels)")
    ax.set_ylabel("row (pixels)")
fig.colorbar(image, ax=axes, label="weight", shrink=0.9)
plt.show()

# %% [markdown]
# **Check.** Weight sharing holds for *every* output, all 24x24 positions of all
# 3 filters, not only for the three drawn above.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
kh, kw = kernel.shape[:2]
for f in range(output_shape[2]):
    for p in range(output_shape[0]):
        for q in range(output_shape[1]):
            grid = unflatten_volume(W[row_of(p, q, f)], input_shape).copy()  # a view of W otherwise
            assert np.array_equal(grid[p : p + kh, q : q + kw], kernel[..., f])
            grid[p : p + kh, q : q + kw] = 0
            assert not grid.any()
            assert b[row_of(p, q, f)] == bias[f]
print(f"Check: each of the {out_size} rows of W, put back on the input grid, holds its filter's kernel "
      "in its window and zeros elsewhere, and its bias is the filter's bias.")

# %% [markdown]
# ### Several input channels: a row of blocks
#
# With $C$ input channels, the flattened input holds channel 0's values, then
# channel 1's, and so on. So the columns of $W$ fall into $C$ blocks, one per
# input channel. The rows of filter $f$ read block $c$ with the slice
# $w(\cdot, \cdot, c, f)$ of the filter's kernel:
# $W_f = [\,W_f^{(0)} \mid W_f^{(1)} \mid \dots \mid W_f^{(C-1)}\,]$. This is the
# row of blocks the lecture notes draw. Each block is the single-channel matrix of
# its slice, like the $W$ of the diagram in section 3.
#
# That matrix has a name. Cut it into $H' \times H$ tiles, one per output column $q$
# and input column $j$:
#
# - tile $(q, j)$ depends only on $j - q$, and is zero unless $0 \le j - q < k_w$;
# - inside a tile, entry $(p, i)$ depends only on $i - p$.
#
# A matrix that is constant along its diagonals is a **Toeplitz** matrix; this one
# is *doubly block Toeplitz*. Here is one 3x3 filter on a 5x5 input with three
# channels:

# %%
small_kernel = np.random.default_rng(5).normal(size=(3, 3, 3, 1))
small_shape = (5, 5, 3)
W_small, _ = conv_to_dense(small_kernel, None, small_shape)
fig, ax = plt.subplots(figsize=(11, 3.0), layout="constrained")
limit = np.abs(W_small).max()
image = ax.imshow(W_small, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
for c in range(1, small_shape[2]):
    ax.axvline(c * 25 - 0.5, color="black", linewidth=1.5)
for c in range(small_shape[2]):
    ax.text(c * 25 + 12, -0.9, f"block of channel {c}: w(·, ·, {c})", ha="center", va="bottom", fontsize=9)
ax.set_title("W of one 3x3 filter on a 5x5x3 input: one block of columns per input channel", pad=26)
ax.set_xlabel("input index (channel by channel, each column by column)")
ax.set_ylabel("output index")
fig.colorbar(image, ax=ax, label="weight")
plt.show()

# %% [markdown]
# **Check.** Each block is a single-channel layer's matrix, so it has the same
# structure as the $W$ of section 3.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
H, C = small_shape[0], small_shape[2]
H_out = H - 3 + 1
for c in range(C):
    block = W_small[:, c * H * H : (c + 1) * H * H]
    single, _ = conv_to_dense(small_kernel[:, :, c : c + 1], None, (H, H, 1))
    assert np.array_equal(block, single)
    tile = lambda q, j: block[q * H_out : (q + 1) * H_out, j * H : (j + 1) * H]
    for q in range(H_out):
        for j in range(H):
            assert np.array_equal(tile(q, j), tile(0, j - q)) if j >= q else not tile(q, j).any()
            t = tile(q, j)
            assert all(t[p, i] == t[0, i - p] for p in range(H_out) for i in range(p, H))
            assert not any(t[p, i] for p in range(H_out) for i in range(p))
print(f"Check: W is {W_small.shape[0]} x {W_small.shape[1]}: {C} blocks of {H * H} columns, block c the matrix "
      "of the single-channel layer with the slice w(., ., c), each doubly block Toeplitz.")

# %% [markdown]
# ## 5. A dense layer that computes the convolution
#
# A `keras.layers.Dense` layer computes `x @ kernel + bias` with a kernel of shape
# (inputs, outputs), so it holds $W^\top$. We load it with $W^\top$ and $b$ and feed
# it the 256 flattened test digits. Then we compare with `Conv2D` on the same
# digits, its output flattened the same way. `conv2d_forward`, the course's
# from-scratch convolution, gives a third, float64 opinion.

# %%
dense = keras.layers.Dense(out_size, name="conv_as_dense")
dense.build((None, in_size))
dense.set_weights([W.T, b])

conv_output = flatten_volume(keras.ops.convert_to_numpy(conv(digits)))
dense_output = keras.ops.convert_to_numpy(dense(flatten_volume(digits)))
scratch_output = flatten_volume(conv2d_forward(digits.astype("float64"), kernel.astype("float64"), bias.astype("float64")))
matrix_output = flatten_volume(digits.astype("float64")) @ W.T.astype("float64") + b

errors = pd.Series(
    {
        "Dense vs Conv2D, max abs error": np.abs(dense_output - conv_output).max(),
        "Dense vs Conv2D, relative error": np.abs(dense_output - conv_output).max() / np.abs(conv_output).max(),
        "W x + b vs conv2d_forward (float64), max abs error": np.abs(matrix_output - scratch_output).max(),
    },
    name="error",
)
errors.map("{:.1e}".format).to_frame()

# %% [markdown]
# **Check.** In float32, a relative error below $10^{-5}$ is agreement to
# rounding: a float32 unit round-off is $6 \cdot 10^{-8}$.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert dense_output.shape == conv_output.shape == (256, 1728)
assert errors["Dense vs Conv2D, relative error"] < 1e-5
assert errors["W x + b vs conv2d_forward (float64), max abs error"] < 1e-12
assert np.finfo(np.float32).eps / 2 < 6e-8  # float32's unit round-off
print("Check: Dense(W.T, b) reproduces Conv2D on 256 test digits (relative error below 1e-5), "
      "and in float64 W x + b equals the from-scratch convolution (below 1e-12).")

# %% [markdown]
# The same works in Keras's order of flattening. Permute the columns of $W$ by the
# input's permutation, and its rows (and $b$) by the output's. A `Dense` layer
# placed after `keras.layers.Flatten` then computes `Flatten()(conv(x))`.

# %%
# NBVAL_CHECK_OUTPUT
input_order = flatten_volume(np.arange(in_size).reshape(input_shape))
output_order = flatten_volume(np.arange(out_size).reshape(output_shape))
# Course's vector = Keras's vector[order], so Keras's = course's[argsort(order)].
W_keras = W[np.argsort(output_order)][:, np.argsort(input_order)]
b_keras = b[np.argsort(output_order)]
flat_digits = keras.ops.convert_to_numpy(keras.layers.Flatten()(digits))
flat_conv = keras.ops.convert_to_numpy(keras.layers.Flatten()(conv(digits)))
keras_order_error = np.abs(flat_digits @ W_keras.T + b_keras - flat_conv).max() / np.abs(flat_conv).max()
assert keras_order_error < 1e-5
print("Dense(W_keras.T, b_keras) after Flatten reproduces Flatten(Conv2D) (relative error < 1e-5)")

# %% [markdown]
# ## 6. Counting non-zeros
#
# Each of the $H'W'$ output positions of each of the $F$ filters reads
# $k_h k_w C$ inputs, so
#
# $$\text{nnz}(W) = H'W' \cdot k_h k_w C \cdot F, \qquad
#   \text{size}(W) = (H'W'F) \cdot (HWC), \qquad
#   \frac{\text{nnz}}{\text{size}} = \frac{k_h k_w}{HW}.$$
#
# All those non-zeros take only $k_h k_w C F$ distinct values: the kernel's
# weights. The conv layer has $k_h k_w C F + F$ parameters. A dense layer of the
# same shape has $(H'W'F)(HWC) + H'W'F$.

# %%
# NBVAL_CHECK_OUTPUT
positions = output_shape[0] * output_shape[1]
channels, filters = kernel.shape[2:]
counts = pd.Series(
    {
        "non-zeros of W": np.count_nonzero(W),
        "nnz formula H'W' kh kw C F": positions * kh * kw * channels * filters,
        "entries of W": W.size,
        "size formula (H'W'F)(HWC)": out_size * in_size,
        "distinct non-zero values": len(np.unique(W[W != 0])),
        "Conv2D parameters": conv.count_params(),
        "Dense parameters": dense.count_params(),
    }
)
counts.to_frame("count")

# %% [markdown]
# **Check.** Sparse connectivity leaves few non-zeros in $W$; weight sharing
# leaves fewer distinct values still.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert np.all(kernel != 0), "a zero kernel weight would hide a non-zero of W"
assert counts["non-zeros of W"] == counts["nnz formula H'W' kh kw C F"] == 24 * 24 * 25 * 1 * 3
assert counts["entries of W"] == counts["size formula (H'W'F)(HWC)"]
density = counts["non-zeros of W"] / counts["entries of W"]
assert np.isclose(density, kh * kw / (28 * 28)) and round(100 * density, 1) == 3.2
assert counts["distinct non-zero values"] == kh * kw * channels * filters == 75
assert counts["Conv2D parameters"] == kh * kw * channels * filters + filters == 78
assert counts["Dense parameters"] == out_size * in_size + out_size > 1_000_000
print(f"Check: the counts follow the formulas; {density:.1%} of W is non-zero (25/784), with "
      f"{counts['distinct non-zero values']} distinct values; parameters: Conv2D {conv.count_params()}, "
      f"Dense {dense.count_params():,}.")

# %% [markdown]
# ## 7. A realistic size: CIFAR-10 and a sparse matrix
#
# The first layer of a small CIFAR-10 network: 16 filters of $3 \times 3$ on
# $32 \times 32 \times 3$ colour images. Its $W$ has $30 \cdot 30 \cdot 16 =
# 14{,}400$ rows and $3{,}072$ columns. As a dense float64 array, that is 354 MB.
# `conv_to_dense(..., sparse=True)` returns a `scipy.sparse` CSR matrix instead. It
# keeps only the non-zeros, their column indices and one row pointer per row.

# %%
(cifar_train, _), (cifar_test, _) = data.load_cifar10()
images = (cifar_test[:64] / 255.0).astype("float32")  # (64, 32, 32, 3)

cifar_conv = keras.layers.Conv2D(16, 3, name="cifar_conv")
cifar_conv.build((None, 32, 32, 3))
cifar_kernel = keras.ops.convert_to_numpy(cifar_conv.kernel)
cifar_bias = rng.normal(scale=0.1, size=16).astype("float32")
cifar_conv.set_weights([cifar_kernel, cifar_bias])

W_sparse, b_sparse = conv_to_dense(cifar_kernel.astype("float64"), cifar_bias.astype("float64"), (32, 32, 3), sparse=True)
cifar_out_shape = tuple(cifar_conv.compute_output_shape((None, 32, 32, 3))[1:])
sparse_output = (W_sparse @ flatten_volume(images.astype("float64")).T).T + b_sparse
keras_output = flatten_volume(keras.ops.convert_to_numpy(cifar_conv(images)))
cifar_error = np.abs(sparse_output - keras_output).max() / np.abs(keras_output).max()
print(f"sparse W x + b vs Conv2D on 64 CIFAR-10 test images: relative error {cifar_error:.1e}")


# %%
# NBVAL_CHECK_OUTPUT
def megabytes(n_bytes):
    return n_bytes / 1e6


rows_, cols_ = W_sparse.shape
itemsize = W_sparse.dtype.itemsize
dense_bytes = rows_ * cols_ * itemsize  # computed, never allocated
sparse_bytes = W_sparse.data.nbytes + W_sparse.indices.nbytes + W_sparse.indptr.nbytes
kernel_bytes = (cifar_kernel.size + cifar_bias.size) * itemsize
memory = pd.DataFrame(
    {
        "entries stored": [rows_ * cols_, W_sparse.nnz, cifar_kernel.size + cifar_bias.size],
        "MB (float64)": [megabytes(dense_bytes), megabytes(sparse_bytes), megabytes(kernel_bytes)],
    },
    index=["dense W", "sparse W (CSR)", "Conv2D kernel + bias"],
).round(3)
memory

# %% [markdown]
# **Check.** The sparse matrix stores a value and a column index per non-zero,
# plus one pointer per row. The convolution itself stores only its parameters.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert cifar_out_shape == (30, 30, 16) and W_sparse.shape == (30 * 30 * 16, 32 * 32 * 3)
assert cifar_error < 1e-5
assert W_sparse.nnz == 30 * 30 * 3 * 3 * 3 * 16 == np.count_nonzero(W_sparse.data)
assert np.isclose(W_sparse.nnz / (rows_ * cols_), 9 / (32 * 32)) and round(100 * W_sparse.nnz / (rows_ * cols_), 2) == 0.88
assert round(dense_bytes / 1e6) == 354
memory_ratio = dense_bytes / sparse_bytes
index_bytes = W_sparse.indices.dtype.itemsize
assert sparse_bytes == W_sparse.nnz * (itemsize + index_bytes) + (rows_ + 1) * index_bytes
assert memory_ratio > 50
assert cifar_conv.count_params() == 448
print(f"Check: the sparse W computes the layer (relative error below 1e-5 against Keras); its "
      f"{W_sparse.nnz:,} non-zeros (H'W' kh kw C F) are {W_sparse.nnz / (rows_ * cols_):.2%} of "
      f"{rows_ * cols_:,} entries (9/1024); it takes {memory_ratio:.0f}x less memory than the dense array; "
      f"the convolution has {cifar_conv.count_params()} parameters.")

# %% [markdown]
# At the scale of ImageNet, the dense view is out of reach. VGG16's first layer
# (64 filters of $3 \times 3$ on $224 \times 224 \times 3$, "same" padding) would
# need a float32 matrix of $(224 \cdot 224 \cdot 64) \times (224 \cdot 224 \cdot 3)$
# entries.

# %%
# NBVAL_CHECK_OUTPUT
vgg_rows, vgg_cols = 224 * 224 * 64, 224 * 224 * 3
vgg_terabytes = vgg_rows * vgg_cols * 4 / 1e12
assert vgg_terabytes > 1
print(f"VGG16's first layer as a dense float32 matrix: {vgg_rows:,} x {vgg_cols:,} = {vgg_terabytes:.1f} TB")
print(f"as a convolution: {3 * 3 * 3 * 64 + 64:,} parameters")

# %% [markdown]
# ## Summary
#
# - Flattened (each channel column by column, channels stacked), a convolutional
#   layer is a dense layer $y = Wx + b$. A `Dense` layer holding $W^\top$ and $b$
#   reproduces `Conv2D` on real images up to float32 rounding.
# - $W$ is **sparse**: a row reads one $k_h \times k_w \times C$ window. Only a
#   fraction $k_h k_w / (HW)$ of $W$ is non-zero (3.2% for 5x5 kernels on MNIST,
#   0.88% for 3x3 on CIFAR-10).
# - $W$ is **shared**: its non-zeros are the $k_h k_w C F$ kernel weights, each
#   repeated at every output position. The rows of neighbouring outputs are the
#   same kernel shifted by one pixel.
# - This is why CNNs store kernels, not matrices. The dense view grows with the
#   square of the image size (terabytes for VGG16's first layer); the kernel does
#   not grow at all.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# The pen-and-paper exercises have worked solutions in
# [solutions/pen_and_paper.md](solutions/pen_and_paper.md), the others in
# [solutions/part1.md](solutions/part1.md); try them first.
#
# 1. ★★ **Strides.** Build $W$ for a stride-2 convolution by keeping only some rows
#    of the stride-1 matrix. Which ones? Check against `Conv2D(..., strides=2)`.
#    *Hint:* keep the outputs at even rows and columns, `row_of(p, q, f)`.
# 2. ★★ **Padding.** "Same" padding adds zeros around the input. Build the $W$ of a
#    "same" layer from the "valid" $W$ of a zero-padded input. *Hint:*
#    `np.pad` the digits, build $W$ for 32x32 inputs, then drop the columns of the
#    padding pixels.
# 3. ★★ **The backward pass.** The gradient of a dense layer with respect to its
#    input is $W^\top \delta$. Check that it equals the gradient of the conv layer
#    given by `course_lib.ops.conv2d_backward`. *Hint:* use a random `dout` of the
#    output's shape and `flatten_volume` on both sides.
# 4. ★★ **A dense layer that is not a convolution.** Train a `Dense` layer
#    initialised with $W^\top$ for a few steps. Does it stay sparse and shared?
#    *Hint:* count the non-zeros of its kernel and the distinct values along a
#    band.
# 5. ★★ **Memory crossover.** For which image size does the CSR matrix of a 3x3,
#    16-filter layer pass 1 GB? *Hint:* nnz grows like $HW$; CSR stores a value
#    and an index per non-zero.
# 6. ★★ **A matrix small enough to write (pen and paper).** A layer with one 2x2
#    filter, "valid" padding and stride 1 runs on a 3x3 image with two channels.
#    Call the kernel's weights $a_{ij}$ on channel 0 and $b_{ij}$ on channel 1,
#    for $i, j \in \{0, 1\}$. Write its matrix $W$ in full, with the course's
#    flattening for the input and for the output. What is its shape? How many of
#    its entries are non-zero, and does that fraction equal $k_h k_w / (HW)$?
#
#    Check with `conv_to_dense(kernel, np.zeros(1), (3, 3, 2))` for
#    `kernel = np.arange(1.0, 9.0).reshape(2, 2, 2, 1)`. Its `kernel[i, j, 0, 0]`
#    plays $a_{ij}$ and `kernel[i, j, 1, 0]` plays $b_{ij}$. *Hint:* the output at
#    row $p$, column $q$ is row $2q + p$ of $W$. The input value at row $i$,
#    column $j$, channel $c$ is column $9c + 3j + i$. The output reads input rows
#    $p$ and $p + 1$ and columns $q$ and $q + 1$, of both channels.
