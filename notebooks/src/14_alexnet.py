# %% [markdown]
# # 14 · AlexNet
#
# AlexNet (Krizhevsky, Sutskever and Hinton, 2012) won the ImageNet challenge of
# 2012 with a top-5 test error of 15.3%, against 26.2% for the best entry without
# a CNN, and started the deep learning era of computer vision. Most of its
# ingredients are still in use: ReLU, dropout, weight decay, data augmentation,
# training on GPUs. One is not: local response normalisation.
#
# **Learning objectives.** After this notebook you can
#
# 1. read AlexNet's architecture (5 convolutions, 3 dense layers, an 11x11 first
#    window with stride 4) from a per-layer table of output shapes and parameters;
# 2. explain its two-GPU layout as a grouped convolution and compute what it
#    saves;
# 3. say what local response normalisation computes and why later networks
#    dropped it;
# 4. scale AlexNet to 32x32 CIFAR-10 images without losing its shape, train it
#    with the course's recipe, read the recorded full run, and build an
#    ensemble of networks, as in the paper, and measure it against its members.

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
# CPU settings, used by the tests: three AlexNets for 32x32 images at a quarter
# of the width, trained on 3,000 CIFAR-10 images with the course's recipe, about a
# minute and a half on a 2-core CPU. On a GPU, try the larger settings in the
# comments.
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
WIDTH = 0.25  # multiplier of every layer's filters and units (GPU: 0.5, the recorded model's)
TRAIN_PER_CLASS = 300  # CIFAR-10 training images per class (GPU: None, all 4,500)
EPOCHS = 8  # (GPU: 30)
SEEDS = (0, 1, 2)  # one ensemble member per seed (GPU: 7 seeds, as the paper's best entry)
LEARNING_RATE = 0.05  # peak SGD learning rate: no BatchNormalization here, so lower than 0.1

# %% [markdown]
# ## 1. The architecture
#
# AlexNet has eight weight layers: five convolutions and three dense layers.
#
# - **conv1**: 96 filters of 11x11 with **stride 4** on the 227x227x3 image: a
#   large window and a large stride shrink the image to 55x55 at once, which
#   made the network affordable in 2012;
# - **conv2**: 256 filters of 5x5; **conv3-conv5**: 384, 384 and 256 filters of
#   3x3; overlapping 3x3 max poolings with stride 2 after conv1, conv2 and conv5
#   (section 3.4: 0.4 points less top-1 error and 0.3 less top-5 error than
#   2x2 poolings with stride 2);
# - **fc1, fc2**: 4096 units each, with **dropout** 0.5; **predictions**: 1000
#   classes with a softmax.
#
# Every layer uses **ReLU**, which the paper found to train several times faster
# than tanh. Training used SGD with momentum 0.9 and **weight decay** 5e-4 (a
# penalty on large weights) and heavy data augmentation (random crops and
# flips, colour changes). After conv1 and conv2 the paper applied **local
# response normalisation** (section 3). The paper says 224x224 inputs, but an
# 11x11 window with stride 4 gives its 55x55 first map only from 227x227:
# `course_lib.models.alexnet.alexnet` uses 227. `course_lib.analysis.layer_table`
# lists its layers: window and stride, output shape, parameters, multiply-adds for
# one image (`macs`) and receptive field.

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf

from course_lib import diagrams, experiment, zoo
from course_lib.analysis import layer_table
from course_lib.layers import LocalResponseNormalization
from course_lib.models.alexnet import alexnet, alexnet_cifar
from course_lib.viz import plot_learning_curves

model = alexnet()  # groups=2: the two-GPU layout
table = layer_table(model)
table

# %% [markdown]
# **Check.** conv1 maps 227x227 to (227 - 11) / 4 + 1 = 55 positions per side;
# after the three poolings, 6x6x256 values enter fc1. Each parameter count follows
# from the layer's shape; 96% of the parameters sit in the three dense layers,
# while the convolutions do more than 90% of the multiply-adds. A unit of pool5
# sees a 195x195 patch of the 227x227 image.

