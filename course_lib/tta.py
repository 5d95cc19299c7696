"""Test-time augmentation: average a classifier's posteriors over several views.

A classifier sees one copy of each test image per view (the image itself, its
mirror image, random transformations of it) and its posterior vectors are
averaged with equal weights. Errors that depend on details a view changes
tend to cancel out in the average.
"""

import keras

from course_lib._checks import check_number, check_positive_int, check_seed, is_int

__all__ = ["AGGREGATES", "identity", "horizontal_flip", "shift", "DEFAULT_VIEWS", "TTAModel", "predict_tta"]

AGGREGATES = ("mean",)


def identity(images):
    """The unchanged batch: the view every list of TTA views should contain."""
    return images


def _check_batch(images, view):
    if len(images.shape) != 4:
        raise ValueError(
            f"`{view}` takes a batch of channels-last images (batch, rows, cols, channels); "
            f"received shape {tuple(images.shape)}."
        )


def horizontal_flip(images):
    """The batch mirrored left-right (channels-last images `(batch, rows, cols, channels)`)."""
    _check_batch(images, "horizontal_flip")
    return keras.ops.flip(images, axis=2)


def shift(rows, cols):
    """A view that shifts the batch by `rows` down and `cols` right, the border filled by reflection.

    Args:
        rows, cols: the shift in pixels (negative: up, left), each smaller
            than the image.

    Returns:
        A function mapping a batch of channels-last images to the shifted
        batch, of the same shape.

    Example:

    >>> image = keras.ops.reshape(keras.ops.arange(9.0), (1, 3, 3, 1))
    >>> keras.ops.convert_to_numpy(shift(1, 0)(image))[0, :, :, 0].tolist()
    [[3.0, 4.0, 5.0], [0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    """
    for name, value in (("rows", rows), ("cols", cols)):
        if not is_int(value):
            raise TypeError(f"`{name}` must be an int (pixels); received {name}={value!r}.")
    rows, cols = int(rows), int(cols)
    pad_rows, pad_cols = abs(rows), abs(cols)

    def shifted(images):
        _check_batch(images, shifted.__name__)
        height, width = images.shape[1], images.shape[2]
        if pad_rows >= height or pad_cols >= width:
            raise ValueError(f"A shift of ({rows}, {cols}) pixels needs images larger than {height}x{width}.")
        padded = keras.ops.pad(images, ((0, 0), (pad_rows, pad_rows), (pad_cols, pad_cols), (0, 0)), mode="reflect")
        top, left = pad_rows - rows, pad_cols - cols
        return padded[:, top : top + height, left : left + width, :]

    shifted.__name__ = f"shift_{rows}_{cols}"
    return shifted


DEFAULT_VIEWS = (identity, horizontal_flip)


