# %% [markdown]
# # 19 · MobileNet and depthwise separable convolution
#
# A standard convolution filters and mixes channels in one step. MobileNet
# (Howard et al., 2017) splits the step in two: a *depthwise* convolution filters
# each input channel on its own, then a *pointwise* (1x1) convolution mixes the
# channels. The split costs a fraction of the parameters and multiply-adds, which
# is what lets MobileNet run on a phone.
#
# **Learning objectives.** After this notebook you can
#
# 1. describe the depthwise and the pointwise steps of a depthwise separable
#    convolution and build one in Keras;
# 2. count its parameters, $K \cdot H \cdot W + N_F \cdot K$, and its
#    multiply-adds, and check both against Keras;
# 3. derive the cost ratio against a standard convolution,
#    $\frac{1}{N_F} + \frac{1}{H W}$, and say when it is small;
# 4. measure that a separable layer is faster on a CPU, and say why the speed-up
#    is often smaller than the ratio of multiply-adds;
# 5. check that `course_lib`'s MobileNet equals `keras.applications.MobileNet`:
#    4,253,864 parameters, about 569 M multiply-adds, the same shapes block by
#    block;
# 6. train MobileNet on CIFAR-10 and read its recorded full run.

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
# Section 4 times two layers on random data; section 6 trains a small MobileNet
# on a CIFAR-10 subset for a few epochs. These CPU settings keep each to a few
# seconds; on a GPU, the larger settings in the comments fill the device better.
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
TIMING_BATCH = 8  # images per timed call (GPU: 64)
TIMING_STEPS = 15  # timed calls per layer; the median is kept (GPU: 50)
TIMING_SHAPE = (28, 28, 128)  # input of the timed layers: rows, cols, channels K
TIMING_FILTERS = 128  # output channels N_F of the timed layers
TRAIN_PER_CLASS = 200  # CIFAR-10 training images per class in section 6 (GPU: None, all 4,500)
EPOCHS = 8  # (GPU: 30)

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course_lib import diagrams, experiment, zoo
from course_lib.analysis import count_macs, layer_macs, measure_throughput
from course_lib.layers import DepthwiseSeparableConv
from course_lib.models.mobilenet import MOBILENET_BLOCKS, mobilenet, mobilenet_cifar
from course_lib.viz import plot_learning_curves

# %% [markdown]
# ## 1. Two steps instead of one
#
# Take an input volume of depth $K$ and a kernel of $H \times W$ (the lecture's
# notation; Howard et al. write $M$ and $D_K$). A **standard convolution** with
# $N_F$ filters has $N_F$ kernels of $H \times W \times K$: each output map looks
# at every input channel, so filtering (in space) and mixing (across channels)
# happen together.
#
# A **depthwise separable convolution** does them one after the other:
#
# - the **depthwise** convolution has one $H \times W$ kernel *per input
#   channel*: channel $k$ is filtered by kernel $k$ alone, and the output has $K$
#   maps again (`keras.layers.DepthwiseConv2D`);
# - the **pointwise** convolution is a $1 \times 1$ convolution with $N_F$
#   filters of depth $K$: it mixes the $K$ filtered maps into $N_F$ outputs at
#   every position (`keras.layers.Conv2D(N_F, 1)`).
#
# The diagram draws both steps for the example below: an input of 16x16 with
# $K = 8$ channels and $N_F = 12$ filters. Compare its weights, at the bottom,
# with those of a standard 3x3 convolution.

# %%
diagrams.show(diagrams.separable_conv(in_channels=8, filters=12, kernel_size=3, input_size=16))

# %% [markdown]
# MobileNet puts BatchNormalization and ReLU6 after each of the two steps. As a
# student would write it, the block is a function that adds six layers to a
# Keras graph.

# %%
def separable_block(x, filters):
    """MobileNet's block: depthwise 3x3, BN, ReLU6, then pointwise 1x1, BN, ReLU6."""
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)  # one 3x3 filter per channel
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.Conv2D(filters, 1, use_bias=False)(x)  # mixes the channels at each position
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.ReLU(6.0)(x)

# %% [markdown]
# We give course_lib's block random weights and normalisation statistics, copy
# them into ours, and apply both to the same random input.

# %%
rng = np.random.default_rng(0)
x = rng.normal(size=(2, 16, 16, 8)).astype("float32")

