"""Mixup (Zhang et al., 2018): virtual samples mixed from pairs of training samples.

Mixup makes virtual samples `lambda * x_i + (1 - lambda) * x_j` with the same
mixture of the labels `lambda * y_i + (1 - lambda) * y_j`, the weight drawn
from `Beta(alpha, alpha)`. The paper (and `keras.layers.MixUp`) pairs each
sample with a random partner, whatever its class; the lecture takes the
partner `j` from another class, and so do these functions by default
(`different_classes=True`; `False` pairs at random, as the paper does). Three
forms of the same draw:

- `MixUp`, a Keras layer: in a model, a `tf.data` pipeline or on NumPy
  batches;
- `mixup_batch`, NumPy in and NumPy out, which also returns the weights and
  the partners;
- `MixUpBatches`, a `keras.utils.PyDataset` of shuffled, mixed batches, so
  that `model.fit` trains on new virtual samples at every epoch in one call.
"""

import keras
import numpy as np

from course_lib._checks import (
    check_bool,
    check_distributions,
    check_number,
    check_positive_int,
    check_seed,
    check_soft_labels,
)
from course_lib.batches import SeededBatches

__all__ = ["LAMBDA_EPSILON", "MixUp", "mixup_batch", "MixUpBatches"]

# MixUp's lambda is clipped to [LAMBDA_EPSILON, 1 - LAMBDA_EPSILON]: Beta draws
# with a small alpha round to exactly 0 or 1 in float32, and a "virtual sample"
# with lambda = 1 is the real sample with a hard label. 1 - 1e-6 is still
# below 1 in float32 (whose spacing near 1 is 6e-8).
LAMBDA_EPSILON = 1e-6


def _check_alpha(alpha):
    return check_number(alpha, "alpha", low=0, low_open=True)


def _check_mixup_inputs(images, labels):
    """Raises a clear error for labels MixUp cannot mix (static checks)."""
    check_soft_labels(labels, "labels")
    if len(images.shape) < 2:
        raise ValueError(f"`images` must have a batch axis; received images of shape {tuple(images.shape)}.")
    if images.shape[0] is not None and labels.shape[0] is not None and images.shape[0] != labels.shape[0]:
        raise ValueError(
            "`images` and `labels` must have the same batch size; received "
            f"images of shape {tuple(images.shape)} and labels of shape {tuple(labels.shape)}."
        )
    if images.shape[0] == 0:
        raise ValueError(f"`images` must hold at least one sample; received images of shape {tuple(images.shape)}.")


def _check_concrete_labels(labels):
    """NumPy labels are checked by value too: each row must be a probability distribution."""
    check_distributions(labels, "labels")


def _mixup(images, labels, alpha, different_classes, seed_generator, dtype="float32"):
    """Mixes a batch; returns (mixed_images, mixed_labels, lambdas, partners)."""
    ops = keras.ops
    images = ops.cast(images, dtype)
    labels = ops.cast(labels, dtype)
    batch_size = ops.shape(images)[0]
    # Lambda in float32 whatever the compute dtype, so that the clip keeps it off 0 and 1.
    lambdas = keras.random.beta((batch_size,), alpha, alpha, seed=seed_generator)
    lambdas = ops.clip(ops.cast(lambdas, "float32"), LAMBDA_EPSILON, 1.0 - LAMBDA_EPSILON)

    # Partner of sample i: the candidate j with the largest random score among
    # the allowed ones (another class, or any other sample); a uniform draw.
    scores = keras.random.uniform((batch_size, batch_size), seed=seed_generator)
    index = ops.arange(batch_size)
    if different_classes:
        classes = ops.argmax(labels, axis=-1)
        allowed = ops.not_equal(classes[:, None], classes[None, :])
    else:
        allowed = ops.not_equal(index[:, None], index[None, :])
    partners = ops.argmax(ops.where(allowed, scores, -1.0), axis=-1)
    # A sample without any allowed partner (a batch of a single class) is paired
    # with itself: lambda * x + (1 - lambda) * x = x, it passes through unmixed.
    partners = ops.where(ops.any(allowed, axis=-1), partners, index)

    weights = ops.cast(lambdas, dtype)
    image_weights = ops.reshape(weights, (-1,) + (1,) * (len(images.shape) - 1))
    mixed_images = image_weights * images + (1.0 - image_weights) * ops.take(images, partners, axis=0)
    label_weights = weights[:, None]
    mixed_labels = label_weights * labels + (1.0 - label_weights) * ops.take(labels, partners, axis=0)
    return mixed_images, mixed_labels, lambdas, partners


