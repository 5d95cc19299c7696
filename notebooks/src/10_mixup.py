# %% [markdown]
# # 10 · Mixup
#
# Augmentation (notebook 09) transforms one image and keeps its label. Mixup
# (Zhang et al., 2018) goes further: it makes **virtual samples** by mixing two
# training images, pixel by pixel, and mixes their labels in the same
# proportion. A network trained on such samples learns to answer "70% cat, 30%
# ship" for an image that is 70% cat and 30% ship: it is pushed towards less
# confident, linear behaviour between classes.
#
# > **Lecture vs paper: which pairs are mixed?**
# >
# > - Zhang et al. mix two examples drawn at random, whatever their classes.
# >   In practice each batch is mixed with a shuffled copy of itself, so a
# >   pair can share its class. `keras.layers.MixUp` does exactly that.
# >
# > - The lecture notes take the two examples from **different classes**. That
# >   rule is the lecture's, not the paper's.
# >
# > - This notebook's code follows the lecture: `course_lib`'s `MixUp`,
# >   `mixup_batch` and `MixUpBatches` pair every sample with one of another
# >   class (`different_classes=True`, their default). With
# >   `different_classes=False` they pair it with any other sample, close to the
# >   paper's rule. Section 3 measures the difference with Keras's layer.
# >
# > - The paper's code also draws one weight $\lambda$ per batch. The course
# >   and Keras draw one per sample.
#
# **Learning objectives.** After this notebook you can
#
# 1. build virtual samples with `course_lib.mixup.MixUp` and `mixup_batch`,
#    and read their soft labels;
# 2. explain why mixup needs one-hot (or soft) labels and a cross-entropy that
#    accepts them;
# 3. say how `course_lib`'s `MixUp` differs from `keras.layers.MixUp`, and show
#    the difference;
# 4. train with and without mixup on a small training set over several seeds,
#    and measure accuracy and calibration (expected calibration error, a
#    reliability diagram).

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
# Section 4 trains a small CNN on a CIFAR-10 subset, with and without mixup,
# for three seeds; these CPU settings keep the notebook to about two minutes.
# The settings in the comments suit a GPU.
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
PER_CLASS = 100  # CIFAR-10 training images per class (GPU: 500)
TEST_PER_CLASS = 300  # test images per class (GPU: 1000, all of them)
EPOCHS = 30  # (GPU: 100)
BATCH_SIZE = 64
ALPHA = 0.4  # mixup's Beta(alpha, alpha) parameter
SEEDS = (0, 1, 2)  # each seed draws its own training subset and initialisation (GPU: range(5))

# %%
import re

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve

from course_lib import data, diagrams, experiment
from course_lib.mixup import MixUp, MixUpBatches, mixup_batch

(x_train_all, y_train_all), (x_test_all, y_test_all) = data.load_cifar10()
# 1,000 validation images, carved out of the training set; the training subsets come from the rest.
(x_train_all, y_train_all), (x_val, y_val) = experiment.split_validation(x_train_all, y_train_all, 1000, seed=0)
x_val = x_val.astype("float32") / 255.0
names = data.class_names("cifar10")
x_test, y_test = data.subset(x_test_all, y_test_all, TEST_PER_CLASS, seed=0)
x_test = x_test.astype("float32") / 255.0
y_test = y_test.reshape(-1)


def to_uint8(images):
    """Float images in [0, 1] as uint8, to show them as they are."""
    return np.clip(np.rint(np.asarray(images) * 255), 0, 255).astype(np.uint8)

# %% [markdown]
# ## 1. Virtual samples and their soft labels
#
# For each sample $i$ of a batch, mixup draws a partner $j$ and a weight
# $\lambda_i \sim \mathrm{Beta}(\alpha, \alpha)$ in the open interval (0, 1),
# and returns
#
# $$\tilde x_i = \lambda_i x_i + (1 - \lambda_i) x_j, \qquad
#   \tilde y_i = \lambda_i y_i + (1 - \lambda_i) y_j .$$
#
# The labels $y$ are one-hot vectors, so $\tilde y_i$ is a **soft label**: the
# weight $\lambda_i$ on the class of $x_i$ and $1 - \lambda_i$ on the class of
# $x_j$. The diagram mixes two training images with $\lambda = 0.7$. Look at
# the bottom row: the labels are mixed with the same weights as the pixels.

