"""Training batches made on the fly, each epoch drawn from `(seed, epoch)`.

- `SeededBatches` is the base: a `keras.utils.PyDataset` that visits every
  example once per epoch, in an order drawn from `(seed, epoch)`, so that a
  run resumed at epoch `e` (`set_epoch(e)`) sees the batches it would have
  seen, and `fit` moves it to the next epoch (`on_epoch_end`).
- `AugmentedBatches` makes the course recipe's training batches: random flips
  and shifts (with reflection at the borders), one-hot labels, in NumPy or on
  the device.
- `course_lib.mixup.MixUpBatches` is the other one: batches of virtual
  samples mixed anew at every epoch.
"""

import keras
import numpy as np

from course_lib._checks import check_bool, check_image_batch, check_positive_int, check_seed, class_indices

__all__ = ["AugmentedBatches", "SeededBatches"]


class SeededBatches(keras.utils.PyDataset):
    """Batches whose order in epoch `e` is drawn from `(seed, e)`: the base of the course's datasets.

    Each epoch visits every example once, cut into batches of `batch_size`
    (the last one may be smaller), in an order drawn from `(seed, epoch)`, or
    in the stored order with `shuffle=False`. `set_epoch(e)` makes the next
    batches those of epoch `e`, so a resumed run sees the batches it would
    have seen; Keras calls `on_epoch_end` after every epoch of `fit`, which
    moves on to the next epoch.

    A subclass makes batch `index` in `__getitem__` from the examples
    `batch_indices(index)`, and may draw random state of its own for each
    epoch in `_start_epoch(rng)`, from the generator that drew the order.

    Args:
        num_examples: number of examples (a positive int).
        batch_size: examples per batch (a positive int).
        seed: None or a non-negative int. None: a seed is drawn once, when
            the dataset is made, so the epochs still differ from each other
            but a new dataset gives new batches.
        shuffle: whether to visit the examples in a new random order each
            epoch (otherwise in the stored order).
        **kwargs: `keras.utils.PyDataset` arguments (`workers`, ...).

    Attributes:
        epoch: the epoch the next batches belong to (0-based).
        seed: the seed as given (None or an int).

    Example:

    >>> class Indices(SeededBatches):
    ...     def __getitem__(self, index):
    ...         return self.batch_indices(index)
    >>> batches = Indices(5, batch_size=2, seed=0)
    >>> len(batches), sorted(int(i) for b in range(len(batches)) for i in batches[b])
    (3, [0, 1, 2, 3, 4])
    >>> first = batches[0].tolist()
    >>> batches.on_epoch_end()  # epoch 1: another order
    >>> batches.set_epoch(0); batches[0].tolist() == first
    True
    """

    def __init__(self, num_examples, batch_size, seed=None, shuffle=True, **kwargs):
        super().__init__(**kwargs)
        self.num_examples = check_positive_int(num_examples, "num_examples")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.seed = check_seed(seed)
        self.shuffle = check_bool(shuffle, "shuffle")
        # Without a seed, one drawn now: the batches of a run still differ epoch by epoch.
        self._base_seed = np.random.SeedSequence().entropy if self.seed is None else self.seed
        self.set_epoch(0)

    def set_epoch(self, epoch):
        """Makes the next batches those of epoch `epoch` (0-based)."""
        self.epoch = check_positive_int(epoch, "epoch", allow_zero=True)
        rng = np.random.default_rng([self._base_seed, self.epoch])
        self._order = rng.permutation(self.num_examples) if self.shuffle else np.arange(self.num_examples)
        self._start_epoch(rng)

    def _start_epoch(self, rng):
        """Draws a subclass's own random state for the epoch from `rng` (nothing here)."""

    def batch_indices(self, index):
        """The indices of the examples of batch `index` of the current epoch (an int array)."""
        return self._order[index * self.batch_size : (index + 1) * self.batch_size]

    def __len__(self):
        return -(-self.num_examples // self.batch_size)

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)


