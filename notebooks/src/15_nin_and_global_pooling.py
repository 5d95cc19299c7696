# %% [markdown]
# # 15 · Network in Network and global pooling
#
# Network in Network (NiN; Lin, Chen and Yan, 2014) made two changes to the
# classic CNN that every later architecture kept. Inside the network, it replaced
# each convolution by a small multi-layer perceptron slid over the volume (the
# "MLPconv" block, built from 1x1 convolutions). At the top, it replaced the
# fully connected layers by **global average pooling** (GAP): one feature map per
# class, averaged into one score.
#
# **Learning objectives.** After this notebook you can
#
# 1. show that a 1x1 convolution is a dense layer applied at every position, and
#    that an MLPconv block is a small MLP slid over the volume;
# 2. compute global average and global max pooling, and write GAP as a
#    multiplication by a fixed block-diagonal matrix;
# 3. use a GAP network on images of another size than the training images, where
#    a Flatten network fails;
# 4. measure how a GAP head and a Flatten head react when the object moves.

# %%
# Setup: works locally and in Google Colab.
import importlib.util
import os
import subprocess
import sys

COURSE_REPO = ""  # the course's public repository, written by `make set-repo URL=...`
if importlib.util.find_spec("course_lib") is None:  # e.g. a fresh Colab runtime
    if not COURSE_REPO:
        raise RuntimeError("course_lib is missing: run `make lab` in a clone of the course.")
    # Colab already has TensorFlow and the scientific stack: clone the course (course_lib
    # and its data/ folder, which holds the pre-trained backbone) and add Keras 3.15.
    if not os.path.isdir("course"):
        subprocess.run(["git", "clone", "-q", "--depth", "1", COURSE_REPO, "course"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "keras>=3.15,<3.16"], check=True)
    sys.path.insert(0, os.path.abspath("course"))

from course_lib.runtime import setup_notebook

info = setup_notebook(seed=42)

# %% [markdown]
# ## Parameters
#
# CPU settings, used by the tests: three small networks trained for a few epochs
# on stratified Fashion-MNIST subsets, well under a minute of training on an idle
# 2-core CPU. On a GPU, try the larger settings in the comments.

# %%
PER_CLASS = 300  # training images per class (GPU: 6000, the whole training set)
EPOCHS = 6  # (GPU: 20)
BATCH_SIZE = 64  # (GPU: 128)
LEARNING_RATE = 2e-3  # Adam
LARGER = 36  # side of the larger test images of section 4
CANVAS = 40  # side of the canvas for the shift experiment (28 + 2 * 6)

# %% [markdown]
# ## 1. MLPconv: a 1x1 convolution is a dense layer at every position
#
# A 1x1 convolution with F filters over a volume of depth C has a C x F kernel
# and F biases. At each position (row, column) it takes the C values of that
# position, the depth vector, and computes `relu(vector @ kernel + bias)`: exactly
# a `Dense(F)` layer applied to every depth vector, with the same weights
# everywhere. (`keras.layers.Dense` applied to a 4-D tensor does exactly this: it
# acts on the last axis.) We copy the weights of one into the other and compare.

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg
from skimage.transform import resize

from course_lib import data
from course_lib.layers import MLPConv

rng = np.random.default_rng(0)
volume = rng.normal(size=(2, 5, 6, 8)).astype("float32")  # batch, rows, cols, depth C = 8

conv_1x1 = keras.layers.Conv2D(4, 1, activation="relu")
conv_out = keras.ops.convert_to_numpy(conv_1x1(volume))
kernel, bias = conv_1x1.get_weights()  # kernel: (1, 1, C, F)

dense = keras.layers.Dense(4, activation="relu")
dense.build((None, 8))
dense.set_weights([kernel[0, 0], bias])
# The dense layer, one depth vector at a time: reshape to (positions, C) and back.
dense_out = keras.ops.convert_to_numpy(dense(volume.reshape(-1, 8))).reshape(conv_out.shape)
print("1x1 kernel", kernel.shape, "-> dense kernel", kernel[0, 0].shape)

