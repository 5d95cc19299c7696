# %% [markdown]
# # 19 · Wide ResNet, ResNeXt and DenseNet
#
# After ResNet, three ideas changed *how* residual networks grow. Wide ResNets
# (Zagoruyko and Komodakis, 2016) make the blocks wider instead of the network
# deeper. ResNeXt (Xie et al., 2017) splits a block into many thin paths of the
# same shape, its *cardinality*. DenseNet (Huang et al., 2017) connects every
# layer of a block to every later one, so that each layer only adds a few new
# feature maps, its *growth rate*.
#
# **Learning objectives.** After this notebook you can
#
# 1. say how the widening factor $k$ and the depth change the parameters of a
#    Wide ResNet, and check WRN-28-10's 36.5 M parameters;
# 2. show that a grouped convolution computes $C$ parallel paths of the same
#    topology, numerically, and count ResNeXt-50 (32x4d);
# 3. follow the depth of the feature maps through a dense block, with its growth
#    rate, and count DenseNet-121;
# 4. train small variants of the three with the same budget and compare their
#    accuracy, parameters, multiply-adds and training time.

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
# Section 4 trains three small networks on a Fashion-MNIST subset; these CPU
# settings keep it to about a minute. On a GPU, use the larger settings in the comments
# (and wider variants: they are where these architectures shine).

# %%
PER_CLASS = 100  # Fashion-MNIST training images per class (GPU: 6000, all of them)
TEST_PER_CLASS = 100  # test images per class (GPU: 1000, all of them)
EPOCHS = 3  # (GPU: 30)
BATCH_SIZE = 8  # small batches give more steps: see section 4 (GPU: 128)

# %%
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course_lib import data
from course_lib.analysis import count_macs
from course_lib.layers import DenseBlock, TransitionLayer
from course_lib.models.densenet import densenet, densenet121
from course_lib.models.resnet import wide_resnet
from course_lib.models.resnext import resnext, resnext50_32x4d