# %%
images, labels = data.subset(x_train_all, y_train_all, 1, seed=0)
images = images[:8].astype("float32") / 255.0
labels = labels.reshape(-1)[:8]
diagrams.show(diagrams.mixup_pair(to_uint8(images[0]), to_uint8(images[1]), label_a=int(labels[0]),
                                  label_b=int(labels[1]), lam=0.7, class_names=names))

# %% [markdown]
# `course_lib`'s `MixUp` takes the partner from another class, as the lecture
# defines mixup (the paper takes any partner: see the box above).
# `mixup_batch` is its NumPy version, which also returns the $\lambda$s and the
# partners; with the same seed, both draw the same. For the picture of eight
# virtual samples we take $\alpha = 1$ ($\lambda$ uniform in (0, 1)), so that
# the mixing shows; training in section 4 uses `ALPHA`.

# %%
one_hot = keras.utils.to_categorical(labels, 10).astype("float32")

mixed, soft, lambdas, partners = mixup_batch(images, one_hot, alpha=1.0, seed=0)
layer_images, layer_labels = MixUp(alpha=1.0, seed=0)((images, one_hot))


def describe(soft_label):
    top = np.argsort(soft_label)[::-1][:2]
    return "\n".join(f"{soft_label[c]:.2f} {names[c]}" for c in top)


fig, axes = plt.subplots(3, 8, figsize=(11.5, 5.2), layout="constrained")
for row, pictures in zip(axes, (images, images[partners], mixed)):
    for ax, picture in zip(row, to_uint8(pictures)):
        ax.imshow(picture)
        ax.set_xticks([])
        ax.set_yticks([])
for k in range(8):
    axes[0, k].set_title(names[labels[k]], fontsize="small")
    axes[1, k].set_title(names[labels[partners[k]]], fontsize="small")
    axes[2, k].set_xlabel(describe(soft[k]), fontsize="small")  # under its own image
for ax, row_name in zip(axes[:, 0], ("sample i", "partner j", "virtual\nsample")):
    ax.set_ylabel(row_name)
fig.suptitle("Mixup: sample i (top) and its partner j (middle) make the virtual sample (bottom); "
             "its soft label is written under it")
plt.show()
pd.DataFrame(
    {"class of i": [names[c] for c in labels], "class of j": [names[c] for c in labels[partners]], "lambda": lambdas}
).round(3).T

# %% [markdown]
# **Check.** Each virtual sample is the stated convex combination of its
# images and of their labels; every soft label sums to one and puts $\lambda$
# on the class of $i$ and $1 - \lambda$ on another class; $\lambda$ lies
# strictly between 0 and 1; and the layer drew exactly what `mixup_batch` did.

# %%
# NBVAL_CHECK_OUTPUT
weights = lambdas[:, None, None, None]
np.testing.assert_allclose(mixed, weights * images + (1 - weights) * images[partners], atol=1e-6)
np.testing.assert_allclose(soft, lambdas[:, None] * one_hot + (1 - lambdas[:, None]) * one_hot[partners], atol=1e-6)
np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-6)
assert ((0 < lambdas) & (lambdas < 1)).all()
assert (labels[partners] != labels).all()
np.testing.assert_allclose(soft[np.arange(8), labels], lambdas, atol=1e-6)
np.testing.assert_allclose(keras.ops.convert_to_numpy(layer_images), mixed, atol=1e-6)
np.testing.assert_allclose(keras.ops.convert_to_numpy(layer_labels), soft, atol=1e-6)
print("8 virtual samples, each from two classes, labels summing to 1; MixUp layer == mixup_batch")

# %% [markdown]
# **What $\alpha$ does.** $\mathrm{Beta}(\alpha, \alpha)$ is symmetric around
# 0.5. With $\alpha = 1$ it is uniform on (0, 1); with a small $\alpha$ most
# draws lie near 0 or 1, so that most virtual samples are mostly one image,
# lightly mixed with another. Zhang et al. use $\alpha$ between 0.1 and 0.4 on
# ImageNet. We draw many $\lambda$s with `mixup_batch` for three values of
# $\alpha$:

