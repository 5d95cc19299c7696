# %% [markdown]
# # 15 · VGG
#
# VGG (Simonyan and Zisserman, 2015) asked one question: what happens if a CNN
# uses nothing but 3x3 convolutions and makes the network deeper? Its answer,
# VGG16 and VGG19, came second in ImageNet 2014 and became the standard feature
# extractor for years: a plain, regular network that is easy to read, to build
# and to reuse.
#
# **Learning objectives.** After this notebook you can
#
# 1. explain why VGG stacks 3x3 convolutions: three of them see a 7x7 field with
#    27C² instead of 49C² weights and three non-linearities instead of one, and
#    check these numbers with `receptive_field` and `count_params`;
# 2. build VGG16 with `course_lib.models.vgg.vgg16` and check it layer by layer
#    against `keras.applications.VGG16`;
# 3. find where VGG16's 138 million parameters and 15.5 billion multiply-adds
#    sit, with `course_lib.analysis.parameter_table`, and plot their shares;
# 4. read the recorded full run of VGG16 for 32x32 CIFAR-10 images, trained
#    with BatchNormalization and the course's recipe.

# %%
# Setup: works locally and in Google Colab.
try:
    import course_lib
except ModuleNotFoundError:  # the public repository is not known yet: no Colab install
    raise RuntimeError("course_lib is missing: run `make lab` in a clone of the course.")
from course_lib.runtime import setup_notebook
info = setup_notebook(seed=42)

# %% [markdown]
# ## 1. 3x3 everywhere
#
# AlexNet opened with an 11x11 window and ZFNet with a 7x7 one. VGG uses a single
# window size: every convolution is 3x3 with stride 1 and "same" padding (so it
# keeps the rows and columns), followed by a ReLU; every block ends with a 2x2 max
# pooling of stride 2 (which halves them). A 3x3 window is the smallest one that
# sees a centre and its four neighbours (left, right, up, down).
#
# A larger window is replaced by a **stack** of 3x3 convolutions. Two of them see a
# 5x5 patch of the input, three a 7x7 patch: each layer adds 2 pixels to the field
# (notebook 06). With C channels in and out and no biases, the costs differ:
#
# | | field | weights | non-linearities |
# | --- | --- | --- | --- |
# | one 7x7 convolution | 7x7 | 7·7·C·C = 49C² | 1 |
# | three 3x3 convolutions | 7x7 | 3·(3·3·C·C) = 27C² | 3 |
#
# The stack is 45% cheaper and computes a more complex function (three ReLUs in
# between). The price: three layers to train instead of one, and more
# activations to keep in memory for backpropagation. We build both with C = 64 on
# a 32x32x64 volume and measure.
#
# The diagram draws both along one axis. Follow the top unit down: each side
# reaches 7 input pixels, the stack through three ReLUs, the 7x7 through one.

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course_lib import diagrams, zoo
from course_lib.analysis import count_macs, layer_table, parameter_table
from course_lib.models.vgg import VGG16_BLOCKS, vgg16
from course_lib.receptive_field import receptive_field

CHANNELS = 64
diagrams.show(diagrams.stack_vs_large(channels=CHANNELS, kernel_size=3, layers=3))

# %%


def conv_stack(kernel_size, depth, channels=CHANNELS, size=32, name=None):
    """`depth` same-padded convolutions of `kernel_size`, C channels in and out, no biases."""
    layers = [
        keras.layers.Conv2D(channels, kernel_size, padding="same", use_bias=False, activation="relu")
        for _ in range(depth)
    ]
    return keras.Sequential([keras.Input((size, size, channels)), *layers], name=name)


stack_3x3 = conv_stack(3, depth=3, name="three_3x3")
single_7x7 = conv_stack(7, depth=1, name="one_7x7")

comparison = pd.DataFrame(
    {
        model.name: {
            "field": int(receptive_field(model)["field_rows"].iloc[-1]),
            "weights": model.count_params(),
            "multiply-adds": count_macs(model),
            "ReLUs": sum(layer.activation is keras.activations.relu for layer in model.layers),
        }
        for model in (stack_3x3, single_7x7)
    }
).T
comparison