# %%
# NBVAL_CHECK_OUTPUT
assert table.loc["conv1", "output_shape"] == ((227 - 11) // 4 + 1,) * 2 + (96,) == (55, 55, 96)
assert table.loc["pool5", "output_shape"] == (6, 6, 256)
assert table.loc["pool5", "receptive_field"] == (195, 195)
assert table.loc["conv1", "parameters"] == 11 * 11 * 3 * 96 + 96
assert table.loc["fc1", "parameters"] == (6 * 6 * 256 + 1) * 4096
dense_share = table.loc[["fc1", "fc2", "predictions"], "parameters"].sum() / table["parameters"].sum()
conv_mac_share = table.loc[[f"conv{i}" for i in range(1, 6)], "macs"].sum() / table["macs"].sum()
assert dense_share > 0.95 and conv_mac_share > 0.9
assert table["parameters"].sum() == model.count_params() == 60_965_224
print(f"{model.count_params():,} parameters, {dense_share:.1%} in the dense layers; "
      f"{conv_mac_share:.1%} of {table['macs'].sum() / 1e6:.0f} M multiply-adds in the convolutions")

# %% [markdown]
# ## 2. Two GPUs: a grouped convolution
#
# AlexNet was trained on two GTX 580 GPUs. Each held half of the filters of
# every layer. conv2, conv4 and conv5 only read the maps of their own GPU: each
# half of their filters sees half of the input channels. conv3 and the dense
# layers read both halves (the GPUs communicated there). The diagram draws the
# network built above, one row per GPU. Follow the vermillion arrows: they
# cross between the GPUs only before conv3 and the dense layers.

# %%
diagrams.show(diagrams.alexnet_split(model))

# %% [markdown]
# > **Lecture vs paper: why two GPUs?**
# >
# > - **The paper (section 3.2): memory.** One GTX 580 "has only 3GB of
# >   memory, which limits the maximum size of the networks that can be trained
# >   on it". 1.2 million training images are enough to train networks too big
# >   for one GPU, so the authors spread the net over two.
# >
# > - **The lecture notes: speed.** The split is "just to improve the
# >   parallelism on the available physical hardware".
# >
# > - **Both hold.** The paper compares its net with a one-GPU net that has half
# >   as many kernels in each convolutional layer. Two GPUs cut the top-1 and
# >   top-5 errors by 1.7 and 1.2 points, and trained slightly faster. Memory
# >   capped what one GPU could train; the second GPU bought twice as many
# >   kernels in most convolutional layers, in no more time.
# >
# > - **Notebook 24's count.** It adds up the weights, gradients, momentum and
# >   layer outputs of this net at the paper's batch of 128: well under 3 GB.
# >   That is a lower bound. Real training needs more (the backward pass's
# >   temporaries, the convolutions' workspace), and the paper gives no count.
# >   So the count does not show that the net fitted on one GPU in 2012.
#
# Reading only half of the input channels is a **grouped convolution** with two
# groups, `keras.layers.Conv2D(groups=2)`: the channels are split into two groups
# and each group of filters convolves its own group of channels. A k x k
# convolution from C to F channels has k·k·C·F weights; with g groups,
# k·k·(C/g)·F. First we check that a grouped convolution is two convolutions side
# by side.

# %%
rng = np.random.default_rng(0)
x = rng.normal(size=(1, 9, 9, 8)).astype("float32")
grouped = keras.layers.Conv2D(6, 3, groups=2)
y_grouped = keras.ops.convert_to_numpy(grouped(x))
kernel, bias = grouped.get_weights()  # kernel: (3, 3, 8 / 2, 6)
halves = []
for g in range(2):  # group g: input channels 4g..4g+3, filters 3g..3g+2
    conv = keras.layers.Conv2D(3, 3)
    conv.build((None, 9, 9, 4))
    conv.set_weights([kernel[..., 3 * g : 3 * g + 3], bias[3 * g : 3 * g + 3]])
    halves.append(keras.ops.convert_to_numpy(conv(x[..., 4 * g : 4 * g + 4])))
print("grouped kernel", kernel.shape, "| output", y_grouped.shape)

# %% [markdown]
# Now the whole network: `alexnet(groups=2)` against `alexnet(groups=1)`, and the
# saving by the formula: half the weights of conv2 (5x5, 96 -> 256), conv4 (3x3,
# 384 -> 384) and conv5 (3x3, 384 -> 256).

# %%
single_device = alexnet(groups=1)
per_layer = pd.DataFrame(
    {
        "groups=1": [single_device.get_layer(f"conv{i}").count_params() for i in range(1, 6)],
        "groups=2": [model.get_layer(f"conv{i}").count_params() for i in range(1, 6)],
    },
    index=[f"conv{i}" for i in range(1, 6)],
)
per_layer["saved"] = per_layer["groups=1"] - per_layer["groups=2"]
per_layer

# %% [markdown]
# **Check.** The grouped convolution equals its two halves side by side. The two
# builders differ by 1,413,120 parameters (62,378,344 - 60,965,224), exactly half
# the weights of conv2, conv4 and conv5 by the formula (biases do not change).

# %%
# NBVAL_CHECK_OUTPUT
np.testing.assert_allclose(y_grouped, np.concatenate(halves, axis=-1), rtol=1e-5, atol=1e-5)
saving_formula = (5 * 5 * 96 * 256 + 3 * 3 * 384 * 384 + 3 * 3 * 384 * 256) // 2
assert single_device.count_params() == 62_378_344 and model.count_params() == 60_965_224
assert single_device.count_params() - model.count_params() == saving_formula == per_layer["saved"].sum()
assert list(per_layer.index[per_layer["saved"] > 0]) == ["conv2", "conv4", "conv5"]
print(f"groups=1: {single_device.count_params():,}; groups=2: {model.count_params():,}; "
      f"saved {saving_formula:,} = half of conv2, conv4 and conv5's weights")

# %% [markdown]
# The split saves only 2.3% of the parameters (the dense layers hold most of
# them), but it halves the work of three convolutions. Grouped convolutions came
# back later for their own sake: ResNeXt (notebook 20) uses 32 groups, and
# MobileNet's depthwise convolution (notebook 19) is the extreme case, one group
# per channel.
#
# ## 3. Local response normalisation, and why it went away
#
# After conv1 and conv2, AlexNet divided each activation by the "energy" of the
# same position in the n = 5 neighbouring channels:
#
# $$b_c = a_c \Big/ \Big(k + \alpha \sum_{c' = c - n/2}^{c + n/2} a_{c'}^2\Big)^{\beta},
# \qquad k = 2,\ \alpha = 10^{-4},\ \beta = 0.75,$$
#
# an imitation of "lateral inhibition" in real neurons: a strongly active channel
# damps its neighbours. The paper reported 1.4 points less top-1 error and 1.2
# points less top-5 error with it (section 3.3). It has no weights, but it costs time and memory. VGG (2015) found that
# it did not help its deeper networks, and batch normalisation (2015), which
# normalises each channel with statistics of the batch and learns a scale and a
# shift, worked much better. We check `LocalResponseNormalization` against
# TensorFlow's own implementation of the same formula.

# %%
activations = rng.uniform(0, 30, size=(2, 5, 5, 16)).astype("float32")
ours = keras.ops.convert_to_numpy(LocalResponseNormalization()(activations))
reference = tf.nn.local_response_normalization(activations, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75).numpy()
damping = ours / activations
print(f"output / input: from {damping.min():.3f} to {damping.max():.3f}")

# %% [markdown]
# **Check.** The course's layer equals `tf.nn.local_response_normalization`; with
# activations of this size (up to 30), it divides every value by at least
# 2^0.75 ≈ 1.68 (the constant k alone), more where the neighbours are strong.

# %%
np.testing.assert_allclose(ours, reference, rtol=1e-5)
assert damping.max() <= 2.0**-0.75 + 1e-6 and damping.min() < damping.max()
print(f"LRN == tf.nn.local_response_normalization; damping in [{damping.min():.3f}, {damping.max():.3f}]")

# %% [markdown]
# ## 4. AlexNet for 32x32 images
#
# An 11x11 window with stride 4 and three 3x3/2 poolings need at least 67x67
# pixels; at 67x67, pool5 is already 1x1, so the network would no longer be
# AlexNet-shaped.
#
# `alexnet_cifar` keeps AlexNet's eight layers, its LRN, its groups and its
# dropout, and resizes the layers for an image seven times smaller:
#
# - conv1 is 5x5 with stride 1 instead of 11x11 with stride 4;
# - the filter counts are those of the single-GPU AlexNet of torchvision (64,
#   192, 384, 256, 256) times `width`;
# - the poolings pad their border;
# - the dense layers have 1024 units.
#
# Like the original, it has no BatchNormalization. The table shows
# the shapes at `WIDTH`: pool5 still has a 4x4 grid.

# %%
small = alexnet_cifar(width=WIDTH)
small_table = layer_table(small)
small_table

# %% [markdown]
# **Check.** Eight weight layers, LRN after conv1 and conv2, conv2, conv4 and
# conv5 in two groups, and a 4x4 grid at pool5; the dense layers hold most of the
# parameters here too.

# %%
# NBVAL_CHECK_OUTPUT
weight_layers = small_table[small_table["parameters"] > 0].index.tolist()
assert weight_layers == ["conv1", "conv2", "conv3", "conv4", "conv5", "fc1", "fc2", "predictions"]
assert [small.get_layer(f"conv{i}").groups for i in range(1, 6)] == [1, 2, 1, 2, 2]
assert small_table.loc["pool5", "output_shape"][:2] == (4, 4)
dense_share_small = small_table.loc[["fc1", "fc2", "predictions"], "parameters"].sum() / small.count_params()
assert dense_share_small > 0.5
print(f"alexnet_cifar(width={WIDTH}): {small.count_params():,} parameters, "
      f"{dense_share_small:.0%} in the dense layers; pool5 {small_table.loc['pool5', 'output_shape']}")

# %% [markdown]
# We train one network per seed on a CIFAR-10 subset with the course's recipe,
# `experiment.Recipe`. It uses SGD with Nesterov momentum and weight decay, a
# warm-up then a cosine decay of the learning rate, label smoothing, and flips
# and shifts of the training images on the fly. The paper, too, trained with
# SGD, momentum 0.9, weight decay, flips and crops.
#
# Without BatchNormalization the network needs a smaller learning rate than the
# recipe's 0.1 (try 0.1: it diverges). A validation set carved out of the
# training images follows the training; the test images are scored once at the
# end.

# %%
splits = experiment.load_splits("cifar10", validation_size=1000, train_per_class=TRAIN_PER_CLASS,
                                test_per_class=200)
recipe = experiment.Recipe(epochs=EPOCHS, batch_size=64, learning_rate=LEARNING_RATE)
members = experiment.run(lambda: alexnet_cifar(width=WIDTH), splits, recipe, seeds=SEEDS,
                         name="alexnet_cifar", keep_models=True)
print(splits)
members.scores.round(3)

# %%
record = zoo.record("alexnet")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
plot_learning_curves(members.histories, ax=axes[0],
                     title=f"live: width {WIDTH}, {len(splits.train[0]):,} images, {EPOCHS} epochs")
zoo.plot_history("alexnet", ax=axes[1])
fig.tight_layout()
plt.show()
print(zoo.describe("alexnet"))

# %% [markdown]
# The live networks learn well above chance (10 %) from 3,000 images in a few
# epochs. The recorded model is twice as wide and trained on all 45,000
# training images (`python scripts/train_zoo.py alexnet`). It shows where the
# same recipe goes with the full data.
#
# **Check.** Every live member is well above chance on the test images, and the
# recorded model passes 80 %.

# %%
assert (members.scores["test_accuracy"] > 0.3).all(), members.scores
assert record["test_accuracy"] >= 0.80, record["test_accuracy"]

# %% [markdown]
# ## 5. Ensembles, as in the paper
#
# The paper's best ImageNet entry averaged the predictions of several CNNs
# (Table 2: one CNN had a top-5 error of 18.2 % on the validation set, five CNNs
# 16.4 %, and seven CNNs, two of them pre-trained on a larger ImageNet release,
# 15.3 %). Each member makes different mistakes, because it starts from
# different initial weights and sees the batches in a different order;
# averaging their class probabilities (the posteriors) cancels part of those
# mistakes. We average the posteriors of our members, which differ only by their
# seed, and compare the ensemble with each member on the same images.

# %%
def member_and_ensemble_accuracy(x, y):
    """Each member's accuracy on (x, y), and the accuracy of their averaged posteriors."""
    posteriors = np.stack([members.models[seed].predict(x, batch_size=500, verbose=0) for seed in SEEDS])
    return (posteriors.argmax(axis=-1) == y).mean(axis=1), float(np.mean(posteriors.mean(axis=0).argmax(axis=-1) == y))


val_members, val_ensemble = member_and_ensemble_accuracy(*splits.validation)
single_accuracy, ensemble_accuracy = member_and_ensemble_accuracy(*splits.test)
gain = experiment.paired_comparison(val_ensemble - val_members, baseline="member", treatment="ensemble")
test_gain = experiment.paired_comparison(ensemble_accuracy - single_accuracy, metric="test accuracy",
                                         baseline="member", treatment="ensemble")
results = pd.DataFrame(
    {"validation": [*val_members, val_members.mean(), val_ensemble],
     "test": [*single_accuracy, single_accuracy.mean(), ensemble_accuracy]},
    index=[*(f"seed {seed}" for seed in SEEDS), "mean member", "ensemble"],
)
print(results.map("{:.1%}".format).to_string())
print(gain)
print("reported once:", test_gain)

fig, ax = plt.subplots(figsize=(7, 3.5))
colors = ["tab:blue"] * len(SEEDS) + ["tab:grey", "tab:orange"]
bars = ax.bar(results.index, 100 * results["test"], color=colors)
ax.bar_label(bars, fmt="%.1f")
low, high = 100 * results["test"].min(), 100 * results["test"].max()
ax.set_ylim(low - 3, high + 2)  # zoomed: the differences are a few points
ax.set(title=f"AlexNets for CIFAR-10 and their ensemble ({len(splits.test[1]):,} test images)",
       ylabel="test accuracy (%)", xlabel="model")
ax.grid(alpha=0.3, axis="y")
plt.show()

# %% [markdown]
# The axis starts near the lowest bar, not at zero, so that a difference of a
# point is visible. We decide on the validation images, with the rule of
# notebook 01: the ensemble's gain over a member is a clear effect when the 95 %
# interval of the mean gain excludes zero. Here the "seeds" are the members,
# each compared with the one ensemble.
#
# At this budget the ensemble shows **no clear effect** (the verdict is printed
# above). This is a first-epochs demonstration: each member has trained for
# `EPOCHS` epochs on 3,000 images and is still improving. Averaging cancels
# mistakes that differ from member to member; members this far from
# convergence share many of theirs. The paper's gain (Table 2) came from
# networks trained for days.
#
# **Check.** The ensemble's posteriors are the mean of the members'
# posteriors, and every member is well above chance.

# %% tags=["hide-input"]
assert 0.0 <= ensemble_accuracy <= 1.0 and (single_accuracy > 0.3).all(), single_accuracy
print(f"Check: ensemble {val_ensemble:.1%} against a mean member of {val_members.mean():.1%} on validation: "
      f"{gain.verdict}.")
print(f"Test, reported once: ensemble {ensemble_accuracy:.1%}, mean member {single_accuracy.mean():.1%}, "
      f"best member {single_accuracy.max():.1%}.")

# %% [markdown]
# ## Summary
#
# - AlexNet: five convolutions (11x11 with stride 4 first) and three dense layers,
#   ReLU, overlapping max pooling, dropout 0.5 and weight decay; 60,965,224
#   parameters, 96% of them in the dense layers.
# - Its two-GPU layout is a grouped convolution with two groups in conv2, conv4 and
#   conv5, which saves 1,413,120 parameters (62,378,344 without it).
# - Local response normalisation divides each activation by the energy of its
#   neighbouring channels; VGG found it useless and batch normalisation replaced it.
# - Scaled to 32x32 (5x5 stride-1 conv1, padded poolings), AlexNet keeps its
#   eight layers and a 4x4 grid at pool5, and learns CIFAR-10 with the course's
#   recipe at a learning rate suited to a network without BatchNormalization.
# - Averaging the posteriors of a few networks trained from different seeds is
#   an ensemble. The paper's best entry used seven (Table 2). With our members
#   after a few epochs, the ensemble shows no clear effect at this budget.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# Solutions: [solutions/part3.md](solutions/part3.md) (the counts worked out, what to
# compare in the experiments); try each exercise first.
#
# 1. ★★ **ReLU against tanh.** The paper trained a small CNN on CIFAR-10 six times
#    faster with ReLU than with tanh. Compare the training losses of two small
#    networks that differ only in their activation. *Hint:* copy `alexnet`'s
#    layers into a `keras.Sequential` with `activation="tanh"`.
# 2. ★ **Without LRN.** Train the members with `local_response_norm=False`. Does
#    the accuracy change? *Hint:* use the same seeds, so that only LRN differs,
#    and `experiment.compare`.
# 3. ★ **Ensemble size.** With five seeds, plot the ensemble's accuracy against the
#    number of members averaged (1 to 5). *Hint:* `posteriors[:n].mean(axis=0)`.
# 4. ★ **Majority vote.** Instead of averaging probabilities, let each member vote for
#    its top class. Which is better here? *Hint:* `scipy.stats.mode` on
#    `posteriors.argmax(axis=-1)`.
# 5. ★ **Without augmentation.** Train the members with
#    `recipe.replace(flip=False, translate=0)`. How do the training and the
#    validation accuracy move? *Hint:* `plot_learning_curves(members.histories)`.
