# %% [markdown]
# # 02 · Convolution
#
# A convolutional layer slides a small grid of weights, the **kernel** (or filter),
# over an image. At each position it computes one weighted sum. This notebook builds
# that operation from scratch in NumPy and checks it against SciPy and Keras. Then it
# looks at what classic hand-made kernels do to a photograph.
#
# **Learning objectives.** After this notebook you can
#
# 1. tell cross-correlation from convolution (the flipped kernel), and say why CNN
#    layers can skip the flip;
# 2. compute a 2-D correlation by hand and with `course_lib.ops`, and check it against
#    `scipy.signal` and `keras.layers.Conv2D`;
# 3. predict the output size of `"valid"`, `"same"` and `"full"` padding, with and
#    without strides;
# 4. explain strides as subsampling, and the one case where Keras's `"same"` padding
#    is not a plain subsampling;
# 5. apply edge, blur and sharpening kernels to an image and read the result;
# 6. follow a convolution one output at a time, with any kernel, stride, padding
#    and dilation, and predict the size of its output.

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
import scipy.ndimage
import scipy.signal
import skimage.data
import skimage.filters
from sklearn.datasets import load_digits

from course_lib import diagrams, ops
from course_lib.gradcheck import normwise_relative_error
from course_lib.widgets import CLASSIC_KERNELS, ConvolutionExplorer, convolution_step, plot_convolution_step

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Correlation and convolution
#
# Take a grey image $I$ and a kernel $K$ of $(2r+1) \times (2r+1)$ weights. As in
# the lecture notes, the kernel is indexed from its centre: $i, j$ run from $-r$ to
# $r$. (NumPy stores the centre weight at `K[r, r]`.) The **cross-correlation** of
# $I$ with $K$ puts the kernel on top of the image, multiplies the overlapping
# numbers and adds them up. It does so once per position:
#
# $$(I \star K)[p, q] = \sum_{i=-r}^{r} \sum_{j=-r}^{r} I[p+i,\, q+j]\; K[i, j].$$
#
# The **convolution** of signal processing is the same sum with the kernel turned by
# 180 degrees (flipped upside down and left to right):
#
# $$(I * K)[p, q] = \sum_{i,j} I[p-i,\, q-j]\; K[i, j] = \big(I \star K_{\text{flipped}}\big)[p, q],
# \qquad K_{\text{flipped}}[i, j] = K[-i, -j]$$
#
# In NumPy, the flipped kernel is `K[::-1, ::-1]`. With centred indices, both sums
# read the same window around $(p, q)$, so the identity holds at the same output
# index.
#
# With 0-based indices ($i, j$ from $0$ to $k-1$, as the array is stored), the
# windows no longer line up. The correlation's window *starts* at $[p, q]$ and the
# convolution's *ends* there. The identity then holds with the output shifted by
# $k-1$: $(I * K)[p, q] = (I \star K_{\text{flipped}})[p-k_h+1,\, q-k_w+1]$.
# Libraries hide the shift by their choice of padding: `padding="same"` centres the
# kernel.
#
# The easiest way to see the difference is an **impulse**, an image that is zero
# except for one pixel. Convolution copies the kernel around the pixel; correlation
# copies it flipped.

# %%
impulse = np.zeros((7, 7))
impulse[3, 3] = 1.0
kernel = np.arange(1.0, 10.0).reshape(3, 3)

correlated = ops.correlate2d(impulse, kernel, padding="same")
convolved = ops.convolve2d(impulse, kernel, padding="same")

fig, axes = plt.subplots(1, 4, figsize=(11, 3))
panels = [(impulse, "image: an impulse"), (kernel, "kernel K"),
          (correlated, "correlation I ⋆ K"), (convolved, "convolution I * K")]
for ax, (array, title) in zip(axes, panels):
    ax.imshow(array, cmap="viridis")
    for (r, c), value in np.ndenumerate(array):
        if value:
            ax.text(c, r, f"{value:g}", ha="center", va="center", color="white", fontsize=8)
    ax.set_title(title)
    ax.set_xlabel("column j")
    ax.set_ylabel("row i")
fig.suptitle("An impulse reveals the flip: convolution copies K, correlation copies K turned by 180°")
plt.show()

# %% [markdown]
# **Check.** An impulse copies the kernel that slides over it, so the two outputs
# must show $K$ and its flip. A kernel that a half-turn leaves unchanged, such as
# a box, gives the same result both ways.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert np.array_equal(convolved[2:5, 2:5], kernel)
assert np.array_equal(correlated[2:5, 2:5], kernel[::-1, ::-1])
image = rng.normal(size=(9, 11))
assert np.allclose(ops.convolve2d(image, kernel), ops.correlate2d(image, kernel[::-1, ::-1]))
box = np.ones((3, 3)) / 9
assert np.allclose(ops.convolve2d(image, box), ops.correlate2d(image, box))
print("Check: around the impulse, the convolution holds K and the correlation K turned by 180°; "
      "convolving equals correlating with the flipped kernel, and a box kernel gives the same both ways.")