# %% [markdown]
# **Check.** Both see a 7x7 patch; the stack has 27C² weights against 49C², and
# (with "same" padding, one weight is used once per output position) the same
# ratio of multiply-adds, 27/49 = 0.55; it has three non-linearities against one.

# %%
# NBVAL_CHECK_OUTPUT
C = CHANNELS
assert comparison.loc["three_3x3", "field"] == comparison.loc["one_7x7", "field"] == 7
assert comparison.loc["three_3x3", "weights"] == 27 * C**2
assert comparison.loc["one_7x7", "weights"] == 49 * C**2
assert comparison.loc["three_3x3", "multiply-adds"] == 32 * 32 * 27 * C**2
assert comparison.loc["one_7x7", "multiply-adds"] == 32 * 32 * 49 * C**2
assert (comparison.loc["three_3x3", "ReLUs"], comparison.loc["one_7x7", "ReLUs"]) == (3, 1)
ratio = comparison.loc["three_3x3", "weights"] / comparison.loc["one_7x7", "weights"]
assert np.isclose(ratio, 27 / 49)
print(f"weights: 27C^2 = {27 * C**2:,} vs 49C^2 = {49 * C**2:,} (C = {C}); ratio {ratio:.3f}")

# %% [markdown]
# ## 2. VGG16, built and checked against Keras
#
# VGG16 has 16 weight layers: 13 convolutions in five blocks (64, 128, 256, 512,
# 512 filters; 2, 2, 3, 3, 3 convolutions) and three dense layers (4096, 4096,
# 1000). At 224x224 the five poolings leave a 7x7x512 volume, which is flattened
# into the first dense layer.
#
# A block is a few lines of Keras: its 3x3 convolutions, each with a ReLU, then
# the pooling. Five of them, with VGG16's filters and counts, make the
# convolutional part of the network.

# %%
def vgg_block(x, convs, filters):
    """`convs` 3x3 convolutions ("same" padding, ReLU), then 2x2 max pooling of stride 2."""
    for _ in range(convs):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return keras.layers.MaxPooling2D(2, strides=2)(x)


inputs = keras.Input((32, 32, 3))
x = inputs
for filters, convs in VGG16_BLOCKS:  # ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
    x = vgg_block(x, convs, filters)
our_features = keras.Model(inputs, x)
library_features = vgg16(input_shape=(32, 32, 3), include_top=False)  # course_lib's version
our_features.set_weights(library_features.get_weights())  # the same weights, in the same order
images = np.random.default_rng(0).random((2, 32, 32, 3), dtype="float32")  # two random images
block_difference = np.abs(
    keras.ops.convert_to_numpy(our_features(images)) - keras.ops.convert_to_numpy(library_features(images))
).max()
print(f"output {our_features.output_shape}, {our_features.count_params():,} parameters")

# %% tags=["hide-input"]
# The asserts are the check; the printed difference may vary between machines.
assert our_features.output_shape == library_features.output_shape == (None, 1, 1, 512)
assert our_features.count_params() == library_features.count_params()
assert block_difference < 1e-4, block_difference
print("Check: our VGG block equals course_lib's: five of them give the convolutional part of vgg16() "
      f"(max difference {block_difference:.1g})")

# %% [markdown]
# `course_lib.models.vgg.vgg16` builds the whole network with Keras's layer
# names, so we can compare it with `keras.applications.VGG16` layer by layer
# (no weights are downloaded: `weights=None`).

# %%
ours = vgg16()
reference = keras.applications.VGG16(weights=None)

# Row by row: two columns of each model's `layer_table` (from `course_lib.analysis`).
columns = ["output_shape", "parameters"]
keras_rows = layer_table(reference)[columns].reset_index().add_suffix(" (Keras)")
side_by_side = pd.concat([layer_table(ours)[columns].reset_index(), keras_rows], axis=1).set_index("layer")
side_by_side

# %% [markdown]
# **Check.** Same layers, same output shapes, same parameters in every layer, and
# 138,357,544 in all.