inputs = keras.Input((16, 16, 8))
our_block = keras.Model(inputs, separable_block(inputs, 12))
library_block = DepthwiseSeparableConv(12)  # course_lib's version
library_block.build(x.shape)
for weight in library_block.weights:  # random values; a variance must be positive
    value = rng.normal(size=weight.shape)
    weight.assign(np.abs(value) + 0.5 if "variance" in weight.name else value)
our_block.set_weights(library_block.get_weights())  # the same weights, in the same order
y_our_block = keras.ops.convert_to_numpy(our_block(x))
block_difference = np.abs(y_our_block - keras.ops.convert_to_numpy(library_block(x))).max()
print(f"output {y_our_block.shape}, {our_block.count_params()} parameters")

# %% tags=["hide-input"]
# The asserts are the check; the printed difference may vary between machines.
assert our_block.count_params() == library_block.count_params() == 8 * 9 + 8 * 12 + 4 * (8 + 12)
assert y_our_block.shape == (2, 16, 16, 12)
assert block_difference < 1e-5, block_difference
print(f"Check: our separable block equals course_lib's DepthwiseSeparableConv (max difference {block_difference:.1g})")

# %% [markdown]
# `course_lib.layers.DepthwiseSeparableConv` is this block as one layer;
# section 5 builds MobileNet from it. Keras has the two convolutions as one
# layer too, `keras.layers.SeparableConv2D`, without the normalisation and
# activation in the middle. Without them, course_lib's block computes the same
# function as Keras's layer with the same weights:

# %%
ours = DepthwiseSeparableConv(12, kernel_size=3, use_batch_norm=False, activation=None)
reference = keras.layers.SeparableConv2D(12, 3, padding="same")
y_ours = keras.ops.convert_to_numpy(ours(x))
reference.build(x.shape)
depthwise_kernel = ours.chain[0].get_weights()[0]
pointwise_kernel, pointwise_bias = ours.chain[1].get_weights()
reference.set_weights([depthwise_kernel, pointwise_kernel, pointwise_bias])
y_reference = keras.ops.convert_to_numpy(reference(x))

print("depthwise kernel", depthwise_kernel.shape, "| pointwise kernel", pointwise_kernel.shape)
print(f"largest difference with SeparableConv2D: {np.abs(y_ours - y_reference).max():.1e}")

# %% [markdown]
# The depthwise kernel has shape $(3, 3, 8, 1)$, one $3 \times 3$ filter per input
# channel; the pointwise kernel $(1, 1, 8, 12)$ is an ordinary $1 \times 1$
# convolution.
#
# **Check.** The two layers agree to float32 precision.

# %%
# NBVAL_CHECK_OUTPUT
assert depthwise_kernel.shape == (3, 3, 8, 1) and pointwise_kernel.shape == (1, 1, 8, 12)
np.testing.assert_allclose(y_ours, y_reference, rtol=1e-5, atol=1e-5)
print("DepthwiseSeparableConv == SeparableConv2D with the same weights")

# %% [markdown]
# ## 2. Parameters: $K \cdot H \cdot W + N_F \cdot K$
#
# Without biases, the standard convolution has $H \cdot W \cdot K \cdot N_F$
# weights. The depthwise step has $K$ kernels of $H \times W$, so $K \cdot H \cdot W$
# weights, and the pointwise step $N_F$ kernels of $1 \times 1 \times K$, so
# $N_F \cdot K$. We compare the formulas with Keras's own counts for a layer of
# MobileNet's middle: $K = N_F = 512$, $3 \times 3$.

# %%
def standard_parameters(K, H, W, N_F):
    """Weights of a standard convolution (no bias)."""
    return H * W * K * N_F


def separable_parameters(K, H, W, N_F):
    """Weights of a depthwise separable convolution (no bias)."""
    return K * H * W + N_F * K


K, H, W, N_F = 512, 3, 3, 512
standard_layer = keras.layers.Conv2D(N_F, (H, W), padding="same", use_bias=False)
separable_layer = keras.layers.SeparableConv2D(N_F, (H, W), padding="same", use_bias=False)
block = DepthwiseSeparableConv(N_F, kernel_size=H, use_batch_norm=False, activation=None)
for layer in (standard_layer, separable_layer, block):
    layer.build((None, 14, 14, K))

counts = pd.DataFrame(
    {
        "formula": [standard_parameters(K, H, W, N_F), separable_parameters(K, H, W, N_F)],
        "Keras count_params": [standard_layer.count_params(), separable_layer.count_params()],
    },
    index=["Conv2D", "SeparableConv2D"],
)
counts

