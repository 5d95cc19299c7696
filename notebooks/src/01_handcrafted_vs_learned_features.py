# %% [markdown]
# # 01 · Hand-crafted vs learned features
#
# A CNN learns the features it classifies with. Before CNNs, features were designed
# by hand. This notebook compares the two on the same images, with the same budget,
# and asks what each approach is good at.
#
# **Learning objectives.** After this notebook you can
#
# 1. say what a feature extractor and a classifier are, and which of them a CNN
#    learns;
# 2. compute histograms of oriented gradients (HOG) with scikit-image and explain
#    their cells, orientation bins and blocks;
# 3. train a linear classifier from scikit-learn on pixel intensities and on HOG
#    features, and a small CNN with Keras, on the same data;
# 4. compare accuracies across several random subsets, with their spread, before
#    drawing a conclusion;
# 5. list the pros and cons of hand-crafted and learned features and relate them
#    to measured numbers.

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
# The settings below keep the notebook within about three minutes on a 2-core CPU.
# On a GPU, try the larger settings in the comments: more training images per class
# widen the gap between learned and hand-crafted features.
#
# The text and the checks below describe what these settings give. With
# other settings the numbers change, and a check may fail where an effect
# is weaker or stronger than here: then the printed results tell.

# %%
PER_CLASS = 300  # training images per class (GPU: 4500, all of them after the validation split)
VALIDATION_SIZE = 1000  # validation images, carved out of the training set
CIFAR_TEST_PER_CLASS = 200  # CIFAR-10 test images per class (GPU: 1000, all of them)
SEEDS = (0, 1, 2)  # one stratified subset and one CNN initialisation per seed (GPU: range(10))
CNN_EPOCHS = 15  # (GPU: 30)
BATCH_SIZE = 64

# %% [markdown]
# ## 1. The task and the data
#
# An image classifier has two parts: a **feature extractor**, which turns the grid
# of pixels into a vector of numbers that describe the image, and a **classifier**,
# which maps that vector to a class. Before deep learning, people designed the
# feature extractor by hand and learned only the classifier. A convolutional neural
# network (CNN) learns both, from the data, with the same gradient descent.
#
# We compare the two first on Fashion-MNIST (28x28 grey images of ten kinds of
# clothing, centred on a black background), then on CIFAR-10 (32x32 colour photos
# of ten kinds of objects and animals, in their natural surroundings), where the
# lecture's claim is made: on natural images, learned features beat designed
# ones. Every method trains on the same stratified subset of the training set;
# a validation set, carved out of the training set, is set aside; the test set
# is only used for the final scores.

# %%
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from skimage.feature import hog
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from course_lib import data, experiment
from course_lib.viz import plot_filters, show_images

(x_train_full, y_train_full), (x_test, y_test) = data.load_fashion_mnist()
(x_train_full, y_train_full), (x_val, y_val) = experiment.split_validation(
    x_train_full, y_train_full, validation_size=VALIDATION_SIZE, seed=0
)
names = data.class_names("fashion_mnist")
x_train, y_train = data.subset(x_train_full, y_train_full, per_class=PER_CLASS, seed=SEEDS[0])
show_images(x_train[:16], y_train[:16], class_names=names, title="Training images (first subset)")
plt.show()

# %% [markdown]
# **Check.** The subset holds `PER_CLASS` images of each of the ten classes.

# %%
# NBVAL_CHECK_OUTPUT
assert x_train.shape == (10 * PER_CLASS, 28, 28) and x_test.shape == (10000, 28, 28)
assert (np.bincount(y_train) == PER_CLASS).all()
print(f"training subset: {len(x_train)} images, test set: {len(x_test)} images")

# %% [markdown]
# ## 2. A hand-crafted feature: the histogram of oriented gradients (HOG)
#
# HOG (Dalal and Triggs, 2005) describes a shape by its edges:
#
# 1. compute the image gradient at every pixel (with the fixed filters
#    `[-1, 0, 1]` and its transpose): its direction says which way an edge runs,
#    its magnitude how strong it is;
# 2. cut the image into small **cells** (here 4x4 pixels) and, in each cell, build a
#    histogram of the gradient directions (9 bins over 0-180 degrees), each pixel
#    voting with its gradient magnitude;
# 3. group the cells into overlapping **blocks** of 2x2 cells and normalise each
#    block's histograms, so that the feature does not depend on the contrast.
#
# Every step was designed by people who knew what matters in images (edges, some
# tolerance to small shifts, invariance to lighting). Nothing is learned. Below,
# scikit-image draws each cell's histogram as a small star of line segments.