# %%
many_labels = keras.utils.to_categorical(np.arange(2000) % 10, 10).astype("float32")
draws = {alpha: mixup_batch(np.zeros((2000, 1)), many_labels, alpha=alpha, seed=1)[2] for alpha in (0.2, ALPHA, 1.0)}

fig, ax = plt.subplots(figsize=(6, 3))
for alpha, values in draws.items():
    ax.hist(values, bins=20, range=(0, 1), histtype="step", linewidth=1.5, label=f"alpha = {alpha}")
ax.set_xlabel("lambda (weight of sample i)")
ax.set_ylabel("count (of 2,000 draws)")
ax.set_title("Mixing weights drawn from Beta(alpha, alpha)")
ax.legend()
plt.show()
near_ends = pd.Series({alpha: np.mean((v < 0.1) | (v > 0.9)) for alpha, v in draws.items()}, name="share of lambda < 0.1 or > 0.9")
near_ends.round(3).to_frame()

# %% [markdown]
# **Check.** The smaller $\alpha$, the more draws lie within 0.1 of 0 or 1:
# for $\alpha = 1$ (uniform) about 20% of them.

# %%
# NBVAL_CHECK_OUTPUT
assert near_ends[0.2] > near_ends[ALPHA] > near_ends[1.0]
assert abs(near_ends[1.0] - 0.2) < 0.03, near_ends
print("share near 0 or 1 decreases with alpha:", near_ends.index.tolist())

# %% [markdown]
# ### Why mixup is domain-agnostic
#
# Augmentation works only with transformations that keep the label, and knowing
# which ones do takes knowledge of the domain: a flip keeps a horse a horse, but
# a rotation turns a 6 into a 9 (notebook 09), and a mirrored chest X-ray puts
# the heart on the wrong side. Mixup never asks that question.
#
# A weighted average
# of two inputs, and of their labels, is defined for any data stored as arrays of
# numbers: photographs, spectrograms of sound, rows of a table. The lecture notes
# give this as mixup's main advantage: it is **domain-agnostic**. What it costs:
# its virtual samples are not realistic images (the bottom row of the figure
# above), and what it teaches is not an invariance but a smooth, linear
# transition between classes.

# %% [markdown]
# ## 2. Why mixup needs one-hot labels
#
# **The loss on soft labels.** The categorical cross-entropy of a prediction
# $p$ against a label vector $y$ is $-\sum_k y_k \log p_k$: linear in $y$. For
# a soft label it is therefore the mix of the two losses,
#
# $$\mathrm{CE}(\lambda y_i + (1 - \lambda) y_j,\ p) = \lambda\,\mathrm{CE}(y_i, p)
#   + (1 - \lambda)\,\mathrm{CE}(y_j, p),$$
#
# and it is smallest when the network predicts $p = \tilde y$: exactly
# $\lambda$ for one class and $1 - \lambda$ for the other. Training with mixup
# therefore uses `categorical_crossentropy` on label vectors, not
# `sparse_categorical_crossentropy` on class indices (which has no way to say
# "0.7 cat, 0.3 ship").

# %%
predictions = keras.ops.convert_to_numpy(keras.ops.softmax(keras.random.normal((8, 10), seed=0)))
loss_soft = keras.ops.convert_to_numpy(keras.losses.categorical_crossentropy(soft, predictions))
loss_i = keras.ops.convert_to_numpy(keras.losses.categorical_crossentropy(one_hot, predictions))
loss_j = keras.ops.convert_to_numpy(keras.losses.categorical_crossentropy(one_hot[partners], predictions))
loss_at_target = keras.ops.convert_to_numpy(keras.losses.categorical_crossentropy(soft, soft))
loss_elsewhere = keras.ops.convert_to_numpy(keras.losses.categorical_crossentropy(soft, (soft + one_hot) / 2))

