# %% [markdown]
# # 21 · The architectures side by side
#
# Part III met ten networks, from LeNet-5 (1998) to DenseNet (2017). This
# notebook puts them in tables:
#
# - what each costs in parameters and multiply-adds at its native size;
# - how far each unit at the end of its convolutional part sees;
# - for the CIFAR-10 variant of each that the course trained and recorded: how
#   fast it runs on this machine, and how accurate it became within its
#   recorded training time.
#
# Every conclusion is read off the tables by code, not from memory.
#
# **Learning objectives.** After this notebook you can
#
# 1. tabulate parameters, multiply-adds and receptive fields of the course's
#    architectures at their native input sizes, with `course_lib.analysis` and
#    `course_lib.receptive_field`;
# 2. measure inference and training throughput with `measure_throughput`, and
#    explain why it does not follow the multiply-adds closely;
# 3. compare the recorded CIFAR-10 runs of the architectures (`course_lib.zoo`):
#    accuracy against multiply-adds, the Pareto front, the learning curves;
# 4. say what one recorded run per network, trained for a time budget, can and
#    cannot tell;
# 5. draw conclusions from a pandas table with `idxmax`, `idxmin` and rank
#    correlations.

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
# Section 2 times every recorded network on this machine; these CPU settings
# keep it to about a minute. On a GPU, the larger settings give more stable
# timings.
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
THROUGHPUT_BATCH = 32  # images per timed step (GPU: 256)
THROUGHPUT_STEPS = 3  # timed steps per model, median kept (GPU: 20)

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course_lib import zoo
from course_lib.analysis import count_macs, measure_throughput
from course_lib.models.alexnet import alexnet
from course_lib.models.densenet import densenet121
from course_lib.models.googlenet import googlenet
from course_lib.models.lenet5 import lenet5
from course_lib.models.mobilenet import mobilenet
from course_lib.models.nin import nin
from course_lib.models.resnet import resnet50, wide_resnet
from course_lib.models.resnext import resnext50_32x4d
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
offsets = {"ResNet-50": (6, -17), "ResNeXt-50 32x4d": (-10, 9), "WRN-28-10": (6, -9),
           "DenseNet-121": (-30, 7), "VGG16": (-36, -11)}
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
# multiply-adds. MobileNet is the cheapest of the 224x224 networks.
#
# Parameters and multiply-adds rank the networks differently. A convolution's
# weights are reused at every position of its output, a dense layer's only
# once per image. So:
#
# - LeNet-5 and AlexNet, with their large dense layers, do the fewest
#   multiply-adds per parameter;
# - DenseNet-121 does the most. Its many narrow convolutions (32 new maps
#   each) run at 56x56 and 28x28, and it has a single small dense layer.
#
# The deep residual and dense networks see more than the whole image. Their
# receptive fields exceed 224 pixels, DenseNet-121's most of all.
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
# ## 2. The CIFAR-10 variants: cost and speed
#
# The course's model zoo (`course_lib.zoo`) defines one CIFAR-10 variant of
# every Part III architecture. Each is sized for 32x32 images the way its
# paper (or its common re-implementations) does. LeNet-5 is not among them: it
# was designed for 32x32 digits and belongs to Part I.
#
# Each variant was trained once, with one seed, on the course's 2-core CPU
# (`python scripts/train_zoo.py all`), one network at a time:
#
# - on the same 45,000 training images;
# - with the defaults of one recipe (`course_lib.experiment.Recipe`), except
#   AlexNet's peak learning rate (0.05 instead of 0.1);
# - for a number of epochs chosen per network, so that its run fits a time
#   budget of about 45 minutes (the columns `epochs` and `training (min)`).
#
# So the runs are not equal training. Each record says how accurate one
# network became within its time budget on that CPU. Comparing how well the
# architectures *learn* would need the same recipe, the same training length
# and several seeds.
#
# Training them all takes hours on that CPU. The tables below hold the runs
# recorded so far, and the next cell names any still to come. Each record
# holds the exact command, the seed, the versions, the seconds, and the test
# accuracy. That accuracy is measured on the 10,000 CIFAR-10 test images,
# without test-time augmentation.
#
# We add what the records cannot know: the throughput of each network on this
# machine, now. `measure_throughput` feeds random batches of
# `THROUGHPUT_BATCH` images. It reports images per second for inference
# (`predict_on_batch`) and for a training step (`train_on_batch`): the median
# of a few steps after a warm-up step. Timings depend on the machine and on
# its load. They are compared, not checked.

