# %% [markdown]
# # 16 · Network in Network and global pooling
#
# Network in Network (NiN; Lin, Chen and Yan, 2014) made two changes to the
# classic CNN. Every later architecture kept both.
#
# - Inside the network, each convolution became a small multi-layer perceptron
#   slid over the volume: the **MLPconv** block, built from 1x1 convolutions.
# - At the top, the fully connected layers gave way to **global average
#   pooling** (GAP): one feature map per class, averaged into one score.
#
# **Learning objectives.** After this notebook you can
#
# 1. show that a 1x1 convolution is a dense layer applied at every position,
#    and write an MLPconv block in Keras;
# 2. compute global average and global max pooling, and write GAP as a
#    multiplication by a fixed block-diagonal matrix;
# 3. use a GAP network on images of another size than the training images,
#    where a Flatten network fails;
# 4. read, from a recorded study, how a GAP head and a Flatten head react when
#    the object moves.

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
# These CPU settings train small networks on CIFAR-10 subsets, about a minute
# and a half on a 2-core CPU. On a GPU, try the larger settings in the comments.
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
TRAIN_PER_CLASS = 170  # CIFAR-10 training images per class (GPU: None, all 4,500)
EPOCHS = 10  # the first-epochs demonstration of section 5 (GPU: 30)
SIZE_EPOCHS = 5  # section 4 only needs a network that works at its training size (GPU: 30)
LIVE_SEED = 0  # one seed for the live runs: the recorded study has several
LARGER = 40  # side of the larger test images of section 4
CANVAS = 40  # side of the canvas for the shift experiment (32 + 2 * 4)

# %% [markdown]
# ## 1. MLPconv: a small MLP slid over the volume
#
# A 1x1 convolution looks at one position at a time. There it takes the
# position's depth vector (C numbers) and multiplies it by a C x F kernel. That
# is exactly a `Dense(F)` layer, applied at every position with the same
# weights.
#
# An MLPconv block stacks a k x k convolution and a few 1x1 convolutions. After
# the first convolution, the 1x1 layers form an MLP run at every position. The
# diagram shows the last block of NiN's CIFAR-10 network.

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.linalg
from skimage.transform import resize

from course_lib import comparison, diagrams, experiment, studies, zoo
from course_lib.layers import MLPConv
from course_lib.viz import plot_learning_curves

diagrams.show(diagrams.mlpconv_block(input_shape=(8, 8, 192), filters=192, kernel_size=3, mlp_filters=(192, 10)))

# %% [markdown]
# First the 1x1 convolution. We copy its weights into a dense layer and apply
# both to a random volume.

# %%
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
# Now the whole block, as a student would write it: a function that adds the
# layers to a Keras graph.

# %%
def mlpconv(x, filters, kernel_size, mlp_filters):
    """A k x k convolution, then one 1x1 convolution per entry of `mlp_filters`, each with a ReLU."""
    x = keras.layers.Conv2D(filters, kernel_size, padding="same", activation="relu")(x)
    for units in mlp_filters:
        x = keras.layers.Conv2D(units, 1, activation="relu")(x)
    return x


inputs = keras.Input((5, 6, 8))
ours = keras.Model(inputs, mlpconv(inputs, 6, kernel_size=3, mlp_filters=(5, 3)))
block = MLPConv(6, kernel_size=3, mlp_filters=(5, 3))  # course_lib's version
block.build((None, 5, 6, 8))
ours.set_weights(block.get_weights())  # the same weights, in the same order
difference = np.abs(keras.ops.convert_to_numpy(ours(volume)) - keras.ops.convert_to_numpy(block(volume))).max()
print(f"our block: {ours.count_params()} parameters, course_lib's: {block.count_params()}")

# %% [markdown]
# The 1x1 layers really are an MLP at every position. We run the first
# convolution, then two dense layers with the block's 1x1 weights, on each
# depth vector.

# %%
first, mlp_1, mlp_2 = block.convs
features = first(volume)  # the k x k convolution
mlp = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu"),
                        keras.layers.Dense(3, activation="relu")])
for layer, conv in zip(mlp.layers, (mlp_1, mlp_2)):
    layer.set_weights([keras.ops.convert_to_numpy(conv.kernel)[0, 0], keras.ops.convert_to_numpy(conv.bias)])