# %% [markdown]
# **Check.** The loss on a soft label is the $\lambda$-weighted mix of the
# losses on the two one-hot labels, and predicting the soft label itself
# costs less than predicting something more confident.

# %%
# NBVAL_CHECK_OUTPUT
np.testing.assert_allclose(loss_soft, lambdas * loss_i + (1 - lambdas) * loss_j, rtol=1e-5)
assert (loss_at_target < loss_elsewhere).all()
print("CE(soft) == lambda * CE(y_i) + (1 - lambda) * CE(y_j) for all 8 samples")

# %% [markdown]
# **Integer labels.** Mixing class *indices* would be meaningless: half a cat
# (class 3) and half a truck (class 9) would be class 6, a frog. So `MixUp`
# refuses integer labels, with an error that says what to do:

# %%
try:
    MixUp(alpha=ALPHA)((images, labels))
except TypeError as error:
    message = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # drop the terminal's bold codes
    message = next(line for line in message.splitlines() if "`labels`" in line)
else:
    raise AssertionError("MixUp accepted integer labels")
print(message.replace("; ", ";\n").replace(". ", ".\n"))

# %% [markdown]
# **Check.** The error names the problem (integer labels) and the fix
# (`keras.utils.to_categorical`).

# %%
# NBVAL_CHECK_OUTPUT
assert "float dtype" in message and f"dtype {labels.dtype}" in message
assert "keras.utils.to_categorical(labels, num_classes)" in message
print("integer labels: TypeError with the fix in its message")

# %% [markdown]
# ## 3. `course_lib`'s `MixUp` and `keras.layers.MixUp`
#
# Keras 3 has its own `keras.layers.MixUp`. Its source
# (`keras/src/layers/preprocessing/image_preprocessing/mix_up.py`) shows how it
# works: `get_random_transformation` draws one random permutation of the batch
# (`random.shuffle` of `arange(batch_size)`) and one weight per sample from
# `random.beta(alpha, alpha)`; `transform_images` and `transform_labels` then mix
# sample $i$ with sample `permutation[i]`. The differences:
#
# | | `course_lib.mixup.MixUp` | `keras.layers.MixUp` |
# |---|---|---|
# | weight $\lambda$ | one per sample, Beta($\alpha$, $\alpha$), clipped to $[10^{-6}, 1 - 10^{-6}]$ | one per sample, Beta($\alpha$, $\alpha$), not clipped (can be exactly 0 or 1 for a small $\alpha$) |
# | partner | drawn for each sample among the samples of **another class** (`different_classes=True`; a single-class batch passes unchanged), or among the other samples | `permutation[i]` of one shuffle of the batch, **whatever its class**: possibly the same class, or the sample itself |
# | labels | required, one-hot or soft, of a float dtype and shape (batch, classes); checked, with clear errors | optional; not checked (integer labels fail deep inside the multiplication; float class indices are silently averaged) |
# | input | a tuple `(images, labels)` or a dict | a dict `{"images": ..., "labels": ...}`; also bounding boxes and segmentation masks |
# | where | in a model's data pipeline on NumPy batches; `tf.data` on TensorFlow only | `tf.data` on any backend |
#
# Both return the inputs unchanged with `training=False`. The partner rule makes
# a visible difference: with Keras, a sample paired with one of its own class
# (or with itself) keeps a one-hot label, so part of every batch is not mixed
# between classes. We count it over 50 batches of 64 CIFAR-10 images.

# %%
keras_mixup = keras.layers.MixUp(alpha=ALPHA, seed=0)
course_mixup = MixUp(alpha=ALPHA, seed=0)
pool, pool_labels = data.subset(x_train_all, y_train_all, 320, seed=1)
pool = pool.astype("float32") / 255.0
pool_one_hot = keras.utils.to_categorical(pool_labels.reshape(-1), 10).astype("float32")


def share_still_one_hot(mixed_labels):
    return np.mean(keras.ops.convert_to_numpy(mixed_labels).max(axis=1) > 1 - 1e-6)


