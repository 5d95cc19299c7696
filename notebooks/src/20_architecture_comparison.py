# %% [markdown]
# # 20 · The architectures side by side
#
# Part III met ten networks, from LeNet-5 (1998) to DenseNet (2017). This notebook
# puts them in one table: what each costs in parameters and multiply-adds, how
# far each unit at the end of its convolutional part sees, how fast each runs on
# this machine, and how well a small version of each learns in the same short
# training. Every conclusion is read off the table by code, not from memory.
#
# **Learning objectives.** After this notebook you can
#
# 1. tabulate parameters, multiply-adds and receptive fields of the course's
#    architectures at their native input sizes, with `course_lib.analysis` and
#    `course_lib.receptive_field`;
# 2. measure inference and training throughput with `measure_throughput`, and
#    explain why it does not follow the multiply-adds closely;
# 3. compare small variants trained with the same data, budget and seed, and
#    say what such a short comparison can and cannot tell;
# 4. draw conclusions from a pandas table with `idxmax`, `idxmin` and rank
#    correlations.

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
# Sections 2 and 3 time and train nine small networks; these CPU settings keep
# them to about a minute. On a GPU, the larger settings in the comments give more
# stable timings and accuracies that separate the architectures better.

# %%
PER_CLASS = 80  # Fashion-MNIST training images per class (GPU: 6000, all of them)
TEST_PER_CLASS = 50  # test images per class (GPU: 1000, all of them)
EPOCHS = 3  # (GPU: 20)
BATCH_SIZE = 8  # small batches give BatchNormalization enough steps, see notebook 19 (GPU: 128)
THROUGHPUT_BATCH = 16  # images per timed step (GPU: 128)
THROUGHPUT_STEPS = 3  # timed steps per model, median kept (GPU: 20)

# %%
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course_lib import data
from course_lib.analysis import count_macs, measure_throughput
from course_lib.models.alexnet import alexnet
from course_lib.models.densenet import densenet, densenet121
from course_lib.models.googlenet import googlenet
from course_lib.models.lenet5 import lenet5
from course_lib.models.mobilenet import mobilenet
from course_lib.models.nin import nin
from course_lib.models.resnet import resnet, resnet50, wide_resnet
from course_lib.models.resnext import resnext, resnext50_32x4d
from course_lib.models.vgg import vgg16
from course_lib.receptive_field import receptive_field

# %% [markdown]
# ## 1. The full-size networks
#
# Each network at the input size of its paper: 28x28 grey digits for LeNet-5
# (our `lenet5` pads them to the paper's 32x32), 227x227 for AlexNet, 32x32
# CIFAR images for NiN and WRN-28-10, 224x224 for the others. The *receptive
# field* is that of the last layer that still has a spatial grid (before global
# pooling or flattening): how many input pixels one of its units sees. It can
# exceed the image; units near the border then see part of it as padding.

# %%
full_size = {
    "LeNet-5": (1998, lenet5),
    "AlexNet": (2012, alexnet),
    "VGG16": (2014, vgg16),
    "NiN": (2014, nin),
    "GoogLeNet": (2015, googlenet),
    "ResNet-50": (2016, resnet50),
    "MobileNet": (2017, mobilenet),
    "WRN-28-10": (2016, wide_resnet),
    "ResNeXt-50 32x4d": (2017, resnext50_32x4d),
    "DenseNet-121": (2017, densenet121),
}


def last_spatial_field(model):
    """Receptive field (rows) of the last layer that still has a spatial grid."""
    table = receptive_field(model)
    spatial = table[table["jump_rows"].notna()]
    return spatial.index[-1], int(spatial["field_rows"].iloc[-1])


rows = []
for name, (year, build) in full_size.items():
    model = build()
    layer, field = last_spatial_field(model)
    rows.append(
        {
            "model": name,
            "year": year,
            "input": "x".join(str(n) for n in model.input_shape[1:]),
            "parameters (M)": model.count_params() / 1e6,
            "multiply-adds (G)": count_macs(model) / 1e9,
            "last spatial layer": layer,
            "receptive field (px)": field,
        }
    )
    del model
    keras.backend.clear_session()
architectures = pd.DataFrame(rows).set_index("model")
architectures.round(3)