# %%
HOG_OPTIONS = dict(orientations=9, pixels_per_cell=(4, 4), cells_per_block=(2, 2))

examples = [np.flatnonzero(y_train == label)[0] for label in (0, 1, 7, 9)]
fig, axes = plt.subplots(2, len(examples), figsize=(2.2 * len(examples), 4.6))
for column, index in enumerate(examples):
    features, hog_image = hog(x_train[index], visualize=True, **HOG_OPTIONS)
    axes[0, column].imshow(x_train[index], vmin=0, vmax=255)
    axes[0, column].set_title(names[y_train[index]])
    axes[1, column].imshow(hog_image)
    axes[1, column].set_title("HOG")
for ax in axes.flat:
    ax.axis("off")
fig.suptitle("Images (top) and their HOG cells (bottom): 9 gradient directions per 4x4 cell")
plt.show()

# %% [markdown]
# **Check.** With 4x4-pixel cells a 28x28 image has 7x7 cells, hence 6x6 positions
# of a 2x2-cell block; each block holds 2x2 histograms of 9 bins. The HOG vector
# has 6 x 6 x 2 x 2 x 9 = 1,296 numbers, against 784 pixels.

# %%
# NBVAL_CHECK_OUTPUT
cells = 28 // HOG_OPTIONS["pixels_per_cell"][0]
blocks = cells - HOG_OPTIONS["cells_per_block"][0] + 1
expected_length = blocks**2 * HOG_OPTIONS["cells_per_block"][0] ** 2 * HOG_OPTIONS["orientations"]
assert features.shape == (expected_length,) == (1296,)
print(f"{cells}x{cells} cells, {blocks}x{blocks} blocks, HOG length {expected_length}")

# %% [markdown]
# ## 3. Three classifiers, same data
#
# - **Intensities + linear classifier.** The simplest baseline: the 784 pixel values
#   themselves are the features.
# - **HOG + linear classifier.** The hand-crafted features of section 2.
# - **Small CNN.** Two convolutional layers with max pooling, then a dense layer
#   that classifies. Its features are the activations of the convolutional
#   layers, learned from the training images.
#
# Both feature vectors go through the same classifier, scikit-learn's multinomial
# logistic regression, after standardising each feature (zero mean, unit variance).
# `C` is the inverse strength of its L2 penalty: with a few hundred images per
# class and about a thousand features, a strong penalty avoids overfitting. The
# solver stops when an iteration improves the loss by less than `tol`.
#
# The CNN trains for `CNN_EPOCHS` passes over the same images with Adam; dropout
# (which zeroes a random half of the values during training) limits its
# overfitting.

# %%
def hog_features(images):
    """One HOG vector per image, as rows of an array (colour images: per-pixel strongest channel)."""
    channel_axis = -1 if images.ndim == 4 else None
    return np.stack([hog(image, channel_axis=channel_axis, **HOG_OPTIONS) for image in images])


def fit_linear_classifier(features, labels):
    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, tol=1e-3, max_iter=1000))
    # One BLAS thread: on a busy 2-core CPU, OpenBLAS's threads wait for each other
    # and a fit of a few seconds can take a minute.
    with threadpool_limits(limits=1, user_api="blas"):
        return classifier.fit(features, labels)


def build_cnn(input_shape):
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="small_cnn",
    )


def with_channels(images):
    """Adds the channel axis of grey images: (N, rows, cols) -> (N, rows, cols, 1)."""
    return images[..., None] if images.ndim == 3 else images


def run_all(pool, validation, test, seed):
    """Trains the three methods on subset `seed` of `pool`; returns their scores and the CNN."""
    x, y = data.subset(*pool, per_class=PER_CLASS, seed=seed)
    y = y.reshape(-1)
    evaluation = {"validation": validation, "test": test}
    flat = {split: images.reshape(len(images), -1) / 255 for split, (images, _) in evaluation.items()}
    hogs = {split: hog_features(images) for split, (images, _) in evaluation.items()}
    results = []

    start = time.perf_counter()
    model = fit_linear_classifier(x.reshape(len(x), -1) / 255, y)
    seconds = time.perf_counter() - start
    results.append(("intensities + linear", *(model.score(flat[s], evaluation[s][1]) for s in evaluation), seconds))

    start = time.perf_counter()  # the feature extraction counts as training time
    model = fit_linear_classifier(hog_features(x), y)
    seconds = time.perf_counter() - start
    results.append(("HOG + linear", *(model.score(hogs[s], evaluation[s][1]) for s in evaluation), seconds))

    keras.utils.set_random_seed(seed)
    cnn = build_cnn(with_channels(x).shape[1:])
    cnn.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    cnn.fit(with_channels(x), y, epochs=CNN_EPOCHS, batch_size=BATCH_SIZE, verbose=0)
    seconds = time.perf_counter() - start
    scores = [cnn.evaluate(with_channels(images), labels, verbose=0)[1] for images, labels in evaluation.values()]
    results.append(("small CNN", *scores, seconds))
    columns = ["method", "validation accuracy", "accuracy", "train seconds"]
    return pd.DataFrame(results, columns=columns).assign(seed=seed), cnn


