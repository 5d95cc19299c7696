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
import importlib.util
import os
import shutil
import subprocess
import sys

ASSIGNMENT = "A3_learning_with_little_data"
COURSE_REPO = ""  # the course's public repository, written by `make set-repo URL=...`
if "google.colab" in sys.modules and not os.path.isdir("tests"):
    if not COURSE_REPO:
        raise RuntimeError("This copy of the course does not say where it is published: use a clone and `make lab`.")
    # Colab: clone the course (course_lib, its data/ and this assignment's public
    # tests) and add Keras 3.15 and otter-grader to Colab's TensorFlow.
    subprocess.run(["git", "clone", "-q", "--depth", "1", COURSE_REPO, "course"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "keras>=3.15,<3.16", "otter-grader>=7.0,<7.1"], check=True)
    sys.path.insert(0, os.path.abspath("course"))
    shutil.copytree(f"course/notebooks/assignments/student/{ASSIGNMENT}/tests", "tests")
elif importlib.util.find_spec("course_lib") is None:
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
    import numpy as np
    import scipy.stats

    from course_lib.grading import assert_same_array, call, unpack

    data = np.random.default_rng(111)
    for alpha in (0.05, 0.4, 1.0):
        n, classes = 2000, 4
        images = data.normal(size=(n, 3, 3, 2)).astype("float32")
        labels = np.eye(classes, dtype="float32")[data.integers(0, classes, n)]
        name = f"mixup_batch(alpha={alpha})"
        result = call(mixup_batch, images, labels, alpha, np.random.default_rng(5), name=name)
        parts = ("mixed_images", "mixed_labels", "lambdas", "partners")
        mixed_images, mixed_labels, lambdas, partners = unpack(result, parts, name)
        lambdas = np.asarray(lambdas, dtype=np.float32)
        partners = np.asarray(partners)
        assert lambdas.shape == (n,) and partners.shape == (n,), f"{name}: lambdas and partners need shape ({n},)."
        assert ((lambdas > 0) & (lambdas < 1)).all(), f"{name}: {int(((lambdas <= 0) | (lambdas >= 1)).sum())} lambdas are 0 or 1 in float32."
        assert np.issubdtype(partners.dtype, np.integer), f"{name}: partners must be integers."
        assert (labels[partners].argmax(1) != labels.argmax(1)).all(), f"{name}: some partners are of the same class."
        weights = lambdas[:, None, None, None]
        assert_same_array(mixed_images, weights * images + (1 - weights) * images[partners], f"mixed images of {name}")
        assert_same_array(mixed_labels, lambdas[:, None] * labels + (1 - lambdas[:, None]) * labels[partners], f"mixed labels of {name}")
        if alpha >= 0.4:  # where the clip moves few draws: lambda follows Beta(alpha, alpha)
            p_value = scipy.stats.kstest(lambdas, "beta", args=(alpha, alpha)).pvalue
            assert p_value > 1e-4, f"{name}: the lambdas do not look Beta({alpha}, {alpha}) distributed (KS p = {p_value:.2g})."


