"""Tests of course_lib.retrieval on the backend named by KERAS_BACKEND."""

import keras
import numpy as np
import pytest

from course_lib.retrieval import LatentIndex, precision_at_k

RNG = np.random.default_rng(0)


def _reference_distances(features, queries, metric):
    features, queries = features.astype("float64"), queries.astype("float64")
    if metric == "euclidean":
        return np.sqrt(((queries[:, None, :] - features[None, :, :]) ** 2).sum(axis=-1))
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    return 1.0 - unit(queries) @ unit(features).T


def _assert_matches_brute_force(indices, distances, reference, k):
    expected = np.sort(reference, axis=1)[:, :k]
    np.testing.assert_allclose(distances, expected, rtol=1e-5, atol=1e-5)
    # Each returned index is at the distance reported (ties may come in any order).
    np.testing.assert_allclose(np.take_along_axis(reference, indices, axis=1), distances, rtol=1e-5, atol=1e-5)
    for row, query_indices in enumerate(indices):
        assert len(set(query_indices)) == k
        untied = reference[row] < expected[row, -1] - 1e-6
        # Every item strictly closer than the k-th distance is returned.
        assert set(np.flatnonzero(untied)) <= set(query_indices)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_pixel_search_equals_brute_force(metric):
    images = RNG.uniform(size=(40, 5, 5, 2)).astype("float32")
    images[20:25] = images[:5]  # duplicates: tied neighbours
    queries = np.concatenate([images[:3], RNG.uniform(size=(4, 5, 5, 2)).astype("float32")])
    index = LatentIndex(metric=metric)
    index.add(images[:25])
    index.add(images[25:])  # several calls build one index
    assert len(index) == 40
    indices, distances = index.search(queries, k=6)
    assert indices.shape == distances.shape == (7, 6)
    reference = _reference_distances(images.reshape(40, -1), queries.reshape(7, -1), metric)
    _assert_matches_brute_force(indices, distances, reference, 6)
    # An indexed query finds itself and its duplicate at distance 0.
    for row in range(3):
        assert set(indices[row, :2]) == {row, row + 20}
        np.testing.assert_allclose(distances[row, :2], 0, atol=1e-5)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_latent_search_uses_the_encoder(metric):
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential(
        [keras.Input((6, 6, 1)), keras.layers.Conv2D(3, 3), keras.layers.GlobalAveragePooling2D()]
    )
    images = RNG.uniform(size=(30, 6, 6, 1)).astype("float32")
    queries = RNG.uniform(size=(5, 6, 6, 1)).astype("float32")
    for enc in (encoder, lambda batch: encoder(batch)):  # a Model, and a plain callable
        index = LatentIndex(enc, metric=metric, batch_size=8)
        index.add(images)
        indices, distances = index.search(queries, k=4)
        features = keras.ops.convert_to_numpy(encoder(images))
        reference = _reference_distances(features, keras.ops.convert_to_numpy(encoder(queries)), metric)
        _assert_matches_brute_force(indices, distances, reference, 4)


def test_labels_follow_the_index_and_precision_at_k():
    index = LatentIndex()
    index.add(np.zeros((3, 2, 2)), labels=[0, 1, 1])
    index.add(np.ones((2, 2, 2)), labels=np.array([[2], [0]]))
    np.testing.assert_array_equal(index.labels, [0, 1, 1, 2, 0])
    # Hand example: query 0 retrieves 0, 1, 0 -> 2/3 at k=3, 1/2 at k=2;
    # query 1 retrieves 1, 1, 2 -> 2/3 at k=3, 2/2 at k=2.
    retrieved = np.array([[0, 1, 0], [1, 1, 2]])
    assert precision_at_k([0, 1], retrieved, k=3) == pytest.approx(2 / 3)
    assert precision_at_k(np.array([[0], [1]]), retrieved, k=2) == pytest.approx(0.75)
    assert precision_at_k([0, 1], retrieved, k=1) == pytest.approx(1.0)
    assert precision_at_k([0, 1], retrieved) == pytest.approx(2 / 3)


def _index(metric="euclidean"):
    index = LatentIndex(metric=metric)
    index.add(np.zeros((4, 3, 3)), labels=[0, 1, 0, 1])
    return index


@pytest.mark.parametrize(
    "action, error, message",
    [
        (lambda: LatentIndex(metric="manhattan"), ValueError, "`metric` must be one of"),
        (lambda: LatentIndex(encoder="resnet"), TypeError, "`encoder` must be a callable"),
        (lambda: LatentIndex().search(np.zeros((1, 3, 3)), k=1), ValueError, "call `add"),
        (lambda: _index().search(np.zeros((1, 3, 4)), k=1), ValueError, "`queries` must have the shape"),
        (lambda: _index().search(np.zeros((1, 3, 3)), k=5), ValueError, "`k` must be at most the index size, 4"),
        (lambda: _index().search(np.zeros((1, 3, 3)), k=0), ValueError, "`k` must be a positive int"),
        (lambda: _index().add(np.zeros((2, 4, 3)), labels=[0, 1]), ValueError, "`images` must have the shape"),
        (lambda: _index().add(np.zeros((2, 3, 3))), ValueError, "at every call of `add` or at none"),
        (lambda: _index().add(np.zeros((2, 3, 3)), labels=[1]), ValueError, "one entry per image"),
        (lambda: precision_at_k([0, 1], [[0, 1]]), ValueError, r"must have shape \(Q, K\)"),
        (lambda: precision_at_k([0], [[0, 1]], k=3), ValueError, "`k` must be at most the 2 retrieved"),
    ],
)
def test_bad_arguments(action, error, message):
    with pytest.raises(error, match=message):
        action()