def compare_methods(pool, validation, test):
    runs, cnns = zip(*(run_all(pool, validation, test, seed) for seed in SEEDS))
    return pd.concat(runs, ignore_index=True), cnns


def dot_plot(runs, title, ax):
    """Test accuracy of each method: one dot per seed, and the mean."""
    methods = list(dict.fromkeys(runs["method"]))
    for i, method in enumerate(methods):
        values = 100 * runs.loc[runs["method"] == method, "accuracy"]
        ax.plot(np.full(len(values), i), values, "o", color="tab:blue", alpha=0.6,
                label="one seed" if i == 0 else None)
        ax.plot([i - 0.25, i + 0.25], [values.mean()] * 2, color="black", label="mean" if i == 0 else None)
    ax.set_xticks(range(len(methods)), methods)
    ax.set_xlim(-0.5, len(methods) - 0.5)
    ax.set_ylim(0, 100)
    ax.set_xlabel("method")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")


runs, cnns = compare_methods((x_train_full, y_train_full), (x_val, y_val), (x_test, y_test))
runs.pivot(index="seed", columns="method", values="accuracy").round(4)

# %% [markdown]
# Each seed draws another subset of training images (and another initialisation of
# the CNN). The mean and the spread (standard deviation over the seeds), with the
# validation accuracy and the training time, which for HOG includes computing the
# features of the training set:

# %%
def summarize_methods(runs):
    return runs.groupby("method", sort=False).agg(
        validation_mean=("validation accuracy", "mean"),
        accuracy_mean=("accuracy", "mean"),
        accuracy_std=("accuracy", "std"),
        accuracy_min=("accuracy", "min"),
        train_seconds_mean=("train seconds", "mean"),
    )


summary = summarize_methods(runs)
summary.round(4)

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
dot_plot(runs, f"Fashion-MNIST, {10 * PER_CLASS} training images, {len(SEEDS)} seeds", ax)
plt.show()

# %% [markdown]
# > **How the course compares training runs.** A run depends on its seed: the
# > subset of images, the initial weights, the order of the batches. One run
# > per method proves little, so we train every method with the same seeds and
# > compare them **seed by seed**. The *paired difference* is "CNN minus
# > baseline" for seed 0, for seed 1, and so on. Pairing cancels what a seed
# > gives both methods, such as an easy subset.
# >
# > From the differences we take their mean and its **95 % interval** (Student's
# > t, from their spread and their number). An interval built this way contains
# > the true mean difference in 95 % of experiments. If it excludes zero, the
# > effect is **clear**. If not, there is **no clear effect at this budget**:
# > more seeds or longer runs might show one. With 3 seeds the interval is wide,
# > so only a large, steady difference is clear.
# >
# > We decide on the **validation** images. The test images are scored once, at
# > the end, and never used to choose. `course_lib.comparison` does all this,
# > and every later notebook uses it.
#
# The margins of the CNN on Fashion-MNIST, on the validation images:

# %%
def margins(runs, better, worse, metric="validation accuracy"):
    by_seed = runs.pivot(index="seed", columns="method", values=metric)
    return experiment.paired_comparison(by_seed[better] - by_seed[worse], metric=metric,
                                        baseline=worse, treatment=better)


margin_over_intensities = margins(runs, "small CNN", "intensities + linear")
margin_over_hog = margins(runs, "small CNN", "HOG + linear")
print(margin_over_intensities)
print(margin_over_hog)

# %% [markdown]
# On Fashion-MNIST the three methods are close. The lines above give each
# margin with its interval and verdict: three seeds cannot always tell a
# margin of one or two points from zero. On average, HOG gains over the raw
# pixels; the CNN gains over them as well.

# %% tags=["hide-input"]
assert margin_over_intensities.mean > 0, margin_over_intensities
assert summary.loc["HOG + linear", "validation_mean"] > summary.loc["intensities + linear", "validation_mean"]
print("Check: on average over the seeds, the CNN and HOG both score above the raw intensities "
      "on the validation images.")