shares = {"keras.layers.MixUp": [], "course_lib MixUp": []}
for start in range(0, 50 * 64, 64):
    batch, batch_labels = pool[start : start + 64], pool_one_hot[start : start + 64]
    shares["keras.layers.MixUp"].append(share_still_one_hot(keras_mixup({"images": batch, "labels": batch_labels})["labels"]))
    shares["course_lib MixUp"].append(share_still_one_hot(course_mixup((batch, batch_labels))[1]))
same_class = pd.Series({name: np.mean(values) for name, values in shares.items()}, name="share of one-hot labels after mixing")
same_class.round(3).to_frame()

# %% [markdown]
# With ten classes, a random partner has the sample's own class about one time
# in ten. Keras's layer returns that share of samples with a hard label (a
# same-class image mixed in, or the sample itself); `course_lib`'s never
# does.
#
# And what happens if one passes class indices as floats, shape (batch, 1), to
# Keras's layer? It mixes them, silently:

# %%
index_labels = labels[:, None].astype("float32")
mixed_indices = keras.ops.convert_to_numpy(
    keras.layers.MixUp(alpha=ALPHA, seed=0)({"images": images, "labels": index_labels})["labels"]
)
pd.DataFrame({"label": labels, "after keras.layers.MixUp": mixed_indices[:, 0]}).round(2).T

# %% [markdown]
# **Check.** Keras's layer leaves between 3% and 20% of the labels one-hot
# (about 10% expected), `course_lib`'s none; fed class indices, Keras's layer
# returns numbers that are no class.

# %%
# NBVAL_CHECK_OUTPUT
assert 0.03 < same_class["keras.layers.MixUp"] < 0.2, same_class
assert same_class["course_lib MixUp"] == 0.0
assert not np.allclose(mixed_indices, np.round(mixed_indices))
print("one-hot after mixing: keras > 0, course_lib = 0; keras mixes class indices without a word")

# %% [markdown]
# ## 4. Training with and without mixup
#
# A small CNN (two convolution-pooling stages and a dense layer) trains on
# `PER_CLASS` CIFAR-10 images per class with one-hot labels and
# `categorical_crossentropy`, once on the real images and once with mixup.
#
# As in notebook 09, this is a small-data lesson: on so few images, both
# networks stay under 50 % validation and test accuracy, and what we measure
# is what mixup changes at that accuracy, not on the full training set.
#
# `MixUpBatches` is a Keras data source that makes fresh batches each epoch. It
# shuffles the training set, cuts it into batches and mixes each batch as
# `mixup_batch` does, with new weights and partners at every epoch. So one call
# of `fit` trains all the epochs on fresh virtual samples. The test images are never mixed. Both runs of a seed use the same
# images and initial weights; each seed draws its own subset.
#
# Besides the accuracy we measure how much the network's confidence can be
# trusted. Its **confidence** on an image is its largest output probability. A
# network is **calibrated** if, among the images it classifies with confidence
# about 0.8, about 80% are right. The **expected calibration error** (ECE)
# groups the test images into 10 bins of confidence (0-0.1, ..., 0.9-1) and
# averages the gap between accuracy and mean confidence in each bin, weighted by
# the share of images in the bin.
#
# We also report the mean confidence (a network
# is **over-confident** when it exceeds the accuracy) and the test cross-entropy (negative log-likelihood, NLL), which punishes confident
# mistakes.

# %%
def small_cnn():
    inputs = keras.Input((32, 32, 3))
    x = inputs
    for filters in (16, 32):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy")
    return model


def expected_calibration_error(probabilities, y, bins=10):
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y
    which = np.minimum((confidence * bins).astype(int), bins - 1)  # bin of each image
    return sum(
        np.mean(which == b) * abs(correct[which == b].mean() - confidence[which == b].mean())
        for b in range(bins)
        if (which == b).any()
    )


