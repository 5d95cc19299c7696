# %% [markdown]
# # 09 · Data augmentation
#
# A network trained on few images learns them by heart. Data augmentation shows
# it a new version of every training image at every epoch: shifted, flipped,
# rotated, brighter, noisier. If the transformation keeps the class, the network
# gets more (correlated) examples for free, and learns to ignore what the
# transformation changes.
#
# **Learning objectives.** After this notebook you can
#
# 1. build geometric (shift, rotation, shear, zoom, flip, perspective) and
#    photometric (noise, brightness, contrast, colour) pipelines from Keras 3's
#    preprocessing layers with `course_lib.augment`, and look at what they do;
# 2. explain why augmentation is active only in training, and check it;
# 3. recognise a transformation that breaks the label-preserving assumption
#    (a "6" rotated by 180 degrees is a "9");
# 4. measure what augmentation buys on a small training set, over several
#    seeds, with the 95 % interval of the mean gain;
# 5. compensate a class imbalance by augmenting the minority classes, and give
#    each class its own pipeline.

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
# Sections 5 and 6 train small CNNs on CIFAR-10 subsets, over five seeds;
# these CPU settings keep the notebook to about three minutes. On a GPU, the settings in
# the comments give steadier numbers (augmentation pays off more with longer
# training).
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
PER_CLASS = 100  # CIFAR-10 training images per class (GPU: 500)
VALIDATION_PER_CLASS = 300  # validation images per class, carved out of the training set
MINORITY_PER_CLASS = 20  # images left in each minority class of section 5 (GPU: 100)
TEST_PER_CLASS = 300  # test images per class (GPU: 1000, all of them)
EPOCHS = 30  # (GPU: 100)
BATCH_SIZE = 64
SEEDS = (0, 1, 2, 3, 4)  # each seed draws its own training subset and initialisation (GPU: range(10))

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import recall_score
from sklearn.utils.class_weight import compute_class_weight

from course_lib import data, experiment
from course_lib.augment import (
    balance_with_augmentation,
    class_specific_augmentation,
    geometric_augmentation,
    photometric_augmentation,
)
from course_lib.viz import show_images

# The validation images come out of the training set; the training subsets are drawn from the rest.
(x_train_all, y_train_all), (x_test_all, y_test_all) = data.load_cifar10()
(x_train_all, y_train_all), (x_val, y_val) = experiment.split_validation(
    x_train_all, y_train_all, validation_size=5000, seed=0
)
cifar_names = data.class_names("cifar10")
x_val, y_val = data.subset(x_val, y_val, VALIDATION_PER_CLASS, seed=0)
x_val = x_val.astype("float32") / 255.0
x_test, y_test = data.subset(x_test_all, y_test_all, TEST_PER_CLASS, seed=0)
x_test = x_test.astype("float32") / 255.0
y_test = y_test.reshape(-1)

# %% [markdown]
# ## 1. The pipelines and their Keras layers
#
# `course_lib.augment` builds two pipelines, each a `keras.layers.Pipeline` of
# Keras 3's own random preprocessing layers:
#
# - `geometric_augmentation()` moves pixels without changing their values:
#   flip, rotation, translation (shift), zoom, shear, perspective;
# - `photometric_augmentation()` changes pixel values without moving them:
#   brightness, contrast, saturation and hue (colour), Gaussian noise.
#
# Every transformation has a strength; 0 (or `None`) switches it off. The
# defaults switch on a mild flip, rotation, shift and zoom, and a mild
# brightness and contrast change. Here are the layers, with everything switched
# on:

# %%
# NBVAL_CHECK_OUTPUT
geometric = geometric_augmentation(
    flip="horizontal", rotation=0.05, translation=0.1, zoom=0.1, shear=0.1, perspective=0.1, seed=0
)
photometric = photometric_augmentation(
    brightness=0.1, contrast=0.2, saturation=0.5, hue=0.05, noise=0.03, value_range=(0, 1), seed=10
)
for pipeline in (geometric, photometric):
    print(f"{pipeline.name}:")
    for layer in pipeline.layers:
        print(f"    {type(layer).__module__.split('.')[0]}.{type(layer).__name__}")

# %% [markdown]
# All of them are `keras.layers` except `RangeGaussianNoise`: Keras's
# `GaussianNoise` takes an absolute standard deviation, and the course's layer
# expresses it as a fraction of the pixel range instead.
#
# **Check.** Six geometric layers and five photometric ones, in the documented
# order.