# %% [markdown]
# On Fashion-MNIST the designed features hold their own: HOG gains over raw
# pixels as much as the CNN does, because these images are all alike in the ways
# HOG was designed for (one centred object, on black, no background, no
# lighting changes). Natural images are not.
#
# ### The same comparison on natural images: CIFAR-10
#
# CIFAR-10's objects vary in position, size, pose, colour and lighting, and
# stand in cluttered backgrounds. Same three methods, same subset sizes, same
# seeds; HOG takes the strongest colour channel's gradient at each pixel
# (`channel_axis=-1`): 8x8 cells of 4x4 pixels, 7x7 blocks, 1,764 numbers. The
# test set is a stratified subset of `CIFAR_TEST_PER_CLASS` images per class.

# %%
(cifar_train, cifar_labels), (cifar_test, cifar_test_labels) = data.load_cifar10()
cifar_pool, cifar_val = experiment.split_validation(cifar_train, cifar_labels, VALIDATION_SIZE, seed=0)
cifar_test, cifar_test_labels = data.subset(cifar_test, cifar_test_labels.reshape(-1), CIFAR_TEST_PER_CLASS, seed=0)
cifar_runs, cifar_cnns = compare_methods(cifar_pool, cifar_val, (cifar_test, cifar_test_labels))
cifar_summary = summarize_methods(cifar_runs)
cifar_summary.round(4)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharey=True)
dot_plot(runs, f"Fashion-MNIST ({10 * PER_CLASS} training images)", axes[0])
dot_plot(cifar_runs, f"CIFAR-10 ({10 * PER_CLASS} training images)", axes[1])
fig.suptitle(f"Test accuracy of the three methods, {len(SEEDS)} seeds each (dots) and their mean (lines)")
fig.tight_layout()
plt.show()

# %%
cifar_over_hog = margins(cifar_runs, "small CNN", "HOG + linear")
cifar_over_intensities = margins(cifar_runs, "small CNN", "intensities + linear")
print(cifar_over_intensities)
print(cifar_over_hog)

# %% [markdown]
# On natural images the picture changes. All three methods score far lower than
# on Fashion-MNIST (ten times more classes of appearance per class, and only
# 300 images each), but the learned features now beat the designed ones: HOG's edge histograms do not tell a cat from a dog,
# or a deer from a horse, in front of varied backgrounds, while the CNN learns
# colour, texture and shape together from the training images. This is the
# lecture's claim, measured: on natural images, features learned from the data
# beat hand-crafted ones.
#
# On CIFAR-10 the CNN's margin over the raw intensities is clear on the
# validation images. Its margin over HOG is smaller but larger than on
# Fashion-MNIST; the line above gives its interval.
#
# This is a small-data comparison: every method learns from the same few
# hundred images per class, and even the CNN ends near 50 % (the table above).
# It says which features win when data is scarce, not how far each method
# goes on the full training set.

# %% tags=["hide-input"]
assert cifar_over_intensities.clear and cifar_over_intensities.mean > 0, cifar_over_intensities
assert cifar_over_hog.mean > max(0, margin_over_hog.mean), (cifar_over_hog, margin_over_hog)
print("Check: on CIFAR-10 the CNN's margin over raw intensities is clear on the validation images, "
      "and its mean margin over HOG is positive and larger than on Fashion-MNIST.")

# %% [markdown]
# ## 4. What the CNN learned
#
# HOG's first step applies two fixed filters, the horizontal and vertical
# derivatives `[-1, 0, 1]`. The CNN's first layer applies 32 filters of 3x3 weights
# too, but it chose them itself, by gradient descent on the training images. Many
# look like derivative filters in some direction, others like blobs or more
# specific patterns (each image below is scaled to its own range: dark is the
# smallest weight, light the largest).

# %%
kernel, _ = cnns[0].get_layer("conv1").get_weights()
plot_filters(kernel, title="First-layer filters of the CNN (seed 0), 3x3 weights each")
plt.show()

# %% [markdown]
# **Check.** The first layer holds 32 learned filters of 3x3 weights over one input
# channel. The whole CNN learns more parameters than the logistic regression on HOG
# features (1,296 x 10 weights + 10 biases) from the same images: that is
# the price of learning the features too.

# %%
# NBVAL_CHECK_OUTPUT
cnn_params = cnns[0].count_params()
hog_linear_params = 1296 * 10 + 10
assert kernel.shape == (3, 3, 1, 32)
assert cnn_params > hog_linear_params
print(f"CNN parameters: {cnn_params:,}; logistic regression on HOG: {hog_linear_params:,}")