# %% [markdown]
# **Why the flip, then?** Because it buys convolution three properties that
# correlation lacks. With "full" padding (every overlap counted):
#
# - it is **commutative**, $I * K = K * I$: which of the two arrays is the
#   "kernel" does not matter;
# - it is **associative**, $(I * K_1) * K_2 = I * (K_1 * K_2)$: filtering twice is
#   filtering once with the convolved kernels. A chain of linear filters
#   collapses into one;
# - the **convolution theorem**: the Fourier transform of $I * K$ is the product
#   of the transforms of $I$ and $K$. So a large convolution can be computed with
#   the fast Fourier transform. And a filter is described by what it does to each
#   frequency.
#
# Correlation keeps none of them exactly. We check all three on random arrays:

# %%
# NBVAL_CHECK_OUTPUT
a, b, c = rng.normal(size=(6, 7)), rng.normal(size=(3, 3)), rng.normal(size=(4, 2))
checks = {
    "commutative": (ops.convolve2d(a, b, "full"), ops.convolve2d(b, a, "full")),
    "associative": (ops.convolve2d(ops.convolve2d(a, b, "full"), c, "full"),
                    ops.convolve2d(a, ops.convolve2d(b, c, "full"), "full")),
    "correlation commutative": (ops.correlate2d(a, b, "full"), ops.correlate2d(b, a, "full")),
    "correlation associative": (ops.correlate2d(ops.correlate2d(a, b, "full"), c, "full"),
                                ops.correlate2d(a, ops.correlate2d(b, c, "full"), "full")),
}
full_shape = (a.shape[0] + b.shape[0] - 1, a.shape[1] + b.shape[1] - 1)
spectrum = np.fft.fft2(a, full_shape) * np.fft.fft2(b, full_shape)  # zero-padded to the full size
checks["convolution theorem"] = (ops.convolve2d(a, b, "full"), np.fft.ifft2(spectrum).real)
for name, (left, right) in checks.items():
    print(f"{name:24s} {'holds' if np.allclose(left, right) else 'fails'}")
assert np.allclose(*checks["commutative"]) and np.allclose(*checks["associative"])
assert np.allclose(*checks["convolution theorem"])
assert not np.allclose(*checks["correlation commutative"]) and not np.allclose(*checks["correlation associative"])

# %% [markdown]
# **Why CNN layers need no flip.** A `Conv2D` layer computes a correlation, although
# it is called a convolution. Its kernel is not chosen by us but *learnt*. If the
# best kernel for a task is $K$ in the convolution sense, training a correlation
# layer simply finds $K_{\text{flipped}}$. Both layers can represent exactly the
# same functions, so deep-learning libraries skip the flip. The flip only matters
# when a kernel comes from somewhere else, for example from an image-processing
# textbook, as in section 5.
#
# Let us confirm that Keras correlates. We compare two computations of the same
# output with the **normwise relative error** of `course_lib.gradcheck`:
# `normwise_relative_error(a, b)` $= \max|a-b| \,/\, \max(|a|+|b|)$. It is the
# largest difference relative to the largest value: 0 for equal outputs, 1 at most.

# %%
conv_layer = keras.layers.Conv2D(1, (3, 3), padding="valid", use_bias=False)
conv_layer.build((None, 9, 11, 1))
conv_layer.set_weights([kernel.reshape(3, 3, 1, 1).astype("float32")])
keras_output = keras.ops.convert_to_numpy(conv_layer(image[None, :, :, None].astype("float32")))[0, :, :, 0]

error_correlation = normwise_relative_error(keras_output, ops.correlate2d(image, kernel))
error_convolution = normwise_relative_error(keras_output, ops.convolve2d(image, kernel))
print(f"Keras Conv2D vs correlation: relative error {error_correlation:.1e}")
print(f"Keras Conv2D vs convolution: relative error {error_convolution:.1e}")

# %% [markdown]
# **Check.** Equal here means equal up to float32 rounding: Keras computes in
# float32, whose precision is about $10^{-7}$.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert error_correlation < 1e-6
assert error_convolution > 0.1
print("Check: Keras's Conv2D computes a cross-correlation (relative error below 1e-6), "
      "not a convolution (relative error above 0.1).")