class TTAModel(keras.Model):
    """A classifier that averages its predictions over augmented views.

    With a list of views (the default), the output for a batch `x` is
    `mean_v model(v(x))` over the views `v`: every view counts once, so the
    list must contain the identity if the unchanged image is to count (the
    default list is `[identity, horizontal_flip]`). `view_weights` weighs
    the views instead (airbench's six views, `course_lib.speedrun.tta_views`,
    count the unchanged image and its mirror twice as much as the shifted
    ones).

    With `n_samples`, the views are `n_samples` random transformations drawn
    from ONE random augmentation layer, called with `training=True` (Keras's
    random layers are the identity otherwise): `augmentations` is then that
    layer (default: `course_lib.augment.geometric_augmentation(seed=seed)`).
    The views are drawn anew at every call: two `TTAModel`s built with the
    same seed give the same predictions, call after call.

    The wrapped model always runs in inference mode. The TTA model has no
    weights of its own; save the wrapped model, not this wrapper.

    Args:
        model: a classifier returning posterior vectors (e.g. a softmax).
        augmentations: list of views, each a callable mapping a batch of
            images to a batch of the same shape; or, with `n_samples`, one
            random augmentation layer.
        aggregate: how posteriors are combined; only "mean".
        view_weights: None (equal weights), or one non-negative weight per
            view (a list of views only); they are divided by their sum.
        n_samples: number of random views, or None for the list of views.
        seed: None or a non-negative int, the seed of the default random
            augmentation layer (only with `n_samples` and no
            `augmentations`; seed your own layer yourself).
        **kwargs: base model keyword arguments.

    Example:

    >>> classifier = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                                keras.layers.Dense(3, activation="softmax")])
    >>> tta = TTAModel(classifier)  # identity + horizontal flip
    >>> tuple(tta.predict(keras.ops.zeros((5, 8, 8, 1)), verbose=0).shape)
    (5, 3)
    """

    def __init__(self, model, augmentations=None, aggregate="mean", n_samples=None, seed=None,
                 view_weights=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(model):
            raise TypeError(f"`model` must be a Keras model (a callable); received {model!r}.")
        if aggregate not in AGGREGATES:
            raise ValueError(f"`aggregate` must be one of {AGGREGATES}; received aggregate={aggregate!r}.")
        n_samples = check_positive_int(n_samples, "n_samples", allow_none=True)
        seed = check_seed(seed)
        if n_samples is None:
            if seed is not None:
                raise ValueError("`seed` only seeds the default random augmentation; it needs `n_samples`.")
            views = list(DEFAULT_VIEWS if augmentations is None else augmentations)
            if not views:
                raise ValueError("`augmentations` must contain at least one view; received an empty list.")
            for view in views:
                if not callable(view):
                    raise TypeError(f"Every view in `augmentations` must be a callable; received {view!r}.")
        else:
            if augmentations is None:
                from course_lib.augment import geometric_augmentation

                augmentations = geometric_augmentation(seed=seed)
            elif seed is not None:
                raise ValueError("`seed` seeds only the default augmentation; seed your augmentation layer itself.")
            if not callable(augmentations):
                raise TypeError(
                    "With `n_samples`, `augmentations` must be one random augmentation layer; "
                    f"received {augmentations!r}."
                )
            views = [augmentations]
        if view_weights is not None:
            if n_samples is not None:
                raise ValueError("`view_weights` weighs a list of views; it cannot be used with `n_samples`.")
            view_weights = [check_number(w, "view_weights", low=0) for w in view_weights]
            if len(view_weights) != len(views) or sum(view_weights) <= 0:
                raise ValueError(
                    f"`view_weights` must be {len(views)} non-negative numbers, one per view, with a positive "
                    f"sum; received view_weights={view_weights!r}."
                )
            view_weights = [w / sum(view_weights) for w in view_weights]
        self.model = model
        self.views = views
        self.view_weights = view_weights
        self.aggregate = aggregate
        self.n_samples = n_samples

    def call(self, inputs):
        if self.n_samples is None:
            batches = [view(inputs) for view in self.views]
        else:
            batches = [self.views[0](inputs, training=True) for _ in range(self.n_samples)]
        posteriors = keras.ops.stack([self.model(batch, training=False) for batch in batches], axis=0)
        if self.view_weights is None:
            return keras.ops.mean(posteriors, axis=0)
        weights = keras.ops.convert_to_tensor(self.view_weights, dtype=posteriors.dtype)
        return keras.ops.tensordot(weights, posteriors, axes=1)

    def compute_output_shape(self, input_shape):
        return self.model.compute_output_shape(input_shape)


def _model_input_shape(model):
    """The model's input shape, or None when it has none (a plain callable, several inputs)."""
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):
        return None
    return shape if isinstance(shape, tuple) else None


def predict_tta(model, data, augmentations=None, n_samples=None, seed=None, batch_size=32, verbose=0):
    """Predicts with test-time augmentation: `TTAModel(...).predict(data)`.

    Args:
        model: the classifier.
        data: what `keras.Model.predict` accepts: a NumPy array or tensor of
            images; a `tf.data.Dataset`, `keras.utils.PyDataset` or Python
            generator yielding batches of images (or `(images, labels)`
            tuples, whose labels are ignored).
        augmentations, n_samples, seed: as in `TTAModel`.
        batch_size: batch size for arrays (ignored for datasets, which are
            batched already).
        verbose: verbosity of `predict`.

    Returns:
        NumPy array of averaged posteriors, one row per image.

    Example:

    >>> classifier = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                                keras.layers.Dense(3, activation="softmax")])
    >>> predict_tta(classifier, keras.ops.zeros((5, 8, 8, 1))).shape
    (5, 3)
    """
    tta = TTAModel(model, augmentations=augmentations, n_samples=n_samples, seed=seed)
    batch_size = check_positive_int(batch_size, "batch_size")
    if hasattr(data, "shape"):
        expected = _model_input_shape(model)
        if expected is not None and len(data.shape) != len(expected):
            raise ValueError(
                f"`data` must be a batch of inputs of shape {(None,) + tuple(expected[1:])}, as the model takes them; "
                f"received shape {tuple(data.shape)}."
            )
        if data.shape[0] == 0:
            raise ValueError(f"`data` must hold at least one image; received shape {tuple(data.shape)}.")
    # Datasets and generators come batched: predict refuses a batch size for them.
    return tta.predict(data, batch_size=batch_size if hasattr(data, "shape") else None, verbose=verbose)