# %%
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.scatter(architectures["parameters (M)"], architectures["multiply-adds (G)"], color="tab:blue")
# Label offsets in points, moved apart where three networks sit close together.
offsets = {"ResNet-50": (5, -10), "ResNeXt-50 32x4d": (-92, 3), "WRN-28-10": (5, 4)}
for name, row in architectures.iterrows():
    ax.annotate(name, (row["parameters (M)"], row["multiply-adds (G)"]), fontsize=8,
                xytext=offsets.get(name, (4, 3)), textcoords="offset points")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("parameters (millions)")
ax.set_ylabel("multiply-adds per image (G)")
ax.set_title("Cost of the full-size networks at their native input size")
ax.grid(alpha=0.3, which="both")
plt.show()

# %% [markdown]
# What the table says, computed from it:

# %%
# NBVAL_CHECK_OUTPUT
most_parameters = architectures["parameters (M)"].idxmax()
most_macs = architectures["multiply-adds (G)"].idxmax()
imagenet = architectures[architectures["input"] == "224x224x3"]
cheapest_imagenet = imagenet["multiply-adds (G)"].idxmin()
largest_field = architectures["receptive field (px)"].idxmax()
rank_correlation = architectures["parameters (M)"].corr(architectures["multiply-adds (G)"], method="spearman")
macs_per_parameter = architectures["multiply-adds (G)"] * 1e3 / architectures["parameters (M)"]
print(f"most parameters: {most_parameters} ({architectures['parameters (M)'].max():.1f} M)")
print(f"most multiply-adds: {most_macs} ({architectures['multiply-adds (G)'].max():.2f} G)")
print(f"fewest multiply-adds at 224x224: {cheapest_imagenet} "
      f"({imagenet['multiply-adds (G)'].min():.3f} G, "
      f"{imagenet['multiply-adds (G)'].max() / imagenet['multiply-adds (G)'].min():.0f}x fewer than {imagenet['multiply-adds (G)'].idxmax()})")
print(f"largest receptive field: {largest_field} ({architectures['receptive field (px)'].max()} px)")
print(f"multiply-adds per parameter: from {macs_per_parameter.min():.1f} ({macs_per_parameter.idxmin()}) "
      f"to {macs_per_parameter.max():.0f} ({macs_per_parameter.idxmax()})")
print(f"Spearman rank correlation of parameters and multiply-adds: {rank_correlation:.2f}")

# %% [markdown]
# VGG16 is the heaviest network of the course in both parameters and
# multiply-adds. MobileNet
# is the cheapest of the 224x224 networks. Parameters and multiply-adds rank the
# networks differently: a convolution's weights are reused at every position of
# its output, a dense layer's only once per image. LeNet-5 and AlexNet, with
# their large dense layers, do the fewest multiply-adds per parameter;
# DenseNet-121, whose many narrow convolutions (32 new maps each) run at 56x56
# and 28x28 and which has a single small dense layer, does the most. The deep
# residual and dense networks see more than the whole image: their receptive
# fields exceed 224 pixels, DenseNet-121's most of all.
#
# **Check.** These statements follow from the table.

# %%
assert most_parameters == most_macs == "VGG16"
assert cheapest_imagenet == "MobileNet"
assert set(macs_per_parameter.nsmallest(2).index) == {"LeNet-5", "AlexNet"}
assert macs_per_parameter.idxmax() == "DenseNet-121" == largest_field
assert rank_correlation < 0.9
deep = ["ResNet-50", "ResNeXt-50 32x4d", "DenseNet-121"]
assert (architectures.loc[deep, "receptive field (px)"] > 224).all()
assert architectures.loc["LeNet-5"].pipe(lambda r: r["parameters (M)"] < 0.1 and r["multiply-adds (G)"] < 0.001)

# %% [markdown]
# ## 2. Small variants, timed on this machine
#
# To compare speed and learning on a CPU we shrink every network to a variant
# that trains in seconds on one common input: Fashion-MNIST's 28x28 grey images
# padded to 32x32, the smallest size the ImageNet stems accept (Fashion-MNIST
# rather than CIFAR-10 because these networks learn it within the CPU budget).
# The variants: a quarter of the widths for VGG16, NiN, GoogLeNet, ResNet-18
# (standing in for the ResNets) and MobileNet, and the small Wide ResNet, ResNeXt
# and DenseNet of notebook 19. AlexNet cannot join: its 11x11 stride-4 stem and
# three poolings need at least 67x67 pixels, and the builder says so.