# %%
records = zoo.records()
records = records[records.index.isin(zoo.ARCHITECTURES)]  # Part III's networks, not the capstone's
not_recorded = [zoo.ENTRIES[name].architecture for name in zoo.ARCHITECTURES if name not in records.index]
print(f"recorded: {len(records)} of {len(zoo.ARCHITECTURES)} networks; not yet recorded: {', '.join(not_recorded) or 'none'}")
speed_rows = {}
for name in records.index:
    keras.utils.set_random_seed(42)
    network = zoo.ENTRIES[name].build()
    speed = measure_throughput(network, batch_size=THROUGHPUT_BATCH, steps=THROUGHPUT_STEPS, warmup=1)
    speed_rows[name] = {"inference (images/s)": speed["inference"], "training (images/s)": speed["training"]}
    keras.backend.clear_session()
zoo_table = records.join(pd.DataFrame.from_dict(speed_rows, orient="index"))
zoo_table["parameters (M)"] = zoo_table["parameters"] / 1e6
zoo_table["multiply-adds (M)"] = zoo_table["multiply_adds"] / 1e6
zoo_table["training (min)"] = zoo_table["seconds"] / 60
print("device:", speed["device"])
columns = ["architecture", "parameters (M)", "multiply-adds (M)", "inference (images/s)", "training (images/s)",
           "epochs", "training (min)", "test_accuracy"]
zoo_table[columns].set_index("architecture").round(3)

# %% [markdown]
# Speed against cost, computed from the table:

# %%
speed_correlation = zoo_table["multiply-adds (M)"].corr(zoo_table["training (images/s)"], method="spearman")
cost_rank = zoo_table["multiply-adds (M)"].rank(ascending=False)
speed_rank = zoo_table["training (images/s)"].rank()
surprise = (speed_rank - cost_rank).abs().idxmax()
print(f"Spearman rank correlation of multiply-adds and training throughput: {speed_correlation:.2f}")
print(f"furthest from the speed its multiply-adds predict: {zoo_table.loc[surprise, 'architecture']} "
      f"({zoo_table.loc[surprise, 'multiply-adds (M)']:.1f} M multiply-adds, "
      f"{zoo_table.loc[surprise, 'training (images/s)']:.0f} images/s)")

# %% [markdown]
# Multiply-adds predict the measured speed only loosely. More multiply-adds
# mean fewer images per second on the whole (a negative correlation). But
# other things matter too: the number of layers, the memory traffic, and how
# well each kind of layer maps onto the CPU's kernels. For example:
#
# - depthwise convolutions do little arithmetic per value they read
#   (notebook 19);
# - a DenseNet concatenates and normalises its growing stack of maps at every
#   layer;
# - a network of many small layers pays a fixed cost per layer.
#
# ## 3. Accuracy against cost: the Pareto front
#
# Every network in the table reached its recorded test accuracy within its own
# time budget, at its own cost in multiply-adds. A network is
# **Pareto-optimal** when no other network is at least as accurate for fewer
# multiply-adds. Those networks form the *Pareto front*. The others are
# *dominated*: another network is at least as accurate and cheaper.
#
# Read the front for what it is: the best accuracy these runs reached at each
# cost, each within its recorded time budget. It is not a ranking of the
# architectures at equal training. The epochs differ from network to network,
# and so does AlexNet's learning rate.

# %%
def pareto_front(cost, value):
    """Names of the rows that no other row beats with a lower cost and a higher or equal value."""
    front = []
    for name in cost.index:
        dominated = ((cost < cost[name]) & (value >= value[name])).any()
        if not dominated:
            front.append(name)
    return sorted(front, key=lambda n: cost[n])


front = pareto_front(zoo_table["multiply-adds (M)"], zoo_table["test_accuracy"])
fig, ax = plt.subplots(figsize=(7.5, 4.5))
on_front = zoo_table.index.isin(front)
ax.scatter(zoo_table.loc[~on_front, "multiply-adds (M)"], 100 * zoo_table.loc[~on_front, "test_accuracy"],
           color="tab:gray", label="dominated")
