"""Tests of course_lib.tta on the backend named by KERAS_BACKEND."""

import keras
import numpy as np
import pytest

from course_lib import augment, tta

RNG = np.random.default_rng(0)
SHAPE = (12, 12, 3)  # the shape of test_augment's images: JAX compiles once


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _classifier():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input(SHAPE), keras.layers.Flatten(), keras.layers.Dense(4, activation="softmax")]
    )


def _images(n=4):
    return RNG.uniform(size=(n,) + SHAPE).astype("float32")


def test_default_views_average_the_image_and_its_mirror():
    model, x = _classifier(), _images()
    expected = (_numpy(model(x)) + _numpy(model(x[:, :, ::-1]))) / 2
    np.testing.assert_allclose(_numpy(tta.TTAModel(model)(x)), expected, rtol=1e-5, atol=1e-6)
    # The mirror changes the prediction: the test would see a missing view.
    assert not np.allclose(_numpy(model(x)), expected, atol=1e-4)


def test_predict_equals_the_manual_average_over_the_views():
    model, x = _classifier(), _images(7)
    views = [tta.identity, tta.horizontal_flip, lambda b: keras.ops.flip(b, axis=1), lambda b: b * 0.5]
    expected = np.mean([_numpy(model(_numpy(view(x)))) for view in views], axis=0)
    np.testing.assert_allclose(tta.predict_tta(model, x, views, batch_size=3), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, rtol=1e-5)


def test_predict_accepts_a_dataset_of_batches():
    tf = pytest.importorskip("tensorflow")
    model, x = _classifier(), _images(7)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(7))).batch(3)
    np.testing.assert_allclose(
        tta.predict_tta(model, dataset), tta.predict_tta(model, x), rtol=1e-5, atol=1e-6
    )


def test_random_views_are_seeded_and_averaged():
    model, x = _classifier(), _images()
    layer = augment.geometric_augmentation(seed=3)
    twin = augment.geometric_augmentation(seed=3)
    out = _numpy(tta.TTAModel(model, augmentations=layer, n_samples=3)(x))
    expected = np.mean([_numpy(model(twin(x, training=True))) for _ in range(3)], axis=0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    # The default random layer, seeded by `seed`: same seed, same predictions.
    first = _numpy(tta.TTAModel(model, n_samples=2, seed=1)(x))
    np.testing.assert_array_equal(_numpy(tta.TTAModel(model, n_samples=2, seed=1)(x)), first)
    assert not np.allclose(_numpy(tta.TTAModel(model, n_samples=2, seed=2)(x)), first)
    # Through predict (compiled on JAX) too: the first prediction of each fresh
    # TTA model is the same for a seed.
    np.testing.assert_allclose(tta.predict_tta(model, x, n_samples=2, seed=1), first, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(augmentations=[]), ValueError, "at least one view"),
        (dict(augmentations=[tta.identity, "flip"]), TypeError, "must be a callable"),
        (dict(n_samples=0), ValueError, "`n_samples` must be None or a positive int"),
        (dict(aggregate="max"), ValueError, "`aggregate` must be one of"),
        (dict(seed=1), ValueError, "`seed` only seeds the default"),
        (dict(augmentations=tta.identity, n_samples=2, seed=1), ValueError, "seed your augmentation layer"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        tta.TTAModel(_classifier(), **kwargs)