# %% [markdown]
# `DepthwiseSeparableConv(use_batch_norm=False)` adds the pointwise bias, $N_F$
# more parameters (with BatchNormalization it has no bias but $4K + 4N_F$
# normalisation parameters, half of them trainable).
#
# **Check.** The formulas equal Keras's counts, and the separable layer needs
# about 8.8 times fewer weights here.

# %%
# NBVAL_CHECK_OUTPUT
assert (counts["formula"] == counts["Keras count_params"]).all()
assert block.count_params() == separable_parameters(K, H, W, N_F) + N_F
parameter_saving = counts.loc["Conv2D", "formula"] / counts.loc["SeparableConv2D", "formula"]
assert round(parameter_saving, 1) == 8.8
print(f"standard / separable parameters: {parameter_saving:.2f}")

# %% [markdown]
# ## 3. Multiply-adds and the cost ratio
#
# Every weight of a convolution is used once per output position. On an output of
# $H' \times W'$ positions, the standard convolution costs
# $H' W' \cdot H W K N_F$ multiply-adds and the separable one
# $H' W' \cdot (H W K + K N_F)$. Their ratio does not depend on the output size:
#
# $$\frac{H' W' (H W K + K N_F)}{H' W' H W K N_F} = \frac{1}{N_F} + \frac{1}{H W}.$$
#
# With $3 \times 3$ kernels and hundreds of filters the second term dominates:
# the separable layer costs a little more than $1/9$ of the standard one.
# `course_lib.analysis.layer_macs` counts the multiply-adds of a built Keras layer;
# we check the formulas and the ratio against it for several numbers of filters.

# %%
def standard_macs(K, H, W, N_F, positions):
    return positions * H * W * K * N_F


def separable_macs(K, H, W, N_F, positions):
    return positions * (H * W * K + K * N_F)


rows = []
for n_filters in (16, 32, 64, 128, 256, 512, 1024):
    conv = keras.layers.Conv2D(n_filters, 3, padding="same", use_bias=False)
    sep = keras.layers.SeparableConv2D(n_filters, 3, padding="same", use_bias=False)
    conv.build((None, 14, 14, 512))
    sep.build((None, 14, 14, 512))
    rows.append(
        {
            "N_F": n_filters,
            "standard (formula)": standard_macs(512, 3, 3, n_filters, 14 * 14),
            "standard (layer_macs)": layer_macs(conv),
            "separable (formula)": separable_macs(512, 3, 3, n_filters, 14 * 14),
            "separable (layer_macs)": layer_macs(sep),
            "1/N_F + 1/(H W)": 1 / n_filters + 1 / 9,
        }
    )
macs = pd.DataFrame(rows).set_index("N_F")
macs["measured ratio"] = macs["separable (layer_macs)"] / macs["standard (layer_macs)"]
macs

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.4))
ax.semilogx(macs.index, macs["measured ratio"], "o-", base=2, label="separable / standard (layer_macs)")
ax.axhline(1 / 9, color="gray", linestyle="--", label="1/(H W) = 1/9")
ax.set_xlabel("number of filters $N_F$")
ax.set_ylabel("multiply-adds, separable / standard")
ax.set_title("Cost of a 3x3 depthwise separable convolution (K = 512)")
ax.legend()
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# **Check.** Both formulas equal `layer_macs` for every $N_F$, the ratio equals
# $\frac{1}{N_F} + \frac{1}{HW}$, and it falls towards $1/9$ as $N_F$ grows.

# %%
# NBVAL_CHECK_OUTPUT
assert (macs["standard (formula)"] == macs["standard (layer_macs)"]).all()
assert (macs["separable (formula)"] == macs["separable (layer_macs)"]).all()
np.testing.assert_allclose(macs["measured ratio"], macs["1/N_F + 1/(H W)"], rtol=1e-12)
assert macs["measured ratio"].is_monotonic_decreasing and macs["measured ratio"].min() > 1 / 9
print(macs["measured ratio"].round(4).to_string())

# %% [markdown]
# ## 4. Is it faster on a CPU?
#
# Fewer multiply-adds do not translate one to one into time. A standard
# convolution is one large matrix product, which a CPU runs close to its peak. A
# depthwise convolution does very little arithmetic per value it reads, so it is
# limited by memory traffic, and the separable layer needs two passes over the
# data instead of one. We time one layer of each kind, same input and output
# shape, with `measure_throughput` (median of several calls after warm-up).

