"""Tests of course_lib.augment on the backend named by KERAS_BACKEND."""

import keras
import numpy as np
import pytest

from course_lib import augment as A

RNG = np.random.default_rng(0)


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


# Few distinct shapes: JAX compiles each operation once per input shape.
def _images(n=4, size=12, channels=3):
    return RNG.uniform(size=(n, size, size, channels)).astype("float32")


def _one_hot(classes, num_classes):
    return keras.utils.to_categorical(classes, num_classes).astype("float32")


PIPELINES = {
    "geometric": lambda seed: A.geometric_augmentation(
        flip="horizontal_and_vertical", rotation=0.1, translation=0.1, zoom=0.1, shear=0.2, perspective=0.3, seed=seed
    ),
    "photometric": lambda seed: A.photometric_augmentation(
        brightness=0.2, contrast=0.3, saturation=0.5, hue=0.1, noise=0.05, value_range=(0, 1), seed=seed
    ),
}


@pytest.mark.parametrize("kind", sorted(PIPELINES))
def test_pipeline_transforms_only_in_training(kind):
    pipeline, x = PIPELINES[kind](seed=0), _images()
    np.testing.assert_array_equal(_numpy(pipeline(x, training=False)), x)
    augmented = _numpy(pipeline(x, training=True))
    assert augmented.shape == x.shape
    # Every image changes (each layer transforms every image of the batch).
    assert np.all(np.abs(augmented - x).max(axis=(1, 2, 3)) > 1e-3)


@pytest.mark.parametrize("kind", sorted(PIPELINES))
def test_pipeline_is_reproducible_for_a_seed(kind):
    x = _images()
    first = _numpy(PIPELINES[kind](seed=3)(x, training=True))
    np.testing.assert_array_equal(_numpy(PIPELINES[kind](seed=3)(x, training=True)), first)
    assert not np.allclose(_numpy(PIPELINES[kind](seed=4)(x, training=True)), first)


def test_pipeline_inside_a_model_is_the_identity_in_predict_and_saves(tmp_path):
    x = _images()
    model = keras.Sequential(
        [keras.Input(x.shape[1:]), A.geometric_augmentation(seed=0), A.photometric_augmentation(noise=0.1, seed=0)]
    )
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    for pipeline, restored in zip(model.layers, loaded.layers):
        assert type(restored) is A.AugmentationPipeline
        describe = lambda p: [(type(layer), layer.seed) for layer in p.layers]  # noqa: E731
        assert describe(restored) == describe(pipeline)


def test_geometric_pipeline_maps_over_a_tf_dataset():
    tf = pytest.importorskip("tensorflow")
    x = _images()
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(4).map(A.geometric_augmentation(seed=0))
    (augmented,) = [batch.numpy() for batch in dataset]
    assert augmented.shape == x.shape and not np.allclose(augmented, x)


def test_layers_follow_the_strengths_and_zero_switches_off():
    names = lambda p: [type(layer).__name__ for layer in p.layers]  # noqa: E731
    assert names(A.geometric_augmentation(flip=None, rotation=0, translation=None, zoom=0.0)) == []
    assert names(A.geometric_augmentation(shear=0.1, perspective=0.2)) == [
        "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "RandomShear", "RandomPerspective",
    ]
    assert names(A.photometric_augmentation(brightness=0, contrast=None, hue=0.1)) == ["RandomHue"]
    # Each layer gets its own seed, so that two transformations do not move together.
    seeds = [layer.seed for layer in A.geometric_augmentation(seed=7).layers]
    assert seeds == [7, 8, 9, 10]


def test_photometric_pipeline_respects_the_value_range():
    # Brightness and contrast clip to `value_range`: with (0, 1) passed to the
    # Keras layers, values stay in [0, 1] (with Keras's default (0, 255) a
    # brightness shift would be up to 51 and leave the range).
    x = _images()
    pipeline = A.photometric_augmentation(brightness=0.2, contrast=0.5, value_range=(0, 1), seed=0)
    augmented = _numpy(pipeline(x, training=True))
    assert augmented.min() >= 0 and augmented.max() <= 1
    # The noise's standard deviation is a fraction of the value range.
    noisy = A.photometric_augmentation(brightness=0, contrast=0, noise=0.1, value_range=(0, 255), seed=0)
    noise = _numpy(noisy(np.full((4, 32, 32, 3), 128.0, "float32"), training=True)) - 128.0
    assert 0.9 * 25.5 < noise.std() < 1.1 * 25.5


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: A.geometric_augmentation(flip="diagonal"), "`flip` must be one of"),
        (lambda: A.geometric_augmentation(rotation=1.5), r"`rotation` must be a number in \[0, 1.0\]"),
        (lambda: A.geometric_augmentation(zoom=-0.1), "`zoom` must be a number in"),
        (lambda: A.geometric_augmentation(seed=-1), "`seed` must be None or a non-negative int"),
        (lambda: A.photometric_augmentation(seed=True), "`seed` must be None or a non-negative int"),
        (lambda: A.RangeGaussianNoise(0.1, seed=2.5), "`seed` must be None or a non-negative int"),
        (lambda: A.photometric_augmentation(value_range=(1, 0)), "`value_range` must be a pair"),
        (lambda: A.photometric_augmentation(noise="high"), "`noise` must be a number in"),
    ],
)
def test_pipeline_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# Class balance ----------------------------------------------------------------