rows, test_probabilities = [], {"without": [], "with": []}
for seed in SEEDS:
    x_small, y_small = data.subset(x_train_all, y_train_all, PER_CLASS, seed=seed)
    x_small = x_small.astype("float32") / 255.0
    y_small = keras.utils.to_categorical(y_small.reshape(-1), 10).astype("float32")
    for name in ("without", "with"):
        keras.utils.set_random_seed(seed)
        model = small_cnn()
        if name == "without":
            model.fit(x_small, y_small, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=0)
        else:
            batches = MixUpBatches(x_small, y_small, BATCH_SIZE, alpha=ALPHA, seed=seed)
            model.fit(batches, epochs=EPOCHS, verbose=0)
        validation_probabilities = model.predict(x_val, batch_size=500, verbose=0)
        probabilities = model.predict(x_test, batch_size=500, verbose=0)
        test_probabilities[name].append(probabilities)
        accuracy = np.mean(probabilities.argmax(axis=1) == y_test)
        confidence = probabilities.max(axis=1).mean()
        rows.append(
            {
                "seed": seed,
                "mixup": name,
                "accuracy": accuracy,
                "mean confidence": confidence,
                "ECE": expected_calibration_error(probabilities, y_test),
                "NLL": -np.mean(np.log(probabilities[np.arange(len(y_test)), y_test] + 1e-12)),
                "validation accuracy": np.mean(validation_probabilities.argmax(axis=1) == y_val),
                "validation ECE": expected_calibration_error(validation_probabilities, y_val),
            }
        )

runs = pd.DataFrame(rows)
runs.set_index(["seed", "mixup"]).round(3)

# %%
results = runs.groupby("mixup").agg(["mean", "std"]).drop(columns="seed").loc[["without", "with"]]
by_seed = runs.pivot(index="seed", columns="mixup")
change = {metric: by_seed[(metric, "with")] - by_seed[(metric, "without")]
          for metric in ("accuracy", "ECE", "NLL", "validation accuracy", "validation ECE")}
results.round(3)

# %% [markdown]
# ## 5. Calibration: reliability diagram and confidence
#
# A **reliability diagram** plots, for each confidence bin, the accuracy of the
# test images in the bin against their mean confidence
# (`sklearn.calibration.calibration_curve` computes it from "right or wrong"
# and the confidence). A calibrated network lies on the diagonal; below it, the
# network is over-confident. We pool the test predictions of the three seeds.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
for name, style in (("without", "o-"), ("with", "s-")):
    probabilities = np.concatenate(test_probabilities[name])
    truth = np.tile(y_test, len(SEEDS))
    correct = probabilities.argmax(axis=1) == truth
    confidence = probabilities.max(axis=1)
    accuracy_in_bin, confidence_in_bin = calibration_curve(correct, confidence, n_bins=10)
    left.plot(confidence_in_bin, accuracy_in_bin, style, label=f"{name} mixup")
    right.hist(confidence, bins=20, range=(0, 1), histtype="step", linewidth=1.5, label=f"{name} mixup")
left.plot([0, 1], [0, 1], "k--", linewidth=1, label="calibrated")
left.set_xlabel("mean confidence in bin")
left.set_ylabel("accuracy in bin")
left.set_title("Reliability diagram (CIFAR-10 test, 3 seeds)")
left.legend(fontsize="small")
right.set_xlabel("confidence (largest output probability)")
right.set_ylabel("test images")
right.set_title("Confidence of the predictions")
right.legend(fontsize="small")
plt.show()

# %% [markdown]
# Without mixup, the network trained on 1,000 images is over-confident: fewer
# than half of its test answers are right, yet its mean confidence is well
# above its accuracy, its curve lies below the diagonal, and it gives many
# answers with a confidence above 0.9. With mixup the curve moves towards the
# diagonal (still a little below it) and the confidences spread over lower
# values: the network has learned, from the soft labels, to hedge. (When every
# bin is over-confident, the ECE equals the mean confidence minus the
# accuracy; that is nearly the case here.)
#
# How reliable is it at this scale? Each seed is a paired experiment: the same
# images and initial weights, with and without mixup. The course's rule from
# notebook 01 decides on the validation images: an effect is clear when the
# 95 % interval of the mean change excludes zero. The cell below prints that
# verdict for the calibration error and for the accuracy. At this scale we
# claim only what the verdicts support.
#
# **Check.** Without mixup, the accuracy is below 50 % and the mean confidence
# exceeds it by more than 0.1 on every seed. More answers have a confidence
# above 0.9 than with mixup. With mixup, the calibration error on the
# validation images falls: a clear effect. On the test images it falls on
# every seed, and so do the gap between confidence and accuracy and the NLL.

