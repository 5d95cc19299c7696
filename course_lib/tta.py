"""Test-time augmentation: average a classifier's posteriors over several views.

A classifier sees one copy of each test image per view (the image itself, its
mirror image, random transformations of it) and its posterior vectors are
averaged with equal weights. Errors that depend on details a view changes
tend to cancel out in the average.
"""

import keras

from course_lib._checks import check_positive_int, check_seed

AGGREGATES = ("mean",)


def identity(images):
    """The unchanged batch: the view every list of TTA views should contain."""
    return images


def horizontal_flip(images):
    """The batch mirrored left-right (channels-last images)."""
    return keras.ops.flip(images, axis=2)


DEFAULT_VIEWS = (identity, horizontal_flip)


class TTAModel(keras.Model):
    """A classifier that averages its predictions over augmented views.

    With a list of views (the default), the output for a batch `x` is
    `mean_v model(v(x))` over the views `v`: every view counts once, so the
    list must contain the identity if the unchanged image is to count (the
    default list is `[identity, horizontal_flip]`).

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
        aggregate: how posteriors are combined; only "mean" (equal weights).
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

    def __init__(self, model, augmentations=None, aggregate="mean", n_samples=None, seed=None, **kwargs):
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
        self.model = model
        self.views = views
        self.aggregate = aggregate
        self.n_samples = n_samples

    def call(self, inputs):
        if self.n_samples is None:
            batches = [view(inputs) for view in self.views]
        else:
            batches = [self.views[0](inputs, training=True) for _ in range(self.n_samples)]
        posteriors = [self.model(batch, training=False) for batch in batches]
        return keras.ops.mean(keras.ops.stack(posteriors, axis=0), axis=0)

    def compute_output_shape(self, input_shape):
        return self.model.compute_output_shape(input_shape)


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
    # Datasets and generators come batched: predict refuses a batch size for them.
    return tta.predict(data, batch_size=batch_size if hasattr(data, "shape") else None, verbose=verbose)