# %%
# NBVAL_CHECK_OUTPUT
assert [type(layer).__name__ for layer in geometric.layers] == [
    "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "RandomShear", "RandomPerspective"
]
assert [type(layer).__name__ for layer in photometric.layers] == [
    "RandomBrightness", "RandomContrast", "RandomSaturation", "RandomHue", "RangeGaussianNoise"
]
assert isinstance(geometric, keras.layers.Pipeline) and isinstance(photometric, keras.layers.Pipeline)
print(len(geometric.layers), "geometric layers,", len(photometric.layers), "photometric layers")

# %% [markdown]
# ## 2. A gallery of transformations
#
# To see what each transformation does, we build one pipeline per
# transformation, with only that one switched on (and stronger than we would
# train with, so that it shows), and apply it six times to the same CIFAR-10
# image. The images are floats in [0, 1], so the photometric pipelines get
# `value_range=(0, 1)`.

# %%
off = dict(flip=None, rotation=0, translation=0, zoom=0)
gallery = {
    "shift": geometric_augmentation(**{**off, "translation": 0.2}, seed=1),
    "rotation": geometric_augmentation(**{**off, "rotation": 0.1}, seed=2),
    "shear": geometric_augmentation(**{**off, "shear": 0.4}, seed=3),
    "zoom": geometric_augmentation(**{**off, "zoom": 0.3}, seed=4),
    "flip": geometric_augmentation(**{**off, "flip": "horizontal_and_vertical"}, seed=5),
    "perspective": geometric_augmentation(**{**off, "perspective": 0.4}, seed=6),
    "noise": photometric_augmentation(brightness=0, contrast=0, noise=0.08, value_range=(0, 1), seed=7),
    "brightness": photometric_augmentation(brightness=0.4, contrast=0, value_range=(0, 1), seed=8),
    "contrast": photometric_augmentation(brightness=0, contrast=0.7, value_range=(0, 1), seed=9),
    "colour": photometric_augmentation(brightness=0, contrast=0, saturation=0.9, hue=0.3, value_range=(0, 1), seed=10),
}
DRAWS = 6
image = x_train_all[np.flatnonzero(y_train_all.reshape(-1) == cifar_names.index("horse"))[0]]
image = image.astype("float32") / 255.0
batch = np.repeat(image[None], DRAWS, axis=0)
views = {name: keras.ops.convert_to_numpy(pipeline(batch, training=True)) for name, pipeline in gallery.items()}

fig, axes = plt.subplots(len(views), DRAWS + 1, figsize=(1.1 * (DRAWS + 1), 1.1 * len(views) + 0.5))
for row, (name, outputs) in zip(axes, views.items()):
    for ax, picture in zip(row, [image, *outputs]):
        ax.imshow(np.clip(picture, 0, 1))
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(name, rotation=0, ha="right", va="center")
axes[0, 0].set_title("original", fontsize="small")
for ax in axes[0, 1:]:
    ax.set_title("random draw", fontsize="small")
fig.suptitle("One CIFAR-10 training image under each transformation (32x32 pixels)")
plt.show()

# %% [markdown]
# The geometric transformations fill the pixels they uncover by reflecting the
# image (`fill_mode="reflect"`), except the perspective, which fills with
# black. The noise is added last and is not clipped; the other photometric
# layers keep values in the range.
#
# **Check.** Every transformation keeps the shape, and changes the image. The
# geometric ones only move pixels: the flip (the one whose output pixels are
# exactly input pixels) leaves the set of pixel values unchanged.

# %%
# NBVAL_CHECK_OUTPUT
for name, outputs in views.items():
    assert outputs.shape == batch.shape, name
    assert not np.allclose(outputs, batch), f"{name} changed nothing"
for flipped in views["flip"]:
    np.testing.assert_array_equal(np.sort(flipped.reshape(-1)), np.sort(image.reshape(-1)))
assert all(0 <= views[name].min() and views[name].max() <= 1 for name in ("brightness", "contrast", "colour"))
print("all", len(views), "transformations keep the shape", batch.shape[1:], "and change the image")

# %% [markdown]
# ### Superimposing another image
#
# The lecture notes list one more photometric transformation: **superimposing
# other images**. Blend a faint copy of another training image into this one,
# $\tilde x = (1 - w)\,x + w\,z$, and keep $x$'s label. Keras has no layer for
# it, and it needs none: it is one line of NumPy. It teaches the network to
# ignore clutter that does not belong to the object, as long as $w$ stays small.
#
# Where the label stops being true is a choice, not a fact: at $w = 0.5$ the
# picture is as much the other image as the horse. The weights we allow, like
# every choice of transformations, put our **bias** into the training data
# (the notes' warning). Mixup (notebook 10) blends the same way but mixes the
# labels too, which removes that choice.