# %%
over_confidence = by_seed["mean confidence"] - by_seed["accuracy"]
very_confident = {name: np.mean(np.concatenate(p).max(axis=1) > 0.9) for name, p in test_probabilities.items()}
assert (by_seed[("accuracy", "without")] < 0.5).all() and (over_confidence["without"] > 0.1).all(), by_seed
assert very_confident["without"] > very_confident["with"], very_confident
calibration_effect = experiment.paired_comparison(change["validation ECE"], metric="validation ECE",
                                                  baseline="without mixup", treatment="with mixup")
assert calibration_effect.clear and calibration_effect.mean < 0, calibration_effect
assert (change["ECE"] < 0).all(), by_seed["ECE"]
assert (over_confidence["with"] < over_confidence["without"]).all(), over_confidence
assert (change["NLL"] < 0).all(), by_seed["NLL"]
print(calibration_effect)
print(f"test ECE {results.loc['without', ('ECE', 'mean')]:.3f} -> {results.loc['with', ('ECE', 'mean')]:.3f}, "
      f"lower on all {len(SEEDS)} seeds")
accuracy_effect = experiment.paired_comparison(change["validation accuracy"], metric="val_accuracy",
                                               baseline="without mixup", treatment="with mixup")
print(accuracy_effect)

# %% [markdown]
# ## Summary
#
# - Mixup trains on virtual samples $\lambda x_i + (1 - \lambda) x_j$ with
#   soft labels $\lambda y_i + (1 - \lambda) y_j$, $\lambda \sim
#   \mathrm{Beta}(\alpha, \alpha)$; a small $\alpha$ mixes lightly.
# - The labels must be one-hot (or soft) vectors and the loss
#   `categorical_crossentropy`, whose value on a soft label is the
#   $\lambda$-mix of the two losses. `MixUp` rejects integer labels with a
#   clear error.
# - `course_lib`'s `MixUp` pairs each sample with one of another class, the
#   lecture's rule. `keras.layers.MixUp` pairs by one random permutation of the
#   batch, as Zhang et al. do, so some samples keep a hard label; and it does
#   not check its labels.
# - On 100 CIFAR-10 images per class, mixup lowered the calibration error on
#   the validation images, a clear effect over three seeds. On the test images
#   it lowered the calibration error, the over-confidence and the NLL on every
#   seed. We claim no effect on the accuracy at this scale.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# Solutions, with what to compare: [solutions/part2.md](solutions/part2.md); try each
# exercise first.
#
# 1. ★★ **Choosing alpha.** Repeat section 4 with $\alpha$ = 0.1, 0.4 and 1.0 and
#    plot the mean ECE and accuracy against $\alpha$. *Hint:* keep the seeds,
#    and add a column for $\alpha$ to `rows`.
# 2. ★ **Same-class partners.** Train with `MixUpBatches(...,
#    different_classes=False)` and compare the ECE with the default. *Hint:*
#    only the `batches` line changes.
# 3. ★★ **Keras's layer.** Train with `keras.layers.MixUp` instead of `course_lib`'s:
#    write a small Keras data source, of the same kind as `MixUpBatches`, whose
#    batches that layer mixes. Does the partner rule change the results? *Hint:* it takes and
#    returns a dict `{"images": ..., "labels": ...}`.
# 4. ★ **Label smoothing.** Another way to soften labels is
#    `keras.losses.CategoricalCrossentropy(label_smoothing=0.1)`. Train the
#    baseline with it and compare its ECE with mixup's. *Hint:* pass the loss
#    object to `compile` in `small_cnn`.
# 5. ★★★ **Temperature scaling.** Calibrate the baseline after training: divide its
#    logits by a temperature $T$ chosen to minimise the NLL on held-out images.
#    *Hint:* build the last layer without softmax, then search $T$ on a grid
#    with `keras.ops.softmax(logits / T)`.