# %% [markdown]
# ## 2. From scratch, checked against SciPy and Keras
#
# `course_lib.ops` implements both operations in NumPy, without any loop over pixels:
#
# - `sliding_window_view` gives a view of every $k_h \times k_w$ window of the image;
# - one matrix product multiplies all windows with the kernel at once.
#
# This is the **im2col** ("image to columns") way that many libraries compute a
# convolution. Lay every window out as a row (or column) of a matrix, and the
# convolution becomes one matrix product with the flattened kernel. Notebook 05
# shows the other side of the same product: the layer as one large, sparse
# (Toeplitz) matrix that multiplies the flattened image. It draws both products on
# a small example. Read the code with `ops.correlate2d??` (one channel) and
# `ops.conv2d_forward??` (the layer).
#
# Two independent references check them:
#
# - `scipy.signal.correlate2d` and `convolve2d`, for one channel;
# - `keras.layers.Conv2D`, for a whole layer: a batch of images with $C$ channels,
#   and $F$ filters of shape $k_h \times k_w \times C$, one bias each.
#
# We compare them on random inputs, for several kernel sizes, with the normwise
# relative error. Two correct computations differ by rounding errors that scale
# with their largest values, and that is what it measures. CS231n's relative error,
# which notebook 07 uses to check gradients, divides entry by entry:
# $\max\big(|a-b| / (|a|+|b|)\big)$. On outputs close to 0, say a filter on a flat
# region, it would report the rounding itself as a large error.

# %%
rows = []
for kh, kw in [(1, 1), (3, 3), (5, 3), (3, 7)]:
    kernel_k = rng.normal(size=(kh, kw))
    for mode in ("valid", "same", "full"):
        rows.append({
            "kernel": f"{kh}x{kw}",
            "padding": mode,
            "correlate2d vs SciPy": normwise_relative_error(
                ops.correlate2d(image, kernel_k, mode), scipy.signal.correlate2d(image, kernel_k, mode)),
            "convolve2d vs SciPy": normwise_relative_error(
                ops.convolve2d(image, kernel_k, mode), scipy.signal.convolve2d(image, kernel_k, mode)),
        })
scipy_errors = pd.DataFrame(rows)
print(scipy_errors.to_string(index=False, float_format="{:.1e}".format))

# %%
layer_rows = []
x_batch = rng.normal(size=(4, 12, 10, 3)).astype("float32")
for kh, kw, filters, padding, strides in [(3, 3, 8, "valid", 1), (3, 3, 8, "same", 1),
                                          (5, 5, 4, "same", 2), (2, 4, 6, "same", (2, 3)),
                                          (3, 1, 5, "valid", (1, 2))]:
    layer = keras.layers.Conv2D(filters, (kh, kw), strides=strides, padding=padding)
    layer.build(x_batch.shape)
    weights = [rng.normal(size=(kh, kw, 3, filters)).astype("float32"),
               rng.normal(size=filters).astype("float32")]
    layer.set_weights(weights)
    ours = ops.conv2d_forward(x_batch, *weights, padding=padding, strides=strides)
    theirs = keras.ops.convert_to_numpy(layer(x_batch))
    layer_rows.append({"kernel": f"{kh}x{kw}x3, {filters} filters", "padding": padding,
                       "strides": str(strides), "output shape": str(ours.shape),
                       "same shape": ours.shape == theirs.shape,
                       "relative error": normwise_relative_error(ours, theirs)})
keras_errors = pd.DataFrame(layer_rows)
print(keras_errors.to_string(index=False, float_format="{:.1e}".format))

# %% [markdown]
# **Check.** Two correct computations differ only by rounding. In float64, as
# SciPy computes, that stays below $10^{-12}$. In float32, as Keras computes, it
# stays below $10^{-6}$.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert scipy_errors[["correlate2d vs SciPy", "convolve2d vs SciPy"]].to_numpy().max() < 1e-12
assert keras_errors["same shape"].all()
assert keras_errors["relative error"].max() < 1e-6
print(f"Check: course_lib.ops equals SciPy in {len(scipy_errors)} comparisons (relative error below 1e-12) "
      f"and Keras's Conv2D in {len(keras_errors)} layers, even kernels and unequal strides included "
      "(same output shapes, relative error below 1e-6).")

# %% [markdown]
# ## 3. Padding: valid, same, full
#
# At the border, the kernel sticks out of the image. Three conventions decide what
# to do. For an image of $n$ rows and a kernel of $k$ rows (columns alike):
#
# - **valid**: the kernel stays inside the image; the output has $n - k + 1$ rows.
#   Every layer shrinks the image by $k - 1$.
# - **same**: the image is padded with zeros, $(k-1)/2$ rows on each side for an odd
#   $k$. The kernel is then centred on every pixel, and the output has $n$ rows.
# - **full**: $k - 1$ rows of zeros on each side, so that every partial overlap counts.
#   The output has $n + k - 1$ rows. (The gradient of a valid convolution with respect
#   to its input is a full convolution: we will meet it in notebook 07.)
#
# The picture shows the three outputs of a 3x3 box blur on a 6x6 image, drawn to scale.