# %%
rng = np.random.default_rng(11)
chosen = rng.choice(np.flatnonzero(y_train_all.reshape(-1) != cifar_names.index("horse")), DRAWS, replace=False)
others = x_train_all[chosen].astype("float32") / 255.0
overlay_weights = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], dtype="float32")
weight = overlay_weights[:, None, None, None]
superimposed = (1 - weight) * image + weight * others
show_images(
    np.concatenate([others, superimposed]),
    [cifar_names[c] for c in y_train_all.reshape(-1)[chosen]] + [f"horse, w = {v:.1f}" for v in overlay_weights],
    ncols=DRAWS,
    cell_size=1.4,
    title="Other training images (top) superimposed on the horse with weight w (bottom); the label stays horse",
)
plt.show()

# %% [markdown]
# **Check.** Each blend is the stated convex combination, so it stays in
# [0, 1]; its distance to the horse grows in proportion to $w$.

# %%
# NBVAL_CHECK_OUTPUT
np.testing.assert_allclose(superimposed, image + weight * (others - image), atol=1e-6)
assert superimposed.min() >= 0 and superimposed.max() <= 1
distance = np.abs(superimposed - image).reshape(DRAWS, -1).mean(axis=1)
np.testing.assert_allclose(distance, overlay_weights * np.abs(others - image).reshape(DRAWS, -1).mean(axis=1), rtol=1e-4)
print(f"{DRAWS} blends with w from {overlay_weights[0]:.1f} to {overlay_weights[-1]:.1f}, all in [0, 1]")

# %% [markdown]
# ## 3. Active only in training
#
# An augmentation pipeline is a layer, so it can go into the model, in front of
# the first convolution. Keras calls every layer with a `training` argument:
# `fit` passes `training=True`, while `predict` and `evaluate` pass
# `training=False`. The random layers transform only in training: at test time
# we want the network to see the real test image, not a random variant of it.

# %%
augmenter = keras.Sequential([geometric, photometric], name="augmenter")
some_images = x_test[:8]
in_training = keras.ops.convert_to_numpy(augmenter(some_images, training=True))
at_inference = keras.ops.convert_to_numpy(augmenter(some_images, training=False))
show_images(
    np.concatenate([at_inference, np.clip(in_training, 0, 1)]),
    ["training=False"] * 8 + ["training=True"] * 8,
    ncols=8,
    title="The augmenter at inference (top: unchanged) and in training (bottom)",
)
plt.show()

# %% [markdown]
# **Check.** `augmenter(x, training=False)` returns the images unchanged, bit
# for bit; with `training=True` it changes every one of them.

# %%
# NBVAL_CHECK_OUTPUT
np.testing.assert_array_equal(at_inference, some_images)
changed = np.abs(in_training - some_images).reshape(len(some_images), -1).max(axis=1) > 0
assert changed.all()
print("training=False: identical |", "training=True:", int(changed.sum()), "of", len(changed), "images changed")

# %% [markdown]
# ## 4. The label-preserving assumption
#
# Augmentation trains the network to give the transformed image the label of
# the original. That is only right if the transformation keeps the class. For
# CIFAR-10 a horizontal flip is safe: a horse looking left is still a horse.
# For digits it is not: a mirrored "3" is no digit, and a "6" rotated by 180
# degrees (a rotation that `keras.layers.RandomRotation(0.5)` can draw) *is* a
# "9".
#
# We let a network decide. A small CNN trained on 300 upright MNIST digits per
# class classifies test digits rotated by 180 degrees and mirrored
# left-right. For each digit, how many keep their label?

# %%
(x_mnist, y_mnist), (x_mnist_test, y_mnist_test) = data.load_mnist()
x_digits, y_digits = data.subset(x_mnist, y_mnist, 300, seed=0)
keras.utils.set_random_seed(0)
digit_model = keras.Sequential(
    [
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ],
    name="digit_model",
)
digit_model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
digit_model.fit(x_digits[..., None] / 255.0, y_digits, epochs=8, batch_size=64, verbose=0)


def read_digits(images):
    return digit_model.predict(images[..., None] / 255.0, verbose=0).argmax(axis=1)


transforms = {
    "upright": lambda d: d,
    "rotated 180": lambda d: np.rot90(d, 2, axes=(1, 2)),
    "mirrored": lambda d: d[:, :, ::-1],
}
kept, read_as = {}, {}
for name, transform in transforms.items():
    predictions = {d: read_digits(transform(x_mnist_test[y_mnist_test == d])) for d in range(10)}
    kept[name] = {d: np.mean(p == d) for d, p in predictions.items()}
    read_as[name] = {d: np.bincount(p, minlength=10).argmax() for d, p in predictions.items()}
kept = pd.DataFrame(kept)
kept.index.name = "digit"
kept.round(2).T

# %%
fig, ax = plt.subplots(figsize=(7, 3))
kept.plot.bar(ax=ax, rot=0, width=0.8)
ax.set_xlabel("digit")
ax.set_ylabel("share read as the same digit")
ax.set_title("MNIST test digits that keep their label under a transformation")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")  # outside: no bar hidden
fig.tight_layout()
plt.show()

