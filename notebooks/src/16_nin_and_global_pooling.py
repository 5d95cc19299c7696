# %% [markdown]
# # 16 · Network in Network and global pooling
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
# 4. measure, over several seeds, how a GAP head and a Flatten head trained on
#    the same budget react when the object moves.

# %%
# Setup: works locally and in Google Colab.
try:
    import course_lib
except ModuleNotFoundError:  # the public repository is not known yet: no Colab install
    raise RuntimeError("course_lib is missing: run `make lab` in a clone of the course.")
from course_lib.runtime import setup_notebook
info = setup_notebook(seed=42)

# %% [markdown]
# ## Parameters
#
# CPU settings, used by the tests: small networks trained on CIFAR-10 subsets
# with the course's experiment harness, about two minutes of training on a 2-core
# CPU. On a GPU, try the larger settings in the comments.

# %%
TRAIN_PER_CLASS = 170  # CIFAR-10 training images per class (GPU: None, all 4,500)
EPOCHS = 10  # enough for the cosine schedule to settle these small networks (GPU: 30)
SIZE_EPOCHS = 5  # section 4 only needs a network that works at its training size (GPU: 30)
SEEDS = (0, 1, 2)
LARGER = 40  # side of the larger test images of section 4
CANVAS = 40  # side of the canvas for the shift experiment (32 + 2 * 4)

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
import pandas as pd
import scipy.linalg
from skimage.transform import resize

from course_lib import experiment, zoo
from course_lib.viz import plot_learning_curves
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
# layers of AlexNet and VGG, which held most of their parameters (notebook 15).
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

fig, ax = plt.subplots(figsize=(3.8, 6))
image = ax.imshow(M, cmap="viridis", aspect="auto", interpolation="nearest")
fig.colorbar(image, ax=ax, label="matrix entry")
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
# `Input(shape=(None, None, 3))`) can classify larger images than it was trained
# on.
#
# We train one, NiN-style (the last 1x1 convolution has one map per class, GAP
# gives the class scores), on CIFAR-10's 32x32 images with the course's recipe
# (`course_lib.experiment`); then we evaluate it on the test images at 32x32,
# **padded** to 40x40 (the same object, a black border around it) and
# **resized** to 40x40 (a larger object).

# %%
splits = experiment.load_splits("cifar10", validation_size=1000, train_per_class=TRAIN_PER_CLASS,
                                test_per_class=100)
x_test, y_test = splits.test
recipe = experiment.Recipe(epochs=EPOCHS, batch_size=64)


def conv_trunk(inputs):
    """Three 3x3 conv-BN-ReLU layers and two 2x2 max poolings, shared by this notebook's networks."""
    x = inputs
    for filters, pool in ((32, True), (64, True), (64, False)):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        if pool:
            x = keras.layers.MaxPooling2D(2)(x)
    return x


def gap_network():
    inputs = keras.Input((None, None, 3))
    class_maps = keras.layers.Conv2D(10, 1, name="class_maps")(conv_trunk(inputs))  # one map per class
    outputs = keras.layers.Softmax()(keras.layers.GlobalAveragePooling2D()(class_maps))
    return keras.Model(inputs, outputs, name="gap_net")


def accuracy(model, x, y):
    return float(np.mean(model.predict(x, batch_size=500, verbose=0).argmax(axis=1) == y))


gap_run = experiment.run(gap_network, splits, recipe.replace(epochs=SIZE_EPOCHS), seeds=SEEDS[:1],
                         name="gap_net", keep_models=True)
gap_net = gap_run.models[SEEDS[0]]

border = (LARGER - 32) // 2
x_test_padded = np.pad(x_test, ((0, 0), (border, border), (border, border), (0, 0)))
x_test_resized = resize(x_test, (len(x_test), LARGER, LARGER, 3), order=1, anti_aliasing=False,
                        preserve_range=True).astype("uint8")
sizes = {
    "32x32 (training size)": x_test,
    f"{LARGER}x{LARGER} padded": x_test_padded,
    f"{LARGER}x{LARGER} resized": x_test_resized,
}
size_accuracy = {name: accuracy(gap_net, x, y_test) for name, x in sizes.items()}
for name, value in size_accuracy.items():
    print(f"{name:>24}: test accuracy {value:.1%}")

# %% [markdown]
# (The harness put the training set's standardisation in front of the network;
# it works per pixel and per channel, so it too takes any size.) A network with a
# Flatten + Dense head, built for 32x32 images, cannot even take the 40x40
# ones: its dense kernel expects 8·8·64 inputs and receives 10·10·64.

