# %% [raw]
# # ASSIGNMENT CONFIG
# name: A3_learning_with_little_data
# init_cell: false
# check_all_cell: true
# export_cell:
#   pdf: false
#   instructions: "Locally: save the notebook, then run the cell below; it writes a zip next to the notebook. Submit that zip. In Colab: File > Download > Download .ipynb, and submit the .ipynb."
# tests:
#   files: true
#   ok_format: false
# generate: true

# %% [markdown]
# # A3 · Learning with little data
#
# Four tools of Part II, written by you and checked on random inputs: mixup on a
# batch, a test-time augmentation prediction, a transfer-learning model on the
# course's pre-trained backbone, and an image search with its precision@k.
#
# **Time budget:** about 2.5 hours. **Material:** notebooks 10 (mixup),
# 11 (test-time augmentation), 12 (transfer learning) and 13 (latent-space
# retrieval). No training beyond one step: everything runs in seconds on a CPU.
#
# | question | topic | points |
# | --- | --- | ---: |
# | q1 | `mixup_batch` | 4 |
# | q2 | `tta_predict` | 2 |
# | q3 | `build_transfer_model` on the course backbone | 3 |
# | q4 | `nearest_neighbours` | 2 |
# | q5 | `precision_at_k` | 2 |
# | total | | 13 |
#
# **How to work.** Run the setup cell, then answer each question by replacing
# the `...` in its cell. Run the `grader.check("qN")` cell below it to run the
# question's public tests; they show what is wrong when they fail. Your grade
# also uses hidden tests of the same kind, on other random inputs.
#
# - **Local Jupyter:** open this notebook from `notebooks/assignments/student/`
#   in a clone of the course after `make lab`; the `tests/` folder next to it
#   holds the public tests.
# - **Google Colab:** open the notebook in Colab; the setup cell clones the
#   course (for `course_lib`, the backbone's weights and the public tests).
#
# **Rules.** NumPy and Keras only. Do not import the answers from
# `course_lib.augment`, `course_lib.tta`, `course_lib.transfer` or
# `course_lib.retrieval`: the point is to write them. Each question is graded
# on its own.

# %%
# Setup: works locally and in Google Colab.
ASSIGNMENT = "A3_learning_with_little_data"
try:
    import course_lib
except ModuleNotFoundError:  # the public repository is not known yet: no Colab install
    raise RuntimeError("course_lib is missing: run `make lab` in a clone of the course.")
import otter
from course_lib.runtime import setup_notebook
info = setup_notebook(seed=0)
grader = otter.Notebook(f"{ASSIGNMENT}.ipynb")

# %%
import keras
import numpy as np

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 4

# %% [markdown]
# ## q1 · Mixup on a batch (4 points)
#
# Write `mixup_batch(images, labels, alpha, rng)` for a batch of `N` images and
# their one-hot (or soft) labels of shape `(N, classes)`:
#
# 1. draw one $\lambda_i \sim \text{Beta}(\alpha, \alpha)$ per sample with
#    `rng.beta`, then clip it to `[LAMBDA_EPSILON, 1 - LAMBDA_EPSILON]`: for a
#    small $\alpha$ many draws are so close to 0 or 1 that they *are* 0 or 1 in
#    float32, and such a sample is not mixed at all;
# 2. give each sample $i$ a partner $j_i$ drawn uniformly (with `rng`) among the
#    samples of **another class** (class = `argmax` of the label); a sample
#    with no such partner (a batch of one class) is its own partner;
# 3. return `(mixed_images, mixed_labels, lambdas, partners)`:
#    `mixed_images[i] = lambdas[i] * images[i] + (1 - lambdas[i]) * images[partners[i]]`,
#    the same for the labels; float32 arrays, except `partners` (integers).
#
# Labels that are not 2-D (e.g. integer class indices) must raise a
# `ValueError` whose message says that one-hot labels are needed.

# %%
LAMBDA_EPSILON = 1e-3

# %% [raw]
# # BEGIN SOLUTION