block_out = keras.ops.convert_to_numpy(block(volume))
mlp_out = keras.ops.convert_to_numpy(mlp(keras.ops.reshape(features, (-1, 6)))).reshape(block_out.shape)

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
np.testing.assert_allclose(conv_out, dense_out, rtol=1e-5, atol=1e-6)
assert difference < 1e-5 and ours.count_params() == block.count_params()
np.testing.assert_allclose(block_out, mlp_out, rtol=1e-5, atol=1e-6)
assert block_out.shape == (2, 5, 6, 3) and block.count_params() == (9 * 8 + 1) * 6 + (6 + 1) * 5 + (5 + 1) * 3
print("Check: a 1x1 convolution equals a dense layer at every position.")
print("Check: our MLPconv block equals course_lib's MLPConv, and both equal a convolution then a per-position MLP.")

# %% [markdown]
# ## 2. Global average and global max pooling
#
# A **global** pooling reduces each feature map to one number. Global average
# pooling (GAP) takes its mean over all rows and columns. Global max pooling
# (GMP) takes its maximum. An H x W x C volume becomes C numbers, whatever H
# and W are.
#
# GAP has no parameters. It replaces the Flatten and the large dense layers of
# AlexNet and VGG, which held most of their parameters (notebook 15). NiN's
# last block has one map per class, so GAP gives the class scores directly.

# %%
diagrams.show(diagrams.gap_vs_flatten(input_shape=(8, 8, 192), classes=10))