# %%
flatten_inputs = keras.Input((32, 32, 3))
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
# both larger sizes above chance (10 %); the Flatten network refuses the larger
# images with a `ValueError`. Accepting a size is not the same as doing well at
# it: accuracy is highest at the training size. The resized objects are larger
# than any the network saw; the padded ones are surrounded by a black border,
# which GAP averages into every class score.

# %%
assert isinstance(flatten_error, ValueError)
for name, value in size_accuracy.items():
    assert value > 0.2, (name, value)
assert max(size_accuracy, key=size_accuracy.get) == "32x32 (training size)"
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
# We place the CIFAR-10 images in the centre of a 40x40 black canvas, train the
# same trunk with a Flatten + Dense head and with a GAP + Dense head (same data,
# recipe and seeds, so the same initial trunk weights seed by seed; flips but no
# shifts in training), until the cosine schedule has brought the learning rate to
# zero and the training accuracy has stopped rising (the curves below, and the
# check). Then we test both on the test images moved right and down by 0 to 4
# pixels (the canvas has a 4-pixel border, so nothing is cut off).

# %%
def on_canvas(images, shift=0):
    """Places 32x32 images in the centre of the canvas, moved by `shift` pixels right and down."""
    canvas = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    return np.roll(canvas, (shift, shift), axis=(1, 2))


def head_net(head):
    inputs = keras.Input((CANVAS, CANVAS, 3))
    features = conv_trunk(inputs)
    pooled = keras.layers.Flatten()(features) if head == "flatten" else keras.layers.GlobalAveragePooling2D()(features)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(pooled), name=f"{head}_head")


pad = (CANVAS - 32) // 2
canvas_splits = experiment.Splits(*[(on_canvas(x), y) for x, y in splits])
shifts = np.arange(0, pad + 1)
centred_recipe = recipe.replace(translate=0)
heads = {head: experiment.run(lambda: head_net(head), canvas_splits, centred_recipe, seeds=SEEDS,
                              name=f"{head} head", keep_models=True)
         for head in ("flatten", "gap")}
shift_accuracy = pd.DataFrame(
    {(head, seed): [accuracy(model, on_canvas(x_test, s), y_test) for s in shifts]
     for head, result in heads.items() for seed, model in result.models.items()},
    index=pd.Index(shifts, name="shift (pixels)"),
)
head_parameters = {head: result.models[SEEDS[0]].layers[-1].layers[-1].count_params()
                   for head, result in heads.items()}
shift_accuracy.T.groupby(level=0).mean().T.round(3)

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
for ax, (head, result) in zip(axes, heads.items()):
    plot_learning_curves(result.histories, ax=ax, title=f"{result.name}: training on centred images")
for head, label in (("flatten", "Flatten + Dense head"), ("gap", "GAP + Dense head")):
    mean, std = shift_accuracy[head].mean(axis=1), shift_accuracy[head].std(axis=1)
    axes[2].errorbar(shifts, 100 * mean, yerr=100 * std, marker="o", capsize=3, label=label)
axes[2].axhline(10, color="grey", linestyle=":", label="chance")
axes[2].set(title=f"Tested on shifted images ({len(SEEDS)} seeds)", xlabel="shift right and down (pixels)",
            ylabel="test accuracy (%)", ylim=(0, 100))
axes[2].legend(fontsize="small")
axes[2].grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# The comparison seed by seed, on centred images and at the largest shift:

# %%
centred = experiment.paired_comparison(shift_accuracy["gap"].loc[0] - shift_accuracy["flatten"].loc[0],
                                       baseline="Flatten", treatment="GAP")
shifted = experiment.paired_comparison(shift_accuracy["gap"].loc[pad] - shift_accuracy["flatten"].loc[pad],
                                       baseline="Flatten", treatment="GAP")
print("centred:      ", centred)
print(f"shifted {pad} px:", shifted)

# %% [markdown]
# **Check.** The Flatten head has 10·10·64·10 + 10 = 64,010 parameters, the GAP
# head 64·10 + 10 = 650: a hundredth, and it cannot know where a feature was.
# Both were trained with the same recipe to the end of its schedule (the
# learning rate reaches zero in the last epoch), on the same budget. They have
# not converged at this CPU budget: their training accuracy still rises in the
# last epoch (printed below); the GPU settings train longer. Even on
# centred test images the GAP head is the more accurate, on every seed, by more
# than the spread: with so few training images, the Flatten head's 64,010
# parameters fit the training images rather than the task (GAP as a "structural
# regulariser", as Lin et al. call it). As the images move, the Flatten head's
# accuracy falls more than one and a half times as far as the GAP head's (the
# mean drops are printed below): at the largest shift, the GAP head is further
# ahead, on every seed. (The GAP head is not exactly invariant either: two 2x2
# max poolings are invariant only to shifts by multiples of 4 pixels, and the
# zero padding at the borders differs.)