# %% [markdown]
# An MLPconv block (`course_lib.layers.MLPConv`) is a k x k convolution followed
# by 1x1 convolutions, each with a ReLU. After the first convolution, the 1x1
# layers form an MLP applied at every position. We check it against the first
# convolution followed by two dense layers with the same weights.

# %%
block = MLPConv(6, kernel_size=3, mlp_filters=(5, 3))
block_out = keras.ops.convert_to_numpy(block(volume))
first, mlp_1, mlp_2 = block.convs
features = first(volume)  # the k x k convolution
mlp = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(3, activation="relu")])
for layer, conv in zip(mlp.layers, (mlp_1, mlp_2)):
    layer.set_weights([keras.ops.convert_to_numpy(conv.kernel)[0, 0], keras.ops.convert_to_numpy(conv.bias)])
mlp_out = keras.ops.convert_to_numpy(mlp(keras.ops.reshape(features, (-1, 6)))).reshape(block_out.shape)
print("MLPConv output", block_out.shape, "| weights:", [tuple(w.shape) for w in block.weights])

# %% [markdown]
# **Check.** The 1x1 convolution and the dense layer agree at every position, and
# so do the MLPConv block and "convolution, then an MLP at every position" (to
# float32 round-off).

# %%
# NBVAL_CHECK_OUTPUT
np.testing.assert_allclose(conv_out, dense_out, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(block_out, mlp_out, rtol=1e-5, atol=1e-6)
assert block_out.shape == (2, 5, 6, 3) and block.count_params() == (9 * 8 + 1) * 6 + (6 + 1) * 5 + (5 + 1) * 3
print("1x1 conv == Dense at every position; MLPConv == conv + per-position MLP")

# %% [markdown]
# ## 2. Global average and global max pooling
#
# A **global** pooling reduces each feature map to one number: global average
# pooling (GAP) takes its mean over all rows and columns, global max pooling
# (GMP) its maximum. An H x W x C volume becomes a vector of C values, whatever H
# and W are. GAP has no parameters; it replaces the Flatten and the large dense
# layers of AlexNet and VGG, which held most of their parameters (notebook 14).
# NiN's last MLPconv block has one map per class, so GAP directly gives the
# class scores: each map is a "confidence map" of its class.

# %%
gap = keras.layers.GlobalAveragePooling2D()
gmp = keras.layers.GlobalMaxPooling2D()
gap_out = keras.ops.convert_to_numpy(gap(volume))
gmp_out = keras.ops.convert_to_numpy(gmp(volume))
print("volume", volume.shape, "-> GAP", gap_out.shape, ", GMP", gmp_out.shape)

# %% [markdown]
# **Check.** GAP is the mean and GMP the maximum over the rows and columns, per
# image and channel; neither has parameters.

# %%
# NBVAL_CHECK_OUTPUT
np.testing.assert_allclose(gap_out, volume.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
np.testing.assert_array_equal(gmp_out, volume.max(axis=(1, 2)))
assert gap.count_params() == gmp.count_params() == 0
print("GAP = mean over rows and columns, GMP = max; 0 parameters")

# %% [markdown]
# ## 3. GAP is a fixed linear map: a block-diagonal matrix
#
# GAP is linear, so it is a multiplication by a matrix. Flatten an H x W x C
# volume channel by channel (all H·W values of channel 0, then of channel 1, ...)
# into a vector of length H·W·C. Then GAP multiplies it by the HWC x C matrix
#
# $$M = \mathrm{blockdiag}(u, u, \dots, u), \qquad u = \tfrac{1}{HW}(1, \dots, 1)^\top \in \mathbb{R}^{HW},$$
#
# one block per channel. A Flatten + Dense head would *learn* an HWC x C (or
# larger) matrix; GAP is the same kind of layer with this matrix fixed: nothing to
# train and nothing to overfit. Keras stores the volume channels-last (rows,
# columns, channels), so we move the channel axis first before flattening.

# %%
H, W, C = 3, 4, 5
small = rng.normal(size=(7, H, W, C))  # 7 volumes, float64
block_of_ones = np.full((H * W, 1), 1 / (H * W))
M = scipy.linalg.block_diag(*[block_of_ones] * C)  # (H*W*C, C)
channel_major = small.transpose(0, 3, 1, 2).reshape(len(small), -1)  # channel by channel
gap_as_matrix = channel_major @ M

fig, ax = plt.subplots(figsize=(3, 6))
ax.imshow(M, cmap="viridis", aspect="auto", interpolation="nearest")
ax.set(title=f"GAP matrix for {H}x{W}x{C}", xlabel="output channel", ylabel="input value (channel-major index)")
plt.show()

# %% [markdown]
# **Check.** The matrix is block diagonal (C blocks of HW rows, each filled with
# 1/HW) and multiplying by it gives `GlobalAveragePooling2D`'s output. In
# channels-last order the same map is a stack of HW identity matrices divided by
# HW: the same matrix with its rows permuted.

# %%
# NBVAL_CHECK_OUTPUT
assert M.shape == (H * W * C, C)
for c in range(C):
    rows = slice(c * H * W, (c + 1) * H * W)
    assert np.all(M[rows, c] == 1 / (H * W)) and np.count_nonzero(M[:, c]) == H * W
keras_gap = keras.ops.convert_to_numpy(gap(small.astype("float32")))
np.testing.assert_allclose(gap_as_matrix, keras_gap, rtol=1e-5, atol=1e-6)
channels_last_M = np.tile(np.eye(C), (H * W, 1)) / (H * W)
np.testing.assert_allclose(small.reshape(len(small), -1) @ channels_last_M, gap_as_matrix, atol=1e-12)
print(f"M: {M.shape[0]}x{M.shape[1]}, {np.count_nonzero(M)} non-zeros of {M.size}; x @ M == GAP(x)")

# %% [markdown]
# ## 4. A GAP network accepts images of any size
#
# A convolution slides over whatever rows and columns it receives; only a layer
# with a fixed number of inputs ties a network to one image size. A Flatten +
# Dense head is such a layer: its kernel has one row per value of the flattened
# volume. A GAP head is not: it averages whatever maps it gets. So a network made
# of convolutions, pooling and GAP (an "all-convolutional" NiN-style network, with
# `Input(shape=(None, None, 1))`) can classify larger images than it was trained
# on.
#
# We train one, NiN-style (the last 1x1 convolution has one map per class, GAP
# gives the class scores), on Fashion-MNIST's 28x28 images; then we evaluate it
# on the test images at 28x28, **padded** to 36x36 (the same article, more
# background) and **resized** to 36x36 (a larger article).

# %%
(x_train_full, y_train_full), (x_test_full, y_test) = data.load_fashion_mnist()
x_train, y_train = data.subset(x_train_full, y_train_full, per_class=PER_CLASS, seed=0)
x_train = (x_train / 255.0).astype("float32")[..., None]
x_test = (x_test_full / 255.0).astype("float32")[..., None]


def conv_trunk(inputs):
    """Three 3x3 convolutions and two 2x2 max poolings, shared by this notebook's networks."""
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    return keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)


def compile_and_fit(model, x, y):
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
    return model


def accuracy(model, x, y):
    return float(np.mean(model.predict(x, batch_size=500, verbose=0).argmax(axis=1) == y))


keras.utils.set_random_seed(42)
inputs = keras.Input((None, None, 1))
class_maps = keras.layers.Conv2D(10, 1, name="class_maps")(conv_trunk(inputs))  # one map per class
outputs = keras.layers.Softmax()(keras.layers.GlobalAveragePooling2D()(class_maps))
gap_net = compile_and_fit(keras.Model(inputs, outputs, name="gap_net"), x_train, y_train)

border = (LARGER - 28) // 2
x_test_padded = np.pad(x_test, ((0, 0), (border, border), (border, border), (0, 0)))
x_test_resized = resize(x_test, (len(x_test), LARGER, LARGER, 1), order=1, anti_aliasing=False)
sizes = {
    "28x28 (training size)": x_test,
    f"{LARGER}x{LARGER} padded": x_test_padded,
    f"{LARGER}x{LARGER} resized": x_test_resized.astype("float32"),
}
size_accuracy = {name: accuracy(gap_net, x, y_test) for name, x in sizes.items()}
for name, value in size_accuracy.items():
    print(f"{name:>24}: test accuracy {value:.1%}")

# %% [markdown]
# A network with a Flatten + Dense head, built for 28x28 images, cannot even take
# the 36x36 ones: its dense kernel expects 7·7·64 inputs and receives 9·9·64.

# %%
flatten_inputs = keras.Input((28, 28, 1))
flatten_features = keras.layers.Flatten()(conv_trunk(flatten_inputs))
flatten_net = keras.Model(flatten_inputs, keras.layers.Dense(10, activation="softmax")(flatten_features))
try:
    flatten_net.predict(x_test_padded[:2], verbose=0)
    flatten_error = None
except ValueError as error:
    flatten_error = error
print(type(flatten_error).__name__ + ":", str(flatten_error).strip().splitlines()[0][:150])

# %% [markdown]
# **Check.** The GAP network classifies the test set at its training size and at
# both larger sizes well above chance (10%, we require 30%); the Flatten network
# refuses the larger images with a `ValueError`. Accepting a size is not the same
# as doing well at it: accuracy is highest at the training size. The resized
# articles are larger than any the network saw; the padded ones are surrounded by
# more background, which GAP averages into every class score. (With the seeds we
# tried, padding cost more than resizing; we do not assert that order.)

# %%
assert isinstance(flatten_error, ValueError)
for name, value in size_accuracy.items():
    assert value > 0.3, (name, value)
assert max(size_accuracy, key=size_accuracy.get) == "28x28 (training size)"
print({name: round(value, 3) for name, value in size_accuracy.items()})

# %% [markdown]
# ## 5. What happens when the object moves
#
# Convolutions and pooling are (nearly) **equivariant** to shifts: move the input,
# and the feature maps move with it. A Flatten + Dense head then sees the features
# at other positions of its input vector and weights them with other weights: it
# learned *where* each feature was during training. GAP sums over all positions,
# so it gives (nearly) the same result wherever the features are: the network
# becomes (nearly) **invariant** to shifts.
#
# We place the Fashion-MNIST articles in the centre of a 40x40 canvas, train the
# same trunk with a Flatten + Dense head and with a GAP + Dense head (same data,
# epochs, optimizer, initial trunk weights), and test both on the test articles
# moved right and down by 0 to 6 pixels (the canvas has a 6-pixel border, so
# nothing is cut off).

# %%
def on_canvas(images, shift=0):
    """Places 28x28 images in the centre of the canvas, moved by `shift` pixels right and down."""
    canvas = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    return np.roll(canvas, (shift, shift), axis=(1, 2))


def head_net(head):
    keras.utils.set_random_seed(42)  # the same initial trunk for both heads
    inputs = keras.Input((CANVAS, CANVAS, 1))
    features = conv_trunk(inputs)
    pooled = keras.layers.Flatten()(features) if head == "flatten" else keras.layers.GlobalAveragePooling2D()(features)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(pooled), name=f"{head}_head")