# Registered as "course_lib>MixUp", the name it had in course_lib.augment:
# models saved with the layer load as before.
@keras.saving.register_keras_serializable(package="course_lib")
class MixUp(keras.layers.Layer):
    """Mixup: convex combinations of pairs of samples and of their labels.

    For each sample `i` of a batch, the layer draws a partner `j` and a
    weight `lambda_i ~ Beta(alpha, alpha)`, and returns the virtual sample
    `lambda_i * x_i + (1 - lambda_i) * x_j` with the soft label
    `lambda_i * y_i + (1 - lambda_i) * y_j` (Zhang et al., 2018). Lambda lies
    in the open interval (0, 1): draws are clipped to
    `[LAMBDA_EPSILON, 1 - LAMBDA_EPSILON]` with `LAMBDA_EPSILON = 1e-6`.

    With `different_classes=True` (the lecture's definition) the partner is
    drawn uniformly among the samples of another class (the argmax of the
    label); a sample with no such partner in the batch (all samples of one
    class) is paired with itself and passes through unchanged, with its
    label. With `different_classes=False` the partner is any other sample.

    How it differs from `keras.layers.MixUp` (Keras 3.15): Keras also draws
    one lambda per sample, but pairs sample `i` with sample `perm[i]` of one
    random permutation of the batch, whatever the classes (so a sample can
    be mixed with a sample of its own class, or with itself), and does not
    clip lambda (float32 draws can be exactly 0 or 1 for a small alpha).
    Keras's layer takes a dict `{"images": ..., "labels": ...}`; this one
    takes a tuple or a dict.

    Keras samples Beta(alpha, alpha) in float32 as a ratio of Gamma draws;
    for alpha below about 0.01 the draws are inaccurate on the TensorFlow and
    PyTorch backends (many come out exactly 0.5). Use alpha >= 0.05.

    Only active in training: with `training=False` the inputs are returned
    unchanged. Called directly, the layer defaults to training mode (like
    Keras's random preprocessing layers), so it can be used in a data
    pipeline on NumPy batches (or in `tf.data` on the TensorFlow backend);
    `mixup_batch` is its NumPy version and `MixUpBatches` a dataset of
    mixed batches for `fit`.

    Args:
        alpha: Beta distribution parameter, positive; small values give
            lambdas near 0 or 1 (little mixing), `alpha=1` uniform lambdas.
        different_classes: whether partners must belong to another class.
        seed: None or a non-negative int, for reproducible draws.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: a tuple `(images, labels)` or a dict with keys "images" and
            "labels". Images of shape `(batch, ...)`, labels of a float
            dtype and shape `(batch, classes)` (one-hot or soft).
        training: whether to mix (default True).

    Returns:
        `(mixed_images, mixed_labels)`, as a tuple or a dict like the input,
        in the layer's compute dtype.

    Example:

    >>> images = np.random.rand(4, 8, 8, 1).astype("float32")
    >>> labels = keras.utils.to_categorical([0, 1, 0, 1], 2)
    >>> mixed_images, mixed_labels = MixUp(alpha=0.4, seed=0)((images, labels))
    >>> tuple(mixed_labels.shape)
    (4, 2)
    """

    def __init__(self, alpha=0.2, different_classes=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _check_alpha(alpha)
        self.different_classes = check_bool(different_classes, "different_classes")
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def __call__(self, inputs, *args, **kwargs):
        # NumPy labels are concrete: check their values before Keras converts them to tensors
        # (tensors may be symbolic, in a model or a tf.data pipeline, and are checked by shape only).
        if isinstance(inputs, (tuple, list, dict)):
            images, labels = _unpack(inputs)
            if isinstance(labels, np.ndarray):
                _check_mixup_inputs(np.asarray(images), labels)  # dtype and shapes first
                _check_concrete_labels(labels)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=True):
        images, labels = _unpack(inputs)
        _check_mixup_inputs(images, labels)
        if not training:
            return inputs
        mixed_images, mixed_labels, _, _ = _mixup(
            images, labels, self.alpha, self.different_classes, self.seed_generator, self.compute_dtype
        )
        if isinstance(inputs, dict):
            return {"images": mixed_images, "labels": mixed_labels}
        return mixed_images, mixed_labels

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, dict):
            return dict(input_shape)
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, different_classes=self.different_classes, seed=self.seed)
        return config


def _unpack(inputs):
    if isinstance(inputs, dict):
        if set(inputs) != {"images", "labels"}:
            raise ValueError(
                f'`inputs` as a dict must have the keys "images" and "labels"; received keys {sorted(inputs)}.'
            )
        return inputs["images"], inputs["labels"]
    if isinstance(inputs, (tuple, list)) and len(inputs) == 2:
        return inputs
    raise ValueError(
        "`inputs` must be a tuple (images, labels) or a dict with keys \"images\" and \"labels\"; "
        f"received {type(inputs).__name__}."
    )


