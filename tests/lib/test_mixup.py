"""Tests of course_lib.mixup on the backend named by KERAS_BACKEND."""

import keras
import numpy as np
import pytest
from scipy import stats

from course_lib import mixup as M

RNG = np.random.default_rng(0)


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


# Few distinct shapes: JAX compiles each operation once per input shape.
def _images(n=4, size=12, channels=3):
    return RNG.uniform(size=(n, size, size, channels)).astype("float32")


def _one_hot(classes, num_classes):
    return keras.utils.to_categorical(classes, num_classes).astype("float32")


CLASSES = np.array([0, 1, 2, 0, 1, 2, 2, 0])
BATCH = len(CLASSES)


@pytest.mark.parametrize("alpha", [1e-3, 0.2, 1.0, 100.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_mixup_invariants(alpha, seed):
    x, y = _images(BATCH, size=5), _one_hot(CLASSES, 3)
    mixed_x, mixed_y, lambdas, partners = M.mixup_batch(x, y, alpha=alpha, seed=seed)
    # Lambda in the open interval (0, 1), even for tiny and huge alpha.
    assert np.all(lambdas > 0) and np.all(lambdas < 1)
    # Partners come from another class.
    assert np.all(CLASSES[partners] != CLASSES)
    # The output is the convex combination, for images and labels.
    lam = lambdas.astype("float64")
    expected_x = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[partners]
    expected_y = lam[:, None] * y + (1 - lam[:, None]) * y[partners]
    np.testing.assert_allclose(mixed_x, expected_x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mixed_y, expected_y, rtol=1e-5, atol=1e-6)
    # Every mixed pixel lies between its two sources, every label sums to one.
    low, high = np.minimum(x, x[partners]), np.maximum(x, x[partners])
    assert np.all(mixed_x >= low - 1e-6) and np.all(mixed_x <= high + 1e-6)
    np.testing.assert_allclose(mixed_y.sum(axis=1), 1.0, rtol=1e-6)


def test_mixup_lambdas_follow_the_beta_distribution():
    y = _one_hot(np.arange(999) % 3, 3)
    _, _, lambdas, _ = M.mixup_batch(np.zeros((999, 1), "float32"), y, alpha=0.4, seed=0)
    # Kolmogorov-Smirnov against Beta(0.4, 0.4); Beta(alpha, 1), a swapped
    # parameter, has mean 0.29 and fails this by far.
    assert stats.kstest(lambdas, stats.beta(0.4, 0.4).cdf).pvalue > 1e-3


def test_mixup_partners_cover_all_other_classes():
    y = _one_hot(np.arange(999) % 3, 3)
    _, _, _, partners = M.mixup_batch(np.zeros((999, 1), "float32"), y, seed=0)
    own = np.arange(999) % 3
    assert np.all(own[partners] != own)
    # Sample i's partner is drawn among all samples of the two other classes.
    for label in range(3):
        counts = np.bincount(own[partners][own == label], minlength=3)
        assert counts[label] == 0 and min(np.delete(counts, label)) > 120


def test_mixup_batch_of_one_class_passes_through():
    x, y = _images(BATCH, size=5), _one_hot(np.ones(BATCH, int), 3)
    mixed_x, mixed_y, lambdas, partners = M.mixup_batch(x, y, seed=0)
    np.testing.assert_array_equal(partners, np.arange(BATCH))
    np.testing.assert_allclose(mixed_x, x, rtol=1e-6)
    np.testing.assert_allclose(mixed_y, y, rtol=1e-6)


def test_mixup_without_class_constraint_pairs_with_another_sample():
    x, y = _images(BATCH, size=5), _one_hot([1, 1, 1, 1, 1, 1, 1, 0], 3)
    _, _, _, partners = M.mixup_batch(x, y, different_classes=False, seed=0)
    assert np.all(partners != np.arange(BATCH))


def test_mixup_is_deterministic_for_a_seed():
    x, y = _images(BATCH, size=5), _one_hot(CLASSES, 3)
    first = M.mixup_batch(x, y, seed=5)
    for a, b in zip(first, M.mixup_batch(x, y, seed=5)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[2], M.mixup_batch(x, y, seed=6)[2])


def test_mixup_layer_matches_mixup_batch_and_is_deterministic():
    x, y = _images(BATCH, size=5), _one_hot(CLASSES, 3)
    mixed_x, mixed_y, _, _ = M.mixup_batch(x, y, alpha=0.4, seed=2)
    layer = M.MixUp(alpha=0.4, seed=2)
    out_x, out_y = layer((x, y))
    np.testing.assert_allclose(_numpy(out_x), mixed_x, rtol=1e-6)
    np.testing.assert_allclose(_numpy(out_y), mixed_y, rtol=1e-6)
    # The layer's generator moves on: the next batch gets new draws.
    assert not np.allclose(_numpy(layer((x, y))[0]), mixed_x)
    same = M.MixUp(alpha=0.4, seed=2)({"images": x, "labels": y})
    assert set(same) == {"images", "labels"}
    np.testing.assert_allclose(_numpy(same["images"]), mixed_x, rtol=1e-6)


def test_mixup_layer_is_the_identity_at_inference():
    x, y = _images(BATCH, size=5), _one_hot(CLASSES, 3)
    out_x, out_y = M.MixUp(alpha=1.0, seed=0)((x, y), training=False)
    np.testing.assert_array_equal(_numpy(out_x), x)
    np.testing.assert_array_equal(_numpy(out_y), y)


def test_mixup_layer_config_round_trip():
    layer = M.MixUp(alpha=0.3, different_classes=False, seed=4, name="mix")
    restored = M.MixUp.from_config(layer.get_config())
    assert (restored.alpha, restored.different_classes, restored.seed) == (0.3, False, 4)


@pytest.mark.parametrize(
    "images, labels, alpha, error, message",
    [
        (_images(3), np.array([[0], [1], [2]]), 0.2, TypeError, "`labels` must be one-hot or soft labels of a float"),
        (_images(3), np.array([0.0, 1.0, 1.0]), 0.2, ValueError, "`labels` must be 2-D"),
        (_images(3), np.array([[0.0], [1.0], [2.0]]), 0.2, ValueError, "one column per class"),
        (_images(3), np.eye(4, dtype="float32"), 0.2, ValueError, "same batch size"),
        (_images(3), np.eye(3, dtype="float32"), 0.0, ValueError, "`alpha` must be a positive number"),
    ],
)
def test_mixup_bad_inputs(images, labels, alpha, error, message):
    with pytest.raises(error, match=message):
        M.mixup_batch(images, labels, alpha=alpha)
    if alpha > 0:
        with pytest.raises(error, match=message):
            M.MixUp(alpha=alpha)((images, labels))
    else:
        with pytest.raises(error, match=message):
            M.MixUp(alpha=alpha)


def test_mixup_layer_rejects_a_dict_with_other_keys():
    with pytest.raises(ValueError, match='keys "images" and "labels"'):
        M.MixUp()({"x": _images(2), "y": np.eye(2, dtype="float32")})


def test_mixup_batch_takes_its_arguments_in_the_layers_order():
    x, y = _images(BATCH, size=5), _one_hot(CLASSES, 3)
    positional = M.mixup_batch(x, y, 0.4, False, 3)
    by_name = M.mixup_batch(x, y, alpha=0.4, different_classes=False, seed=3)
    for a, b in zip(positional, by_name):
        np.testing.assert_array_equal(a, b)
    # The old order (alpha, seed, different_classes) puts a seed where the flag goes: refused.
    with pytest.raises(TypeError, match="`different_classes` must be True or False"):
        M.mixup_batch(x, y, 0.4, 3)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_mixup_rejects_bad_seeds(seed):
    x, y = _images(BATCH, size=5), _one_hot(CLASSES, 3)
    message = "`seed` must be None or a non-negative int"
    with pytest.raises(ValueError, match=message):
        M.MixUp(seed=seed)
    with pytest.raises(ValueError, match=message):
        M.mixup_batch(x, y, seed=seed)
    with pytest.raises(ValueError, match=message):
        M.MixUpBatches(x, y, seed=seed)


def test_mixup_takes_a_numpy_seed():
    x, y = _images(BATCH, size=5), _one_hot(CLASSES, 3)
    layer = M.MixUp(seed=np.int64(2))
    assert layer.seed == 2 and type(layer.get_config()["seed"]) is int
    np.testing.assert_array_equal(M.mixup_batch(x, y, seed=np.int32(2))[2], M.mixup_batch(x, y, seed=2)[2])


def test_a_saved_model_with_mixup_loads(tmp_path):
    # Registered under the name it had in course_lib.augment, "course_lib>MixUp".
    assert keras.saving.get_registered_name(M.MixUp) == "course_lib>MixUp"
    images, labels = keras.Input((5, 5, 3)), keras.Input((3,))
    mixed_images, mixed_labels = M.MixUp(alpha=0.3, seed=1, name="mixup")((images, labels))
    model = keras.Model([images, labels], [mixed_images, mixed_labels])
    path = tmp_path / "mixup.keras"
    model.save(path)
    layer = keras.models.load_model(path).get_layer("mixup")
    assert type(layer) is M.MixUp
    assert (layer.alpha, layer.different_classes, layer.seed) == (0.3, True, 1)


def test_a_config_saved_from_course_lib_augment_still_loads():
    # What `keras.saving.serialize_keras_object` wrote while MixUp lived in course_lib.augment.
    saved = {
        "module": "course_lib.augment",
        "class_name": "MixUp",
        "config": {"name": "mix_up", "trainable": True, "dtype": "float32",
                   "alpha": 0.4, "different_classes": False, "seed": 7},
        "registered_name": "course_lib>MixUp",
    }
    layer = keras.saving.deserialize_keras_object(saved)
    assert type(layer) is M.MixUp
    assert (layer.alpha, layer.different_classes, layer.seed) == (0.4, False, 7)


# MixUpBatches -------------------------------------------------------------------


SAMPLE_CLASSES = np.arange(10) % 3


def _batches(**kwargs):
    # Sample i is the unit vector e_i: a mixed row shows which samples it mixes, and how much.
    x, y = np.eye(10, dtype="float32"), _one_hot(SAMPLE_CLASSES, 3)
    return M.MixUpBatches(x, y, **{"batch_size": 4, "alpha": 0.4, "seed": 0, **kwargs})


def _epoch(batches):
    return [batches[index] for index in range(len(batches))]


def test_mixup_batches_mix_pairs_of_one_batch_and_use_every_sample():
    batches = _batches()
    assert len(batches) == 3  # 4 + 4 + 2
    used = set()
    for images, labels in _epoch(batches):
        assert images.dtype == np.float32 and labels.dtype == np.float32
        batch_samples = set()
        for row, label in zip(images, labels):
            pair = np.flatnonzero(row > 0)
            assert len(pair) == 2  # two samples ...
            i, j = pair
            assert SAMPLE_CLASSES[i] != SAMPLE_CLASSES[j]  # ... of different classes,
            # mixed with the same weights as their labels.
            np.testing.assert_allclose(label[SAMPLE_CLASSES[[i, j]]], row[[i, j]], rtol=1e-6)
            np.testing.assert_allclose(row.sum(), 1.0, rtol=1e-6)
            batch_samples |= {i, j}
        assert len(batch_samples) <= len(images)  # partners come from the same batch
        used |= batch_samples
    assert used == set(range(10))  # every sample is mixed in once per epoch


def test_mixup_batches_are_reproducible_and_new_at_every_epoch():
    first, second = _batches(), _batches()
    backwards = [second[index] for index in reversed(range(len(second)))][::-1]
    for (x1, y1), (x2, y2) in zip(_epoch(first), backwards):  # whatever order they are asked in
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    epoch0 = _epoch(first)
    first.on_epoch_end()
    assert first.epoch == 1
    assert not np.array_equal(_epoch(first)[0][0], epoch0[0][0])
    first.set_epoch(0)
    np.testing.assert_array_equal(_epoch(first)[0][0], epoch0[0][0])
    assert not np.array_equal(_epoch(_batches(seed=1))[0][0], epoch0[0][0])


def test_mixup_batches_without_shuffle_keep_the_order():
    images, _ = _batches(batch_size=10, shuffle=False)[0]
    # Row i mixes sample i (weight lambda) with one other sample (weight 1 - lambda).
    own = np.array([row[i] for i, row in enumerate(images)])
    partner = np.array([np.delete(row, i).max() for i, row in enumerate(images)])
    np.testing.assert_allclose(own + partner, 1.0, rtol=1e-6)


def test_fit_trains_on_mixup_batches_in_one_call():
    keras.utils.set_random_seed(0)
    x, y = _images(12, size=4), _one_hot(np.arange(12) % 3, 3)
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy")
    batches = M.MixUpBatches(x, y, batch_size=5, alpha=0.4, seed=0)
    history = model.fit(batches, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    # fit ends every epoch (Keras also resets the dataset once before the first): new mixtures each time.
    assert batches.epoch >= 3


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(y=np.arange(10) % 3), TypeError, "`labels` must be one-hot or soft labels"),
        (dict(y=np.eye(3, dtype="float32")), ValueError, "same batch size"),
        (dict(batch_size=0), ValueError, "`batch_size` must be a positive int"),
        (dict(alpha=-1), ValueError, "`alpha` must be a positive number"),
        (dict(shuffle="yes"), TypeError, "`shuffle` must be True or False"),
    ],
)
def test_mixup_batches_bad_arguments(kwargs, error, message):
    arguments = {"x": np.eye(10, dtype="float32"), "y": _one_hot(SAMPLE_CLASSES, 3), **kwargs}
    with pytest.raises(error, match=message):
        M.MixUpBatches(**arguments)