ax.scatter(zoo_table.loc[front, "multiply-adds (M)"], 100 * zoo_table.loc[front, "test_accuracy"],
           color="tab:red", label="Pareto front", zorder=3)
ax.plot(zoo_table.loc[front, "multiply-adds (M)"], 100 * zoo_table.loc[front, "test_accuracy"],
        color="tab:red", linestyle="--", zorder=2)
label_below = {"resnext"}  # two points almost on top of each other: one label above, one below
for name, row in zoo_table.iterrows():
    ax.annotate(row["architecture"], (row["multiply-adds (M)"], 100 * row["test_accuracy"]), fontsize=8,
                xytext=(4, -10 if name in label_below else 3), textcoords="offset points")
# The capstone's records (notebook 23): other networks and another recipe, so outside the front.
capstone = zoo.records()
capstone = capstone[capstone.index.isin(zoo.CAPSTONE)]
ax.scatter(capstone["multiply_adds"] / 1e6, 100 * capstone["test_accuracy"], marker="^", color="tab:blue",
           label="airbench's recipe (notebook 23)", zorder=3)
for name, row in capstone.iterrows():
    ax.annotate(row["architecture"], (row["multiply_adds"] / 1e6, 100 * row["test_accuracy"]), fontsize=8,
                xytext=(4, -9), textcoords="offset points")
ax.set_xscale("log")
ax.set_xlabel("multiply-adds per 32x32 image (millions, log scale)")
ax.set_ylabel("recorded test accuracy (%)")
ax.set_title("CIFAR-10: accuracy against cost, one recorded run each")
ax.margins(x=0.12, y=0.08)  # room for the labels of the points at the edges
ax.grid(alpha=0.3, which="both")
ax.legend(loc="upper left")
fig.tight_layout()
plt.show()
print("Pareto front, cheapest first:", ", ".join(zoo_table.loc[front, "architecture"]))

# %% [markdown]
# **Check.** Three statements about the table and its front:
#
# - every recorded CIFAR-10 variant reaches at least 80 % on the 10,000 test
#   images, so no network of the table is near chance (10 %);
# - the front starts at the network with the fewest multiply-adds and ends at
#   the most accurate one;
# - every network on the front beats every cheaper one.
#
# The cell also prints the best residual network of the table (ResNet-20,
# ResNet-9, WRN, ResNeXt), with its distance to the course's target of 90 %.
#
# The course's residual network that meets the target is airbench's, with
# residual groups (the blue triangles are the capstone's records). It is
# trained with airbench's recipe rather than the course's. So it stays out of
# the table and the front, which hold the runs of the course's recipe. The
# cell prints it too; notebooks 18 and 23 say more.

# %%
assert (zoo_table["test_accuracy"] >= 0.80).all(), zoo_table["test_accuracy"]
best_residual = zoo_table.loc[zoo_table.index.isin(zoo.RESIDUAL), "test_accuracy"].idxmax()
assert front[0] == zoo_table["multiply-adds (M)"].idxmin()
assert front[-1] == zoo_table["test_accuracy"].idxmax()
accuracies = zoo_table.loc[front, "test_accuracy"].to_numpy()
assert (np.diff(accuracies) > 0).all()
best = zoo_table["test_accuracy"].idxmax()
print(f"best residual network of the table: {zoo_table.loc[best_residual, 'architecture']} "
      f"({zoo_table.loc[best_residual, 'test_accuracy']:.1%}; the target is 90 %)")
residual_records = zoo.records().loc[lambda table: table.index.isin(zoo.RESIDUAL)]
best_recorded = residual_records.loc[residual_records["test_accuracy"].idxmax()]
assert best_recorded["test_accuracy"] >= 0.90 and best_recorded["seconds"] <= 90 * 60
assert (capstone["test_accuracy"] >= 0.80).all()
print(f"best residual network of all records: {best_recorded['architecture']} "
      f"({best_recorded['test_accuracy']:.1%} in {best_recorded['seconds'] / 60:.0f} min, airbench's recipe)")
