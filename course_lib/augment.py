"""Data augmentation: Keras pipelines, class balance and per-class pipelines.

- `geometric_augmentation()` and `photometric_augmentation()` build pipelines
  of Keras 3's own random preprocessing layers. They are active only in
  training: called with `training=False` (as `model.predict` and
  `model.evaluate` call them) they return their input unchanged.
- `balance_with_augmentation()` adds augmented copies of real minority-class
  images until every class has a target count.
- `class_specific_augmentation()` applies a different pipeline to each class.

Mixup, which mixes pairs of samples and their labels, is in `course_lib.mixup`.
"""

import numbers

import keras
import numpy as np

from course_lib._checks import (
    check_number,
    check_positive_int,
    check_seed,
    class_indices,
    is_int,
)
from course_lib._keras_compat import call_takes_training
from course_lib.layers._chain import build_chain, chain_output_shape

__all__ = [
    "AugmentationPipeline",
    "geometric_augmentation",
    "photometric_augmentation",
    "RangeGaussianNoise",
    "balance_with_augmentation",
    "class_specific_augmentation",
]

_FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


@keras.saving.register_keras_serializable(package="course_lib")
class AugmentationPipeline(keras.layers.Pipeline):
    """A `keras.layers.Pipeline` of augmentation layers that builds without tracing.

    Without `build` and `compute_output_shape`, Keras builds a pipeline and
    infers its output shape by running it symbolically, which takes seconds
    per affine layer on the PyTorch backend whenever the pipeline goes into
    a model.

    Args:
        layers: the layers, applied in order (a list of callables; empty:
            the identity).
        name: name of the pipeline.

    Raises:
        TypeError: `layers` is not a list or tuple of callables.
    """

    def __init__(self, layers, name=None):
        if not isinstance(layers, (list, tuple)) or not all(callable(layer) for layer in layers):
            raise TypeError(
                f"`layers` must be a list of Keras layers (callables); received layers={layers!r}."
            )
        super().__init__(list(layers), name=name)

    def build(self, input_shape=None):
        # Called eagerly on NumPy arrays, the pipeline gets no shape: its layers
        # then build themselves on their first call.
        if input_shape is not None:
            build_chain(self.layers, input_shape)

    def compute_output_shape(self, input_shape):
        return chain_output_shape(self.layers, input_shape)


def _check_value_range(value_range):
    """Returns `(low, high)` as a tuple of floats with low < high, or raises a ValueError."""
    if (
        not isinstance(value_range, (tuple, list))
        or len(value_range) != 2
        or not all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in value_range)
        or not value_range[0] < value_range[1]
    ):
        raise ValueError(
            f"`value_range` must be a pair (low, high) with low < high; received value_range={value_range!r}."
        )
    return tuple(float(v) for v in value_range)


def _check_strength(value, name, high=1.0):
    """Returns `value` as a float in [0, high]; None means 0 (switched off)."""
    return 0.0 if value is None else check_number(value, name, 0, high)


def _layer_seeds(seed):
    """Yields a different seed for each layer of a pipeline (None stays None).

    Layers given the same seed would draw the same random numbers: a rotation
    and a zoom would then always move together.
    """
    index = 0
    while True:
        yield None if seed is None else seed + index
        index += 1


