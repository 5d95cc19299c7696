# %% [markdown]
# # 20 · Wide ResNet, ResNeXt and DenseNet
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
# 4. start short CIFAR-10 runs of WRN, ResNeXt and DenseNet-BC with the
#    course's recipe.

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
# Section 4 trains a small network of each family on a CIFAR-10 subset; these
# CPU settings keep it to about a minute and a half. On a GPU, use the larger settings in the comments.
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
TRAIN_PER_CLASS = 200  # CIFAR-10 training images per class (GPU: None, all 4,500)
EPOCHS = 5  # (GPU: 30)
SEED = 0

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course_lib import diagrams, experiment, zoo
from course_lib.batchnorm import KERAS_MOMENTUM, momentum_for_steps
from course_lib.blockcheck import compare_with_course_lib
from course_lib.layers import DenseBlock, ResNeXtBlock, TransitionLayer
from course_lib.models.densenet import densenet121, densenet_cifar
from course_lib.models.resnet import wide_resnet
from course_lib.models.resnext import resnext50_32x4d, resnext_cifar
from course_lib.viz import plot_learning_curves


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
# linearly with depth.
#
# The width also suits GPUs better, which compute a wide layer in parallel but
# the layers of a deep network one after the other. Zagoruyko and Komodakis
# measure this speed on a GPU (their section "Computational efficiency"); this
# notebook does not time it.
#
# The diagram puts a block of WRN-28-1's first group beside the same block in
# WRN-28-10: look at how the width and the parameters grow with $k$.

# %%
diagrams.show(diagrams.wide_block(width=10, base_filters=16, input_size=32))

# %% [markdown]
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
# topology*. Each path reduces the input to $d$ maps with a 1x1 convolution,
# applies a 3x3 convolution at depth $d$, and restores the depth with a 1x1
# convolution. The $C$ results are summed (and added to the shortcut). $C$ is the
# *cardinality*, $d$ the bottleneck width: ResNeXt-50 (32x4d) has $C = 32$ paths
# of $d = 4$ in its first stage.
#
# The diagram draws that block on 256 maps both ways: the paper's $C$ paths,
# and the bottleneck with a grouped 3x3 convolution. Look at the weight counts
# under each: they are the same.

# %%
diagrams.show(diagrams.resnext_block(filters=128, cardinality=32, input_shape=(56, 56, 256)))

# %% [markdown]
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
# Now the whole block, as a student would write it. Each convolution is
# followed by BatchNormalization, with ReLUs in between, as in ResNet's
# bottleneck. As in torchvision's ResNeXt, the convolutions have no biases and
# the output is twice as deep as the grouped stage. We write a block inside a
# stage, where the depth is kept and the shortcut is the identity. The first
# block of a stage needs a projection shortcut (notebook 18, section 2).