sixes_nines = np.concatenate([x_mnist_test[y_mnist_test == d][:4] for d in (6, 9)])
rotated = np.rot90(sixes_nines, 2, axes=(1, 2))
show_images(
    np.concatenate([sixes_nines, rotated]),
    ["a 6"] * 4 + ["a 9"] * 4 + [f"read: {d}" for d in read_digits(rotated)],
    ncols=8,
    title="Sixes and nines (top) rotated by 180 degrees (bottom): the network reads the other digit",
)
plt.show()

# %% [markdown]
# Upright, the network reads almost every digit right. Rotated by 180 degrees,
# "6" and "9" swap: the network's most frequent answer for a rotated "6" is
# "9" and for a rotated "9" is "6". Mirrored, "3" and "5" are no longer read as
# themselves. The symmetric digits "0", "1" and "8" fare better under both.
# An augmentation with flips or large rotations would teach a digit network to
# call a "9" a "6": a label-changing transformation is label noise.
#
# A caution on what this measures. A network trained on upright digits tells
# us how *it* reads a transformed digit: its own lack of invariance. It does
# not tell us whether the transformation keeps the digit's identity. That is a
# property of the classes, decided by a person who knows them:
#
# - a mirrored "0" is still a "0" even when this network hesitates;
# - a mirrored "4" is no longer a well-formed "4" even when the network still
#   reads it as one.
#
# The line printed below lists the digits that are not mirror-symmetric yet keep
# their label under a mirror more often than the least-kept symmetric digit.
# The network is a useful alarm for the clear cases (6 and 9 under a rotation,
# 3 and 5 under a mirror), not a judge of label preservation.
#
# **Check.** The network reads upright digits right (more than 80% of each of
# "3", "5", "6" and "9"); rotated by 180 degrees, fewer than 10% of the sixes
# and nines keep their label and each is mostly read as the other; mirrored,
# fewer than 10% of the threes and fives keep theirs. The symmetric digits "0",
# "1" and "8" keep their label more often than these, under both.

# %%
assert (kept.loc[[3, 5, 6, 9], "upright"] > 0.8).all(), kept
assert (kept.loc[[6, 9], "rotated 180"] < 0.1).all(), kept
assert read_as["rotated 180"][6] == 9 and read_as["rotated 180"][9] == 6, read_as
assert (kept.loc[[3, 5], "mirrored"] < 0.1).all(), kept
assert kept.loc[[0, 1, 8], "rotated 180"].min() > kept.loc[[6, 9], "rotated 180"].max(), kept
assert kept.loc[[0, 1, 8], "mirrored"].min() > kept.loc[[3, 5], "mirrored"].max(), kept
print("rotated 180: 6 ->", read_as["rotated 180"][6], "| 9 ->", read_as["rotated 180"][9])
least_kept_symmetric = kept.loc[[0, 1, 8], "mirrored"].min()
print("not symmetric, yet kept under a mirror more often than a symmetric digit:",
      [d for d in range(10) if d not in (0, 1, 8) and kept.loc[d, "mirrored"] > least_kept_symmetric])

# %% [markdown]
# ## 5. What augmentation buys on a small training set
#
# Now the experiment. A small CNN (two convolution-pooling stages and a dense
# layer, no dropout) trains on `PER_CLASS` CIFAR-10 images per class, once
# without and once with augmentation. The augmentation is the classic one for
# CIFAR-10: a random horizontal flip and a random shift of up to 10% of the
# image in each direction, as the model's first layer, so that every epoch
# sees new variants. Both models see the same images, initial weights (the
# augmentation layers have no weights) and number of epochs. We repeat with
# five seeds: each seed draws its own training subset and initialisation.
#
# This is a small-data lesson. On so few images, these networks stay under
# 50 % validation accuracy, with or without augmentation (the table below).
# What the experiment shows is what augmentation buys when data is scarce, at
# this accuracy; it does not measure what it buys a network trained to the end
# on the full training set.

# %%
def small_cnn(augmentation=None):
    inputs = keras.Input((32, 32, 3))
    x = inputs if augmentation is None else augmentation(inputs)
    for filters in (16, 32):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def train_and_test(x, y, seed, augmentation=None, class_weight=None):
    """Trains a fresh small CNN; returns it and its final training accuracy."""
    keras.utils.set_random_seed(seed)
    model = small_cnn(augmentation)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=0, class_weight=class_weight)
    return model, history.history["accuracy"][-1]


def predict_classes(model, x):
    return model.predict(x, batch_size=500, verbose=0).argmax(axis=1)