print(f"most accurate: {zoo_table.loc[best, 'architecture']} ({zoo_table.loc[best, 'test_accuracy']:.1%}); lowest: "
      f"{zoo_table.loc[zoo_table['test_accuracy'].idxmin(), 'architecture']} ({zoo_table['test_accuracy'].min():.1%})")

# %% [markdown]
# Read the front off the figure and the table: which networks bought their
# accuracy cheaply within their budget, and which paid more multiply-adds for
# less. Two cautions:
#
# - Each point is *one* run with *one* seed, and its epochs were chosen to fit
#   a time budget, not equalised. Differences of a point or two are within
#   what another seed or a few more epochs would change. The front says which
#   network did best within its budget, not which architecture learns best.
# - Multiply-adds are not time. On this CPU, the ranking by training
#   throughput in section 2 differs.
#
# ## 4. The learning curves
#
# The validation accuracy of every recorded run, epoch by epoch. The recipe's
# learning rate decays to zero at the last epoch (a cosine), so every curve
# climbs fastest at its end, whatever its number of epochs.

# %%
fig, ax = plt.subplots(figsize=(8, 4.5))
for name, row in zoo_table.iterrows():
    curve = zoo.history(name)["val_accuracy"]
    ax.plot(curve.index, 100 * curve.values, marker="o", markersize=2,
            label=f"{row['architecture']} ({row['epochs']} epochs)")
ax.set_xlabel("epoch")
ax.set_ylabel("validation accuracy (%)")
ax.set_title("Recorded CIFAR-10 runs: 5,000 validation images carved out of the training set")
ax.grid(alpha=0.3)
ax.legend(fontsize="small", ncol=2, loc="lower right")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Check.** Each record's last validation accuracy is within 3 points of its
# test accuracy: the validation set, carved out of the training data, predicts
# the test accuracy well.

# %%
last_validation = pd.Series({name: zoo.history(name)["val_accuracy"].iloc[-1] for name in zoo_table.index})
gap = (last_validation - zoo_table["test_accuracy"]).abs()
assert (gap < 0.03).all(), gap
print(f"largest gap between validation and test accuracy: {gap.max():.1%} ({zoo_table.loc[gap.idxmax(), 'architecture']})")

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
# - Every recorded CIFAR-10 variant (`course_lib.zoo`) passes 80 % test
#   accuracy. The Pareto front of accuracy against multiply-adds is the best
#   accuracy these runs reached at each cost, each within its time budget.
# - One recorded run per network, with epochs set by a time budget, measures
#   accuracy for a time budget. It is not a ranking of the architectures at
#   equal training: differences of a point or two need several seeds and the
#   same recipe and epochs.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# Solutions: [solutions/part3.md](solutions/part3.md) (the counts worked out, what to
# compare in the experiments); try each exercise first.
#
# 1. ★ **Parameters per stage.** Use `course_lib.analysis.parameter_table` on
#    `vgg16()` and `resnet50()`. Where do their parameters sit, and their
#    multiply-adds? *Hint:* sort by `parameter_share`.
# 2. ★★ **Another input size.** Recompute the full-size table with every 224x224
#    network at 160x160. Which columns change, and by how much? *Hint:* the
#    parameters do not change (except for VGG16's and AlexNet's flattening dense
#    layers); the multiply-adds scale with the area.
# 3. ★ **Stable timings.** Rerun section 2 with `THROUGHPUT_STEPS = 20` twice. How
#    much do the images/s change between runs? *Hint:* compare with the machine's
#    load (`os.getloadavg()`).
# 4. ★★★ **A fair accuracy comparison.** Train two networks of the front with three
#    seeds each, at a quarter of their width, on a CIFAR-10 subset with the same
#    recipe and epochs, and compare them seed by seed. Is the order of the
#    recorded runs kept? *Hint:* `experiment.run` and `experiment.compare`;
#    `zoo.ENTRIES[name].builder` is each network's builder.
# 5. ★ **Accuracy per second.** Redraw the front with the recorded training time
#    (`seconds`) instead of the multiply-adds. Which networks change sides?
#    *Hint:* call `pareto_front(zoo_table["training (min)"], ...)`.