# %%
gap = keras.layers.GlobalAveragePooling2D()
gmp = keras.layers.GlobalMaxPooling2D()
gap_out = keras.ops.convert_to_numpy(gap(volume))
gmp_out = keras.ops.convert_to_numpy(gmp(volume))
print("volume", volume.shape, "-> GAP", gap_out.shape, ", GMP", gmp_out.shape)

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
np.testing.assert_allclose(gap_out, volume.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
np.testing.assert_array_equal(gmp_out, volume.max(axis=(1, 2)))
assert gap.count_params() == gmp.count_params() == 0
print("Check: GAP is the mean and GMP the maximum over rows and columns; neither has parameters.")

# %% [markdown]
# ## 3. GAP is a fixed linear map: a block-diagonal matrix
#
# GAP is linear, so it is a multiplication by a matrix. Flatten an H x W x C
# volume channel by channel into a vector of length H·W·C. Then GAP multiplies
# it by the HWC x C matrix
#
# $$M = \mathrm{blockdiag}(u, u, \dots, u), \qquad u = \tfrac{1}{HW}(1, \dots, 1)^\top \in \mathbb{R}^{HW},$$
#
# one block per channel. A Flatten + Dense head would *learn* such a matrix.
# GAP is the same kind of layer with the matrix fixed: nothing to train. Keras
# stores volumes channels-last, so we move the channel axis first before
# flattening.

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
# The matrix is block diagonal: C blocks of HW rows, each filled with 1/HW. In
# Keras's channels-last order the same map is a stack of HW identity matrices
# divided by HW: the same matrix with its rows permuted.

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
assert M.shape == (H * W * C, C)
for c in range(C):
    rows = slice(c * H * W, (c + 1) * H * W)
    assert np.all(M[rows, c] == 1 / (H * W)) and np.count_nonzero(M[:, c]) == H * W
keras_gap = keras.ops.convert_to_numpy(gap(small.astype("float32")))
np.testing.assert_allclose(gap_as_matrix, keras_gap, rtol=1e-5, atol=1e-6)
channels_last_M = np.tile(np.eye(C), (H * W, 1)) / (H * W)
np.testing.assert_allclose(small.reshape(len(small), -1) @ channels_last_M, gap_as_matrix, atol=1e-12)
print(f"Check: M is {M.shape[0]}x{M.shape[1]} with {np.count_nonzero(M)} non-zeros of {M.size}, "
      "and x @ M equals GlobalAveragePooling2D(x).")

# %% [markdown]
# ## 4. A GAP network accepts images of any size
#
# A convolution slides over whatever rows and columns it receives. Only a layer
# with a fixed number of inputs ties a network to one image size. A Flatten +
# Dense head is such a layer: its kernel has one row per value of the
# flattened volume. A GAP head averages whatever maps it gets.
#
# So a network made of convolutions, pooling and GAP (with `Input(shape=(None,
# None, 3))`) can classify larger images than it was trained on. We train one
# NiN-style: the last 1x1 convolution has one map per class, and GAP gives the
# class scores. Then we test it at 32x32, **padded** to 40x40 (a black border
# around the same object) and **resized** to 40x40 (a larger object).

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


gap_run = experiment.run(gap_network, splits, recipe.replace(epochs=SIZE_EPOCHS), seeds=(LIVE_SEED,),
                         name="gap_net", keep_models=True)
gap_net = gap_run.models[LIVE_SEED]

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
# A network with a Flatten + Dense head, built for 32x32 images, cannot even
# take the 40x40 ones. Its dense kernel expects 8·8·64 inputs and receives
# 10·10·64.

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
# The GAP network classifies all three versions above chance, best at its
# training size. The resized objects are larger than any it saw. The padded ones
# have a black border, which GAP averages into every class score. (The
# standardisation in front of the network works per pixel, so it takes any
# size too.)

# %% tags=["hide-input"]
assert isinstance(flatten_error, ValueError)
for name, value in size_accuracy.items():
    assert value > 0.2, (name, value)
assert max(size_accuracy, key=size_accuracy.get) == "32x32 (training size)"
print("Check: the GAP network classifies 32x32 and both kinds of 40x40 images above 20 %, best at 32x32;"
      " the Flatten network refuses 40x40 images.")

# %% [markdown]
# ## 5. What happens when the object moves
#
# Convolutions and pooling are (nearly) **equivariant** to shifts: move the
# input, and the feature maps move with it. A Flatten + Dense head then weights
# each feature by *where* it is, with weights learned for where it used to be.
# GAP sums over all positions, so a moved feature counts the same. The network
# becomes (nearly) **invariant** to shifts.
#
# The experiment: put each CIFAR-10 image in the centre of a 40x40 black
# canvas. Train the same trunk with a Flatten head and with a GAP head, on
# centred images (flips, no shifts). Then move the test images right and down by
# 0 to 4 pixels; the 4-pixel border means nothing is cut off.
#
# ### A first-epochs demonstration
#
# Here is the experiment, live, for one seed and a few epochs. These small runs
# have not finished learning, so we draw no conclusion from them: they show
# *how* the experiment runs. The lesson comes from the recorded study below.

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
heads = {head: experiment.run(lambda: head_net(head), canvas_splits, centred_recipe, seeds=(LIVE_SEED,),
                              name=f"{head} head", keep_models=True)
         for head in ("flatten", "gap")}
x_val, y_val = splits.validation
shift_accuracy = pd.DataFrame(
    {head: [accuracy(result.models[LIVE_SEED], on_canvas(x_val, s), y_val) for s in shifts]
     for head, result in heads.items()},
    index=pd.Index(shifts, name="shift (pixels)"),
)
head_parameters = {head: result.models[LIVE_SEED].layers[-1].layers[-1].count_params()
                   for head, result in heads.items()}
shift_accuracy.round(3)

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
for ax, (head, result) in zip(axes, heads.items()):
    plot_learning_curves(result.histories, ax=ax, title=f"{result.name}, seed {LIVE_SEED}: first epochs")
for head, label in (("flatten", "Flatten + Dense head"), ("gap", "GAP + Dense head")):
    axes[2].plot(shifts, 100 * shift_accuracy[head], marker="o", label=label)
axes[2].set(title="Validation images, shifted (one seed)", xlabel="shift right and down (pixels)",
            ylabel="validation accuracy (%)")
axes[2].legend(fontsize="small")
axes[2].grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# The Flatten head has 10·10·64·10 + 10 = 64,010 parameters. The GAP head has
# 64·10 + 10 = 650: a hundredth, and it cannot know where a feature was.

# %% tags=["hide-input"]
assert head_parameters == {"flatten": 10 * 10 * 64 * 10 + 10, "gap": 64 * 10 + 10}
assert all(result.scores["train_accuracy"].iloc[0] > 0.2 for result in heads.values())
print(f"Check: the heads have {head_parameters['flatten']:,} and {head_parameters['gap']:,} parameters, "
      "and both networks train (training accuracy above 20 %).")

# %% [markdown]
# ### What the recorded study shows
#
# The study `gap_vs_flatten` ran the same experiment to the end: 1,000 training
# images per class, 30 epochs, three seeds per head. It was trained offline by
# `python scripts/train_study.py gap_vs_flatten`, and `course_lib.studies`
# reads it. Seed by seed, both heads start from the same trunk weights and see
# the same batches. First, the learning curves, one line per seed.

# %%
study = studies.load("gap_vs_flatten")
final = studies.final(study, shift=0)
moved = studies.final(study, shift=pad)
colors = {"flatten": "tab:orange", "gap": "tab:blue"}
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), sharey=True)
for ax, metric in zip(axes, ("train_accuracy", "validation_accuracy")):
    studies.plot_curves(study, metric, ax=ax, colors=colors, title=metric.replace("_", " ") + ", centred images")