rows = []
for seed in SEEDS:
    x_small, y_small = data.subset(x_train_all, y_train_all, PER_CLASS, seed=seed)
    x_small = x_small.astype("float32") / 255.0
    for name, augmentation in (
        ("without", None),
        ("with", geometric_augmentation(flip="horizontal", rotation=0, translation=0.1, zoom=0, seed=seed)),
    ):
        model, train_accuracy = train_and_test(x_small, y_small, seed, augmentation)
        rows.append({"seed": seed, "augmentation": name, "train": train_accuracy,
                     "validation": np.mean(predict_classes(model, x_val) == y_val),
                     "test": np.mean(predict_classes(model, x_test) == y_test)})

runs = pd.DataFrame(rows)
accuracy = runs.pivot(index="seed", columns="augmentation", values="validation")[["without", "with"]]
accuracy["gain"] = accuracy["with"] - accuracy["without"]
summary = accuracy.agg(["mean", "std"])
pd.concat([accuracy, summary]).round(3).rename_axis(columns="validation accuracy")

# %% [markdown]
# The table gives the validation accuracy of each run, and the mean and
# standard deviation over the seeds. We decide on the validation images; the
# test images wait for the end. The last-epoch training accuracies show why
# augmentation helps: without it the network fits its training images far
# better than the validation images (it memorises them); with it, the training
# accuracy (measured on augmented images) stays close to the validation
# accuracy.

# %%
train_vs_validation = runs.groupby("augmentation")[["train", "validation"]].mean().loc[["without", "with"]]
train_vs_validation["gap"] = train_vs_validation["train"] - train_vs_validation["validation"]

fig, ax = plt.subplots(figsize=(5.5, 3.2))
for i, seed in enumerate(SEEDS):
    ax.plot(["without", "with"], accuracy.loc[seed, ["without", "with"]], marker="o", label=f"seed {seed}")
ax.set_xlabel("augmentation (flip + shift)")
ax.set_ylabel("validation accuracy")
ax.set_title(f"CIFAR-10, {PER_CLASS} training images per class, {EPOCHS} epochs")
ax.legend(fontsize="small")
ax.grid(alpha=0.3)
plt.show()
train_vs_validation.round(3)

# %% [markdown]
# Is the gain real, or luck of the draw? Each seed is a paired experiment (the
# same images and initial weights with and without augmentation), so we look at
# the per-seed gains on the validation images with
# `experiment.paired_comparison`. The course's rule, from notebook 01: an
# effect is clear when the 95 % interval of the mean gain excludes zero.

# %%
gain_validation = experiment.paired_comparison(accuracy["gain"], metric="validation accuracy",
                                               baseline="without", treatment="with augmentation")
print(gain_validation)

# %% [markdown]
# **Check.** Flip-and-shift augmentation raises the validation accuracy, a
# clear effect, and the gap between training and validation accuracy shrinks.
# The test accuracy is reported once, below.

# %% tags=["hide-input"]
test_accuracy = runs.pivot(index="seed", columns="augmentation", values="test")
gain_test = experiment.paired_comparison(test_accuracy["with"] - test_accuracy["without"],
                                         metric="test accuracy", baseline="without", treatment="with augmentation")
assert gain_validation.clear and gain_validation.mean > 0, gain_validation
assert train_vs_validation.loc["with", "gap"] < train_vs_validation.loc["without", "gap"], train_vs_validation
assert gain_test.mean > 0, gain_test
print("Check: augmentation raised the validation accuracy, a clear effect, and narrowed the training-validation gap.")
without, with_ = test_accuracy["without"].mean(), test_accuracy["with"].mean()
print(f"Test accuracy, reported once: {without:.3f} without and {with_:.3f} with augmentation "
      f"(mean of {len(test_accuracy)} seeds), a gain of {gain_test.mean:+.3f} "
      f"(95 % interval {gain_test.low:+.3f} to {gain_test.high:+.3f}).")

# %% [markdown]
# ## 6. Class imbalance: augmenting the minority classes
#
# In a real dataset some classes are rare. A network trained on imbalanced data
# learns the class frequencies too: when in doubt, it answers a frequent
# class, and the rare classes get a low **recall** (the share of their test
# images that are classified right).
#
# We make CIFAR-10 imbalanced: the five classes airplane to deer keep only
# `MINORITY_PER_CLASS` images each, the five others keep `PER_CLASS`.
# `balance_with_augmentation(x, y, augment, target_per_class, seed)` then adds
# augmented copies of real minority images (drawn at random, with
# replacement) until every class has `target_per_class` images. The originals
# stay as they are; nothing is removed. The augmentation is a geometric
# pipeline with flip, rotation, shift and zoom; the network itself has no
# augmentation layer here, so that the minority classes are the only ones
# augmented.