class AugmentedBatches(SeededBatches):
    """Shuffled, augmented training batches with one-hot labels, made in NumPy.

    Each epoch visits every example once, in an order drawn from `(seed,
    epoch)`, so a run resumed at epoch `e` (`set_epoch(e)`) sees the batches
    it would have seen (`SeededBatches`). Each image is mirrored left-right with probability
    1/2 (`flip=True`), or, with `flip="alternating"` (airbench's alternating
    flip), a random half of the images is mirrored in even epochs and the
    other half in odd epochs, so that every image is seen both ways once in
    every two epochs. Each image is then shifted by up to `translate` pixels in each direction,
    the uncovered border filled by reflection (as a random crop of the
    reflect-padded image). The transformations run on the whole batch at
    once, outside the model: they cost the same on every Keras backend and
    leave the model free of augmentation layers.

    With `on_device=True`, the reflect-padded images and the one-hot labels
    are copied once to the backend's default device (the GPU when there is
    one), and each batch is one gather there (`keras.ops.take`): every
    output pixel's index says which image, row and column it comes from, so
    the choice of images, the mirroring and the shift are all in the
    indices. Only the random choices are drawn in NumPy, the same as
    without, so the batches are the same. On a GPU this spares the host the
    pixel work and the copy of every batch; Keras hands the device tensors
    to the training step as they are on JAX and PyTorch, while on
    TensorFlow it feeds a `PyDataset` through `tf.data` on the host.

    Args:
        x: images `(N, rows, cols, channels)` (any dtype; batches are float32).
        y: integer labels `(N,)` or `(N, 1)`.
        num_classes: number of classes of the one-hot labels.
        batch_size: images per batch (the last batch may be smaller).
        flip: whether to mirror half of the images left-right (True, False
            or "alternating").
        translate: largest shift in pixels (0: none).
        seed: a non-negative int, the seed of the order and of the
            transformations (not None: a resumed run must see the same
            batches).
        shuffle: whether to visit the examples in a new random order each
            epoch.
        outputs: number of model outputs that get the labels (a tuple of
            that many copies when more than one, e.g. GoogLeNet's auxiliary
            classifiers).
        on_device: whether to keep the data on the device and make the
            batches there (backend tensors) instead of in NumPy (arrays).
        **kwargs: `keras.utils.PyDataset` arguments (`workers`, ...).

    Example:

    >>> x = np.zeros((10, 8, 8, 3), "uint8"); y = np.arange(10) % 2
    >>> batches = AugmentedBatches(x, y, num_classes=2, batch_size=4, translate=2)
    >>> images, labels = batches[0]
    >>> len(batches), images.shape, labels.shape
    (3, (4, 8, 8, 3), (4, 2))
    >>> images, labels = AugmentedBatches(x, y, num_classes=2, batch_size=4, translate=2, on_device=True)[0]
    >>> keras.ops.is_tensor(images), tuple(images.shape)
    (True, (4, 8, 8, 3))
    """

    def __init__(self, x, y, num_classes, batch_size=128, flip=True, translate=0, seed=0,
                 shuffle=True, outputs=1, on_device=False, **kwargs):
        x = check_image_batch(x, "x")
        self.x = x
        num_classes = check_positive_int(num_classes, "num_classes")
        self.y = class_indices(y, "y", num_classes)
        if len(self.x) != len(self.y):
            raise ValueError(f"`x` and `y` must have the same length; received {len(x)} and {len(self.y)}.")
        batch_size = check_positive_int(batch_size, "batch_size")
        translate = check_positive_int(translate, "translate", allow_zero=True)
        seed = check_seed(seed, allow_none=False)
        outputs = check_positive_int(outputs, "outputs")
        if translate >= min(x.shape[1:3]):
            raise ValueError(f"`translate` must be smaller than the image; received translate={translate}.")
        self.num_classes = num_classes
        if flip not in (True, False, "alternating"):
            raise ValueError(f"`flip` must be True, False or 'alternating'; received flip={flip!r}.")
        if on_device not in (True, False):
            raise ValueError(f"`on_device` must be True or False; received on_device={on_device!r}.")
        self.flip = flip
        # Alternating flip: which images are mirrored in even epochs, drawn once from the seed.
        self._even_flips = np.random.default_rng(seed).random(len(self.x)) < 0.5 if flip == "alternating" else None
        self.translate = translate
        self.outputs = outputs
        self.on_device = on_device
        if on_device:
            pad = ((0, 0), (translate, translate), (translate, translate), (0, 0))
            padded = np.pad(x, pad, mode="reflect") if translate else x
            one_hot = np.eye(num_classes, dtype="float32")[self.y]
            # One row per pixel: a batch is a gather of rows.
            pixels = padded.reshape(-1, padded.shape[-1])
            self._index_dtype = "int32" if len(pixels) < 2**31 else "int64"
            self._padded_shape = padded.shape[1:3]
            self._device_data = (keras.ops.convert_to_tensor(pixels), keras.ops.convert_to_tensor(one_hot))
        super().__init__(len(x), batch_size, seed=seed, shuffle=shuffle, **kwargs)

    def _start_epoch(self, rng):
        # The seed of the epoch's flips and shifts, drawn after the order.
        self._rng_seed = int(rng.integers(2**31))

    def __getitem__(self, index):
        chosen, mirrored, shifts = self._draw(index)
        if self.on_device:
            return self._make_on_device(chosen, mirrored, shifts)
        images = self.x[chosen].astype("float32")
        if mirrored is not None:
            images[mirrored] = images[mirrored, :, ::-1]
        if shifts is not None:
            images = _shift_with_reflection(images, self.translate, *shifts)
        labels = np.eye(self.num_classes, dtype="float32")[self.y[chosen]]
        return images, self._for_each_output(labels)

    def _draw(self, index):
        """The random choices of batch `index`: the images, which to mirror (or None), their shifts (or None)."""
        chosen = self.batch_indices(index)
        rng = np.random.default_rng([self._rng_seed, index])
        mirrored = shifts = None
        if self.flip == "alternating":
            mirrored = self._even_flips[chosen] != (self.epoch % 2 == 1)
        elif self.flip:
            mirrored = rng.random(len(chosen)) < 0.5
        if self.translate:
            dy = rng.integers(0, 2 * self.translate + 1, len(chosen))
            shifts = dy, rng.integers(0, 2 * self.translate + 1, len(chosen))
        return chosen, mirrored, shifts

    def _make_on_device(self, chosen, mirrored, shifts):
        ops = keras.ops
        pixels, one_hot = self._device_data
        (rows, cols), (padded_rows, padded_cols) = self.x.shape[1:3], self._padded_shape
        dtype = self._index_dtype
        images = ops.convert_to_tensor(chosen.astype(dtype))
        dy, dx = (ops.convert_to_tensor(d.astype(dtype)) for d in shifts) if shifts is not None else (0, 0)
        # Each output pixel's row and column in its padded image: the crop's offset plus its position.
        row = ops.expand_dims(dy, -1) + ops.arange(rows, dtype=dtype)
        column = ops.expand_dims(dx, -1) + ops.arange(cols, dtype=dtype)
        column = ops.broadcast_to(column, (len(chosen), cols))
        if mirrored is not None:
            # Cropping the mirrored image = cropping the image at the mirrored columns (reflection
            # padding commutes with the mirroring).
            column = ops.where(ops.convert_to_tensor(mirrored[:, None]), padded_cols - 1 - column, column)
        index = (images[:, None, None] * padded_rows + row[..., None]) * padded_cols + column[:, None, :]
        batch = ops.cast(ops.take(pixels, index, axis=0), "float32")
        return batch, self._for_each_output(ops.take(one_hot, images, axis=0))

    def _for_each_output(self, labels):
        return labels if self.outputs == 1 else (labels,) * self.outputs


def _shift_with_reflection(images, pad, dy, dx):
    """Crops each image of `images` `(n, rows, cols, channels)` from its reflect-padded copy.

    `dy` and `dx` `(n,)` are the crops' offsets in [0, 2 pad]: a shift of
    `pad - dy` rows and `pad - dx` columns.
    """
    n, rows, cols, _ = images.shape
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (rows, cols), axis=(1, 2))
    # windows: (n, 2 pad + 1, 2 pad + 1, channels, rows, cols)
    return np.ascontiguousarray(windows[np.arange(n), dy, dx].transpose(0, 2, 3, 1))

