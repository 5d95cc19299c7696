"""Checks of assignment A3, learning with little data (`notebooks/assignments`).

Where a check needs objects (a Keras model, view functions), a probe builds
them where the student's code lives (`course_lib.grading.in_submission`) and
returns data: the TTA check gets the model's weights and the student's
predictions and recomputes the reference here; the transfer-learning checks
get the student's model as the bytes of a `.keras` file and load it safely.

Example:

>>> import numpy as np
>>> check_precision_at_k(lambda q, r, k: float(np.mean(r[:, :k] == q[:, None])), seed=0,
...                      cases=((6, 4, 2),), labels=3, reference="by hand", require_float=True)
"""

import numpy as np

from course_lib.grading import assert_equal, assert_same_array, call, in_submission, saved_model, unpack

__all__ = [
    "FORBIDDEN_IMPORTS",
    "JUDGE_IMPORTS",
    "judge_warm_up",
    "VIEWS",
    "check_mixup_batch",
    "tta_model",
    "tta_answers",
    "check_tta_predict",
    "transfer_model_bytes",
    "HEAD_LAYERS",
    "MAX_LAYERS",
    "MAX_HEAD_UNITS",
    "checked_transfer_model",
    "check_transfer_model_structure",
    "check_transfer_model_training",
    "check_nearest_neighbours",
    "check_precision_at_k",
]

# The honour code: what A3's rules forbid in an answer (NumPy and Keras only, not the course's
# answers). `make grade` lists, per submission, the ones its code uses; the score is not changed.
FORBIDDEN_IMPORTS = ("course_lib.augment", "course_lib.mixup", "course_lib.tta", "course_lib.transfer",
                     "course_lib.retrieval", "sklearn", "scipy.spatial")

# What these checks import inside their functions: the judge imports them before any submission runs.
JUDGE_IMPORTS = ("keras", "scipy.stats", "sklearn.neighbors", "course_lib.retrieval", "course_lib.layers", "course_lib.pretrained",
                 "course_lib.grading.sandbox", "tempfile", "encodings.cp437")