# %%
def resnext_block(x, filters, cardinality):
    """ResNeXt's block with an identity shortcut: `x` has 2 * filters maps, like the output."""
    y = keras.layers.Conv2D(filters, 1, use_bias=False)(x)  # reduce: C paths of d = filters / C maps
    y = keras.layers.BatchNormalization(epsilon=1.001e-5)(y)  # Keras's ResNets use this epsilon
    y = keras.layers.ReLU()(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", groups=cardinality, use_bias=False)(y)  # C 3x3 paths
    y = keras.layers.BatchNormalization(epsilon=1.001e-5)(y)
    y = keras.layers.ReLU()(y)
    y = keras.layers.Conv2D(2 * filters, 1, use_bias=False)(y)  # restore the depth and sum the paths
    y = keras.layers.BatchNormalization(epsilon=1.001e-5)(y)
    return keras.layers.ReLU()(keras.layers.Add()([y, x]))  # add the shortcut


# %% tags=["hide-input"]
# The asserts are the check; the printed difference may vary between machines.
# ResNeXt-50 (32x4d)'s first stage: 256 maps in and out, 32 paths of 4 maps, on 8x8 maps.
resnext_difference, ours, theirs = compare_with_course_lib(
    lambda x: resnext_block(x, 128, cardinality=32), ResNeXtBlock(128, cardinality=32), (8, 8, 256))
assert ours.count_params() == theirs.count_params()
assert resnext_difference < 1e-4, resnext_difference
print(f"Check: our ResNeXt block equals course_lib's ResNeXtBlock (max difference {resnext_difference:.1g})")

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
# The diagram draws DenseNet-121's first block: 6 layers, $k = 32$, 64 input
# maps. Look at the stack each layer reads: it grows by $k$ maps per row.

# %%
diagrams.show(diagrams.dense_block(num_layers=6, growth_rate=32, input_channels=64))

# %% [markdown]
# A dense block is a loop in Keras: each layer computes its $k$ new maps and
# concatenates them to everything before.

# %%
def dense_block(x, num_layers, growth_rate):
    """DenseNet-B's dense block: each layer appends `growth_rate` new maps to all the earlier ones."""
    for _ in range(num_layers):
        y = keras.layers.BatchNormalization(epsilon=1.001e-5)(x)  # Keras's DenseNets use this epsilon
        y = keras.layers.ReLU()(y)
        y = keras.layers.Conv2D(4 * growth_rate, 1, use_bias=False)(y)  # bottleneck to 4k maps
        y = keras.layers.BatchNormalization(epsilon=1.001e-5)(y)
        y = keras.layers.ReLU()(y)
        y = keras.layers.Conv2D(growth_rate, 3, padding="same", use_bias=False)(y)  # k new maps
        x = keras.layers.Concatenate()([x, y])  # [x_0, x_1, ..., x_l]
    return x


# %% tags=["hide-input"]
# The asserts are the check; the printed difference may vary between machines.
# DenseNet-121's first block (6 layers, k = 32, 64 input maps), on 8x8 maps.
dense_difference, ours, theirs = compare_with_course_lib(
    lambda x: dense_block(x, 6, growth_rate=32), DenseBlock(6, growth_rate=32), (8, 8, 64))
assert ours.output_shape == (None, 8, 8, 64 + 6 * 32) and ours.count_params() == theirs.count_params()
assert dense_difference < 1e-4, dense_difference
print(f"Check: our dense block equals course_lib's DenseBlock (max difference {dense_difference:.1g})")

# %% [markdown]
# We follow the depth through DenseNet-121's first block (6 layers, $k = 32$, 64
# input maps) and count its parameters with the formula. Each layer has:
#
# - a BatchNormalization (4 numbers per map) and the 1x1 convolution on the
#   $k_0 + (\ell - 1)k$ input maps;
# - a BatchNormalization and the 3x3 convolution on the $4k$ maps.

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
# ## 4. The three families on CIFAR-10
#
# Each family has a CIFAR-10 form in its paper: WRN-$d$-$k$ as above, ResNeXt-29
# (three stages of bottleneck blocks after a 3x3 convolution) and DenseNet-BC
# for CIFAR (a 3x3 convolution, three dense blocks, depth $6n + 4$).
#
# **A short run of each.** One of each family, at a size that trains in
# seconds, on a subset, one seed each. This is not a comparison (one seed, a few
# epochs). It checks that the course's recipe starts each of them learning.
#
# The recipe sets BatchNormalization's momentum for the run's length
# (`course_lib.batchnorm.momentum_for_steps`). With Keras's default 0.99, a run
# this short would leave most of the initial moving statistics (mean 0,
# variance 1) in place at test time. The test accuracy could then sit at chance
# while the training accuracy is fine (notebook 08 measures this trap).

# %%
splits = experiment.load_splits("cifar10", validation_size=1000, train_per_class=TRAIN_PER_CLASS,
                                test_per_class=100)
recipe = experiment.Recipe(epochs=EPOCHS, batch_size=64)
steps = EPOCHS * -(-len(splits.train[0]) // recipe.batch_size)
print(f"{steps} training steps: with momentum {KERAS_MOMENTUM} the moving statistics would keep "
      f"{KERAS_MOMENTUM ** steps:.0%} of their start; the recipe uses {momentum_for_steps(steps):.3f}")
small_variants = {
    "WRN-10-2": lambda: wide_resnet(10, 2),
    "ResNeXt 8x2d": lambda: resnext_cifar((1, 1, 1), 8, 2, stem_filters=32),
    "DenseNet-BC-22": lambda: densenet_cifar(22, 8),
}
short = {name: experiment.run(build, splits, recipe, seeds=(SEED,), name=name)
         for name, build in small_variants.items()}
short_table = pd.DataFrame({name: r.scores.iloc[0] for name, r in short.items()}).T
short_table[["train_accuracy", "val_accuracy", "test_accuracy", "seconds"]].round(3)

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), sharey=True)
for ax, (name, result) in zip(axes, short.items()):
    plot_learning_curves(result.histories, ax=ax, title=f"live: {name}, {len(splits.train[0]):,} images")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Check.** Every short run is well above chance (10 %) on the test images.