# %%
small = np.arange(36.0).reshape(6, 6)
fig, axes = plt.subplots(1, 4, figsize=(11, 3.2))
axes[0].imshow(small, extent=(-0.5, 5.5, 5.5, -0.5), vmin=0, vmax=35)
axes[0].set_title("image 6x6")
for ax, mode in zip(axes[1:], ("valid", "same", "full")):
    out = ops.correlate2d(small, box, mode)
    shift = {"valid": 1, "same": 0, "full": -1}[mode]  # where output (0, 0) is centred
    extent = (shift - 0.5, shift + out.shape[1] - 0.5, shift + out.shape[0] - 0.5, shift - 0.5)
    ax.imshow(out, extent=extent, vmin=0, vmax=35)
    ax.add_patch(plt.Rectangle((-0.5, -0.5), 6, 6, fill=False, edgecolor="red", linewidth=2))
    ax.set_title(f"{mode}: {out.shape[0]}x{out.shape[1]}")
for ax in axes:
    ax.set_xlim(-1.5, 6.5)
    ax.set_ylim(6.5, -1.5)
    ax.set_xlabel("column (input pixels)")
    ax.set_ylabel("row (input pixels)")
fig.suptitle("3x3 box blur with three paddings (red: the input image's extent)")
plt.show()

# %% [markdown]
# With strides $s$ (next section), Keras's formulas are
# $\lfloor (n-k)/s \rfloor + 1$ for valid and $\lceil n/s \rceil$ for same.
# `ops.output_size` also gives $\lfloor (n+k-2)/s \rfloor + 1$ for full. We check the
# formulas on a table of sizes against the outputs actually produced by
# `course_lib.ops`, SciPy and Keras.