fig.tight_layout()
plt.show()
plateau = studies.plateau(study)
final[["train_accuracy", "validation_accuracy"]].groupby("variant").mean().round(3)

# %% [markdown]
# Both heads have nearly stopped learning, but not quite. Over the last three
# epochs their training accuracy still moved by more than the half point that
# the course calls a plateau (printed below). More epochs would add little.
#
# The two heads fail differently. The Flatten head fits its training images
# almost perfectly but generalises worse: a large gap between its training and
# validation accuracy. Its 64,010 parameters can memorise where each feature
# was. The GAP head, a "structural regulariser" as Lin et al. call it, has a
# much smaller gap.

# %%
print("largest change of training accuracy over the last 3 epochs:",
      {variant: round(float(v.max()), 4) for variant, v in plateau.groupby(level="variant")})
gaps = (final["train_accuracy"] - final["validation_accuracy"]).unstack("variant")
print("training minus validation accuracy, per seed:")
gaps.round(3)

# %% [markdown]
# Now the shifts, on the validation images. Each seed is a pair of lines: how
# far each head falls as the images move.

# %%
by_shift = studies.final(study).reset_index()
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
for (variant, seed), run in by_shift.groupby(["variant", "seed"]):
    axes[0].plot(run["shift"], 100 * run["validation_accuracy"], marker="o", color=colors[variant],
                 alpha=0.8, label=f"{variant} head" if seed == 0 else None)
axes[0].set(title="Validation accuracy against the shift (every seed)", xlabel="shift right and down (pixels)",
            ylabel="validation accuracy (%)")
axes[0].legend(fontsize="small")
axes[0].grid(alpha=0.3)
drops = (final["validation_accuracy"] - moved["validation_accuracy"]).unstack("variant")
comparison.plot_paired(100 * drops[["flatten", "gap"]], ax=axes[1], ylabel="accuracy lost at 4 pixels (points)",
                       title=f"Accuracy lost from 0 to {pad} pixels, per seed")
fig.tight_layout()
plt.show()

# %% [markdown]
# The comparisons, seed by seed, on the validation images. How we compare runs
# (paired differences and their 95 % interval) is explained in notebook 01's
# box.

# %%
centred = comparison.paired_comparison(final["validation_accuracy"].unstack("variant").eval("gap - flatten"),
                                       baseline="Flatten", treatment="GAP")
lost = comparison.paired_comparison(drops.eval("gap - flatten"), metric="accuracy lost at 4 pixels",
                                    baseline="Flatten", treatment="GAP")
print("centred:          ", centred)
print(f"lost at {pad} pixels:", lost)

# %% [markdown]
# Three effects are clear on the validation images (the lines above and
# below):
#
# - on centred images the GAP head is more accurate;
# - moved by 4 pixels, both heads lose accuracy, but the GAP head loses clearly
#   less;
# - the Flatten head's gap between training and validation accuracy is larger.
#
# The GAP head is not exactly invariant either. Its two 2x2 max poolings, and
# the zero padding at the borders, make it lose some accuracy at every shift.
#
# Last, the test images, scored once for each trained network.

# %% tags=["hide-input"]
overfit = comparison.paired_comparison(gaps.eval("gap - flatten"), metric="training minus validation accuracy",
                                       baseline="Flatten", treatment="GAP")