# %%
assert (short_table["test_accuracy"] > 0.3).all(), short_table

# %% [markdown]
# **What the full runs reach.** The course's model zoo trains the CIFAR-10
# forms of these families on all 45,000 training images with the same recipe
# (`course_lib.zoo`; `python scripts/train_zoo.py wrn16_2 resnext densenet`
# re-creates them). The cell shows those recorded so far, and says which are
# not.

# %%
families = [name for name in ("wrn16_2", "resnext", "densenet") if name in zoo.recorded()]
fig, axes = plt.subplots(1, len(families), figsize=(4.4 * len(families), 3.4), sharey=True, squeeze=False)
for ax, name in zip(axes[0], families):
    zoo.plot_history(name, ax=ax)
fig.tight_layout()
plt.show()
for name in families:
    print(zoo.describe(name))
print("not recorded yet:", [name for name in ("wrn16_2", "resnext", "densenet") if name not in families] or "none")

# %% [markdown]
# **Check.** Every recorded run of these families passes 80 % on the 10,000
# test images.

# %%
assert families and all(zoo.record(name)["test_accuracy"] >= 0.80 for name in families), families

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
# - This notebook counts parameters; it does not compare the speed of grouped
#   and plain convolutions. Exercise 2 measures on your machine whether the time
#   of a ResNeXt follows its multiply-adds as the cardinality grows.
# - Small CIFAR-10 forms of all three (WRN-10-2, ResNeXt 8x2d, DenseNet-BC-22)
#   start learning with the course's recipe in a few epochs.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# Solutions: [solutions/part3.md](solutions/part3.md) (the counts worked out, what to
# compare in the experiments); try each exercise first.
#
# 1. ★★★ **Equal budget, depth or width?** Find a WRN-$d$-1 with about as many
#    parameters as WRN-16-4 and train both with the settings of section 4, three
#    seeds each. Which trains faster on your machine, and which is more
#    accurate? *Hint:* use the table of section 1, `wide_resnet(depth, 1)` and
#    `experiment.compare`.
# 2. ★★ **Cardinality on a CPU.** Time `resnext_cifar((1, 1, 1), C, 16 // C)` for
#    $C = 1, 2, 4, 8, 16$ with `course_lib.analysis.measure_throughput`. How do
#    the multiply-adds change with $C$, and does the time follow them? Then replace
#    `GroupedConv2D` by `keras.layers.Conv2D(groups=C)` and time it again.
#    *Hint:* plot images/s against $C$.
# 3. ★ **Growth rate.** Count the parameters of `densenet121()`'s layout with
#    growth rates 12, 24 and 48 (`densenet((6, 12, 24, 16), k)`). How do they
#    scale? *Hint:* the 3x3 convolution has $9 \cdot 4k \cdot k$ weights.
# 4. ★★ **Dropout in Wide ResNets.** Train WRN-10-2 with `dropout_rate=0.3`, as the
#    paper does on CIFAR, over three seeds, and compare training and validation
#    accuracy with the runs above. *Hint:* with this little training, expect
#    dropout to slow the fit more than it helps.
# 5. ★★ **Paths by hand.** Build a ResNeXt block of 8 paths as a functional model
#    with explicit `Add` of the paths, and check that its parameter count equals
#    `ResNeXtBlock(32, cardinality=8)`'s convolutions (without BatchNormalization).
#    *Hint:* `ResNeXtBlock` also normalises after each convolution.