# %%
SMALL_INPUT = (32, 32, 1)
small = {
    "LeNet-5": lambda: lenet5(input_shape=SMALL_INPUT),
    "VGG16": lambda: vgg16(input_shape=SMALL_INPUT, width=0.25, dense_units=128),
    "NiN": lambda: nin(input_shape=SMALL_INPUT, width=0.25),
    "GoogLeNet": lambda: googlenet(input_shape=SMALL_INPUT, width=0.25),
    "ResNet-18": lambda: resnet(18, input_shape=SMALL_INPUT, width=0.25),
    "MobileNet": lambda: mobilenet(input_shape=SMALL_INPUT, alpha=0.25),
    "WRN-10-2": lambda: wide_resnet(10, 2, input_shape=SMALL_INPUT),
    "ResNeXt 4x4d": lambda: resnext((1, 1, 1, 1), 4, 4, input_shape=SMALL_INPUT),
    "DenseNet 4x4": lambda: densenet((2, 2, 2, 2), 12, input_shape=SMALL_INPUT),
}
try:
    alexnet(input_shape=SMALL_INPUT)
    alexnet_error = None
except ValueError as error:
    alexnet_error = str(error)
print(alexnet_error)

# %% [markdown]
# `measure_throughput` feeds random batches of `THROUGHPUT_BATCH` images and
# reports images per second for inference (`predict_on_batch`) and for a training
# step (`train_on_batch`), the median of a few steps after a warm-up step. The
# numbers depend on the machine and on its load at the time; they are not
# checked, only compared.

# %%
speed_rows = []
for name, build in small.items():
    keras.utils.set_random_seed(42)
    model = build()
    speed = measure_throughput(model, batch_size=THROUGHPUT_BATCH, steps=THROUGHPUT_STEPS, warmup=1)
    speed_rows.append(
        {
            "model": name,
            "parameters": model.count_params(),
            "multiply-adds (M)": count_macs(model) / 1e6,
            "inference (images/s)": speed["inference"],
            "training (images/s)": speed["training"],
        }
    )
small_table = pd.DataFrame(speed_rows).set_index("model")
print("device:", speed["device"])
small_table.round(1)

# %% [markdown]
# ## 3. The same short training
#
# Every small variant trains on the same Fashion-MNIST subset with Adam, the
# same epochs, batch size and seed, and is tested on the same test images. As in
# notebook 19, the images are standardised and the batches small, so that
# BatchNormalization's moving averages have caught up by test time.

# %%
(x_all, y_all), (x_test_all, y_test_all) = data.load_fashion_mnist()
x_train, y_train = data.subset(x_all, y_all, PER_CLASS, seed=0)
x_test, y_test = data.subset(x_test_all, y_test_all, TEST_PER_CLASS, seed=0)
# 2-pixel zero border to 32x32, then standardised with the training statistics.
x_train, x_test = (np.pad(x, ((0, 0), (2, 2), (2, 2)))[..., None].astype("float32") for x in (x_train, x_test))
mean, std = x_train.mean(), x_train.std()
x_train, x_test = (x_train - mean) / std, (x_test - mean) / std

for name, build in small.items():
    keras.utils.set_random_seed(42)
    model = build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=0)
    small_table.loc[name, "training time (s)"] = time.perf_counter() - start
    small_table.loc[name, "training accuracy"] = history.history["accuracy"][-1]
    small_table.loc[name, "test accuracy"] = model.evaluate(x_test, y_test, verbose=0)[1]
