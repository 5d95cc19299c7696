"""Tests of course_lib.batches (seeded, on-the-fly training batches) on the backend named by KERAS_BACKEND."""

import hashlib

import keras
import numpy as np
import pytest

from course_lib import batches as B
from course_lib import experiment, mixup
from course_lib.batches import AugmentedBatches, SeededBatches

RNG = np.random.default_rng(0)


class _Indices(SeededBatches):
    """The smallest subclass: each batch is its example indices."""

    def __getitem__(self, index):
        return self.batch_indices(index)


def _epoch(batches):
    return [batches[i].tolist() for i in range(len(batches))]


def test_seeded_batches_visit_every_example_once_per_epoch_and_resume_at_any_epoch():
    batches = _Indices(10, batch_size=4, seed=3)
    first = _epoch(batches)
    assert len(batches) == 3 and [len(b) for b in first] == [4, 4, 2]
    assert sorted(sum(first, [])) == list(range(10))
    batches.on_epoch_end()
    second = _epoch(batches)
    assert batches.epoch == 1 and second != first and sorted(sum(second, [])) == list(range(10))
    resumed = _Indices(10, batch_size=4, seed=3)
    resumed.set_epoch(1)
    assert _epoch(resumed) == second
    assert _epoch(_Indices(10, batch_size=4, seed=4)) != first


def test_seeded_batches_without_shuffle_keep_the_stored_order():
    batches = _Indices(5, batch_size=2, seed=0, shuffle=False)
    batches.on_epoch_end()
    assert _epoch(batches) == [[0, 1], [2, 3], [4]]


def test_seeded_batches_without_a_seed_draw_one_and_still_change_every_epoch():
    a, b = _Indices(50, batch_size=50), _Indices(50, batch_size=50)
    assert a.seed is None and _epoch(a) != _epoch(b)
    first = _epoch(a)
    a.on_epoch_end()
    assert _epoch(a) != first
    a.set_epoch(0)
    assert _epoch(a) == first


def test_subclasses_draw_their_epoch_state_after_the_order():
    class Recording(_Indices):
        def _start_epoch(self, rng):
            self.drawn = int(rng.integers(2**31))

    batches = Recording(6, batch_size=3, seed=2)
    rng = np.random.default_rng([2, 0])
    assert batches.batch_indices(0).tolist() == rng.permutation(6)[:3].tolist()
    assert batches.drawn == int(rng.integers(2**31))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(num_examples=0), ValueError, "`num_examples` must be a positive int"),
        (dict(batch_size=0), ValueError, "`batch_size` must be a positive int"),
        (dict(seed=-1), ValueError, "`seed` must be None or a non-negative int"),
        (dict(shuffle="yes"), TypeError, "`shuffle` must be True or False"),
    ],
)
def test_seeded_batches_reject_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        _Indices(**{"num_examples": 4, "batch_size": 2, **kwargs})
    with pytest.raises(ValueError, match="`epoch` must be a non-negative int"):
        _Indices(4, batch_size=2).set_epoch(-1)


def test_the_course_datasets_share_the_base_and_the_harness_re_exports_them():
    assert issubclass(AugmentedBatches, SeededBatches) and issubclass(mixup.MixUpBatches, SeededBatches)
    assert issubclass(SeededBatches, keras.utils.PyDataset)
    assert experiment.AugmentedBatches is B.AugmentedBatches
    # Written once, in the base.
    for name in ("set_epoch", "__len__", "on_epoch_end", "batch_indices"):
        assert name not in vars(AugmentedBatches) and name not in vars(mixup.MixUpBatches), name


def _digest(arrays):
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize(
    "flip, translate, shuffle, expected",
    [
        (True, 2, True, ["39bb2c93f20723df", "719e7d3c4140ca92"]),
        ("alternating", 1, False, ["ece583b8ddc7b7e4", "e93b0c1ca0edc2d3"]),
    ],
)
def test_augmented_batches_are_those_of_the_recorded_seeds(flip, translate, shuffle, expected):
    # Digests of the batches AugmentedBatches made before it moved onto SeededBatches: a seed
    # gives the batches it gave then (recorded runs and resumed runs depend on it).
    x = (np.arange(20 * 6 * 6 * 2) % 251).astype("uint8").reshape(20, 6, 6, 2)
    batches = AugmentedBatches(x, np.arange(20) % 3, num_classes=3, batch_size=8, flip=flip,
                               translate=translate, shuffle=shuffle, seed=1)
    digests = []
    for epoch in (0, 1):
        batches.set_epoch(epoch)
        digests.append(_digest([array for index in range(len(batches)) for array in batches[index]]))
    assert digests == expected