# %%
timing_models = {
    "Conv2D": keras.Sequential(
        [keras.Input(TIMING_SHAPE), keras.layers.Conv2D(TIMING_FILTERS, 3, padding="same")]
    ),
    "SeparableConv2D": keras.Sequential(
        [keras.Input(TIMING_SHAPE), keras.layers.SeparableConv2D(TIMING_FILTERS, 3, padding="same")]
    ),
}
timings = pd.DataFrame(
    {
        name: {
            "MACs per image": count_macs(model),
            "images/s": measure_throughput(
                model, batch_size=TIMING_BATCH, steps=TIMING_STEPS, warmup=3, training=False
            )["inference"],
        }
        for name, model in timing_models.items()
    }
).T
speedup = timings.loc["SeparableConv2D", "images/s"] / timings.loc["Conv2D", "images/s"]
mac_ratio = timings.loc["Conv2D", "MACs per image"] / timings.loc["SeparableConv2D", "MACs per image"]
print(timings.round(0))
print(f"fewer multiply-adds: {mac_ratio:.1f}x | measured speed-up: {speedup:.1f}x")

# %% [markdown]
# On the machine that ran this notebook the separable layer was faster; the
# line above compares its speed-up with its saving in multiply-adds. Both timings
# vary from run to run on a shared machine (run this cell twice and compare),
# and from machine to machine: on GPUs and phones the depthwise step is often the
# bottleneck, and a separable network gains less than its multiply-adds promise.
#
# **Check.** The layer with the multiply-adds of the formula is the standard one,
# and the separable layer processes more images per second.

# %%
assert timings.loc["Conv2D", "MACs per image"] == standard_macs(
    TIMING_SHAPE[2], 3, 3, TIMING_FILTERS, TIMING_SHAPE[0] * TIMING_SHAPE[1]
)
assert speedup > 1.0, speedup

# %% [markdown]
# ## 5. MobileNet
#
# MobileNet is a standard $3 \times 3$ convolution with stride 2 and 32 filters
# (224 → 112), followed by 13 depthwise separable blocks. Four of them halve the
# resolution with a stride of 2 in the depthwise step (112 → 56 → 28 → 14 → 7).
# Meanwhile the pointwise steps double the depth from 64 to 1024.
#
# (Table 1 of the
# paper marks a fifth, the depthwise step of the 13th block, "s2", while its
# own input and output sizes stay 7x7: a typo; Keras's MobileNet and ours use
# stride 1 there, as the sizes require.)
#
# Global average pooling and a classifier close it.
# `course_lib.models.mobilenet.mobilenet` builds it from
# `DepthwiseSeparableConv` blocks; Keras's `keras.applications.MobileNet` builds
# the same network from individual layers. We compare parameters, multiply-adds
# and the output shape of every block.

# %%
ours = mobilenet()
reference = keras.applications.MobileNet(weights=None)
block_names = [f"conv_dw_{i}" for i in range(1, 14)]
blocks = pd.DataFrame(
    {
        "course_lib block": block_names,
        "course_lib output": [tuple(ours.get_layer(n).output.shape[1:]) for n in block_names],
        "Keras layer": [f"conv_pw_{i}_relu" for i in range(1, 14)],
        "Keras output": [
            tuple(reference.get_layer(f"conv_pw_{i}_relu").output.shape[1:]) for i in range(1, 14)
        ],
    }
)
mobilenet_macs = count_macs(ours)
summary = pd.DataFrame(
    {
        "parameters": [ours.count_params(), reference.count_params()],
        "multiply-adds (M)": [count_macs(ours) / 1e6, count_macs(reference) / 1e6],
    },
    index=["course_lib mobilenet()", "keras.applications.MobileNet"],
)
summary

# %%
# NBVAL_CHECK_OUTPUT
halving_blocks = [i for i, (_, strides) in enumerate(MOBILENET_BLOCKS, start=1) if strides == 2]
assert halving_blocks == [2, 4, 6, 12]
print("blocks with stride 2:", halving_blocks)
print(blocks.to_string(index=False))

# %% [markdown]
# Where do the parameters and the multiply-adds sit? Howard et al. (Table 2) find
# about 95% of the multiply-adds and 75% of the parameters in the $1 \times 1$
# convolutions, and almost all the rest of the parameters in the classifier. We
# recompute these shares layer by layer on Keras's flat model (the same network,
# as just checked), counting the weights only (no BatchNormalization), as the
# paper does.