pad = (CANVAS - 28) // 2
x_canvas = on_canvas(x_train)
shifts = np.arange(0, pad + 1)
shift_accuracy, head_parameters = {}, {}
for head in ("flatten", "gap"):
    model = compile_and_fit(head_net(head), x_canvas, y_train)
    shift_accuracy[head] = [accuracy(model, on_canvas(x_test, s), y_test) for s in shifts]
    head_parameters[head] = model.layers[-1].count_params()
    print(f"{head:>7} head ({model.count_params():,} parameters):", " ".join(f"{a:.1%}" for a in shift_accuracy[head]))

# %%
fig, ax = plt.subplots(figsize=(6, 4))
for head, label in (("flatten", "Flatten + Dense head"), ("gap", "GAP + Dense head")):
    ax.plot(shifts, 100 * np.array(shift_accuracy[head]), marker="o", label=label)
ax.axhline(10, color="grey", linestyle=":", label="chance")
ax.set(
    title="Trained on centred articles, tested on shifted ones",
    xlabel="shift right and down (pixels)",
    ylabel="test accuracy (%)",
    ylim=(0, 100),
)
ax.legend()
plt.show()

# %% [markdown]
# **Check.** On centred articles, the Flatten head is the better one: it has
# a head of 10·10·64·10 + 10 = 64,010 parameters against 64·10 + 10 = 650 for
# the GAP head, and it may use where each feature is. As the articles
# move, its accuracy collapses towards chance, while the GAP head's drops only a
# little: at the largest shift, the GAP head is far ahead. (The GAP head is not
# exactly invariant: 2x2 max pooling twice is invariant only to shifts by
# multiples of 4 pixels, and the borders' zero padding differs.) While preparing
# the notebook, with seeds 42, 1 and 7, the Flatten head lost 70 to 73 points at
# a 6-pixel shift and the GAP head 3 to 11; the asserts leave a margin around
# these numbers.