print(overfit)
assert centred.clear and centred.mean > 0, centred
assert lost.clear and lost.mean < 0, lost
assert overfit.clear and overfit.mean < 0, overfit
assert (plateau > 0.005).any(), plateau  # the prose says the runs are not quite at a plateau
tested = studies.final(study).groupby(["variant", "shift"])["test_accuracy"].mean().unstack("shift")
print("Test accuracy (reported once), mean over the seeds:",
      ", ".join(f"{variant} head {row[0]:.1%} centred, {row[pad]:.1%} at {pad} pixels"
                for variant, row in tested.iterrows()))
print("Check: GAP beats Flatten on centred validation images, loses less when they move, "
      "and overfits less; each a clear effect over three seeds.")

# %% [markdown]
# ## 6. What the full run reaches
#
# The course's model zoo holds NiN's CIFAR-10 network: three MLPconv blocks and
# a GAP head, as in Lin et al., section 4. It is half the paper's width, with
# BatchNormalization and dropout 0.3 (`nin(width=0.5, batch_norm=True,
# dropout=0.3)`), trained on all 45,000 training images with the course's
# recipe (`course_lib.zoo`). Its head is the one of section 4: the last MLPconv
# block has one map per class.

# %%
record = zoo.record("nin")
fig, ax = plt.subplots(figsize=(5.5, 3.6))
zoo.plot_history("nin", ax=ax)
plt.show()
print(zoo.describe("nin"))

# %% tags=["hide-input"]
assert record["test_accuracy"] >= 0.80, record["test_accuracy"]
print(f"Check: the recorded NiN reaches {record['test_accuracy']:.1%} on the 10,000 test images (at least 80 %).")

# %% [markdown]
# ## Summary
#
# - A 1x1 convolution is a dense layer applied to the depth vector of every
#   position. NiN's MLPconv block, a convolution followed by 1x1 convolutions,
#   is a small MLP slid over the volume.
# - Global average (max) pooling reduces each map to its mean (maximum). GAP is
#   a fixed linear map with no parameters: a block-diagonal matrix with blocks
#   of 1/HW.
# - Without a Flatten + Dense head, a network has no fixed input size. Ours,
#   trained on 32x32 images, still classifies 40x40 padded or resized ones
#   above chance, less well than 32x32 ones.
# - In a recorded study (three seeds, 30 epochs each), the GAP head, with a
#   hundredth of the Flatten head's parameters, is more accurate on centred
#   images and loses clearly less when the images move by 4 pixels. The
#   Flatten head fits its training images almost perfectly but generalises
#   worse.
# - The recorded half-width NiN for CIFAR-10 (`course_lib.zoo`), whose head is
#   global average pooling over one map per class, passes 80 % on the test set.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# Solutions: [solutions/part3.md](solutions/part3.md) (the counts worked out,
# what to compare in the experiments); try each exercise first.
#
# 1. ★★ **Global max pooling.** Replace GAP by GMP in section 5. Is the GMP
#    head as robust to shifts? *Hint:* `keras.layers.GlobalMaxPooling2D()`; a
#    maximum is also invariant to where it is.
# 2. ★★ **Train with shifts.** Train the Flatten head on randomly shifted
#    images (data augmentation) and plot its accuracy against the shift again.
#    *Hint:* `centred_recipe.replace(translate=4)`.
# 3. ★ **NiN on CIFAR-10.** Build `course_lib.models.nin.nin()` and count its
#    parameters; compare with `keras.applications` networks of the course.
#    Where are its parameters? *Hint:* `course_lib.analysis.parameter_table`.
# 4. ★★ **The class maps.** Plot the 10 maps of the `class_maps` layer of
#    `gap_net` for one test image. Where does the true class's map light up?
#    *Hint:* the harness put the standardisation in front, so the network is
#    the model's last layer: `network = gap_net.layers[-1]`, then
#    `keras.Model(network.input, network.get_layer("class_maps").output)` and
#    `course_lib.viz.plot_feature_maps`.
# 5. ★★ **GAP as a Dense layer.** Build a `Dense(C, use_bias=False,
#    trainable=False)` layer whose kernel is `channels_last_M` and check that,
#    after a `Flatten`, it equals `GlobalAveragePooling2D`. *Hint:*
#    `layer.set_weights([channels_last_M])`.