# %%
MINORITY = np.arange(5)  # airplane, automobile, bird, cat, deer


def imbalanced_subset(seed):
    x, y = data.subset(x_train_all, y_train_all, PER_CLASS, seed=seed)
    y = y.reshape(-1)
    keep = ~np.isin(y, MINORITY)
    for label in MINORITY:
        keep[np.flatnonzero(y == label)[:MINORITY_PER_CLASS]] = True
    return x[keep], y[keep]


x_imbalanced, y_imbalanced = imbalanced_subset(SEEDS[0])
x_balanced, y_balanced = balance_with_augmentation(
    x_imbalanced, y_imbalanced, geometric_augmentation(rotation=0.05, translation=0.1, zoom=0.1, seed=0), PER_CLASS, seed=0
)
counts = pd.DataFrame(
    {"before": np.bincount(y_imbalanced, minlength=10), "after": np.bincount(y_balanced, minlength=10)},
    index=pd.Index(cifar_names, name="class"),
)

fig, ax = plt.subplots(figsize=(7, 3))
counts.plot.bar(ax=ax, rot=30, width=0.8)
ax.set_xlabel("class")
ax.set_ylabel("training images")
ax.set_title("Class counts before and after balance_with_augmentation")
plt.show()

new_images = x_balanced[len(x_imbalanced):]
new_labels = y_balanced[len(y_imbalanced):]
pick = np.concatenate([np.flatnonzero(new_labels == label)[:2] for label in MINORITY])
show_images(new_images[pick], new_labels[pick], class_names=cifar_names, ncols=10, title="New minority images")
plt.show()

# %% [markdown]
# **Check.** Before, each minority class has `MINORITY_PER_CLASS` images and
# each majority class `PER_CLASS`; after, every class has `PER_CLASS`. The
# originals come first, unchanged, and the new images keep the dtype (uint8).

# %%
# NBVAL_CHECK_OUTPUT
assert (counts["before"].to_numpy() == np.where(np.isin(np.arange(10), MINORITY), MINORITY_PER_CLASS, PER_CLASS)).all()
assert (counts["after"] == PER_CLASS).all()
np.testing.assert_array_equal(x_balanced[: len(x_imbalanced)], x_imbalanced)
assert x_balanced.dtype == np.uint8 and set(new_labels) == set(MINORITY)
print(counts.T.to_string())

# %% [markdown]
# Does it help the minority classes, and is it the *augmentation* that helps?
# Balancing does two things at once: it shows the network more minority images
# per epoch, and those images are new variants. To tell them apart we need
# controls that do only the first:
#
# - **oversampled**: the same balancing with plain copies of the minority
#   images (`balance_with_augmentation` with the identity as "augmentation");
# - **class weights**: the imbalanced set, with each image's loss weighted by
#   the inverse frequency of its class (`fit(class_weight=...)`, weights from
#   scikit-learn's `compute_class_weight("balanced", ...)`), so that every class
#   counts as much in the loss without any new image.
#
# We train the same small CNN on the imbalanced set, on the two controls and on
# the set balanced with augmented copies, five seeds each (each seed draws its
# own subset and initialisation, shared by the four training sets), and measure
# on the (balanced) validation and test sets the mean recall of the five
# minority classes and of the five majority classes, and the accuracy.

# %%
def recalls(y_true, predictions):
    per_class = recall_score(y_true, predictions, labels=np.arange(10), average=None)
    majority = np.setdiff1d(np.arange(10), MINORITY)
    return per_class[MINORITY].mean(), per_class[majority].mean()


def identity(images):
    return images


training_sets = ["imbalanced", "oversampled", "class weights", "augmented copies"]
rows = []
for seed in SEEDS:
    x_imbalanced, y_imbalanced = imbalanced_subset(seed)
    augment = geometric_augmentation(rotation=0.05, translation=0.1, zoom=0.1, seed=seed)
    x_augmented, y_augmented = balance_with_augmentation(x_imbalanced, y_imbalanced, augment, PER_CLASS, seed=seed)
    x_copies, y_copies = balance_with_augmentation(x_imbalanced, y_imbalanced, identity, PER_CLASS, seed=seed)
    weights = compute_class_weight("balanced", classes=np.arange(10), y=y_imbalanced)
    variants = {
        "imbalanced": (x_imbalanced, y_imbalanced, None),
        "oversampled": (x_copies, y_copies, None),
        "class weights": (x_imbalanced, y_imbalanced, dict(enumerate(weights))),
        "augmented copies": (x_augmented, y_augmented, None),
    }
    for name, (x, y, class_weight) in variants.items():
        model, _ = train_and_test(x.astype("float32") / 255.0, y, seed, class_weight=class_weight)
        row = {"seed": seed, "training set": name}
        for split, (x_eval, y_eval) in (("validation", (x_val, y_val)), ("test", (x_test, y_test))):
            predictions = predict_classes(model, x_eval)
            minority_recall, majority_recall = recalls(y_eval, predictions)
            row.update({f"{split} minority recall": minority_recall, f"{split} majority recall": majority_recall,
                        f"{split} accuracy": np.mean(predictions == y_eval)})
        rows.append(row)