# %%
def mixup_batch(images, labels, alpha, rng):
    # BEGIN SOLUTION
    images = np.asarray(images, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.float32)
    if labels.ndim != 2:
        raise ValueError(f"labels must be one-hot, shape (N, classes); received shape {labels.shape}.")
    n = len(images)
    lambdas = np.clip(rng.beta(alpha, alpha, size=n), LAMBDA_EPSILON, 1 - LAMBDA_EPSILON).astype(np.float32)
    classes = labels.argmax(axis=1)
    partners = np.arange(n)
    for i in range(n):
        others = np.flatnonzero(classes != classes[i])
        if len(others):
            partners[i] = rng.choice(others)
    weights = lambdas.reshape((n,) + (1,) * (images.ndim - 1))
    mixed_images = weights * images + (1 - weights) * images[partners]
    mixed_labels = lambdas[:, None] * labels + (1 - lambdas[:, None]) * labels[partners]
    return mixed_images.astype(np.float32), mixed_labels.astype(np.float32), lambdas, partners
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_mixup_batch_invariants(mixup_batch):
    from course_lib.grading.checks.a3 import check_mixup_batch

    check_mixup_batch(mixup_batch, seed=111, alphas=(0.05, 0.4, 1.0), n=2000, classes=4, image_shape=(3, 3, 2), mixer_seed=5)


# %%
# HIDDEN
def test_mixup_batch_hidden(mixup_batch):
    from course_lib.grading.checks.a3 import check_mixup_batch

    check_mixup_batch(mixup_batch, seed=9101, alphas=(0.02, 2.0, 0.2), n=3000, classes=3, image_shape=(4, 2), mixer_seed=7)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# A look at your mixup (not graded): two mixed samples of a toy batch.

# %%
toy_labels = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
toy = mixup_batch(np.ones((4, 2, 2, 1)), toy_labels, 0.4, np.random.default_rng(0))
if toy is not None:
    print("lambdas:", np.round(toy[2], 3), " partners:", toy[3])
    print("mixed labels:\n", np.round(toy[1], 3))

# %% [raw]
# # BEGIN QUESTION
# name: q2
# points: 2

# %% [markdown]
# ## q2 · Test-time augmentation (2 points)
#
# Write `tta_predict(model, images, views)`: the posterior of `model` averaged,
# with equal weights, over the views of the images, where `views` is a list of
# functions each taking and returning a batch of images (put the identity in it
# yourself if you want the original images counted). Return a NumPy array of
# shape `(N, classes)`. An empty `views` list must raise a `ValueError`.
#
# *Hint:* `model.predict(view(images), verbose=0)` for each view; average the
# predictions, not the images.

# %% [raw]
# # BEGIN SOLUTION

# %%
def tta_predict(model, images, views):
    # BEGIN SOLUTION
    if len(views) == 0:
        raise ValueError("`views` must hold at least one view, e.g. [lambda x: x].")
    predictions = [model.predict(view(images), verbose=0) for view in views]
    return np.mean(predictions, axis=0)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_tta_predict_is_the_mean_posterior(tta_predict):
    from course_lib.grading.checks.a3 import check_tta_predict

    check_tta_predict(tta_predict, seed=21, n=10, architecture=((6, 6, 2), 8, "tanh", 3),
                      view_sets=[["identity", "flip_cols", "roll_rows"], ["flip_cols", "roll_rows"], ["identity"]],
                      check_no_views=False)


# %%
# HIDDEN
def test_tta_predict_hidden(tta_predict):
    from course_lib.grading.checks.a3 import check_tta_predict

    check_tta_predict(tta_predict, seed=9102, n=7, architecture=((5, 7, 3), 6, "relu", 4),
                      view_sets=[["flip_rows", "brighter", "identity", "roll_cols_back_2"]], check_no_views=True)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3
# points: 3

# %% [markdown]
# ## q3 · A transfer-learning model on the course backbone (3 points)
#
# `course_lib.pretrained.load_backbone()` returns the course's feature
# extractor, trained on five CIFAR-10 classes: 32x32x3 images (uint8 values
# 0-255) in, `(8, 8, 128)` feature maps out. Write
# `build_transfer_model(backbone, classes)` returning a `keras.Model` that
#
# - takes `(32, 32, 3)` images,
# - runs them through the **frozen** backbone (no weight of it trainable, and its
#   BatchNormalization layers in inference mode even during `fit`: call it with
#   `training=False`),
# - then `GlobalAveragePooling2D` and a new `Dense(classes, activation="softmax")` head.
#
# Only the head's kernel and bias may be trainable. The tests also train your
# model for one step and check that the backbone did not change.

# %% [raw]
# # BEGIN SOLUTION