def mixup_batch(images, labels, alpha=0.2, different_classes=True, seed=None):
    """Mixup of one batch, NumPy in and NumPy out: the functional `MixUp`.

    Same rules as the `MixUp` layer (one lambda per sample in the open
    interval (0, 1), partners from another class when `different_classes`,
    a sample without one passes through unchanged), the same arguments in
    the same order, and the same draws: for a given seed, `mixup_batch`
    returns what a new `MixUp(seed=seed)` layer returns on its first call.

    Args:
        images: array of shape `(batch, ...)`.
        labels: float array of shape `(batch, classes)`, one-hot or soft:
            each row non-negative and summing to 1.
        alpha: Beta distribution parameter, positive.
        different_classes: whether partners must belong to another class.
        seed: None or a non-negative int, for reproducible draws.

    Returns:
        `(mixed_images, mixed_labels, lambdas, partners)` as float32 NumPy
        arrays (`partners` int): sample `i` of the output is
        `lambdas[i] * images[i] + (1 - lambdas[i]) * images[partners[i]]`,
        and the same for its label.

    Example:

    >>> labels = np.eye(2, dtype="float32")[[0, 1, 1]]
    >>> _, mixed, lambdas, partners = mixup_batch(np.ones((3, 4)), labels, seed=0)
    >>> partners[0] in (1, 2)
    True
    """
    alpha = _check_alpha(alpha)
    different_classes = check_bool(different_classes, "different_classes")
    seed = check_seed(seed)
    images, labels = np.asarray(images), np.asarray(labels)
    _check_mixup_inputs(images, labels)
    _check_concrete_labels(labels)
    outputs = _mixup(images, labels, alpha, different_classes, keras.random.SeedGenerator(seed))
    mixed_images, mixed_labels, lambdas, partners = (keras.ops.convert_to_numpy(t) for t in outputs)
    return mixed_images, mixed_labels, lambdas, partners.astype("int64")


class MixUpBatches(SeededBatches):
    """Shuffled batches of virtual samples, mixed anew at every epoch, for `fit`.

    Each epoch visits every sample once, in an order drawn from `(seed,
    epoch)`, cuts the order into batches of `batch_size` and mixes each batch
    with `mixup_batch` (partners from the same batch). The mixing of batch
    `b` of epoch `e` is seeded by `(seed, e, b)`: the same seed gives the
    same batches whatever order they are asked for in, and a new epoch gives
    new partners and weights. `model.fit(MixUpBatches(...), epochs=n)` thus
    trains `n` epochs of fresh virtual samples in one call. The order and the
    epochs (`set_epoch`, `on_epoch_end`) are those of
    `course_lib.batches.SeededBatches`.

    Args:
        x: images `(N, ...)` (batches are float32).
        y: one-hot or soft labels `(N, classes)`, a float dtype, each row
            non-negative and summing to 1.
        batch_size: samples per batch (the last batch may be smaller).
        alpha: Beta distribution parameter, positive.
        different_classes: whether partners must belong to another class.
        seed: None (new draws at every run) or a non-negative int.
        shuffle: whether to visit the samples in a new random order at
            every epoch (otherwise batches are consecutive samples).
        **kwargs: `keras.utils.PyDataset` arguments (`workers`, ...).

    Example:

    >>> x = np.random.rand(10, 8, 8, 3).astype("float32")
    >>> y = keras.utils.to_categorical(np.arange(10) % 2, 2)
    >>> batches = MixUpBatches(x, y, batch_size=4, alpha=0.4, seed=0)
    >>> images, labels = batches[0]
    >>> len(batches), images.shape, labels.shape
    (3, (4, 8, 8, 3), (4, 2))
    """

    def __init__(self, x, y, batch_size=32, alpha=0.2, different_classes=True, seed=None,
                 shuffle=True, **kwargs):
        self.x, self.y = np.asarray(x), np.asarray(y)
        _check_mixup_inputs(self.x, self.y)
        _check_concrete_labels(self.y)
        batch_size = check_positive_int(batch_size, "batch_size")
        self.alpha = _check_alpha(alpha)
        self.different_classes = check_bool(different_classes, "different_classes")
        super().__init__(len(self.x), batch_size, seed=seed, shuffle=shuffle, **kwargs)

    def __getitem__(self, index):
        chosen = self.batch_indices(index)
        # 31 bits: Keras keeps seeds in int32 on some backends.
        seed = int(np.random.SeedSequence([self._base_seed, self.epoch, index]).generate_state(1)[0] >> 1)
        images, labels, _, _ = mixup_batch(
            self.x[chosen], self.y[chosen], self.alpha, self.different_classes, seed
        )
        return images, labels