def trainable_parameters(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


# %% [markdown]
# ## 1. Wide ResNet: width instead of depth
#
# A Wide ResNet WRN-$d$-$k$ for CIFAR has a 3x3 convolution, three groups of
# $(d - 4)/6$ pre-activation residual blocks with $16k$, $32k$ and $64k$ filters,
# and a classifier. $k = 1$ is a thin ResNet; the *widening factor* $k$ multiplies
# every block's width. A 3x3 convolution from $16k$ to $16k$ maps has
# $9 \cdot (16k)^2$ weights: the parameters grow about as $k^2$, but only
# linearly with depth. The width also suits GPUs better, which compute a wide
# layer in parallel but the layers of a deep network one after the other.
#
# We count the trainable parameters (BatchNormalization's moving statistics are
# not trained, and the paper does not count them) for a few depths and widths,
# among them the paper's WRN-40-4 (8.9 M), WRN-16-8 (11.0 M) and WRN-28-10
# (36.5 M).

# %%
wrn = pd.DataFrame(
    [
        {"depth": depth, "k": k, "trainable parameters": trainable_parameters(wide_resnet(depth, k))}
        for depth in (16, 28, 40)
        for k in (1, 2, 4, 8, 10)
    ]
)
wrn_table = wrn.pivot(index="depth", columns="k", values="trainable parameters")
(wrn_table / 1e6).round(2)

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for depth, row in wrn_table.iterrows():
    ax.plot(row.index, row.values / 1e6, "o-", label=f"depth {depth}")
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xlabel("widening factor k")
ax.set_ylabel("trainable parameters (millions)")
ax.set_title("Wide ResNet WRN-d-k, 10 classes")
ax.legend()
ax.grid(alpha=0.3, which="both")
plt.show()

# %% [markdown]
# **Check.** WRN-28-10 has 36,479,194 trainable parameters, and the three
# networks of the paper's Table 4 round to its numbers. Going from $k = 1$ to
# $k = 10$ multiplies the parameters of WRN-28 by more than 90, close to
# $k^2 = 100$, while going from depth 16 to 40 (three times the blocks)
# multiplies them by only a little more than 3 (less than 3.5) at every width.

# %%
# NBVAL_CHECK_OUTPUT
assert wrn_table.loc[28, 10] == 36_479_194
paper_table_4 = {(40, 4): 8.9, (16, 8): 11.0, (28, 10): 36.5}
for (depth, k), millions in paper_table_4.items():
    assert round(wrn_table.loc[depth, k] / 1e6, 1) == millions, (depth, k)
width_growth = wrn_table.loc[28, 10] / wrn_table.loc[28, 1]
depth_growth = wrn_table.loc[40] / wrn_table.loc[16]
assert 90 < width_growth < 100 and depth_growth.between(3, 3.5).all()
print(f"WRN-28: k = 10 vs k = 1: {width_growth:.1f}x the parameters")
print(f"depth 40 vs 16: {depth_growth.min():.2f}x to {depth_growth.max():.2f}x the parameters")

# %% [markdown]
# ## 2. ResNeXt: cardinality
#
# A ResNeXt block is a bottleneck block split into $C$ *paths of the same
# topology*: each path reduces the input to $d$ maps with a 1x1 convolution,
# applies a 3x3 convolution at depth $d$, and restores the depth with a 1x1
# convolution; the $C$ results are summed (and added to the shortcut). $C$ is the
# *cardinality*, $d$ the bottleneck width: ResNeXt-50 (32x4d) has $C = 32$ paths
# of $d = 4$ in its first stage.
#
# Written path by path, that is $C$ small networks. Xie et al. show that it equals
# one bottleneck whose 3x3 convolution is **grouped**: the $C d$ maps are split
# into $C$ groups of $d$, and each group of outputs sees only its own group of
# inputs (`keras.layers.Conv2D(..., groups=C)`). The first 1x1 convolutions of
# the paths, stacked, are one 1x1 convolution to $C d$ maps; the last ones,
# summed, are one 1x1 convolution over the concatenation. We check this
# numerically, ReLUs included, with random weights.

# %%
C, d, in_depth, out_depth = 4, 3, 16, 16
rng = np.random.default_rng(0)
x = rng.normal(size=(2, 10, 10, in_depth)).astype("float32")
w_reduce = rng.normal(size=(1, 1, in_depth, C * d)).astype("float32") / 4
w_grouped = rng.normal(size=(3, 3, d, C * d)).astype("float32") / 4
w_restore = rng.normal(size=(1, 1, C * d, out_depth)).astype("float32") / 4


def conv(filters, kernel, weights, groups=1, activation=None):
    layer = keras.layers.Conv2D(
        filters, kernel, padding="same", groups=groups, use_bias=False, activation=activation
    )
    layer.build((None, 10, 10, weights.shape[2] * groups))
    layer.set_weights([weights])
    return layer


# One block with a grouped 3x3 convolution.
grouped = conv(C * d, 3, w_grouped, groups=C, activation="relu")
h = conv(C * d, 1, w_reduce, activation="relu")(x)
y_grouped = conv(out_depth, 1, w_restore)(grouped(h))

# The same block as C separate paths, summed.
y_paths = 0
for i in range(C):
    maps = slice(i * d, (i + 1) * d)
    h = conv(d, 1, w_reduce[..., maps], activation="relu")(x)
    h = conv(d, 3, w_grouped[..., maps], activation="relu")(h)
    y_paths = y_paths + conv(out_depth, 1, w_restore[:, :, maps, :])(h)

difference = np.abs(keras.ops.convert_to_numpy(y_grouped - y_paths)).max()
print(f"grouped kernel {tuple(grouped.kernel.shape)} | largest difference, grouped vs {C} paths: "
      f"{difference:.1e}")

# %% [markdown]
# The grouped kernel has shape $(3, 3, d, Cd)$: each output map has $d$ input
# maps, not $Cd$, which divides the 3x3 stage's parameters and multiply-adds by
# $C$.
#
# Xie et al. compare blocks of (almost) the same cost: at the first stage (256 maps
# in and out), $C = 1, d = 64$ (a ResNet bottleneck), $C = 2, d = 40$,
# $C = 4, d = 24$, $C = 8, d = 14$ and $C = 32, d = 4$ all have about 70 k
# weights, $256 \cdot Cd + 9 C d^2 + Cd \cdot 256$. We count them with Keras
# layers:

# %%
def resnext_block_weights(C, d, depth=256):
    return depth * C * d + 9 * C * d * d + C * d * depth


budget_rows = []
for C_, d_ in ((1, 64), (2, 40), (4, 24), (8, 14), (32, 4)):
    layers = keras.Sequential(
        [
            keras.Input((56, 56, 256)),
            keras.layers.Conv2D(C_ * d_, 1, use_bias=False),
            keras.layers.Conv2D(C_ * d_, 3, padding="same", groups=C_, use_bias=False),
            keras.layers.Conv2D(256, 1, use_bias=False),
        ]
    )
    budget_rows.append(
        {"C": C_, "d": d_, "formula": resnext_block_weights(C_, d_), "Keras": layers.count_params()}
    )
budget = pd.DataFrame(budget_rows).set_index(["C", "d"])
budget

# %%
resnext50 = resnext50_32x4d()

# %% [markdown]
# **Check.** The grouped convolution equals the sum of the $C$ paths to float32
# precision; the formula equals Keras's counts, all between 69 k and 72 k
# weights; ResNeXt-50 (32x4d) has 25,028,904 trainable parameters,
# those of torchvision's `resnext50_32x4d`.

# %%
# NBVAL_CHECK_OUTPUT
assert difference < 1e-4
assert (budget["formula"] == budget["Keras"]).all()
assert budget["Keras"].between(69_000, 72_000).all()
assert trainable_parameters(resnext50) == 25_028_904
print(f"ResNeXt-50 (32x4d): {trainable_parameters(resnext50):,} trainable parameters")

# %% [markdown]
# ## 3. DenseNet: dense connectivity and growth rate
#
# In a dense block, layer $\ell$ receives the concatenation of the block's input
# and of the outputs of all layers before it, $[x_0, x_1, \dots, x_{\ell-1}]$,
# and adds $k$ new maps, the *growth rate*. With $k_0$ input maps, layer $\ell$
# reads $k_0 + (\ell - 1) k$ maps and the block outputs $k_0 + L k$ maps. Each
# layer (DenseNet-B) is BN-ReLU-1x1 convolution to $4k$ maps, then
# BN-ReLU-3x3 convolution to $k$ maps. Between blocks, a `TransitionLayer`
# compresses the depth by $\theta = 0.5$ with a 1x1 convolution and halves the
# resolution with 2x2 average pooling.
#
# We follow the depth through DenseNet-121's first block (6 layers, $k = 32$, 64
# input maps) and count its parameters with the formula: per layer, a
# BatchNormalization (4 numbers per map) and the 1x1 convolution on the
# $k_0 + (\ell - 1)k$ input maps, a BatchNormalization and the 3x3 convolution on
# the $4k$ maps.

# %%
k0, k, L = 64, 32, 6
block = DenseBlock(L, growth_rate=k)
block_output = block(keras.ops.zeros((1, 56, 56, k0)))
transition_output = TransitionLayer(0.5)(block_output)

reads = [k0 + (layer - 1) * k for layer in range(1, L + 1)]
dense_formula = sum(4 * c + c * 4 * k + 4 * 4 * k + 9 * 4 * k * k for c in reads)
print("maps read by layers 1-6:", reads)
print("block output:", tuple(block_output.shape), "| after the transition:", tuple(transition_output.shape))

# %%
densenet121_model = densenet121()
reference = keras.applications.DenseNet121(weights=None)

# %% [markdown]
# **Check.** The block outputs $64 + 6 \cdot 32 = 256$ maps, the transition halves
# them and the resolution, the parameter formula equals the block's count, and
# DenseNet-121 has 8,062,504 parameters, like `keras.applications.DenseNet121`.

# %%
# NBVAL_CHECK_OUTPUT
assert tuple(block_output.shape) == (1, 56, 56, k0 + L * k)
assert tuple(transition_output.shape) == (1, 28, 28, (k0 + L * k) // 2)
assert block.count_params() == dense_formula
assert densenet121_model.count_params() == reference.count_params() == 8_062_504
print(f"DenseNet-121: {densenet121_model.count_params():,} parameters")

# %% [markdown]
# ## 4. Small variants, same budget
#
# Now we train one small network of each family on the same Fashion-MNIST
# subset, padded to 32x32 (the smallest input the ImageNet stems accept), with the
# same optimizer (Adam), epochs, batch size and seed:
#
# - **WRN-10-2**: one pre-activation block per group, widening factor 2;
# - **ResNeXt 4x4d**: the ImageNet stem, one ResNeXt block per stage, $C = 4$
#   paths of $d = 4$ in the first stage;
# - **DenseNet 4x4**: the ImageNet stem, four dense blocks of two layers with
#   growth rate 12 (`densenet((2, 2, 2, 2), 12)`).
#
# They differ in parameters and multiply-adds too; with so little training, the
# table says more about how quickly each one learns than about the families.
#
# **A trap of short trainings.** BatchNormalization normalises with the
# statistics of the current batch while training, but with *moving averages* at
# test time, updated after every step as
# `moving = 0.99 * moving + 0.01 * batch_statistic`. They start at a mean of 0
# and a variance of 1, and after $n$ steps still hold $0.99^n$ of these starting
# values. After a few dozen steps the test-time normalisation is far off and the
# test accuracy can sit at chance while the training accuracy is fine. Small
# batches (more steps for the same images) and standardised inputs (whose
# statistics are closer to 0 and 1) reduce the problem; here the moving averages
# keep the fraction printed below of their starting values.

# %%
(x_all, y_all), (x_test_all, y_test_all) = data.load_fashion_mnist()
x_train, y_train = data.subset(x_all, y_all, PER_CLASS, seed=0)
x_test, y_test = data.subset(x_test_all, y_test_all, TEST_PER_CLASS, seed=0)


def to_32x32(images):
    """28x28 grey images in a 2-pixel zero border, shape (N, 32, 32, 1), as floats."""
    return np.pad(images, ((0, 0), (2, 2), (2, 2)))[..., None].astype("float32")


# Standardised with the training images' mean and standard deviation.
x_train, x_test = to_32x32(x_train), to_32x32(x_test)
mean, std = x_train.mean(), x_train.std()
x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
steps = EPOCHS * int(np.ceil(len(x_train) / BATCH_SIZE))

small_variants = {
    "WRN-10-2": lambda: wide_resnet(10, 2, input_shape=(32, 32, 1)),
    "ResNeXt 4x4d": lambda: resnext((1, 1, 1, 1), cardinality=4, bottleneck_width=4, input_shape=(32, 32, 1)),
    "DenseNet 4x4": lambda: densenet((2, 2, 2, 2), growth_rate=12, input_shape=(32, 32, 1)),
}
rows = []
for name, build in small_variants.items():
    keras.utils.set_random_seed(42)
    model = build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=0)
    seconds = time.perf_counter() - start
    rows.append(
        {
            "model": name,
            "parameters": model.count_params(),
            "multiply-adds (M)": count_macs(model) / 1e6,
            "training time (s)": seconds,
            "training accuracy": history.history["accuracy"][-1],
            "test accuracy": model.evaluate(x_test, y_test, verbose=0)[1],
        }
    )
comparison = pd.DataFrame(rows).set_index("model")
print(f"{steps} training steps: the moving averages keep {0.99 ** steps:.1%} of their start")
comparison.round(3)

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for ax, column, unit in zip(
    axes, ["multiply-adds (M)", "training time (s)", "test accuracy"], ["millions", "seconds", "fraction"]
):
    comparison[column].plot.barh(ax=ax, color=["tab:blue", "tab:orange", "tab:green"])
    ax.set_xlabel(f"{column.split(' (')[0]} ({unit})")
    ax.set_ylabel("")
    ax.set_title(column)
    ax.grid(axis="x", alpha=0.3)
axes[2].axvline(0.1, color="gray", linestyle="--", label="chance")
axes[2].legend()
fig.suptitle(f"Small variants, Fashion-MNIST at 32x32, {len(x_train)} images, {EPOCHS} epochs")
fig.tight_layout()
plt.show()

# %% [markdown]
# What this run shows (times and accuracies change from run to run, and with
# the machine): all three learn, above the 10% of chance. WRN-10-2 has no
# downsampling stem, so it works at the full 32x32 resolution and costs by far
# the most multiply-adds. Yet ResNeXt and DenseNet, with a small fraction of its
# multiply-adds, do not train proportionally faster (when we built the course
# they were even slower): time on a CPU also goes into the number of layers, the
# concatenations of the dense blocks and, for ResNeXt, the grouped convolution,
# which TensorFlow runs less efficiently than an ordinary one. We do not
# rank the accuracies: after a few epochs on 1,000 images, their differences are
# within what another seed or subset would change.
#
# **Check.** Every network beats chance (10%) on the training and on the test
# images, and WRN-10-2 has the most multiply-adds.

# %%
assert (comparison["training accuracy"] > 0.3).all(), comparison
assert (comparison["test accuracy"] > 0.2).all(), comparison
assert comparison["multiply-adds (M)"].idxmax() == "WRN-10-2"

# %% [markdown]
# ## Summary
#
# - Wide ResNets widen every block by $k$: the parameters grow about as $k^2$
#   (WRN-28-10: 36,479,194 trainable, over 90 times WRN-28-1) and only about
#   linearly with depth.
# - ResNeXt aggregates $C$ paths of the same topology; a grouped convolution
#   computes them at once, exactly. At an equal budget of about 70 k weights per
#   block, more paths means thinner ones. ResNeXt-50 (32x4d): 25,028,904
#   trainable parameters.
# - In a dense block every layer reads all earlier maps and adds $k$ new ones;
#   transitions compress and downsample. DenseNet-121: 8,062,504 parameters.
# - Parameters, multiply-adds and time on a CPU rank networks differently: a
#   grouped or a full-resolution network can be slower than its count suggests.
#
# ## Exercises
#
# 1. **Equal budget, depth or width?** Find a WRN-$d$-1 with about as many
#    parameters as WRN-16-4 and train both with the settings of section 4. Which
#    trains faster on your machine? *Hint:* use the table of section 1 and
#    `wide_resnet(depth, 1)`.
# 2. **Cardinality on a CPU.** Time `resnext((1, 1, 1, 1), C, 16 // C)` for
#    $C = 1, 2, 4, 8, 16$ with `course_lib.analysis.measure_throughput`. The
#    multiply-adds barely change; does the time? *Hint:* plot images/s against
#    $C$.
# 3. **Growth rate.** Count the parameters of `densenet121()`'s layout with
#    growth rates 12, 24 and 48 (`densenet((6, 12, 24, 16), k)`). How do they
#    scale? *Hint:* the 3x3 convolution has $9 \cdot 4k \cdot k$ weights.
# 4. **Dropout in Wide ResNets.** Train WRN-10-2 with `dropout_rate=0.3`, as the
#    paper does on CIFAR, and compare training and test accuracy. *Hint:* with
#    this little training, expect dropout to slow the fit more than it helps.
# 5. **Paths by hand.** Build a ResNeXt block of 8 paths as a functional model
#    with explicit `Add` of the paths, and check that its parameter count equals
#    `ResNeXtBlock(32, cardinality=8)`'s convolutions (without BatchNormalization).
#    *Hint:* `ResNeXtBlock` also normalises after each convolution.