# %%
# HIDDEN
def test_mixup_batch_hidden(mixup_batch):
    import numpy as np
    import scipy.stats

    from course_lib.grading import assert_same_array, call, unpack

    data = np.random.default_rng(9101)
    for alpha in (0.02, 2.0, 0.2):
        n, classes = 3000, 3
        images = data.normal(size=(n, 4, 2)).astype("float32")
        labels = np.eye(classes, dtype="float32")[data.integers(0, classes, n)]
        name = f"mixup_batch(alpha={alpha})"
        result = call(mixup_batch, images, labels, alpha, np.random.default_rng(7), name=name)
        parts = ("mixed_images", "mixed_labels", "lambdas", "partners")
        mixed_images, mixed_labels, lambdas, partners = unpack(result, parts, name)
        lambdas = np.asarray(lambdas, dtype=np.float32)
        partners = np.asarray(partners)
        assert ((lambdas > 0) & (lambdas < 1)).all(), f"{name}: {int(((lambdas <= 0) | (lambdas >= 1)).sum())} lambdas are 0 or 1 in float32."
        assert (labels[partners].argmax(1) != labels.argmax(1)).all(), f"{name}: some partners are of the same class."
        weights = lambdas[:, None, None]
        assert_same_array(mixed_images, weights * images + (1 - weights) * images[partners], f"mixed images of {name}")
        assert_same_array(mixed_labels, lambdas[:, None] * labels + (1 - lambdas[:, None]) * labels[partners], f"mixed labels of {name}")
        if alpha >= 0.4:
            p_value = scipy.stats.kstest(lambdas, "beta", args=(alpha, alpha)).pvalue
            assert p_value > 1e-4, f"{name}: the lambdas do not look Beta({alpha}, {alpha}) distributed (KS p = {p_value:.2g})."
    # One class only: every sample is its own partner and passes through unchanged.
    images = data.normal(size=(6, 2, 2, 1)).astype("float32")
    labels = np.tile(np.eye(3, dtype="float32")[1], (6, 1))
    mixed_images, _, _, partners = call(mixup_batch, images, labels, 0.2, np.random.default_rng(0), name="mixup_batch on one class")
    assert_same_array(mixed_images, images, "mixup_batch on a batch of one class")
    # Integer labels are refused with a clear error.
    try:
        mixup_batch(images, np.ones(6, dtype="int64"), 0.2, np.random.default_rng(0))
    except ValueError as error:
        assert "one-hot" in str(error), f"the ValueError should say one-hot labels are needed; it says: {error}"
    else:
        raise AssertionError("mixup_batch accepted 1-D integer labels; it should raise a ValueError.")


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
    import keras
    import numpy as np

    from course_lib.grading import assert_equal, assert_same_array, in_submission

    def probe(tta_predict, images, seed, view_sets):
        # Runs where tta_predict is defined: the model and the views are made there too.
        import keras
        import numpy as np

        from course_lib.grading import call

        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Flatten(), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3, activation="softmax")])
        views = {"identity": lambda x: x, "flip": lambda x: x[:, :, ::-1], "roll": lambda x: np.roll(x, 1, axis=1)}
        results = []
        for chosen in view_sets:
            name = f"tta_predict with {len(chosen)} views"
            results.append(call(tta_predict, model, images, [views[v] for v in chosen], name=name))
        try:
            tta_predict(model, images, [])
            raises_on_no_views = False
        except ValueError:
            raises_on_no_views = True
        except Exception:  # another error is not the ValueError asked for
            raises_on_no_views = False
        return {"weights": model.get_weights(), "results": results, "raises_on_no_views": raises_on_no_views}

    rng = np.random.default_rng(21)
    images = rng.normal(size=(10, 6, 6, 2)).astype("float32")
    view_sets = [["identity", "flip", "roll"], ["flip", "roll"], ["identity"]]
    answers = in_submission(probe, tta_predict, images, 21, view_sets)
    # The reference: the same model (the probe's weights) and views, here.
    model = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Flatten(), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3, activation="softmax")])
    model.set_weights(answers["weights"])
    views = {"identity": lambda x: x, "flip": lambda x: x[:, :, ::-1], "roll": lambda x: np.roll(x, 1, axis=1)}
    assert_equal(len(answers["results"]), len(view_sets), "the number of tta_predict results")
    for chosen, result in zip(view_sets, answers["results"]):
        expected = np.mean([model.predict(views[v](images), verbose=0) for v in chosen], axis=0)
        assert_same_array(result, expected, f"tta_predict with {len(chosen)} views", rtol=1e-5, atol=1e-6)