def _numbered_images(n):
    # Image i is filled with the value i: an augmented copy tells its source.
    return np.broadcast_to(np.arange(n, dtype="uint8")[:, None, None, None], (n, 3, 3, 1)).copy()


def _negate(images):
    return 255.0 - np.asarray(images, "float32")


@pytest.mark.parametrize("label_shape", [(-1,), (-1, 1)])
def test_balance_with_augmentation(label_shape):
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 2, 0, 1])
    x, y = _numbered_images(10), labels.reshape(label_shape)
    x_before = x.copy()
    xb, yb = A.balance_with_augmentation(x, y, _negate, target_per_class=4, seed=0)
    # Originals first and untouched; class 0 (6 > 4 samples) kept as it is.
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(xb[:10], x)
    np.testing.assert_array_equal(yb[:10], y)
    assert yb.shape[1:] == y.shape[1:] and xb.dtype == x.dtype
    np.testing.assert_array_equal(np.bincount(yb.reshape(-1)), [6, 4, 4])
    # New samples: class 1 then class 2, each an augmented real image of its class.
    new_labels = yb.reshape(-1)[10:]
    np.testing.assert_array_equal(new_labels, [1, 2, 2, 2])
    sources = 255 - xb[10:, 0, 0, 0].astype(int)
    assert np.all(labels[sources] == new_labels)
    assert np.all(xb[10:] == xb[10:, :1, :1, :1])  # a whole negated image


def test_balance_with_a_keras_pipeline_is_reproducible():
    x, y = _images(6), np.array([0, 0, 0, 1, 1, 1])
    runs = [
        A.balance_with_augmentation(x, y, A.geometric_augmentation(seed=1), target_per_class=7, seed=0)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][0].shape == (14, 12, 12, 3)
    # The new images are transformed (the pipeline ran in training mode).
    assert not any(np.allclose(new, old) for new in runs[0][0][6:] for old in x)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(y=np.array([0, 1])), ValueError, "`x` and `y` must have the same length"),
        (dict(y=np.array([0.0, 1.0, 1.0])), TypeError, "`y` must hold integer class labels"),
        (dict(y=np.eye(3, dtype=int)), ValueError, "`y` must hold integer class labels"),
        (dict(target_per_class=0), ValueError, "`target_per_class` must be a positive int"),
        (dict(seed=-3), ValueError, "`seed` must be None or a non-negative int"),
        (dict(augment="flip"), TypeError, "`augment` must be a callable"),
        (dict(augment=lambda b: b[:, :2]), ValueError, "`augment` must keep the shape"),
    ],
)
def test_balance_bad_arguments(kwargs, error, message):
    arguments = dict(x=_numbered_images(3), y=np.array([0, 0, 1]), augment=_negate, target_per_class=3)
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        A.balance_with_augmentation(**arguments)


# Class-specific augmentation ---------------------------------------------------


def _add(value):
    return lambda images: keras.ops.add(images, value)


@pytest.mark.parametrize("one_hot", [False, True])
def test_class_specific_augmentation_applies_the_class_pipeline(one_hot):
    classes = np.array([0, 1, 2, 3, 2, 0])
    x = _images(6, size=5)
    labels = _one_hot(classes, 4) if one_hot else classes
    augment = A.class_specific_augmentation({0: _add(10.0), 2: _add(20.0), 3: None}, default=_add(5.0))
    out = _numpy(augment(x, labels))
    offsets = np.array([10.0, 5.0, 20.0, 0.0, 20.0, 10.0])
    np.testing.assert_allclose(out, x + offsets[:, None, None, None], rtol=1e-6)
    np.testing.assert_array_equal(_numpy(augment(x, labels, training=False)), x)
    plain = A.class_specific_augmentation({1: _add(1.0)})
    np.testing.assert_allclose(_numpy(plain(x, classes[:, None])), x + (classes == 1)[:, None, None, None], rtol=1e-6)


def test_class_specific_augmentation_with_keras_pipelines():
    # Class 0 flipped, class 1 untouched: a flip-only pipeline.
    x, classes = _images(4), np.array([0, 1, 0, 1])
    flip = keras.layers.RandomFlip("horizontal", seed=0)
    out = _numpy(A.class_specific_augmentation({0: keras.layers.Pipeline([flip])})(x, classes))
    np.testing.assert_array_equal(out[1::2], x[1::2])
    for image, result in zip(x[::2], out[::2]):
        assert np.array_equal(result, image) or np.array_equal(result, image[:, ::-1])


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: A.class_specific_augmentation([_add(1.0)]), TypeError, "`pipelines` must be a dict"),
        (lambda: A.class_specific_augmentation({"cat": _add(1.0)}), ValueError, "keys must be integer class"),
        (lambda: A.class_specific_augmentation({0: 3}), TypeError, r"`pipelines\[0\]` must be a callable"),
        (lambda: A.class_specific_augmentation({}, default="flip"), TypeError, "`default` must be a callable"),
    ],
)
def test_class_specific_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()