def geometric_augmentation(
    flip="horizontal",
    rotation=0.05,
    translation=0.1,
    zoom=0.1,
    shear=0.0,
    perspective=0.0,
    fill_mode="reflect",
    seed=None,
    name="geometric_augmentation",
):
    """A pipeline of random geometric transformations (Keras layers).

    The transformations move pixels without changing their values: flip,
    rotation, translation, zoom, shear and perspective, in that order. Each
    is switched off by 0 (or None).

    The pipeline is a `keras.layers.Pipeline` (an `AugmentationPipeline`):
    it can be the first layer of a model, be mapped over a
    `tf.data.Dataset` on any backend, or be called on NumPy batches. It transforms only in training: called with
    `training=False` it returns its input unchanged. Called directly without
    `training`, Keras's random layers default to training mode (they
    transform).

    Args:
        flip: "horizontal", "vertical", "horizontal_and_vertical", or None.
        rotation: largest rotation as a fraction of a full turn (0.05 is
            18 degrees), drawn uniformly in both directions.
        translation: largest shift as a fraction of the height and of the
            width, in both directions.
        zoom: largest zoom in or out, as a fraction of the image size.
        shear: largest shear factor along x and along y, in [0, 1].
        perspective: amount the corners move (`scale` of
            `keras.layers.RandomPerspective`), in [0, 1].
        fill_mode: how pixels from outside the image are filled
            ("reflect", "wrap", "nearest" or "constant"; not used by the
            perspective layer, which fills with 0).
        seed: int for reproducible pipelines (layer `i` gets `seed + i`),
            or None.
        name: name of the pipeline.

    Returns:
        An `AugmentationPipeline` (a `keras.layers.Pipeline`); its `layers`
        are the Keras layers used.

    Example:

    >>> augment = geometric_augmentation(rotation=0.1, seed=0)
    >>> images = np.zeros((2, 32, 32, 3), "float32")
    >>> tuple(augment(images, training=True).shape)
    (2, 32, 32, 3)
    """
    if flip is not None and flip not in _FLIP_MODES:
        raise ValueError(f"`flip` must be one of {_FLIP_MODES} or None; received flip={flip!r}.")
    rotation = _check_strength(rotation, "rotation")
    translation = _check_strength(translation, "translation")
    zoom = _check_strength(zoom, "zoom")
    shear = _check_strength(shear, "shear")
    perspective = _check_strength(perspective, "perspective")
    seeds = _layer_seeds(check_seed(seed))
    fill = {"fill_mode": fill_mode}
    layers = []
    if flip:
        layers.append(keras.layers.RandomFlip(flip, seed=next(seeds)))
    if rotation:
        layers.append(keras.layers.RandomRotation(rotation, seed=next(seeds), **fill))
    if translation:
        layers.append(keras.layers.RandomTranslation(translation, translation, seed=next(seeds), **fill))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, zoom, seed=next(seeds), **fill))
    if shear:
        layers.append(keras.layers.RandomShear(shear, shear, seed=next(seeds), **fill))
    if perspective:
        layers.append(keras.layers.RandomPerspective(factor=1.0, scale=perspective, seed=next(seeds)))
    return AugmentationPipeline(layers, name=name)


def photometric_augmentation(
    brightness=0.1,
    contrast=0.1,
    saturation=0.0,
    hue=0.0,
    noise=0.0,
    value_range=(0, 255),
    seed=None,
    name="photometric_augmentation",
):
    """A pipeline of random photometric transformations (Keras layers).

    The transformations change pixel values without moving them: brightness,
    contrast, saturation, hue and additive Gaussian noise, in that order.
    Each is switched off by 0 (or None). Saturation and hue need RGB images
    (3 channels). Brightness, contrast, saturation and hue keep values in
    `value_range`; the noise is added last and is not clipped.

    Like `geometric_augmentation()`, the pipeline transforms only in training
    and fits in a model or a data pipeline (the noise layer,
    `RangeGaussianNoise`, runs in `tf.data` only on the TensorFlow backend).

    Args:
        brightness: largest brightness shift, as a fraction of the value
            range, up or down.
        contrast: largest contrast change: the contrast is multiplied by a
            factor drawn in `[1 - contrast, 1 + contrast]`.
        saturation: saturation strength `s` in [0, 1]: the saturation factor
            of `keras.layers.RandomSaturation` is drawn in
            `[(1 - s) / 2, (1 + s) / 2]` (0.5 is no change, 0 is grayscale).
        hue: largest hue rotation (`factor` of `keras.layers.RandomHue`).
        noise: standard deviation of the Gaussian noise, as a fraction of
            the value range.
        value_range: `(low, high)` range of the pixel values, typically
            `(0, 255)` or `(0, 1)`.
        seed: int for reproducible pipelines (layer `i` gets `seed + i`),
            or None.
        name: name of the pipeline.

    Returns:
        An `AugmentationPipeline` (a `keras.layers.Pipeline`); its `layers`
        are the Keras layers used.

    Example:

    >>> augment = photometric_augmentation(noise=0.05, value_range=(0, 1), seed=0)
    >>> [layer.__class__.__name__ for layer in augment.layers]
    ['RandomBrightness', 'RandomContrast', 'RangeGaussianNoise']
    """
    _check_value_range(value_range)
    brightness = _check_strength(brightness, "brightness")
    contrast = _check_strength(contrast, "contrast")
    saturation = _check_strength(saturation, "saturation")
    hue = _check_strength(hue, "hue")
    noise = _check_strength(noise, "noise")
    value_range = tuple(value_range)
    seeds = _layer_seeds(check_seed(seed))
    layers = []
    if brightness:
        layers.append(keras.layers.RandomBrightness(brightness, value_range=value_range, seed=next(seeds)))
    if contrast:
        layers.append(keras.layers.RandomContrast(contrast, value_range=value_range, seed=next(seeds)))
    if saturation:
        factor = (0.5 * (1 - saturation), 0.5 * (1 + saturation))
        layers.append(keras.layers.RandomSaturation(factor, value_range=value_range, seed=next(seeds)))
    if hue:
        layers.append(keras.layers.RandomHue(hue, value_range=value_range, seed=next(seeds)))
    if noise:
        layers.append(RangeGaussianNoise(noise, value_range=value_range, seed=next(seeds)))
    return AugmentationPipeline(layers, name=name)