# %%
# HIDDEN
def test_tta_predict_hidden(tta_predict):
    import keras
    import numpy as np

    from course_lib.grading import assert_equal, assert_same_array, in_submission

    def probe(tta_predict, images, seed, view_sets):
        # Runs where tta_predict is defined: the model and the views are made there too.
        import keras
        import numpy as np

        from course_lib.grading import call

        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((5, 7, 3)), keras.layers.Flatten(), keras.layers.Dense(6, activation="relu"), keras.layers.Dense(4, activation="softmax")])
        views = {"flip_rows": lambda x: x[:, ::-1], "brighter": lambda x: x * 1.5, "identity": lambda x: x, "roll": lambda x: np.roll(x, -2, axis=2)}
        results = []
        for chosen in view_sets:
            name = f"tta_predict with {len(chosen)} views"
            results.append(call(tta_predict, model, images, [views[v] for v in chosen], name=name))
        try:
            tta_predict(model, images, [])
            raises_on_no_views = False
        except ValueError:
            raises_on_no_views = True
        except Exception:  # another error is not the ValueError asked for
            raises_on_no_views = False
        return {"weights": model.get_weights(), "results": results, "raises_on_no_views": raises_on_no_views}

    rng = np.random.default_rng(9102)
    images = rng.normal(size=(7, 5, 7, 3)).astype("float32")
    view_sets = [["flip_rows", "brighter", "identity", "roll"]]
    answers = in_submission(probe, tta_predict, images, 9102, view_sets)
    # The reference: the same model (the probe's weights) and views, here.
    model = keras.Sequential([keras.Input((5, 7, 3)), keras.layers.Flatten(), keras.layers.Dense(6, activation="relu"), keras.layers.Dense(4, activation="softmax")])
    model.set_weights(answers["weights"])
    views = {"flip_rows": lambda x: x[:, ::-1], "brighter": lambda x: x * 1.5, "identity": lambda x: x, "roll": lambda x: np.roll(x, -2, axis=2)}
    assert_equal(len(answers["results"]), len(view_sets), "the number of tta_predict results")
    for chosen, result in zip(view_sets, answers["results"]):
        expected = np.mean([model.predict(views[v](images), verbose=0) for v in chosen], axis=0)
        assert_same_array(result, expected, f"tta_predict with {len(chosen)} views", rtol=1e-5, atol=1e-6)
    if answers["raises_on_no_views"] is not True:
        raise AssertionError("tta_predict(model, images, []) should raise a ValueError.")


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
    import keras
    import numpy as np

    from course_lib.grading import assert_equal, in_submission, saved_model

    def probe(build_transfer_model, classes):
        # Runs where build_transfer_model is defined; the model comes back as a .keras file's bytes.
        import os
        import tempfile

        import keras
        import numpy as np

        from course_lib.grading import call
        from course_lib.pretrained import load_backbone

        name = f"build_transfer_model(backbone, {classes})"
        model = call(build_transfer_model, load_backbone(), classes, name=name)
        if not isinstance(model, keras.Model):
            raise AssertionError(f"{name} should return a keras.Model, got {type(model).__name__}.")
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.keras")
            call(model.save, path, name=f"saving {name} as a .keras file")
            with open(path, "rb") as file:
                return np.frombuffer(file.read(), dtype=np.uint8)

    for classes in (5, 3):
        name = f"build_transfer_model(backbone, {classes})"
        model = saved_model(in_submission(probe, build_transfer_model, classes), name)
        assert_equal(tuple(model.output_shape), (None, classes), f"{name}.output_shape")
        trainable = sorted(tuple(w.shape) for w in model.trainable_weights)
        assert_equal(trainable, sorted([(128, classes), (classes,)]), f"the trainable weight shapes of {name}")
        images = np.random.default_rng(classes).integers(0, 256, size=(4, 32, 32, 3)).astype("float32")
        posteriors = keras.ops.convert_to_numpy(model(images))
        assert np.allclose(posteriors.sum(axis=1), 1, atol=1e-5), f"{name}: the outputs are not probabilities (softmax)."