def test_mixup_batches_visit_the_recorded_orders():
    # The orders MixUpBatches drew before it moved onto SeededBatches.
    x, y = np.zeros((10, 2), "float32"), np.eye(2, dtype="float32")[np.arange(10) % 2]
    batches = mixup.MixUpBatches(x, y, batch_size=4, seed=3)
    assert [batches.batch_indices(i).tolist() for i in range(3)] == [[9, 6, 0, 2], [1, 4, 7, 5], [3, 8]]
    batches.on_epoch_end()
    assert np.concatenate([batches.batch_indices(i) for i in range(3)]).tolist() == [4, 1, 2, 8, 5, 0, 7, 9, 6, 3]


def _images(n=12, size=6, channels=2):
    return RNG.integers(0, 256, (n, size, size, channels)).astype("uint8")


def test_batches_visit_every_example_once_per_epoch_in_a_seeded_order():
    x = _images(10)
    y = np.arange(10) % 3
    batches = AugmentedBatches(x, y, num_classes=3, batch_size=4, flip=False, translate=0, seed=5)
    assert len(batches) == 3
    seen = np.concatenate([batches[i][0] for i in range(len(batches))])
    labels = np.concatenate([batches[i][1] for i in range(len(batches))])
    assert seen.dtype == np.float32 and labels.shape == (10, 3)
    assert sorted(map(bytes, seen.astype("uint8"))) == sorted(map(bytes, x))
    first = [batches[i][0] for i in range(3)]
    batches.on_epoch_end()
    second = [batches[i][0] for i in range(3)]
    assert not np.array_equal(first[0], second[0])
    again = AugmentedBatches(x, y, num_classes=3, batch_size=4, flip=False, seed=5)
    again.set_epoch(1)
    np.testing.assert_array_equal(again[0][0], second[0])


def test_flip_mirrors_about_half_of_the_images():
    x = _images(400, size=4, channels=1)
    batches = AugmentedBatches(x, np.zeros(400, int), num_classes=1, batch_size=400, flip=True,
                               shuffle=False, seed=0)
    out = batches[0][0].astype("uint8")
    mirrored = np.array([np.array_equal(o, i[:, ::-1]) and not np.array_equal(o, i) for o, i in zip(out, x)])
    unchanged = np.array([np.array_equal(o, i) for o, i in zip(out, x)])
    assert (mirrored | unchanged).all()
    assert 150 < mirrored.sum() < 250


def test_translation_is_a_crop_of_the_reflect_padded_image():
    x = _images(50, size=8, channels=3)
    pad = 2
    batches = AugmentedBatches(x, np.zeros(50, int), num_classes=1, batch_size=50, flip=False,
                               translate=pad, shuffle=False, seed=3)
    out = batches[0][0]
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    offsets = set()
    for image, source in zip(out, padded):
        matches = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                   if np.array_equal(image, source[dy:dy + 8, dx:dx + 8])]
        assert matches, "an augmented image is not a crop of its padded original"
        offsets.add(matches[0])
    assert len(offsets) > 10  # the shifts vary


@pytest.mark.parametrize("flip", [True, "alternating"])
def test_batches_made_on_the_device_are_the_numpy_batches(flip):
    x, y = _images(23, size=7, channels=3), np.arange(23) % 3
    kwargs = dict(num_classes=3, batch_size=8, flip=flip, translate=2, seed=4, outputs=2)
    in_numpy, on_device = AugmentedBatches(x, y, **kwargs), AugmentedBatches(x, y, on_device=True, **kwargs)
    for epoch in (0, 1):
        in_numpy.set_epoch(epoch)
        on_device.set_epoch(epoch)
        for index in range(len(in_numpy)):
            (images, labels), (expected_images, expected_labels) = on_device[index], in_numpy[index]
            assert keras.ops.is_tensor(images) and keras.ops.is_tensor(labels[0]) and len(labels) == 2
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(images), expected_images)
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(labels[1]), expected_labels[1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_classes=2, translate=6), "translate"),
        (dict(num_classes=0), "num_classes"),
        (dict(num_classes=2, batch_size=0), "batch_size"),
        (dict(num_classes=2, seed=-1), "`seed` must be a non-negative int"),
        # A resumed run must see the same batches: no unseeded batches.
        (dict(num_classes=2, seed=None), "`seed` must be a non-negative int; received seed=None"),
        (dict(num_classes=2, on_device="gpu"), "`on_device` must be True or False"),
    ],
)
def test_batches_reject_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AugmentedBatches(_images(4), np.array([0, 1, 0, 1]), **kwargs)


def test_batches_reject_labels_out_of_range():
    with pytest.raises(ValueError, match=r"labels in \[0, 2\)"):
        AugmentedBatches(_images(4), np.array([0, 1, 2, 1]), num_classes=2)