# %% [markdown]
# ## 5. Hand-crafted or learned?
#
# The lecture lists the strengths and weaknesses of each approach. Here is how they
# show in this notebook.
#
# **Hand-crafted features (HOG)**
#
# - *Interpretable:* each number is the strength of edges in one direction in one
#   cell; section 2 drew them.
# - *Need little data, and no training of the features:* HOG needs no training image
#   at all; only the linear classifier learns, from a convex problem with a unique
#   solution.
# - *But designed by experts,* for pedestrians in photos, and *may not fit the
#   task:* HOG ignores colour, intensity and texture. On centred clothing on a
#   black background that costs little (it matched the CNN on Fashion-MNIST);
#   on CIFAR-10's natural images it costs a lot.
#
# **Learned features (CNN)**
#
# - *Adapt to the task:* the filters of section 4 were chosen for Fashion-MNIST;
#   on CIFAR-10 the CNN's features beat HOG's on average over the seeds.
# - *Hierarchical:* the second layer combines the first layer's maps into larger,
#   more specific patterns (notebook 03 looks at them).
# - *But need data and compute:* the CNN fits far more parameters than the linear
#   classifiers (section 4) from the same images, by gradient descent over many
#   epochs (the training times are compared below); with fewer images its
#   advantage may vanish (exercise 2).
# - *And are less interpretable:* a 3x3 filter is readable, but what the 64 maps of
#   the second layer respond to is much harder to say.

# %%
times = summary["train_seconds_mean"]
print(f"training time, CNN / HOG + linear: {times['small CNN'] / times['HOG + linear']:.1f}x")
print(f"training time, CNN / intensities + linear: {times['small CNN'] / times['intensities + linear']:.1f}x")

# %% [markdown]
# ## Summary
#
# - A classifier is a feature extractor followed by a classifier. Hand-crafted
#   features such as HOG are designed; a CNN learns its features and its classifier
#   together.
# - HOG describes a shape by histograms of gradient directions in small cells,
#   normalised in blocks: 1,296 numbers for a 28x28 image with 4x4 cells.
# - On the same small subsets of CIFAR-10, a small CNN clearly beats a linear
#   classifier on raw intensities, and beats HOG on average. On Fashion-MNIST
#   (centred objects on black, what HOG was designed for) the three methods are
#   close. The CNN costs more training time.
# - The CNN's first layer learns small filters, many of which resemble the
#   derivative filters that HOG starts from.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# The pen-and-paper exercises have worked solutions in
# [solutions/pen_and_paper.md](solutions/pen_and_paper.md), the others in
# [solutions/part1.md](solutions/part1.md); try them first.
#
# 1. ★ **Tune HOG.** Try cells of 7x7 pixels and 1x1 blocks. How do the length of the
#    feature vector and the accuracy change? *Hint:* change `HOG_OPTIONS` and rerun
#    section 3 with one seed.
# 2. ★ **Less data.** Rerun section 3 with 50 and 100 images per class. Does the CNN
#    still win? Which method suffers most? *Hint:* set `PER_CLASS`; keep the test
#    set.
# 3. ★★ **Combine features.** Concatenate the HOG vector and the pixel intensities
#    and train the same linear classifier. *Hint:* `np.hstack`.
# 4. ★★ **A non-linear classifier.** Replace the logistic regression on HOG by
#    `sklearn.svm.SVC(kernel="rbf")`. Does a stronger classifier close the gap to
#    the CNN, and at what training time? *Hint:* train on one subset only: kernel
#    SVMs grow slowly with the number of images.
# 5. ★★ **The classes that fail.** Which classes does each method confuse? *Hint:*
#    `course_lib.viz.plot_confusion_matrix(y_test, model.predict(...))`.
# 6. ★★ **HOG by hand (pen and paper).** Take the 4x4 patch
#    `[[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 8, 8], [0, 0, 8, 8]]`, a bright square
#    in its bottom-right corner. At each of its four inner pixels (rows and
#    columns 1 and 2), compute the two derivatives of section 2, $g_\text{col}$
#    (right neighbour minus left neighbour) and $g_\text{row}$ (neighbour below
#    minus neighbour above), the gradient's magnitude
#    $\sqrt{g_\text{row}^2 + g_\text{col}^2}$ and its direction
#    $\theta = \operatorname{atan2}(g_\text{row}, g_\text{col})$, taken modulo 180
#    degrees. Then build the histogram of these four pixels over 9 orientation
#    bins, each pixel voting with its magnitude. Which part of the square does
#    each non-empty bin describe?
#
#    *Hint:* bin $b$ (counting from 0) collects the
#    directions from $20b$ up to, but not including, $20(b + 1)$ degrees; a pixel
#    with a zero gradient votes nothing. `np.gradient(patch)` returns
#    $g_\text{row}/2$ and $g_\text{col}/2$, to check your derivatives.