balance_results = pd.DataFrame(rows)
balance_summary = balance_results.groupby("training set").agg(["mean", "std"]).drop(columns="seed")
balance_summary.loc[training_sets, [("validation minority recall", "mean"), ("validation minority recall", "std"),
                                    ("validation majority recall", "mean"), ("validation accuracy", "mean")]].round(3)

# %% [markdown]
# The per-seed comparisons of the minority recall on the validation images:
# each balancing method against the imbalanced set, and augmentation against
# the two controls.

# %%
recall = balance_results.pivot(index="seed", columns="training set",
                               values=["validation minority recall", "test minority recall"])
pairs = [("imbalanced", "oversampled"), ("imbalanced", "class weights"), ("imbalanced", "augmented copies"),
         ("oversampled", "augmented copies"), ("class weights", "augmented copies")]
minority = {}
for baseline, treatment in pairs:
    for split in ("validation", "test"):
        column = f"{split} minority recall"
        minority[(baseline, treatment, split)] = experiment.paired_comparison(
            recall[(column, treatment)] - recall[(column, baseline)], metric=column,
            baseline=baseline, treatment=treatment)
    print(minority[(baseline, treatment, "validation")])

# %% [markdown]
# Trained on the imbalanced set, the network rarely answers a minority class:
# their recall is low. Each way of balancing raises it, and each gain is a
# clear effect on the validation images. They are not equal:
#
# - **Plain copies** help least. The network sees the same 20 images five
#   times as often, and learns them by heart.
# - **Class weights** make each minority error count five times as much,
#   without showing any new image. They help more.
# - **Augmented copies** help most, and beat plain copies: a clear effect. The
#   copies are now new variants, which is what augmentation adds over
#   oversampling.
#
# Against class weights, augmented copies show no clear effect at this budget
# (the difference changes sign from seed to seed). So we do not claim that
# augmentation beats reweighting. All three cost the majority classes some
# recall: their images are now sometimes answered with a minority class.
#
# **Check.** Each balancing method raises the minority recall on the
# validation images, and augmented copies beat plain copies: clear effects.
# The test images are reported once, below.

# %% tags=["hide-input"]
asserted = [("imbalanced", "oversampled"), ("imbalanced", "class weights"), ("imbalanced", "augmented copies"),
            ("oversampled", "augmented copies")]
for baseline, treatment in asserted:
    effect = minority[(baseline, treatment, "validation")]
    assert effect.clear and effect.mean > 0, effect
    print(f"Check: {treatment} beat {baseline} on the validation minority recall, a clear effect.")
print("Test minority recall, reported once:",
      ", ".join(f"{t} - {b} {minority[(b, t, 'test')].mean:+.3f}" for b, t in pairs))

# %% [markdown]
# ## 7. Class-specific pipelines
#
# For digits, whether a transformation keeps the label depends on the class.
# By their shapes, "0", "1" and "8" are mirror-symmetric (a mirrored "0" is a
# "0"); the other digits are not (section 4 measured how a network reads them). `class_specific_augmentation(pipelines, default)` gives each class its
# own pipeline: a dict from class label to pipeline, and a default pipeline
# for the other classes. It runs every pipeline on the whole batch and keeps,
# for each image, the output of its class's pipeline.

# %%
with_flip = dict(flip="horizontal", rotation=0.03, translation=0.1, zoom=0.1)
without_flip = dict(with_flip, flip=None)
symmetric_digits = (0, 1, 8)
augment_digits = class_specific_augmentation(
    {d: geometric_augmentation(**with_flip, seed=100) for d in symmetric_digits},
    default=geometric_augmentation(**without_flip, seed=200),
)

digit_batch, digit_labels = data.subset(x_mnist_test, y_mnist_test, 2, seed=0)
order = np.argsort(digit_labels, kind="stable")
digit_batch = digit_batch[order][..., None].astype("float32") / 255.0
digit_labels = digit_labels[order]
augmented_digits = keras.ops.convert_to_numpy(augment_digits(digit_batch, digit_labels))
# The flipping pipeline's first layer is a RandomFlip seeded with 100: a fresh one
# draws the same flips, which tells which images of the symmetric digits it mirrored.
flip_draws = keras.ops.convert_to_numpy(keras.layers.RandomFlip("horizontal", seed=100)(digit_batch, training=True))
mirrored = np.isin(digit_labels, symmetric_digits) & (flip_draws != digit_batch).any(axis=(1, 2, 3))
show_images(
    np.concatenate([digit_batch, augmented_digits]),
    [str(d) for d in digit_labels] + [f"{d}, mirrored" if m else str(d) for d, m in zip(digit_labels, mirrored)],
    ncols=10,
    title="Digits (top two rows) and their class-specific augmentation (bottom two rows): "
          "only 0, 1 and 8 may be mirrored",
)
plt.show()