# %%
def build_transfer_model(backbone, classes):
    # BEGIN SOLUTION
    backbone.trainable = False
    inputs = keras.Input((32, 32, 3))
    features = backbone(inputs, training=False)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    outputs = keras.layers.Dense(classes, activation="softmax")(pooled)
    return keras.Model(inputs, outputs)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_transfer_model_has_a_frozen_backbone_and_a_new_head(build_transfer_model):
    from course_lib.grading.checks.a3 import check_transfer_model_structure

    check_transfer_model_structure(build_transfer_model, class_counts=(5, 3))


# %%
# HIDDEN
def test_transfer_model_training_leaves_the_backbone_unchanged(build_transfer_model):
    from course_lib.grading.checks.a3 import check_transfer_model_training

    check_transfer_model_training(build_transfer_model, seed=9103, classes=4)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q4
# points: 2

# %% [markdown]
# ## q4 · Nearest neighbours (2 points)
#
# An image search engine encodes every image once (the *index*), then answers a
# query with the indexed images whose codes are nearest. Write
# `nearest_neighbours(index_features, query_features, k)` for feature arrays of
# shapes `(M, D)` and `(Q, D)`: return the `(Q, k)` integer array of the rows of
# `index_features` nearest to each query in Euclidean distance, nearest first.
# A `k` larger than `M` must raise a `ValueError`.
#
# *Hint:* $\|a - b\|^2 = \|a\|^2 - 2 a \cdot b + \|b\|^2$ gives all `Q x M`
# distances in one matrix product; `np.argsort` along the rows.

# %% [raw]
# # BEGIN SOLUTION

# %%
def nearest_neighbours(index_features, query_features, k):
    # BEGIN SOLUTION
    index_features = np.asarray(index_features, dtype=np.float64)
    query_features = np.asarray(query_features, dtype=np.float64)
    if k > len(index_features):
        raise ValueError(f"`k` must be at most the {len(index_features)} indexed items; received k={k}.")
    squared = (
        (query_features**2).sum(axis=1)[:, None]
        - 2 * query_features @ index_features.T
        + (index_features**2).sum(axis=1)[None, :]
    )
    return np.argsort(squared, axis=1, kind="stable")[:, :k]
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_nearest_neighbours_against_scikit_learn(nearest_neighbours):
    from course_lib.grading.checks.a3 import check_nearest_neighbours

    check_nearest_neighbours(nearest_neighbours, seed=404, cases=((50, 7, 8, 5), (30, 4, 3, 1), (20, 6, 16, 20)),
                             reference="sklearn", check_too_large_k=False)


# %%
# HIDDEN
def test_nearest_neighbours_hidden(nearest_neighbours):
    from course_lib.grading.checks.a3 import check_nearest_neighbours

    check_nearest_neighbours(nearest_neighbours, seed=9104, cases=((80, 9, 12, 10), (15, 3, 2, 4), (40, 5, 64, 1)),
                             reference="brute force", check_too_large_k=True)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q5
# points: 2

# %% [markdown]
# ## q5 · Precision at k (2 points)
#
# A retrieved image is relevant when it has its query's label. Write
# `precision_at_k(query_labels, retrieved_labels, k)`: for `Q` queries with
# labels of shape `(Q,)` and the labels of their `K` retrieved images, shape
# `(Q, K)`, nearest first, return the fraction of relevant images among the
# first `k` of each query, averaged over the queries (a Python `float`).

# %% [raw]
# # BEGIN SOLUTION

# %%
def precision_at_k(query_labels, retrieved_labels, k):
    # BEGIN SOLUTION
    query_labels = np.asarray(query_labels).reshape(-1)
    retrieved_labels = np.asarray(retrieved_labels)
    relevant = retrieved_labels[:, :k] == query_labels[:, None]
    return float(relevant.mean())
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_precision_at_k(precision_at_k):
    from course_lib.grading.checks.a3 import check_precision_at_k

    check_precision_at_k(precision_at_k, seed=505, cases=((20, 10, 5), (8, 6, 1), (12, 4, 3)), labels=3,
                         reference="by hand", require_float=True)


# %%
# HIDDEN
def test_precision_at_k_hidden(precision_at_k):
    from course_lib.grading.checks.a3 import check_precision_at_k

    check_precision_at_k(precision_at_k, seed=9105, cases=((30, 12, 7), (5, 9, 2), (16, 5, 4)), labels=4,
                         reference="course_lib", require_float=False)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Before you submit
#
# Restart the kernel and run all cells (Kernel > Restart Kernel and Run All
# Cells): the grader runs your notebook from the top, so a function that only
# works because of a cell you ran earlier and then deleted will fail there.