def judge_warm_up():
    """Saves, loads, calls and trains a tiny model once, as the q3 checks do, before any submission runs.

    Keras imports parts of itself (and of its backend) the first time a model
    is trained; the judge calls this when it is made, so that it imports
    nothing once submissions run.
    """
    import os
    import tempfile

    import keras

    model = keras.Sequential([keras.Input((2, 2, 3)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")])
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        with open(path, "rb") as file:
            model = saved_model(np.frombuffer(file.read(), dtype=np.uint8), "the warm-up model")
    model(np.zeros((2, 2, 2, 3), "float32"))
    model.predict(np.zeros((3, 2, 2, 3), "float32"), verbose=0)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
    model.fit(np.zeros((2, 2, 2, 3), "float32"), np.eye(2, dtype="float32"), epochs=1, batch_size=2, verbose=0)
    _course_backbone().get_weights()

# Test-time views, by name, so that a probe can use them where the student's code runs.
VIEWS = {
    "identity": lambda x: x,
    "flip_cols": lambda x: x[:, :, ::-1],
    "flip_rows": lambda x: x[:, ::-1],
    "roll_rows": lambda x: np.roll(x, 1, axis=1),
    "roll_cols_back_2": lambda x: np.roll(x, -2, axis=2),
    "brighter": lambda x: x * 1.5,
}


def check_mixup_batch(mixup_batch, seed, alphas, n, classes, image_shape, mixer_seed):
    """q1: `mixup_batch(images, labels, alpha, rng)`: lambdas in (0, 1) and Beta-distributed, partners of
    another class, the mixtures; a batch of one class passes unchanged; integer labels are refused."""
    import scipy.stats

    data = np.random.default_rng(seed)
    parts = ("mixed_images", "mixed_labels", "lambdas", "partners")
    for alpha in alphas:
        images = data.normal(size=(n, *image_shape)).astype("float32")
        labels = np.eye(classes, dtype="float32")[data.integers(0, classes, n)]
        name = f"mixup_batch(alpha={alpha})"
        result = call(mixup_batch, images, labels, alpha, np.random.default_rng(mixer_seed), name=name)
        mixed_images, mixed_labels, lambdas, partners = unpack(result, parts, name)
        lambdas = np.asarray(lambdas, dtype=np.float32)
        partners = np.asarray(partners)
        assert lambdas.shape == (n,) and partners.shape == (n,), f"{name}: lambdas and partners need shape ({n},)."
        extreme = int(((lambdas <= 0) | (lambdas >= 1)).sum())
        assert ((lambdas > 0) & (lambdas < 1)).all(), f"{name}: {extreme} lambdas are 0 or 1 in float32."
        assert np.issubdtype(partners.dtype, np.integer), f"{name}: partners must be integers."
        assert (labels[partners].argmax(1) != labels.argmax(1)).all(), f"{name}: some partners are of the same class."
        weights = lambdas.reshape(-1, *[1] * len(image_shape))
        assert_same_array(mixed_images, weights * images + (1 - weights) * images[partners], f"mixed images of {name}")
        assert_same_array(mixed_labels, lambdas[:, None] * labels + (1 - lambdas[:, None]) * labels[partners], f"mixed labels of {name}")
        if alpha >= 0.4:  # where the clip moves few draws: lambda follows Beta(alpha, alpha)
            p_value = scipy.stats.kstest(lambdas, "beta", args=(alpha, alpha)).pvalue
            assert p_value > 1e-4, f"{name}: the lambdas do not look Beta({alpha}, {alpha}) distributed (KS p = {p_value:.2g})."
    # One class only: every sample is its own partner and passes through unchanged.
    images = data.normal(size=(6, 2, 2, 1)).astype("float32")
    labels = np.tile(np.eye(3, dtype="float32")[1], (6, 1))
    result = call(mixup_batch, images, labels, 0.2, np.random.default_rng(0), name="mixup_batch on one class")
    assert_same_array(unpack(result, parts, "mixup_batch on one class")[0], images, "mixup_batch on a batch of one class")
    # Integer labels are refused with a clear error.
    try:
        mixup_batch(images, np.ones(6, dtype="int64"), 0.2, np.random.default_rng(0))
    except ValueError as error:
        assert "one-hot" in str(error), f"the ValueError should say one-hot labels are needed; it says: {error}"
    else:
        raise AssertionError("mixup_batch accepted 1-D integer labels; it should raise a ValueError.")


def tta_model(input_shape, hidden_units, activation, classes):
    """The small classifier of the TTA check: Flatten, one hidden Dense layer, softmax."""
    import keras

    return keras.Sequential([
        keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Dense(hidden_units, activation=activation),
        keras.layers.Dense(classes, activation="softmax"),
    ])


def tta_answers(tta_predict, images, weights, architecture, view_sets):
    """Probe: the student's `tta_predict` on copies of a `tta_model` with the judge's weights, per set of views.

    Each call gets a fresh copy of the model, so a `tta_predict` that changes
    its model changes nothing the next call or the judge uses; the judge
    computes the reference from its own weights.
    """
    from course_lib.grading import call
    from course_lib.grading.checks.a3 import VIEWS, tta_model

    def copy():
        model = tta_model(*architecture)
        model.set_weights(weights)
        return model

    results = []
    for chosen in view_sets:
        name = f"tta_predict with {len(chosen)} views"
        results.append(call(tta_predict, copy(), images, [VIEWS[v] for v in chosen], name=name))
    try:
        tta_predict(copy(), images, [])
        raises_on_no_views = False
    except ValueError:
        raises_on_no_views = True
    except Exception:  # another error is not the ValueError asked for
        raises_on_no_views = False
    return {"results": results, "raises_on_no_views": raises_on_no_views}


def check_tta_predict(tta_predict, seed, n, architecture, view_sets, check_no_views):
    """q2: `tta_predict(model, images, views)` is the mean of the views' posteriors; with no views, a ValueError."""
    import keras

    images = np.random.default_rng(seed).normal(size=(n, *architecture[0])).astype("float32")
    keras.utils.set_random_seed(seed)
    model = tta_model(*architecture)  # the reference: the judge's model and weights, and the same views, here
    weights = [np.asarray(w) for w in model.get_weights()]
    answers = in_submission(tta_answers, tta_predict, images, weights, architecture, view_sets)
    assert_equal(len(answers["results"]), len(view_sets), "the number of tta_predict results")
    for chosen, result in zip(view_sets, answers["results"]):
        expected = np.mean([model.predict(VIEWS[v](images), verbose=0) for v in chosen], axis=0)
        assert_same_array(result, expected, f"tta_predict with {len(chosen)} views", rtol=1e-5, atol=1e-6)
    if check_no_views and answers["raises_on_no_views"] is not True:
        raise AssertionError("tta_predict(model, images, []) should raise a ValueError.")


def transfer_model_bytes(build_transfer_model, classes):
    """Probe: the student's `build_transfer_model(load_backbone(), classes)`, as the bytes of a `.keras` file."""
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


# The layers a transfer model may have around the backbone, and how many: the judge calls and
# trains the model itself, so it refuses anything else before running it.
HEAD_LAYERS = ("InputLayer", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten", "Dropout", "Dense")
MAX_LAYERS = 8
MAX_HEAD_UNITS = 1024

_BACKBONE = []


def _course_backbone():
    from course_lib.pretrained import load_backbone

    if not _BACKBONE:
        _BACKBONE.append(load_backbone())
    return _BACKBONE[0]


def checked_transfer_model(data, name):
    """The student's transfer model, loaded safely and checked before the judge runs it.

    It must hold the course backbone, with its trained weights, and a small
    head of `HEAD_LAYERS` (that the backbone is frozen as asked, the checks
    see in the trainable weights); anything else (no backbone, another one,
    re-initialised weights, dozens of layers, a huge head) is refused here,
    so the judge's own calls and training of the model stay small.
    """
    model = saved_model(data, name)
    layers = model.layers
    if len(layers) > MAX_LAYERS:
        raise AssertionError(f"{name} has {len(layers)} layers; a transfer model here is the backbone and a small head "
                             f"(at most {MAX_LAYERS} layers).")
    reference = _course_backbone()
    backbones = [layer for layer in layers if type(layer).__name__ not in HEAD_LAYERS]
    if len(backbones) != 1 or not hasattr(backbones[0], "layers"):
        kinds = sorted({type(layer).__name__ for layer in backbones})
        raise AssertionError(f"{name} should contain the course backbone (load_backbone()) as one layer, followed by a "
                             f"head of {', '.join(HEAD_LAYERS[1:])}; found {kinds or 'no backbone'}.")
    backbone = backbones[0]
    if [type(layer).__name__ for layer in backbone.layers] != [type(layer).__name__ for layer in reference.layers]:
        raise AssertionError(f"{name}'s backbone is not the course backbone from load_backbone().")
    weights, expected = backbone.get_weights(), reference.get_weights()
    if len(weights) != len(expected) or any(w.shape != e.shape or not np.array_equal(w, e) for w, e in zip(weights, expected)):
        raise AssertionError(f"{name}'s backbone does not have the course backbone's trained weights.")
    for layer in layers:
        if type(layer).__name__ == "Dense" and int(layer.units) > MAX_HEAD_UNITS:
            raise AssertionError(f"{name} has a Dense layer of {layer.units} units; the head needs far fewer.")
    return model


def check_transfer_model_structure(build_transfer_model, class_counts):
    """q3, public: the course backbone, frozen, with the right output, only the new head trainable, softmax outputs."""
    import keras

    for classes in class_counts:
        name = f"build_transfer_model(backbone, {classes})"
        model = checked_transfer_model(in_submission(transfer_model_bytes, build_transfer_model, classes), name)
        assert_equal(tuple(model.output_shape), (None, classes), f"{name}.output_shape")
        trainable = sorted(tuple(w.shape) for w in model.trainable_weights)
        assert_equal(trainable, sorted([(128, classes), (classes,)]), f"the trainable weight shapes of {name}")
        images = np.random.default_rng(classes).integers(0, 256, size=(4, 32, 32, 3)).astype("float32")
        posteriors = keras.ops.convert_to_numpy(model(images))
        assert np.allclose(posteriors.sum(axis=1), 1, atol=1e-5), f"{name}: the outputs are not probabilities (softmax)."


def check_transfer_model_training(build_transfer_model, seed, classes):
    """q3, hidden: one step of training changes the head and leaves the backbone (kernels, statistics) as it was."""
    import keras

    keras.utils.set_random_seed(seed)
    name = f"build_transfer_model(backbone, {classes})"
    model = checked_transfer_model(in_submission(transfer_model_bytes, build_transfer_model, classes), name)
    assert_equal(len(model.trainable_weights), 2, f"the number of trainable weights of {name}")
    frozen = model.non_trainable_weights  # the backbone's kernels and BatchNormalization statistics
    before = [np.array(w) for w in frozen]
    head_before = [np.array(w) for w in model.trainable_weights]
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(16, 32, 32, 3)).astype("float32")
    labels = np.eye(classes, dtype="float32")[rng.integers(0, classes, 16)]
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="categorical_crossentropy")
    model.fit(images, labels, epochs=1, batch_size=16, verbose=0)
    changed = [i for i, (w, b) in enumerate(zip(frozen, before)) if not np.array_equal(np.array(w), b)]
    assert not changed, (f"training changed {len(changed)} backbone weights, e.g. {frozen[changed[0]].path}: "
                         "is it frozen, with BatchNormalization in inference mode?")
    assert any(not np.array_equal(np.array(w), b) for w, b in zip(model.trainable_weights, head_before)), (
        "training did not change the head.")


def check_nearest_neighbours(nearest_neighbours, seed, cases, reference, check_too_large_k):
    """q4: `nearest_neighbours(index, queries, k)` against scikit-learn (`reference="sklearn"`) or brute force."""
    rng = np.random.default_rng(seed)
    for m, q, d, k in cases:
        index, queries = rng.normal(size=(m, d)), rng.normal(size=(q, d))
        if reference == "sklearn":
            from sklearn.neighbors import NearestNeighbors

            expected = NearestNeighbors(n_neighbors=k).fit(index).kneighbors(queries, return_distance=False)
        else:
            distances = np.linalg.norm(queries[:, None, :] - index[None, :, :], axis=-1)
            expected = np.argsort(distances, axis=1)[:, :k]
        name = f"nearest_neighbours(index {index.shape}, queries {queries.shape}, k={k})"
        result = call(nearest_neighbours, index, queries, k, name=name)
        assert_equal(np.shape(result), (q, k), f"{name}.shape")
        assert_equal(np.asarray(result).tolist(), expected.tolist(), name)
    if check_too_large_k:
        try:
            nearest_neighbours(rng.normal(size=(3, 2)), rng.normal(size=(1, 2)), 4)
        except ValueError:
            pass
        else:
            raise AssertionError("nearest_neighbours with k=4 on an index of 3 items should raise a ValueError.")


def check_precision_at_k(precision_at_k, seed, cases, labels, reference, require_float):
    """q5: `precision_at_k(query_labels, retrieved_labels, k)` against a mean by hand or `course_lib.retrieval`."""
    rng = np.random.default_rng(seed)
    for q, big_k, k in cases:
        query_labels = rng.integers(0, labels, q)
        retrieved = rng.integers(0, labels, (q, big_k))
        if reference == "by hand":
            expected = np.mean([np.mean(retrieved[i, :k] == query_labels[i]) for i in range(q)])
        else:
            from course_lib.retrieval import precision_at_k as course_precision

            expected = course_precision(query_labels, retrieved, k)
        name = f"precision_at_k(labels of {q} queries, retrieved {retrieved.shape}, k={k})"
        result = call(precision_at_k, query_labels, retrieved, k, name=name)
        if require_float and not isinstance(result, float):
            raise AssertionError(f"{name} should return a float, got {type(result).__name__}.")
        assert_same_array(result, expected, name, rtol=1e-9, atol=1e-12)