# %%
size_rows = []
for n, k, s in [(28, 5, 1), (32, 3, 1), (7, 7, 1), (10, 3, 2), (11, 3, 2), (32, 5, 3), (9, 1, 2)]:
    probe = rng.normal(size=(n, n))
    probe_kernel = rng.normal(size=(k, k))
    for padding in ("valid", "same", "full"):
        formula = {"valid": (n - k) // s + 1, "same": -(-n // s), "full": (n + k - 2) // s + 1}[padding]
        actual = ops.correlate2d(probe, probe_kernel, padding, strides=s).shape[0]
        scipy_rows = scipy.signal.correlate2d(probe, probe_kernel, padding)[::s].shape[0]
        if padding == "full":
            keras_rows = None  # Keras has no "full" padding
        else:
            keras_rows = keras.layers.Conv2D(1, k, strides=s, padding=padding).compute_output_shape(
                (None, n, n, 1))[1]
        size_rows.append({"n": n, "k": k, "stride": s, "padding": padding, "formula": formula,
                          "output_size": ops.output_size(n, k, padding, s), "correlate2d": actual,
                          "SciPy[::s]": scipy_rows, "Keras": keras_rows})
sizes = pd.DataFrame(size_rows).astype({"Keras": "Int64"})

# %% [markdown]
# **Check.** SciPy has no strides: the column `SciPy[::s]` subsamples its stride-1
# output, which has as many rows as the strided output.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert (sizes["formula"] == sizes["output_size"]).all()
assert (sizes["formula"] == sizes["correlate2d"]).all()
assert (sizes["formula"] == sizes["SciPy[::s]"]).all()
has_keras = sizes["Keras"].notna()
assert (sizes.loc[has_keras, "formula"] == sizes.loc[has_keras, "Keras"]).all()
print(sizes.to_string(index=False))
print(f"Check: the formulas give the output size of course_lib.ops, SciPy and Keras in all {len(sizes)} cases "
      "(Keras has no \"full\" padding).")

# %% [markdown]
# ## 4. Strides are subsampling
#
# A stride $s > 1$ moves the kernel $s$ pixels at a time. For valid and full padding,
# this is exactly the stride-1 output with only every $s$-th row and column kept:
# rows $1, 1+s, 1+2s, \dots$ counting from 1 (`[::s]` in Python). Computing the
# stride-1 output and throwing most of it away would be wasteful. So layers compute
# only the kept positions, and the result is the same.
#
# **The "same" exception.** Keras pads "same" convolutions for $\lceil n/s \rceil$
# outputs with as few zeros as needed: $p = \max((\lceil n/s\rceil - 1)s + k - n, 0)$
# zero rows. It puts $\lfloor p/2 \rfloor$ on top and the rest at the bottom. For an
# odd kernel ($k > 1$), this is the stride-1 padding only when $n - 1$ is a multiple
# of $s$, and then the strided output is a subsampling. Otherwise there is less
# padding on top. The windows then sit $d = \min(\lceil r/2 \rceil, (k-1)/2)$ rows
# lower (columns: further right), with $r = (n - 1) \bmod s$. The strided output is
# the stride-1 output subsampled from row $d$, `[d::s]`, instead of `[::s]`.
#
# The diagram draws the case $n = 8$, $k = 3$, $s = 2$: look at the zeros, one row
# and column after the image and none before it, so the first window starts on the
# image's first pixel.

# %%
diagrams.show(diagrams.sliding_window(input_size=8, kernel_size=3, stride=2, padding="same"))

# %%
stride_rows = []
for n in (7, 8, 9, 10):
    probe = rng.normal(size=(n, n))
    probe_kernel = rng.normal(size=(3, 3))
    for padding in ("valid", "same", "full"):
        strided = ops.correlate2d(probe, probe_kernel, padding, strides=2)
        stride_one = ops.correlate2d(probe, probe_kernel, padding)
        r = (n - 1) % 2
        d = min(-(-r // 2), 1) if padding == "same" else 0  # ceil(r / 2), at most (k - 1) / 2 = 1
        stride_rows.append({"n": n, "padding": padding, "r = (n - 1) % 2": r, "d": d,
                            "strided == [::2, ::2]": bool(np.allclose(strided, stride_one[::2, ::2])),
                            "strided == [d::2, d::2]": bool(np.allclose(strided, stride_one[d::2, d::2]))})
strides_table = pd.DataFrame(stride_rows)

# %% [markdown]
# Where are the windows? Correlate the row of pixel indices $0, 1, \dots, n-1$
# with the kernel $[0, 1, 0]$. At every output, this returns the index of its
# window's centre pixel. For $n = 8$, the strided "same" windows are centred one
# pixel further right than the subsampled stride-1 windows.

# %%
centre_picker = np.array([[0.0, 1.0, 0.0]])
fig, axes = plt.subplots(1, 2, figsize=(11, 2.6), sharey=True)
for ax, n in zip(axes, (7, 8)):
    indices = np.arange(float(n))[None, :]
    subsampled_centres = ops.correlate2d(indices, centre_picker, "same")[0, ::2]
    strided_centres = ops.correlate2d(indices, centre_picker, "same", strides=2)[0]
    ax.scatter(np.arange(n), np.full(n, 2), marker="s", s=200, color="lightgray", label="input pixels")
    ax.scatter(subsampled_centres, np.full(len(subsampled_centres), 1), color="tab:blue",
               label="stride-1 'same' output [::2]")
    ax.scatter(strided_centres, np.zeros(len(strided_centres)), color="tab:red", marker="x", s=80,
               label="Keras 'same', strides=2")
    ax.set_title(f"n = {n}, (n - 1) % 2 = {(n - 1) % 2}")
    ax.set_xlabel("column index of the window's centre")
    ax.set_yticks([])
    ax.set_ylim(-0.7, 2.7)
axes[1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
fig.suptitle("Window centres of a 3-tap kernel with stride 2")
plt.show()

# %% [markdown]
# **Check.** When $n - 1$ is odd, Keras puts its one zero row at the bottom, so
# the windows start one row lower: $d = 1$.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
is_same = strides_table["padding"] == "same"
assert strides_table.loc[~is_same, "strided == [::2, ::2]"].all()
assert (strides_table.loc[is_same, "strided == [::2, ::2]"]
        == (strides_table.loc[is_same, "r = (n - 1) % 2"] == 0)).all()
assert strides_table["strided == [d::2, d::2]"].all()
assert np.array_equal(strided_centres, subsampled_centres + 1)  # the figure's n = 8
probe = rng.normal(size=(8, 8)).astype("float32")
probe_kernel = rng.normal(size=(3, 3)).astype("float32")
strided_layer = keras.layers.Conv2D(1, 3, strides=2, padding="same", use_bias=False)
strided_layer.build((None, 8, 8, 1))
strided_layer.set_weights([probe_kernel.reshape(3, 3, 1, 1)])
keras_strided = keras.ops.convert_to_numpy(strided_layer(probe[None, :, :, None]))[0, :, :, 0]
assert normwise_relative_error(keras_strided, ops.correlate2d(probe, probe_kernel, "same", strides=2)) < 1e-6
print(strides_table.to_string(index=False))
print("Check: with stride 2, valid and full padding always subsample; \"same\" subsamples from row d, "
      "and Keras's strided \"same\" Conv2D equals course_lib.ops at n = 8.")

# %% [markdown]
# ## 5. Classic filters on a photograph
#
# Before CNNs, image processing designed kernels by hand. Each one below computes, at
# every pixel, a weighted sum of its neighbourhood:
#
# - **Sobel** kernels estimate the vertical and horizontal derivatives: a difference
#   across the pixel, smoothed along the other direction. The length of the gradient,
#   $\sqrt{G_x^2 + G_y^2}$, is large on edges.
# - A **box blur** averages a $5\times5$ neighbourhood. A **Gaussian blur** weights the
#   neighbours by $e^{-(i^2+j^2)/2\sigma^2}$, so near pixels count more.
# - **Sharpening** adds to the image its difference with a blurred copy:
#   $2I - \text{blur}(I)$, written as one kernel.
#
# Textbooks and libraries such as scikit-image state these kernels as *convolution*
# kernels, so we use `convolve2d`. (For the symmetric blurs it makes no difference.)
# The image is scikit-image's 512x512 "camera" photograph, scaled to $[0, 1]$. The
# filters run on the whole photograph. The figure shows a 200x200 crop (the head
# and the camera), so that each pixel of the output stays visible.

# %%
photo = skimage.data.camera().astype(np.float64) / 255.0

sobel_y = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]) / 4  # horizontal edges
sobel_x = sobel_y.T  # vertical edges
box_5 = np.ones((5, 5)) / 25
offsets = np.arange(-4, 5)
sigma = 2.0
gaussian_1d = np.exp(-offsets**2 / (2 * sigma**2))
gaussian_9 = np.outer(gaussian_1d, gaussian_1d) / np.outer(gaussian_1d, gaussian_1d).sum()
identity_3 = np.zeros((3, 3))
identity_3[1, 1] = 1.0
sharpen = 2 * identity_3 - np.ones((3, 3)) / 9

filtered = {
    "original": photo,
    "Sobel: horizontal edges (G_y)": ops.convolve2d(photo, sobel_y, "same"),
    "Sobel: vertical edges (G_x)": ops.convolve2d(photo, sobel_x, "same"),
    "edge strength sqrt(G_x² + G_y²)": np.hypot(ops.convolve2d(photo, sobel_x, "same"),
                                                  ops.convolve2d(photo, sobel_y, "same")),
    "box blur 5x5": ops.convolve2d(photo, box_5, "same"),
    "Gaussian blur 9x9, σ = 2": ops.convolve2d(photo, gaussian_9, "same"),
    "sharpen 2I - box3x3(I)": ops.convolve2d(photo, sharpen, "same"),
}

signed = {"Sobel: horizontal edges (G_y)", "Sobel: vertical edges (G_x)"}
shown = (slice(60, 260), slice(150, 350))  # rows and columns of the crop
fig, axes = plt.subplots(2, 4, figsize=(12, 6.6))
for ax, (title, result) in zip(axes.flat, filtered.items()):
    crop = result[shown]
    # Colour limits from the 99.5th percentile of the crop (away from the zero-padded border).
    limit = np.percentile(np.abs(crop), 99.5)
    if title in signed:
        ax.imshow(crop, cmap="RdBu_r", vmin=-limit, vmax=limit)
    else:
        ax.imshow(crop, cmap="gray", vmin=0, vmax=limit if "strength" in title else 1)
    ax.set_title(title, fontsize="small")
    ax.axis("off")
kernel_ax = axes.flat[-1]
kernel_ax.imshow(sharpen, cmap="RdBu_r", vmin=-2, vmax=2)
for (r, c), value in np.ndenumerate(sharpen):
    kernel_ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=9)
kernel_ax.set_title("the sharpening kernel", fontsize="small")
kernel_ax.axis("off")
fig.suptitle("Hand-made kernels on skimage.data.camera(), rows 60-259 and columns 150-349 "
             "(derivatives: red positive, blue negative)")
plt.show()

# %% [markdown]
# The derivatives are signed: a dark-to-bright step gives one colour, bright-to-dark
# the other. Blurs remove fine detail (the grass, the tripod's edges); sharpening
# exaggerates it.
#
# **Check.** We compare with independent implementations. scikit-image's `sobel_h`
# uses the same normalised kernel, but it reflects the image at the border, so we
# compare away from it. Sharpening must leave a flat image unchanged, because its
# weights sum to 1.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
inner = (slice(4, -4), slice(4, -4))
checks = {
    "Sobel vs skimage.filters.sobel_h": normwise_relative_error(
        filtered["Sobel: horizontal edges (G_y)"][inner], skimage.filters.sobel_h(photo)[inner]),
    "box blur vs scipy.ndimage.uniform_filter": normwise_relative_error(
        filtered["box blur 5x5"], scipy.ndimage.uniform_filter(photo, 5, mode="constant")),
    "Gaussian vs skimage.filters.gaussian": normwise_relative_error(
        filtered["Gaussian blur 9x9, σ = 2"],
        skimage.filters.gaussian(photo, sigma=sigma, truncate=2.0, mode="constant", cval=0)),
}
for name, error in checks.items():
    assert error < 1e-12, (name, error)
assert np.allclose(ops.correlate2d(photo, sobel_y, "same"), -filtered["Sobel: horizontal edges (G_y)"])
assert abs(filtered["box blur 5x5"][inner].mean() - photo[inner].mean()) < 1e-2
assert np.allclose(ops.convolve2d(np.full((8, 8), 0.3), sharpen, "valid"), 0.3)
print("Check: our Sobel, box and Gaussian filters equal scikit-image's sobel_h, SciPy's uniform_filter and "
      "scikit-image's gaussian (relative error below 1e-12); correlating flips the Sobel's sign, "
      "the blur keeps the mean brightness away from the border, and sharpening keeps a flat image.")

# %% [markdown]
# A CNN's first layer learns kernels of this kind from data: notebook 03 shows that
# trained first-layer filters often look like edge and blob detectors.
#
# ## 6. One output at a time: the convolution explorer
#
# Everything above computes all outputs at once. The explorer below
# (`course_lib.widgets.ConvolutionExplorer`) computes them one by one, as the
# sum at the top of this notebook reads. At each position it:
#
# - draws the window on the padded input;
# - writes out the products and their sum;
# - fills the output map up to the current position.
#
# You choose:
#
# - the kernel: one of the 3x3 filters of section 5, or your own values (rows
#   separated by `;`). It is applied as a correlation, like `Conv2D` does, so the
#   Sobel kernels give the derivative with the opposite sign;
# - the stride and the padding;
# - the **dilation** $d$, which spreads the kernel's taps $d$ pixels apart. A
#   $k \times k$ kernel then covers $k_{\text{eff}} = d(k - 1) + 1$ pixels, and
#   $k_{\text{eff}}$ replaces $k$ in the output-size formulas of section 3.
#
# Move the position slider, or press play.
#
# The image is an 8x8 digit from scikit-learn, with grey levels 0 to 16. It is small
# enough for every value to be written on it. **The widget needs a live Jupyter
# kernel** (run the notebook locally or in Colab). On GitHub or on a static web
# page it does not appear, and the figure after it shows one step instead.

# %%
digit = load_digits().images[0]  # a handwritten 0, grey levels 0 to 16
explorer = ConvolutionExplorer(digit, kernel="sobel_x", position=15)
explorer

# %%
# The same picture without a kernel: the step the explorer starts at.
step = convolution_step(digit, "sobel_x", position=15)
plot_convolution_step(step)
plt.show()
print(step.expression)
print("output rows:", step.size_formulas[0])

# %% [markdown]
# Output 15 is `out[2, 3]` (6 outputs per row). Its window covers rows 2 to 4 and
# columns 3 to 5 of the digit: the 0's hole and its right stroke. Correlated, the
# Sobel x kernel takes the left column minus the right one. So the sum is negative
# where the grey level rises from left to right: $(2 - 11 - 2 \cdot 8 - 9) / 4 = -8.5$.
#
# **Check.** At its last position, the explorer has computed every output, so its
# map must equal the whole correlation. A dilation is a correlation with the
# kernel's taps spread out and zeros between them.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert step.index == (2, 3) and step.value == (digit[2:5, 3:6] * CLASSIC_KERNELS["sobel_x"]).sum() == -8.5
assert step.value == step.products.sum() and np.isnan(step.output.flat[16:]).all()
assert np.array_equal(CLASSIC_KERNELS["sobel_x"], sobel_x) and np.array_equal(CLASSIC_KERNELS["sharpen"], sharpen)
for padding in ("valid", "same", "full"):
    for stride in (1, 2):
        last = convolution_step(digit, "sobel_x", position=-1, stride=stride, padding=padding)
        assert normwise_relative_error(last.output, ops.correlate2d(digit, sobel_x, padding, stride)) < 1e-12
dilated_sobel = np.zeros((5, 5))
dilated_sobel[::2, ::2] = sobel_x  # dilation 2: one zero between the taps
for padding in ("valid", "same", "full"):
    last = convolution_step(digit, "sobel_x", position=-1, padding=padding, dilation=2)
    assert normwise_relative_error(last.output, ops.correlate2d(digit, dilated_sobel, padding)) < 1e-12
    k_eff = 2 * (3 - 1) + 1
    assert last.output_shape[0] == {"valid": 8 - k_eff + 1, "same": 8, "full": 8 + k_eff - 1}[padding]
explorer.position.value = explorer.position.max  # driving the widget from code
assert explorer.step.is_last and np.allclose(explorer.step.output, ops.correlate2d(digit, sobel_x))
explorer.position.value = 15  # back where the figure above is
print("Check: the explorer uses section 5's kernels, its step 15 gives -8.5, and its last step equals "
      "ops.correlate2d for every padding, strides 1 and 2 and dilation 2, at the sizes the formulas give.")

# %% [markdown]
# ## Summary
#
# - Cross-correlation slides the kernel as it is; convolution flips it first. CNN
#   layers (`keras.layers.Conv2D`) compute correlations. The kernel is learnt, so the
#   flip would change nothing.
# - `course_lib.ops.correlate2d`, `convolve2d` and `conv2d_forward` compute them
#   without pixel loops. They equal `scipy.signal` (to $10^{-12}$) and Keras (to
#   float32 precision).
# - Output sizes: valid $n-k+1$, same $n$, full $n+k-1$; with stride $s$,
#   $\lfloor (n-k)/s\rfloor + 1$ and $\lceil n/s\rceil$ (Keras).
# - Strides subsample the stride-1 output, except Keras's "same" padding when $n-1$
#   is not a multiple of $s$.
# - Hand-made kernels detect edges (Sobel), blur (box, Gaussian) or sharpen.
# - A dilation $d$ spreads a kernel's taps $d$ pixels apart. It covers
#   $d(k-1)+1$ pixels, with the same $k^2$ weights.
# - `ConvolutionExplorer` shows a convolution one output at a time.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# The pen-and-paper exercises have worked solutions in
# [solutions/pen_and_paper.md](solutions/pen_and_paper.md), the others in
# [solutions/part1.md](solutions/part1.md); try them first.
#
# 1. ★ **Commutativity.** Check numerically that `scipy.signal.convolve2d(a, b, "full")`
#    equals `convolve2d(b, a, "full")` for random `a` and `b`, and that correlation is
#    not commutative. *Hint:* flip one of the arguments to relate the two
#    correlations.
# 2. ★★ **Separable kernels.** The 9x9 Gaussian kernel is the outer product of two 1-D
#    kernels. Blur the photo with a 9x1 then a 1x9 kernel and compare with the 9x9
#    blur. How many multiplications per pixel does each way need? *Hint:*
#    `gaussian_1d[:, None]` and `gaussian_1d[None, :]`, normalised.
# 3. ★★ **Even kernels and "same".** `ops.correlate2d` refuses an even kernel with
#    `padding="same"`, but `keras.layers.Conv2D(1, 2, padding="same")` accepts it.
#    Where does Keras put the extra zero row, top or bottom? *Hint:* use
#    `ops.conv2d_forward`, which follows Keras, with a 2x2 kernel holding a single 1.
# 4. ★ **Output sizes with strides.** For $n = 224$, $k = 7$, $s = 2$ (the first layer of
#    ResNet), compute the valid and same output sizes with the formulas, then check
#    with `ops.output_size` and a Keras layer's `compute_output_shape`. *Hint:* same
#    padding needs $\max((\lceil n/s\rceil-1)s + k - n, 0)$ zeros.
# 5. ★★ **Design an edge detector.** Build a 3x3 kernel that responds to diagonal edges
#    (top-left to bottom-right) and show its output on the photo. *Hint:* rotate the
#    Sobel idea by 45 degrees: positive weights on one side of the diagonal, negative
#    on the other, zeros on it.
# 6. ★★ **Correlation by hand (pen and paper).** Take the 3x3 image
#    $I$ = `[[1, 2, 0], [0, 1, 3], [2, 1, 1]]` and the 2x2 kernel
#    $K$ = `[[1, 0], [2, -1]]`. Compute by hand the correlation $I \star K$ with
#    "valid" padding (2x2) and with "full" padding (4x4), then the valid
#    convolution $I * K$. Check the three results with `ops.correlate2d` and
#    `ops.convolve2d`. *Hint:* with 0-based indices the valid correlation is
#    $\sum_{i,j} I[p+i, q+j]\,K[i, j]$, its window starting at $[p, q]$; "full"
#    first pads $k - 1 = 1$ row and column of zeros on every side; the
#    convolution is the correlation with the flipped kernel `K[::-1, ::-1]`.