# %%
flatten_acc, gap_acc = np.array(shift_accuracy["flatten"]), np.array(shift_accuracy["gap"])
assert head_parameters == {"flatten": 10 * 10 * 64 * 10 + 10, "gap": 64 * 10 + 10}
assert flatten_acc[0] > gap_acc[0], (flatten_acc[0], gap_acc[0])
assert gap_acc[-1] > flatten_acc[-1] + 0.3, (gap_acc[-1], flatten_acc[-1])
assert gap_acc[0] - gap_acc[-1] < 0.2 and flatten_acc[0] - flatten_acc[-1] > 0.5
print(
    f"largest shift ({shifts[-1]} px): GAP {gap_acc[-1]:.1%}, Flatten {flatten_acc[-1]:.1%}; "
    f"drop from no shift: GAP {gap_acc[0] - gap_acc[-1]:.1%}, Flatten {flatten_acc[0] - flatten_acc[-1]:.1%}"
)

# %% [markdown]
# ## Summary
#
# - A 1x1 convolution is a dense layer applied to the depth vector of every
#   position; NiN's MLPconv block (a convolution followed by 1x1 convolutions) is
#   a small MLP slid over the volume.
# - Global average (max) pooling reduces each map to its mean (maximum). GAP is a
#   fixed, non-trainable linear map: a block-diagonal matrix with blocks of 1/HW.
# - With GAP instead of Flatten + Dense, a network has no fixed input size: ours,
#   trained on 28x28 articles, still classifies 36x36 padded or resized ones well
#   above chance (less well than 28x28 ones), where the Flatten network raises an
#   error.
# - Trained on centred articles, the GAP head keeps most of its accuracy when the
#   articles move by up to 6 pixels; the Flatten head, better on centred articles,
#   falls to near chance.
#
# ## Exercises
#
# 1. **Global max pooling.** Replace GAP by GMP in section 5. Is the GMP head as
#    robust to shifts? *Hint:* `keras.layers.GlobalMaxPooling2D()`; a maximum is
#    also invariant to where it is.
# 2. **Train with shifts.** Train the Flatten head on randomly shifted articles
#    (data augmentation) and plot its accuracy against the shift again. *Hint:*
#    `keras.layers.RandomTranslation` before the trunk, or `on_canvas` with random
#    shifts.
# 3. **NiN on CIFAR-10.** Build `course_lib.models.nin.nin()` and count its
#    parameters; compare with `keras.applications` networks of the course. Where
#    are its parameters? *Hint:* `course_lib.analysis.parameter_table`.
# 4. **The class maps.** Plot the 10 maps of the `class_maps` layer of `gap_net`
#    for one test image. Where does the true class's map light up? *Hint:*
#    `keras.Model(gap_net.input, gap_net.get_layer("class_maps").output)` and
#    `course_lib.viz.plot_feature_maps`.
# 5. **GAP as a Dense layer.** Build a `Dense(C, use_bias=False, trainable=False)`
#    layer whose kernel is `channels_last_M` and check that, after a `Flatten`, it
#    equals `GlobalAveragePooling2D`. *Hint:* `layer.set_weights([channels_last_M])`.