# %% [markdown]
# **Check.** Each image got the output of its own class's pipeline: fresh
# pipelines with the same seeds reproduce the symmetric digits from the
# flipping pipeline and the others from the default one. With
# `training=False`, nothing changes.

# %%
# NBVAL_CHECK_OUTPUT
flipping = keras.ops.convert_to_numpy(geometric_augmentation(**with_flip, seed=100)(digit_batch, training=True))
default = keras.ops.convert_to_numpy(geometric_augmentation(**without_flip, seed=200)(digit_batch, training=True))
symmetric = np.isin(digit_labels, symmetric_digits)
np.testing.assert_allclose(augmented_digits[symmetric], flipping[symmetric], atol=1e-6)
np.testing.assert_allclose(augmented_digits[~symmetric], default[~symmetric], atol=1e-6)
np.testing.assert_array_equal(
    keras.ops.convert_to_numpy(augment_digits(digit_batch, digit_labels, training=False)), digit_batch
)
np.testing.assert_allclose(flip_draws[mirrored], digit_batch[mirrored][:, :, ::-1], atol=1e-6)
print(f"{symmetric.sum()} images from the flipping pipeline ({mirrored.sum()} of them mirrored), "
      f"{(~symmetric).sum()} from the default one")

# %% [markdown]
# ## Summary
#
# - `geometric_augmentation()` and `photometric_augmentation()` are pipelines
#   of Keras 3's random preprocessing layers (`RandomFlip`, `RandomRotation`,
#   `RandomTranslation`, `RandomZoom`, `RandomShear`, `RandomPerspective`;
#   `RandomBrightness`, `RandomContrast`, `RandomSaturation`, `RandomHue`,
#   and a Gaussian noise layer). They go into a model or a data pipeline.
# - They transform only in training: with `training=False` (as in `predict` and
#   `evaluate`) the images pass unchanged.
# - Augmentation assumes that the transformation keeps the class. For digits a
#   flip or a 180-degree rotation breaks it: a rotated "6" is read as a "9".
# - On 100 CIFAR-10 images per class, flip-and-shift augmentation raised the
#   validation accuracy, a clear effect over five seeds, and narrowed the gap
#   between training and validation accuracy.
# - `balance_with_augmentation` fills the minority classes with augmented
#   copies of their real images. Against its controls: augmented copies raise
#   the minority recall more than plain copies, a clear effect. Class weights
#   help too; against them, augmented copies show no clear effect at this
#   budget.
# - `class_specific_augmentation` gives each class only the transformations
#   that keep its label.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# Solutions, with what to compare: [solutions/part2.md](solutions/part2.md); try each
# exercise first.
#
# 1. ★★ **Which transformation helps most?** Repeat section 5 with only the flip,
#    only the shift, and with the default `geometric_augmentation()`; add a
#    photometric pipeline. *Hint:* keep the seeds, and decide with
#    `experiment.paired_comparison` on the validation gains.
# 2. ★★ **More epochs.** Train with and without augmentation for 10, 30 and 60
#    epochs and plot the validation accuracy against the number of epochs.
#    *Hint:* pass `validation_data=(x_val, y_val)` to `fit` and read
#    `history.history["val_accuracy"]` (never the test set: it is for the end).
# 3. ★★ **Augment every class.** In section 6, put the flip-and-shift pipeline of
#    section 5 in front of the network (all classes augmented, on the fly) and
#    balance the minority classes with plain copies. How does the minority
#    recall compare with augmented copies alone? *Hint:* `small_cnn(augmentation)`
#    and `train_and_test(..., augmentation=...)`.
# 4. ★★ **A harmful augmentation.** Train `digit_model` with a pipeline that
#    includes `RandomRotation(0.5)` (rotations up to 180 degrees) and look at the
#    confusion between "6" and "9". *Hint:* `geometric_augmentation(rotation=0.5,
#    flip=None)` in front of the network; `course_lib.viz.plot_confusion_matrix`.
# 5. ★★★ **Class-specific training.** Train a digit network with flips for all
#    classes, and one with `augment_digits` (flips for 0, 1 and 8 only); compare
#    the test accuracies on upright digits. *Hint:* apply the augmentation to
#    each batch in a small loop, or to a copy of the training set per epoch.
