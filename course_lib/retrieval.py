"""Image retrieval: nearest neighbours in a latent space.

An image search engine maps every image to a feature vector with an encoder
(e.g. a CNN's penultimate layer) and answers a query with the indexed images
whose vectors are nearest to the query's. `LatentIndex` does the encoding and
the bookkeeping; the search itself is scikit-learn's `NearestNeighbors`.
"""

import keras
import numpy as np
from sklearn.neighbors import NearestNeighbors

from course_lib._checks import check_array, check_finite, check_positive_int

__all__ = ["METRICS", "LatentIndex", "precision_at_k"]

METRICS = ("euclidean", "cosine")


class LatentIndex:
    """A searchable index of images, by distance between their encodings.

    Args:
        encoder: a `keras.Model` or any callable mapping a batch of images to
            features (features of any shape are flattened to vectors); None
            means the raw pixels, flattened: a search in pixel space.
        metric: "euclidean" or "cosine" (1 - cosine similarity).
        batch_size: images per call of the encoder.

    Example:

    >>> index = LatentIndex(metric="cosine")  # pixel space
    >>> index.add(np.random.rand(20, 8, 8, 1), labels=np.arange(20) % 2)
    >>> indices, distances = index.search(np.random.rand(3, 8, 8, 1), k=5)
    >>> indices.shape, distances.shape
    ((3, 5), (3, 5))
    """

    def __init__(self, encoder=None, metric="euclidean", batch_size=256):
        if encoder is not None and not callable(encoder):
            raise TypeError(f"`encoder` must be a callable (e.g. a keras.Model) or None; received {encoder!r}.")
        if metric not in METRICS:
            raise ValueError(f"`metric` must be one of {METRICS}; received metric={metric!r}.")
        batch_size = check_positive_int(batch_size, "batch_size")
        self.encoder = encoder
        self.metric = metric
        self.batch_size = batch_size
        self.image_shape = None
        self._features = []
        self._labels = []
        self._neighbors = None

    def __len__(self):
        return sum(len(f) for f in self._features)

    @property
    def features(self):
        """The indexed feature vectors, shape `(len(self), dims)`."""
        return np.concatenate(self._features) if self._features else None

    @property
    def labels(self):
        """The labels given to `add`, in order, or None if none were given."""
        if not self._labels or self._labels[0] is None:
            return None
        return np.concatenate(self._labels)

    def encode(self, images):
        """Maps a batch of images to flattened float32 feature vectors."""
        images = np.asarray(images)
        if self.encoder is None:
            features = images
        elif isinstance(self.encoder, keras.Model):
            features = self.encoder.predict(images, batch_size=self.batch_size, verbose=0)
        else:
            features = np.concatenate(
                [
                    keras.ops.convert_to_numpy(self.encoder(images[start : start + self.batch_size]))
                    for start in range(0, len(images), self.batch_size)
                ]
            )
        return np.asarray(features, "float32").reshape(len(images), -1)

    def _check_features(self, features, name):
        """Refuses what the metric cannot measure: NaN or infinite features, zero vectors for cosine."""
        check_finite(features, name)
        if self.metric == "cosine":
            zero = np.flatnonzero(~features.any(axis=1))
            if zero.size:
                raise ValueError(
                    f"`{name}` holds {zero.size} zero feature vector(s) (first at index {zero[0]}): their cosine "
                    "distance to anything is undefined. Use metric='euclidean', or drop them."
                )
        return features

    def add(self, images, labels=None):
        """Encodes `images` and adds them to the index (can be called again).

        Args:
            images: array `(N, ...)`, all of the same shape as the images
                added before.
            labels: optional array of N labels (given at every call or at
                none), for `precision_at_k`.
        """
        images = check_array(images, "images", allow_empty=True)
        if images.ndim < 2 or len(images) == 0:
            raise ValueError(f"`images` must be a non-empty batch; received shape {images.shape}.")
        if self.image_shape is not None and images.shape[1:] != self.image_shape:
            raise ValueError(
                f"`images` must have the shape of the indexed images, (N, {', '.join(map(str, self.image_shape))}); "
                f"received shape {images.shape}."
            )
        if labels is not None:
            labels = np.asarray(labels).reshape(-1)
            if len(labels) != len(images):
                raise ValueError(f"`labels` must have one entry per image; received {len(labels)} for {len(images)}.")
        if self._labels and (labels is None) != (self._labels[0] is None):
            raise ValueError("`labels` must be given at every call of `add` or at none.")
        self._features.append(self._check_features(self.encode(images), "images"))
        self._labels.append(labels)
        self.image_shape = images.shape[1:]
        self._neighbors = None  # refit at the next search

    def search(self, queries, k=5):
        """The `k` indexed images nearest to each query.

        Args:
            queries: images `(Q, ...)` of the same shape as the indexed ones.
            k: number of neighbours, from 1 to `len(self)`.

        Returns:
            `(indices, distances)`, both of shape `(Q, k)`, nearest first:
            `indices` into the order of `add` calls, `distances` in the
            index's metric. A query that is itself in the index finds itself
            first, at distance 0.
        """
        if not self._features:
            raise ValueError("The index is empty: call `add(images)` before `search`.")
        k = check_positive_int(k, "k")
        if k > len(self):
            raise ValueError(f"`k` must be at most the index size, {len(self)}; received k={k}.")
        queries = check_array(queries, "queries", allow_empty=True)
        if queries.ndim < 1 or queries.shape[1:] != self.image_shape or len(queries) == 0:
            raise ValueError(
                f"`queries` must have the shape of the indexed images, (Q, {', '.join(map(str, self.image_shape))}) "
                f"with Q >= 1; received shape {queries.shape}."
            )
        if self._neighbors is None:
            # Brute force: exact, and the only algorithm scikit-learn offers for cosine.
            self._neighbors = NearestNeighbors(metric=self.metric, algorithm="brute").fit(self.features)
        features = self._check_features(self.encode(queries), "queries")
        distances, indices = self._neighbors.kneighbors(features, n_neighbors=k)
        return indices, distances


def precision_at_k(query_labels, retrieved_labels, k=None):
    """Mean fraction of the `k` retrieved items that share their query's label.

    Args:
        query_labels: labels of the Q queries, shape `(Q,)` (or `(Q, 1)`).
        retrieved_labels: labels of the retrieved items, shape `(Q, K)`,
            nearest first (e.g. `index.labels[indices]`).
        k: number of retrieved items to count, 1 to K; None: all K.

    Returns:
        The precision@k, a float in [0, 1].

    Example:

    >>> precision_at_k([0, 1], [[0, 0, 1], [0, 1, 1]], k=2)  # (2/2 + 1/2) / 2
    0.75
    """
    query_labels = np.asarray(query_labels).reshape(-1)
    retrieved_labels = np.asarray(retrieved_labels)
    if len(query_labels) == 0:
        raise ValueError("`query_labels` must hold at least one query; received none.")
    if retrieved_labels.ndim != 2 or len(retrieved_labels) != len(query_labels):
        raise ValueError(
            "`retrieved_labels` must have shape (Q, K) with Q = len(query_labels) = "
            f"{len(query_labels)}; received shape {retrieved_labels.shape}."
        )
    k = retrieved_labels.shape[1] if k is None else k
    k = check_positive_int(k, "k")
    if k > retrieved_labels.shape[1]:
        raise ValueError(f"`k` must be at most the {retrieved_labels.shape[1]} retrieved items; received k={k}.")
    return float(np.mean(retrieved_labels[:, :k] == query_labels[:, None]))