# %%
def layer_kind(layer):
    if layer.name == "conv_preds":
        return "fully connected (1x1 classifier)"
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return "depthwise 3x3"
    if isinstance(layer, keras.layers.Conv2D):
        return "standard 1x1" if layer.kernel_size == (1, 1) else "standard 3x3"
    return None


shares = pd.DataFrame(
    [
        {"kind": layer_kind(layer), "parameters": layer.count_params(), "MACs": layer_macs(layer)}
        for layer in reference.layers
        if layer_kind(layer)
    ]
).groupby("kind").sum()
shares = 100 * shares / shares.sum()
shares.columns = ["% of parameters", "% of multiply-adds"]
shares.round(2)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for ax, column in zip(axes, shares.columns):
    shares[column].plot.barh(ax=ax, color="tab:blue")
    ax.set_xlabel(f"share of the {column.removeprefix('% of ')} (%)")
    ax.set_ylabel("")
    ax.set_title(f"MobileNet 1.0, 224x224: {column}")
    ax.grid(axis="x", alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# One entry does not match the paper: the first, standard $3 \times 3$
# convolution (stride 2, 32 filters on the 3 colour channels) has
# $112 \cdot 112 \cdot 3 \cdot 3 \cdot 3 \cdot 32 \approx 10.8$ M multiply-adds,
# 1.91% of the total, where Table 2 prints 1.19%, the same digits in another
# order: most likely a typo in the paper.
#
# **Check.** Our MobileNet has exactly the parameters and multiply-adds of
# Keras's (4,253,864 and about 569 M at 224x224), and its 13 blocks give the same
# shapes. Every other share of Table 2 (94.86% of the multiply-adds and 74.59% of
# the parameters in the $1 \times 1$ convolutions, 3.06% and 1.06% in the
# depthwise ones, 0.18% and 24.33% in the classifier, 0.02% of the parameters in
# the first convolution) agrees with ours to within 0.05 percentage points.

# %%
# NBVAL_CHECK_OUTPUT
assert ours.count_params() == reference.count_params() == 4_253_864
assert count_macs(ours) == count_macs(reference)
assert round(mobilenet_macs / 1e6) == 569
assert (blocks["course_lib output"] == blocks["Keras output"]).all()
assert blocks["course_lib output"].iloc[-1] == (7, 7, 1024)
paper_table_2 = pd.DataFrame(
    {"% of parameters": [74.59, 1.06, 0.02, 24.33], "% of multiply-adds": [94.86, 3.06, 1.19, 0.18]},
    index=["standard 1x1", "depthwise 3x3", "standard 3x3", "fully connected (1x1 classifier)"],
)
difference = (shares.loc[paper_table_2.index] - paper_table_2).abs()
first_conv_share = 100 * standard_macs(3, 3, 3, 32, 112 * 112) / mobilenet_macs
assert np.isclose(shares.loc["standard 3x3", "% of multiply-adds"], first_conv_share)
assert round(first_conv_share, 2) == 1.91
difference.loc["standard 3x3", "% of multiply-adds"] = np.nan  # the paper's typo, see above
assert np.nanmax(difference.to_numpy()) < 0.05, difference
print(f"parameters: {ours.count_params():,} | multiply-adds: {mobilenet_macs / 1e6:.0f} M")
print(f"first convolution: {first_conv_share:.2f}% of the multiply-adds (paper: 1.19%)")
print(f"largest other difference with Table 2: {difference.max().max():.2f} percentage points")

# %% [markdown]
# ## 6. MobileNet on CIFAR-10
#
# For 32x32 images, `mobilenet_cifar` gives the first convolution a stride of 1
# (as CIFAR versions of MobileNet do) and keeps the 13 blocks: the four halvings
# take 32x32 to 2x2. We train a quarter-width one on a subset for a few epochs,
# then read the recorded run of a half-width one (`mobilenet_cifar(alpha=0.5)`),
# trained with the course's recipe on all 45,000 training images
# (`course_lib.zoo`; `python scripts/train_zoo.py mobilenet` re-creates it).

# %%
splits = experiment.load_splits("cifar10", validation_size=1000, train_per_class=TRAIN_PER_CLASS,
                                test_per_class=100)
live = experiment.run(lambda: mobilenet_cifar(alpha=0.25), splits, experiment.Recipe(epochs=EPOCHS, batch_size=64),
                      seeds=(0,), name="mobilenet_cifar(alpha=0.25)")
fig, ax = plt.subplots(figsize=(5.5, 3.6))
plot_learning_curves(live.histories, ax=ax,
                     title=f"live: alpha 0.25, {len(splits.train[0]):,} images, {EPOCHS} epochs")
fig.tight_layout()
plt.show()
print(f"live: test accuracy {live.scores['test_accuracy'].iloc[0]:.3f} on {len(splits.test[0]):,} images")

# %%
record = zoo.record("mobilenet")
fig, ax = plt.subplots(figsize=(5.5, 3.6))
zoo.plot_history("mobilenet", ax=ax)
plt.show()
print(zoo.describe("mobilenet"))
recorded = zoo.records()
cheapest = recorded["multiply_adds"].idxmin()
print(f"fewest multiply-adds of the {len(recorded)} recorded models: {recorded.loc[cheapest, 'architecture']}, "
      f"{recorded.loc[cheapest, 'multiply_adds'] / 1e6:.1f} M per image")

# %% [markdown]
# The live run is a first-epochs demonstration. It shows that the network
# trains, still far below 50 % and climbing, and it decides nothing about
# MobileNet. Its validation accuracy can sit near chance for the first epochs
# before it rises; we did not measure why. How well MobileNet does is what the
# recorded run, trained to the end, tells.
#
# **Check.** The short live run is well above chance (10 %), and the recorded
# half-width MobileNet passes 80 % on the 10,000 test images.

# %%
assert live.scores["test_accuracy"].iloc[0] > 0.3, live.scores
assert record["test_accuracy"] >= 0.80, record["test_accuracy"]

# %% [markdown]
# ## Summary
#
# - A depthwise separable convolution filters each input channel with its own
#   kernel (depthwise), then mixes the channels with a $1 \times 1$ convolution
#   (pointwise). Keras has it as `SeparableConv2D`; MobileNet adds
#   BatchNormalization and ReLU6 after each step (`DepthwiseSeparableConv`).
# - It has $K H W + N_F K$ weights instead of $H W K N_F$, and costs
#   $\frac{1}{N_F} + \frac{1}{H W}$ of a standard convolution's multiply-adds:
#   a little more than $1/9$ for $3 \times 3$ kernels.
# - On a CPU it is faster, though usually by less than the ratio of
#   multiply-adds: the depthwise step does little arithmetic per value read
#   from memory.
# - MobileNet (4,253,864 parameters, about 569 M multiply-adds at 224x224) spends
#   almost all its compute in the $1 \times 1$ convolutions, and a quarter of its
#   parameters in the classifier.
# - With a stride-1 first convolution it takes 32x32 images; the recorded
#   half-width MobileNet passes 80 % on CIFAR-10 (notebook 21 sets it beside the
#   other architectures, accuracy against multiply-adds).
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# Solutions: [solutions/part3.md](solutions/part3.md) (the counts worked out, what to
# compare in the experiments); try each exercise first.
#
# 1. ★ **Width multiplier.** Build `mobilenet(alpha=0.5)` and `mobilenet(alpha=0.25)`.
#    By what factor do the parameters and the multiply-adds shrink, and why is it
#    close to $\alpha^2$? *Hint:* both terms of the cost are products of two
#    depths.
# 2. ★ **Resolution multiplier.** Count the multiply-adds of `mobilenet()` at
#    160x160 and at 128x128. How do they scale, and do the parameters change?
#    *Hint:* `mobilenet(input_shape=(160, 160, 3))`; the cost is proportional
#    to $H' W'$.
# 3. ★ **Depth multiplier.** What does `DepthwiseSeparableConv(64, depth_multiplier=2)`
#    add to the parameter count, and to the multiply-adds? *Hint:* the depthwise
#    step then outputs $2K$ maps, and the pointwise step reads all of them.
# 4. ★★ **Where the speed goes.** Repeat the timing of section 4 with 512 input and
#    output channels on a 14x14 input. Does the measured speed-up get closer to
#    the ratio of multiply-adds? *Hint:* change the parameters cell; larger depths
#    give the pointwise matrix product more work per byte.
# 5. ★ **Separable 5x5.** For $N_F = 256$, compare the cost ratio of a $5 \times 5$
#    separable convolution with a $3 \times 3$ one. *Hint:* only the second term
#    of $\frac{1}{N_F} + \frac{1}{HW}$ changes.