# %%
# HIDDEN
def test_transfer_model_training_leaves_the_backbone_unchanged(build_transfer_model):
    import keras
    import numpy as np

    from course_lib.grading import assert_equal, in_submission, saved_model

    def probe(build_transfer_model, classes):
        # Runs where build_transfer_model is defined; the model comes back as a .keras file's bytes.
        import os
        import tempfile

        import keras
        import numpy as np

        from course_lib.grading import call
        from course_lib.pretrained import load_backbone

        name = f"build_transfer_model(backbone, {classes})"
        model = call(build_transfer_model, load_backbone(), classes, name=name)
        if not isinstance(model, keras.Model):
            raise AssertionError(f"{name} should return a keras.Model, got {type(model).__name__}.")
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.keras")
            call(model.save, path, name=f"saving {name} as a .keras file")
            with open(path, "rb") as file:
                return np.frombuffer(file.read(), dtype=np.uint8)

    keras.utils.set_random_seed(9103)
    model = saved_model(in_submission(probe, build_transfer_model, 4), "build_transfer_model(backbone, 4)")
    assert_equal(len(model.trainable_weights), 2, "the number of trainable weights of build_transfer_model(backbone, 4)")
    frozen = model.non_trainable_weights  # the backbone's kernels and BatchNormalization statistics
    before = [np.array(w) for w in frozen]
    head_before = [np.array(w) for w in model.trainable_weights]
    rng = np.random.default_rng(9103)
    images = rng.integers(0, 256, size=(16, 32, 32, 3)).astype("float32")
    labels = np.eye(4, dtype="float32")[rng.integers(0, 4, 16)]
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="categorical_crossentropy")
    model.fit(images, labels, epochs=1, batch_size=16, verbose=0)
    changed = [i for i, (w, b) in enumerate(zip(frozen, before)) if not np.array_equal(np.array(w), b)]
    assert not changed, f"training changed {len(changed)} backbone weights, e.g. {frozen[changed[0]].path}: is it frozen, with BatchNormalization in inference mode?"
    assert any(not np.array_equal(np.array(w), b) for w, b in zip(model.trainable_weights, head_before)), "training did not change the head."


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
    import numpy as np
    from sklearn.neighbors import NearestNeighbors

    from course_lib.grading import assert_equal, call

    rng = np.random.default_rng(404)
    for m, q, d, k in ((50, 7, 8, 5), (30, 4, 3, 1), (20, 6, 16, 20)):
        index, queries = rng.normal(size=(m, d)), rng.normal(size=(q, d))
        expected = NearestNeighbors(n_neighbors=k).fit(index).kneighbors(queries, return_distance=False)
        name = f"nearest_neighbours(index {index.shape}, queries {queries.shape}, k={k})"
        result = call(nearest_neighbours, index, queries, k, name=name)
        assert_equal(np.shape(result), (q, k), f"{name}.shape")
        assert_equal(np.asarray(result).tolist(), expected.tolist(), name)


# %%
# HIDDEN
def test_nearest_neighbours_hidden(nearest_neighbours):
    import numpy as np

    from course_lib.grading import assert_equal, call

    rng = np.random.default_rng(9104)
    for m, q, d, k in ((80, 9, 12, 10), (15, 3, 2, 4), (40, 5, 64, 1)):
        index, queries = rng.normal(size=(m, d)), rng.normal(size=(q, d))
        distances = np.linalg.norm(queries[:, None, :] - index[None, :, :], axis=-1)  # brute force
        expected = np.argsort(distances, axis=1)[:, :k]
        name = f"nearest_neighbours(index {index.shape}, queries {queries.shape}, k={k})"
        result = call(nearest_neighbours, index, queries, k, name=name)
        assert_equal(np.shape(result), (q, k), f"{name}.shape")
        assert_equal(np.asarray(result).tolist(), expected.tolist(), name)
    try:
        nearest_neighbours(rng.normal(size=(3, 2)), rng.normal(size=(1, 2)), 4)
    except ValueError:
        pass
    else:
        raise AssertionError("nearest_neighbours with k=4 on an index of 3 items should raise a ValueError.")


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
    import numpy as np

    from course_lib.grading import assert_same_array, call

    rng = np.random.default_rng(505)
    for q, big_k, k in ((20, 10, 5), (8, 6, 1), (12, 4, 3)):
        query_labels = rng.integers(0, 3, q)
        retrieved = rng.integers(0, 3, (q, big_k))
        expected = np.mean([np.mean(retrieved[i, :k] == query_labels[i]) for i in range(q)])
        name = f"precision_at_k(labels of {q} queries, retrieved {retrieved.shape}, k={k})"
        result = call(precision_at_k, query_labels, retrieved, k, name=name)
        if not isinstance(result, float):
            raise AssertionError(f"{name} should return a float, got {type(result).__name__}.")
        assert_same_array(result, expected, name, rtol=1e-9, atol=1e-12)


# %%
# HIDDEN
def test_precision_at_k_hidden(precision_at_k):
    import numpy as np

    from course_lib.grading import assert_same_array, call
    from course_lib.retrieval import precision_at_k as reference

    rng = np.random.default_rng(9105)
    for q, big_k, k in ((30, 12, 7), (5, 9, 2), (16, 5, 4)):
        query_labels = rng.integers(0, 4, q)
        retrieved = rng.integers(0, 4, (q, big_k))
        name = f"precision_at_k(labels of {q} queries, retrieved {retrieved.shape}, k={k})"
        result = call(precision_at_k, query_labels, retrieved, k, name=name)
        assert_same_array(result, reference(query_labels, retrieved, k), name, rtol=1e-9, atol=1e-12)


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