small_table.round(3)

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
order = small_table.sort_values("multiply-adds (M)").index
axes[0].barh(order, small_table.loc[order, "multiply-adds (M)"], color="tab:blue")
axes[0].set_xscale("log")
axes[0].set_xlabel("multiply-adds per image (M, log scale)")
axes[0].set_title("Cost at 32x32x1")
axes[1].barh(order, small_table.loc[order, "training (images/s)"], color="tab:orange")
axes[1].set_xlabel("training throughput (images/s)")
axes[1].set_title("Training speed on this machine")
axes[2].barh(order, small_table.loc[order, "test accuracy"], color="tab:green")
axes[2].axvline(0.1, color="gray", linestyle="--", label="chance")
axes[2].set_xlabel("test accuracy (fraction)")
axes[2].set_title(f"After {EPOCHS} epochs on {len(x_train)} images")
axes[2].legend()
for ax in axes:
    ax.grid(axis="x", alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# What this run says, computed from the table (the numbers vary with the machine,
# its load and the run, so the code prints them rather than the text):

# %%
speed_correlation = small_table["multiply-adds (M)"].corr(
    small_table["training (images/s)"], method="spearman"
)
fastest = small_table["training (images/s)"].idxmax()
slowest = small_table["training (images/s)"].idxmin()
best = small_table["test accuracy"].idxmax()
print(f"fastest to train: {fastest}; slowest: {slowest}")
print(f"Spearman rank correlation of multiply-adds and training throughput: {speed_correlation:.2f}")
print(f"best test accuracy: {best} ({small_table['test accuracy'].max():.1%}); "
      f"worst: {small_table['test accuracy'].idxmin()} ({small_table['test accuracy'].min():.1%})")
learning = small_table["test accuracy"] > 0.3
print(f"above 30% test accuracy: {learning.sum()} of {len(small_table)}; "
      f"not yet: {', '.join(small_table.index[~learning]) or 'none'}")
cost_rank = small_table["multiply-adds (M)"].rank(ascending=False)
speed_rank = small_table["training (images/s)"].rank()
surprise = (speed_rank - cost_rank).abs().idxmax()
print(f"furthest from the speed its multiply-adds predict: {surprise} "
      f"({small_table.loc[surprise, 'multiply-adds (M)']:.1f} M multiply-adds, "
      f"{small_table.loc[surprise, 'training (images/s)']:.0f} images/s)")

# %% [markdown]
# Multiply-adds predict the measured speed only loosely (the rank correlation
# printed above is far from -1, and it changes from run to run with the load of
# the machine): the number of layers, the memory traffic and how well each kind
# of layer maps onto the CPU's kernels matter too. Depthwise and grouped
# convolutions, for instance, run less efficiently than ordinary ones
# (notebooks 18 and 19), and a network of many small layers pays a fixed cost
# per layer. As for accuracy, a few epochs on a few hundred images rank how
# quickly a network starts to learn, not how good the architecture is: the
# ranking changes with the seed and the budget. Some networks may still be at
# chance on the test images after so few steps (the list is printed above; when
# we built the course, they included VGG16 and GoogLeNet, deep networks without
# BatchNormalization), which says nothing about what they reach with a full
# training. So we check only that most networks learn.
#
# **Check.** The table holds all nine small variants; AlexNet was refused with a
# clear error; and at least five of the nine networks pass 30% test accuracy
# (chance: 10%).

# %%
assert len(small_table) == 9 and small_table.notna().all().all()
assert alexnet_error is not None and "67" in alexnet_error
assert learning.sum() >= 5, small_table["test accuracy"]

# %% [markdown]
# ## Summary
#
# - One table answers "which network is biggest" by code: VGG16 has the most
#   parameters and multiply-adds, MobileNet the fewest multiply-adds at 224x224,
#   LeNet-5 is tiny next to all of them.
# - Parameters and multiply-adds are different costs: convolutions reuse their
#   weights at every position, dense layers do not, so the ranking by one is not
#   the ranking by the other.
# - The deep residual and dense networks have receptive fields larger than their
#   input image.
# - Measured throughput follows the multiply-adds only loosely; the kind of
#   layer, the number of layers and the hardware matter.
# - A short training with the same budget shows how fast each network starts to
#   learn; ranking architectures needs full training and several seeds.
#
# ## Exercises
#
# 1. **Parameters per stage.** Use `course_lib.analysis.parameter_table` on
#    `vgg16()` and `resnet50()`. Where do their parameters sit, and their
#    multiply-adds? *Hint:* sort by `parameter_share`.
# 2. **Another input size.** Recompute the full-size table with every 224x224
#    network at 160x160. Which columns change, and by how much? *Hint:* the
#    parameters do not change (except for VGG16's and AlexNet's flattening dense
#    layers); the multiply-adds scale with the area.
# 3. **Stable timings.** Rerun section 2 with `THROUGHPUT_STEPS = 20` twice. How
#    much do the images/s change between runs? *Hint:* compare with the machine's
#    load (`os.getloadavg()`).
# 4. **A fair accuracy comparison.** Train the three most accurate small
#    variants with three seeds each and report mean and standard deviation. Is
#    the best one still the best? *Hint:* loop over `keras.utils.set_random_seed`.
# 5. **Equal multiply-adds.** Choose widths so that the small ResNet-18,
#    MobileNet and DenseNet have about the same multiply-adds, and compare their
#    accuracy. *Hint:* `width`, `alpha` and `growth_rate` are the knobs.