@keras.saving.register_keras_serializable(package="course_lib")
class RangeGaussianNoise(keras.layers.Layer):
    """Additive Gaussian noise with a standard deviation relative to the value range.

    `keras.layers.GaussianNoise` takes an absolute standard deviation of at
    most 1, too little for images in [0, 255]; this layer adds noise of
    standard deviation `stddev * (high - low)`. Like Keras's random layers it
    acts only in training.

    Args:
        stddev: standard deviation as a fraction of the value range, >= 0.
        value_range: `(low, high)` range of the pixel values.
        seed: None or a non-negative int, for reproducible noise.
        **kwargs: base layer keyword arguments.

    Example:

    >>> noise = RangeGaussianNoise(0.1, value_range=(0, 255), seed=0)
    >>> float(keras.ops.std(noise(np.zeros((1, 64, 64, 1)), training=True))) > 20
    True
    """

    def __init__(self, stddev, value_range=(0, 1), seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = check_number(stddev, "stddev", low=0)
        self.value_range = _check_value_range(value_range)
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, inputs, training=True):
        inputs = keras.ops.cast(inputs, self.compute_dtype)
        if not training or self.stddev == 0:
            return inputs
        scale = self.stddev * (self.value_range[1] - self.value_range[0])
        noise = keras.random.normal(keras.ops.shape(inputs), stddev=scale, seed=self.seed_generator)
        return inputs + keras.ops.cast(noise, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(stddev=self.stddev, value_range=self.value_range, seed=self.seed)
        return config


def _call_augmentation(augment, images, training=True):
    """Calls `augment` on a batch, in training mode when it is a Keras layer."""
    if call_takes_training(augment):
        return augment(images, training=training)
    return augment(images)


def balance_with_augmentation(x, y, augment, target_per_class, seed=None, batch_size=256):
    """Balances classes by adding augmented copies of real minority-class images.

    For every class with fewer than `target_per_class` samples, draws (with
    replacement) real images of that class and appends their augmented
    versions until the class has `target_per_class` samples. Nothing is
    removed and the originals are not modified: classes that already have
    `target_per_class` samples or more are kept as they are (a target below
    the largest class is allowed). Only classes present in `y` are balanced.

    Args:
        x: images, array of shape `(N, ...)`.
        y: integer labels of shape `(N,)` or `(N, 1)`.
        augment: callable mapping a batch of images to augmented images of
            the same shape, e.g. `geometric_augmentation(seed=0)` (a Keras
            layer is called with `training=True`).
        target_per_class: number of samples each class must reach.
        seed: None or a non-negative int, for the choice of the images to
            augment. For a fully reproducible result, seed `augment` too.
        batch_size: images per call of `augment`.

    Returns:
        `(x_balanced, y_balanced)`: new arrays with the originals first (in
        their order), then the new samples class by class in increasing
        label order; same dtypes and label shape as `x` and `y` (augmented
        images are rounded and clipped when `x` is of an integer dtype).

    Example:

    >>> x = np.random.rand(6, 8, 8, 1).astype("float32")
    >>> y = np.array([0, 0, 0, 0, 1, 1])
    >>> xb, yb = balance_with_augmentation(x, y, geometric_augmentation(seed=0), 4, seed=0)
    >>> np.bincount(yb)
    array([4, 4])
    """
    x = np.asarray(x)
    labels = class_indices(y, "y")
    if len(labels) == 0:
        raise ValueError(f"`x` and `y` must hold at least one example; received x of shape {x.shape}.")
    if len(x) != len(labels):
        raise ValueError(
            f"`x` and `y` must have the same length; received {len(x)} images and {len(labels)} labels."
        )
    if not callable(augment):
        raise TypeError(f"`augment` must be a callable on a batch of images; received {augment!r}.")
    target_per_class = check_positive_int(target_per_class, "target_per_class")
    batch_size = check_positive_int(batch_size, "batch_size")
    rng = np.random.default_rng(check_seed(seed))
    new_images, new_labels = [], []
    classes, counts = np.unique(labels, return_counts=True)
    for label, count in zip(classes, counts):
        missing = target_per_class - count
        if missing <= 0:
            continue
        sources = rng.choice(np.flatnonzero(labels == label), size=missing, replace=True)
        for start in range(0, missing, batch_size):
            batch = x[sources[start : start + batch_size]]
            augmented = keras.ops.convert_to_numpy(_call_augmentation(augment, batch))
            if augmented.shape != batch.shape:
                raise ValueError(
                    f"`augment` must keep the shape of its input; it mapped {batch.shape} to {augmented.shape}."
                )
            new_images.append(_cast_like(augmented, x.dtype))
        new_labels.append(np.full(missing, label, dtype=labels.dtype))
    if not new_images:
        return x.copy(), np.asarray(y).copy()
    x_balanced = np.concatenate([x, *new_images])
    y_new = np.concatenate(new_labels)
    y_balanced = np.concatenate([np.asarray(y), y_new.reshape((-1,) + np.asarray(y).shape[1:])])
    return x_balanced, y_balanced


def _cast_like(images, dtype):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        images = np.clip(np.rint(images), info.min, info.max)
    return images.astype(dtype)


def class_specific_augmentation(pipelines, default=None):
    """Applies a different augmentation pipeline to the images of each class.

    Some transformations change the class of some images: a horizontally
    flipped "2" is no longer a 2, a "6" rotated by 180 degrees is a "9". A
    class-specific augmentation gives each class only the transformations
    that preserve its label.

    The returned function runs every pipeline on the whole batch and keeps,
    for each image, the output of its class's pipeline (written with
    `keras.ops`, so it works on every backend, inside a model or on NumPy
    batches; it costs one pass per pipeline).

    Args:
        pipelines: dict mapping an integer class label to a callable on a
            batch of images (e.g. a Keras pipeline), or to None for no
            augmentation.
        default: the callable for the classes not in `pipelines` (None: no
            augmentation).

    Returns:
        A function `augment(images, labels, training=True) -> images`, with
        labels integer of shape `(batch,)` or `(batch, 1)`, or one-hot of
        shape `(batch, classes)`. Keras layers are called with `training`;
        with `training=False` the images are returned unchanged.

    Example:

    >>> no_flip = geometric_augmentation(flip=None, seed=0)
    >>> augment = class_specific_augmentation({2: no_flip, 5: no_flip}, default=geometric_augmentation(seed=1))
    >>> tuple(augment(np.zeros((3, 28, 28, 1), "float32"), np.array([2, 5, 7])).shape)
    (3, 28, 28, 1)
    """
    if not isinstance(pipelines, dict):
        raise TypeError(f"`pipelines` must be a dict {{class label: callable}}; received {type(pipelines).__name__}.")
    for label, pipeline in pipelines.items():
        if not is_int(label) or label < 0:
            raise ValueError(f"`pipelines` keys must be integer class labels (>= 0); received key {label!r}.")
        if pipeline is not None and not callable(pipeline):
            raise TypeError(f"`pipelines[{label}]` must be a callable or None; received {pipeline!r}.")
    if default is not None and not callable(default):
        raise TypeError(f"`default` must be a callable or None; received {default!r}.")

    def augment(images, labels, training=True):
        ops = keras.ops
        images = ops.convert_to_tensor(images)
        if not training:
            return images
        if not keras.backend.is_float_dtype(images.dtype):
            images = ops.cast(images, "float32")  # pipelines return floats
        labels = ops.convert_to_tensor(labels)
        if len(labels.shape) == 2 and labels.shape[1] != 1:
            labels = ops.argmax(labels, axis=-1)
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        mask_shape = (-1,) + (1,) * (len(images.shape) - 1)
        result = images if default is None else ops.cast(_call_augmentation(default, images, training), images.dtype)
        for label, pipeline in pipelines.items():
            output = images if pipeline is None else _call_augmentation(pipeline, images, training)
            mask = ops.reshape(ops.equal(labels, int(label)), mask_shape)
            result = ops.where(mask, ops.cast(output, result.dtype), result)
        return result

    return augment