# %%
assert head_parameters == {"flatten": 10 * 10 * 64 * 10 + 10, "gap": 64 * 10 + 10}
for name, result in heads.items():
    last_epochs = result.histories.groupby("epoch")["accuracy"].mean()
    print(f"{name}: training accuracy {last_epochs.iloc[-2]:.3f} -> {last_epochs.iloc[-1]:.3f} in the last epoch")
assert centred.holds and centred.mean > 0, centred
assert shifted.holds and shifted.mean > centred.mean, shifted
gap_drop = (shift_accuracy["gap"].loc[0] - shift_accuracy["gap"].loc[pad]).mean()
flatten_drop = (shift_accuracy["flatten"].loc[0] - shift_accuracy["flatten"].loc[pad]).mean()
assert 1.5 * gap_drop < flatten_drop, (gap_drop, flatten_drop)
print(f"mean drop from no shift to {pad} px: GAP {gap_drop:.1%}, Flatten {flatten_drop:.1%}")

# %% [markdown]
# ## 6. What the full run reaches
#
# The live networks above are small and trained on a few thousand images on
# purpose. The course's model zoo holds NiN's CIFAR-10 network (three MLPconv
# blocks and a GAP head, as in Lin et al., section 4) at half of the paper's
# width, with BatchNormalization and dropout 0.3 (`nin(width=0.5,
# batch_norm=True, dropout=0.3)`), trained on all 45,000 training images with
# the course's recipe (`course_lib.zoo`; `python scripts/train_zoo.py nin`
# re-creates it). Its head is the GAP head of this notebook: the last MLPconv
# block has one map per class.

# %%
record = zoo.record("nin")
fig, ax = plt.subplots(figsize=(5.5, 3.6))
zoo.plot_history("nin", ax=ax)
plt.show()
print(zoo.describe("nin"))

# %% [markdown]
# **Check.** The recorded NiN passes 80 % on the 10,000 test images.

# %%
assert record["test_accuracy"] >= 0.80, record["test_accuracy"]

# %% [markdown]
# ## Summary
#
# - A 1x1 convolution is a dense layer applied to the depth vector of every
#   position; NiN's MLPconv block (a convolution followed by 1x1 convolutions) is
#   a small MLP slid over the volume.
# - Global average (max) pooling reduces each map to its mean (maximum). GAP is a
#   fixed, non-trainable linear map: a block-diagonal matrix with blocks of 1/HW.
# - With GAP instead of Flatten + Dense, a network has no fixed input size: ours,
#   trained on 32x32 CIFAR-10 images, still classifies 40x40 padded or resized
#   ones above chance (less well than 32x32 ones), where the Flatten network
#   raises an error.
# - Trained on centred images with the same budget, the GAP head, with a hundredth of
#   the Flatten head's parameters, is more accurate even on centred images, and
#   loses less accuracy when the images move: under two thirds as much (three
#   seeds).
# - The recorded half-width NiN for CIFAR-10 (`course_lib.zoo`), whose head is
#   global average pooling over one map per class, passes 80 % on the test set.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# Solutions: [solutions/part3.md](solutions/part3.md) (the counts worked out, what to
# compare in the experiments); try each exercise first.
#
# 1. ★★ **Global max pooling.** Replace GAP by GMP in section 5. Is the GMP head as
#    robust to shifts? *Hint:* `keras.layers.GlobalMaxPooling2D()`; a maximum is
#    also invariant to where it is.
# 2. ★★ **Train with shifts.** Train the Flatten head on randomly shifted images
#    (data augmentation) and plot its accuracy against the shift again. *Hint:*
#    `centred_recipe.replace(translate=4)`.
# 3. ★ **NiN on CIFAR-10.** Build `course_lib.models.nin.nin()` and count its
#    parameters; compare with `keras.applications` networks of the course. Where
#    are its parameters? *Hint:* `course_lib.analysis.parameter_table`.
# 4. ★★ **The class maps.** Plot the 10 maps of the `class_maps` layer of `gap_net`
#    for one test image. Where does the true class's map light up? *Hint:*
#    `network = gap_net.layers[-1]` (the harness put the standardisation in
#    front), `keras.Model(network.input, network.get_layer("class_maps").output)` and
#    `course_lib.viz.plot_feature_maps`.
# 5. ★★ **GAP as a Dense layer.** Build a `Dense(C, use_bias=False, trainable=False)`
#    layer whose kernel is `channels_last_M` and check that, after a `Flatten`, it
#    equals `GlobalAveragePooling2D`. *Hint:* `layer.set_weights([channels_last_M])`.