# %%
# NBVAL_CHECK_OUTPUT
assert list(side_by_side.index) == list(side_by_side["layer (Keras)"])
assert (side_by_side["output_shape"] == side_by_side["output_shape (Keras)"]).all()
assert (side_by_side["parameters"] == side_by_side["parameters (Keras)"]).all()
assert ours.count_params() == reference.count_params() == 138_357_544
n_conv = sum(isinstance(layer, keras.layers.Conv2D) for layer in ours.layers)
n_dense = sum(isinstance(layer, keras.layers.Dense) for layer in ours.layers)
assert (n_conv, n_dense) == (13, 3)
assert all(layer.kernel_size == (3, 3) for layer in ours.layers if isinstance(layer, keras.layers.Conv2D))
print(f"{n_conv} conv + {n_dense} dense layers, {ours.count_params():,} parameters, as Keras's VGG16")

# %% [markdown]
# ## 3. Where the parameters and the multiply-adds sit
#
# `parameter_table` sums the parameters and the multiply-adds (one image, 224x224)
# of each block. A convolution's weights are few but used at every position; a
# dense layer's weights are many but each is used once. VGG16 is the extreme case
# of this contrast.

# %%
table = parameter_table(ours)
table.style.format(
    {"parameters": "{:,}", "trainable": "{:,}", "macs": "{:,}", "parameter_share": "{:.2%}", "macs_share": "{:.2%}"}
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, column, title in (
    (axes[0], "parameter_share", "Parameters"),
    (axes[1], "macs_share", "Multiply-adds per image"),
):
    shares = 100 * table[column]
    bars = ax.bar(table.index, shares, color=["tab:blue"] * 5 + ["tab:orange"] * 3)
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set(title=f"VGG16: {title.lower()} per block", xlabel="block", ylabel="share of the total (%)")
    ax.tick_params(axis="x", rotation=45)
fig.suptitle("Blue: convolution blocks; orange: dense layers (224x224 input, 1000 classes)")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Check.** The first dense layer, fc1 (7·7·512 inputs times 4096 units), holds
# the largest share of the parameters, about three quarters; the three dense
# layers together hold almost 90%. The multiply-adds are the other way round: the
# thirteen convolutions do more than 99% of them, 15.47 billion per image in all.

# %%
# NBVAL_CHECK_OUTPUT
conv_blocks = [f"block{i}" for i in range(1, 6)]
dense_layers = ["fc1", "fc2", "predictions"]
assert table["parameter_share"].idxmax() == "fc1"
assert table.loc["fc1", "parameters"] == (7 * 7 * 512 + 1) * 4096
assert 0.70 < table.loc["fc1", "parameter_share"] < 0.80
assert table.loc[dense_layers, "parameter_share"].sum() > 0.85
assert table.loc[conv_blocks, "macs_share"].sum() > 0.99
assert round(table["macs"].sum() / 1e9, 2) == 15.47
print(
    f"fc1: {table.loc['fc1', 'parameter_share']:.1%} of the parameters; dense layers: "
    f"{table.loc[dense_layers, 'parameter_share'].sum():.1%} of the parameters, "
    f"{table.loc[dense_layers, 'macs_share'].sum():.2%} of the multiply-adds; "
    f"convolutions: {table.loc[conv_blocks, 'macs_share'].sum():.2%} of {table['macs'].sum() / 1e9:.2f} G"
)

# %% [markdown]
# Two consequences shaped the networks that followed. The dense head is where
# VGG16 stores most of its memory, so later networks (NiN, GoogLeNet, ResNet)
# replaced it with global average pooling (notebook 16). And the computation sits
# in blocks 3 and 4, where the maps are still large (56x56, 28x28) and already
# deep (256, 512 filters): this is where later networks put their savings, with
# 1x1 bottlenecks (notebook 17) and separable convolutions (notebook 19).
#
# ### How deep? The configurations A to E
#
# VGG16 is one of five networks of the paper, which is a study of depth
# (Simonyan and Zisserman, 2015, Table 1). All five share the five blocks, the
# 2x2 poolings and the three dense layers. They differ in the convolutions per
# block:
#
# - **A** has 8 (11 weight layers);
# - **B** has 10 (13 layers);
# - **C** has 13, three of them 1x1 (16 layers);
# - **D**, which is VGG16, has 13 (16 layers);
# - **E**, VGG19, has 16 (19 layers).
#
# We build all five at 224x224 and count their
# parameters and multiply-adds. The dense head dominates the parameters, so the
# depth barely changes them (Table 2 of the paper: 133, 133, 134, 138 and 144
# million), while the multiply-adds grow with every added convolution.

# %%
# Each block: a list of kernel sizes, one per convolution (Table 1 of the paper).
VGG_CONFIGURATIONS = {
    "A": ([3], [3], [3, 3], [3, 3], [3, 3]),
    "B": ([3, 3], [3, 3], [3, 3], [3, 3], [3, 3]),
    "C": ([3, 3], [3, 3], [3, 3, 1], [3, 3, 1], [3, 3, 1]),
    "D": ([3, 3], [3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]),
    "E": ([3, 3], [3, 3], [3, 3, 3, 3], [3, 3, 3, 3], [3, 3, 3, 3]),
}
PAPER_TABLE_2 = {"A": 133, "B": 133, "C": 134, "D": 138, "E": 144}  # millions of parameters


def vgg_configuration(blocks, filters=(64, 128, 256, 512, 512)):
    layers = [keras.Input((224, 224, 3))]
    for kernels, width in zip(blocks, filters):
        layers += [keras.layers.Conv2D(width, k, padding="same", activation="relu") for k in kernels]
        layers.append(keras.layers.MaxPooling2D(2))
    layers += [keras.layers.Flatten(), keras.layers.Dense(4096, activation="relu"),
               keras.layers.Dense(4096, activation="relu"), keras.layers.Dense(1000, activation="softmax")]
    return keras.Sequential(layers)


depth_rows = {}
for name, blocks in VGG_CONFIGURATIONS.items():
    model = vgg_configuration(blocks)
    depth_rows[name] = {
        "weight layers": sum(len(kernels) for kernels in blocks) + 3,
        "parameters (M)": model.count_params() / 1e6,
        "paper, Table 2 (M)": PAPER_TABLE_2[name],
        "multiply-adds (G)": count_macs(model) / 1e9,
    }
    del model
    keras.backend.clear_session()
depth_study = pd.DataFrame(depth_rows).T.astype({"weight layers": int, "paper, Table 2 (M)": int})
depth_study.round(2)

# %% [markdown]
# **Check.** The weight layers are 11, 13, 16, 16 and 19; each count rounds to
# the paper's Table 2; configuration D is the VGG16 built above; and from A to
# E the parameters grow by less than a tenth while the multiply-adds more than
# double.

# %%
# NBVAL_CHECK_OUTPUT
assert depth_study["weight layers"].tolist() == [11, 13, 16, 16, 19]
assert (depth_study["parameters (M)"].round() == depth_study["paper, Table 2 (M)"]).all()
assert depth_study.loc["D", "parameters (M)"] * 1e6 == ours.count_params()
assert depth_study.loc["E", "parameters (M)"] / depth_study.loc["A", "parameters (M)"] < 1.1
assert depth_study.loc["E", "multiply-adds (G)"] / depth_study.loc["A", "multiply-adds (G)"] > 2
print(depth_study[["weight layers", "paper, Table 2 (M)"]].astype(int).to_string())

# %% [markdown]
# What the paper found (its Section 4.1): the ImageNet error fell as the depth
# grew from A to E, and saturated at 19 layers. C, with its three extra 1x1
# convolutions, beat B (more non-linearities help) but lost to D at the same
# depth: the extra layers need 3x3 windows, which see spatial context, not 1x1
# ones. The deepest networks were hard to train from scratch, so the authors
# initialised them from the trained A (section 4 below comes back to this).
#
# %% [markdown]
# ## 4. VGG16 on CIFAR-10
#
# At 32x32, VGG16's five poolings leave a 1x1x512 volume, so its thirteen
# convolutions run unchanged; what changes is the head (two dense layers of 256
# units instead of 4096, with dropout) and the width. `vgg16_cifar` builds it
# with BatchNormalization after every convolution (torchvision's `vgg16_bn`):
# the VGG authors could not train their deepest configurations from a random
# start and initialised them from a trained shallower one (VGG11); with
# BatchNormalization, one recipe trains the thirteen layers from scratch.
#
# It takes many steps, though: the recorded run below needed full epochs over
# 45,000 images, tens of minutes on two CPU cores (the cell prints its time),
# more than a notebook affords. How a short run on a small subset fares is
# exercise 6. So here we read the
# recorded run of the half-width network (`vgg16_cifar(width=0.5)`), trained
# with the course's recipe on all 45,000 training images (`course_lib.zoo`;
# `python scripts/train_zoo.py vgg16` re-creates it). Its first point is the
# end of the first epoch, 352 steps of 128 images.

# %%
record = zoo.record("vgg16")
history = zoo.history("vgg16")
fig, ax = plt.subplots(figsize=(5.5, 3.6))
zoo.plot_history("vgg16", ax=ax)
plt.show()
print(zoo.describe("vgg16"))
print(f"validation accuracy after epoch 1: {history['val_accuracy'].iloc[0]:.3f}; "
      f"after the last: {history['val_accuracy'].iloc[-1]:.3f}")

# %% [markdown]
# **Check.** The recorded VGG16 passes 80 % on the 10,000 test images.

# %%
assert record["test_accuracy"] >= 0.80, record["test_accuracy"]

# %% [markdown]
# ## Summary
#
# - VGG uses only 3x3 convolutions (stride 1, "same") and 2x2 max pooling; a
#   larger window is a stack of 3x3 ones.
# - Three 3x3 convolutions see the same 7x7 field as one 7x7 convolution, with
#   27C² instead of 49C² weights and three ReLUs instead of one.
# - `vgg16()` equals `keras.applications.VGG16(weights=None)` layer by layer:
#   138,357,544 parameters.
# - About three quarters of the parameters sit in fc1 and almost 90% in the dense
#   head, while the convolutions do more than 99% of the 15.47 G multiply-adds.
# - At 32x32 the thirteen convolutions run unchanged; with BatchNormalization
#   and the course's recipe, VGG16 trains from scratch on CIFAR-10 (the recorded
#   run is in `course_lib.zoo`).
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# Solutions: [solutions/part3.md](solutions/part3.md) (the counts worked out, what to
# compare in the experiments); try each exercise first.
#
# 1. ★ **Two 3x3 or one 5x5?** Repeat section 1 for a 5x5 field: which ratio of
#    weights do you expect, and what does `conv_stack` give? *Hint:* 18C² vs 25C².
# 2. ★★ **VGG19.** Build VGG19 (blocks of 2, 2, 4, 4, 4 convolutions) and check it
#    against `keras.applications.VGG19(weights=None)`. *Hint:* copy
#    `VGG16_BLOCKS` from `course_lib/models/vgg.py` and change the counts.
# 3. ★ **Without the dense head.** How many parameters does
#    `vgg16(include_top=False, pooling="avg")` followed by `Dense(1000)` have?
#    Which share of VGG16's does it keep? *Hint:* `parameter_table` on the new
#    model.
# 4. ★ **Smaller inputs.** Build `vgg16(input_shape=(32, 32, 3), classes=10)`. How do
#    the parameter and multiply-add shares change, and why? *Hint:* the flattened
#    volume is now 1x1x512.
# 5. ★ **The receptive field of VGG16.** Use `receptive_field(vgg16())` to find the
#    field of a unit of `block5_conv3`. Is it larger than the 224x224 image?
#    *Hint:* look at the `field_rows` column.
# 6. ★★★ **A short run from scratch.** Train `vgg16_cifar(width=0.25)` on 200
#    CIFAR-10 images per class with `experiment.run` and
#    `experiment.Recipe(epochs=E, batch_size=64)` for E = 5, 10 and 20. After how
#    many steps does the test accuracy leave chance level? Compare with
#    `resnet_cifar(20)` on the same budget. *Hint:* steps = E x images / 64.
