"""The course's experiment harness: splits, one training recipe, several seeds, paired comparisons.

Every notebook that trains a network (except those whose lesson is
`compile`/`fit` itself) goes through this module, so that every experiment
uses the same methodology:

- `load_splits` returns training, validation and test sets. The validation
  set is carved out of the training data (stratified); the test set is only
  used once a model is final.
- `Recipe` is the training recipe that makes short CPU runs meaningful, each
  choice explained in its docstring: standardised inputs, flip-and-translate
  augmentation on the fly, label smoothing, SGD with Nesterov momentum and
  weight decay, a linear warm-up then a cosine learning-rate decay, and a
  BatchNormalization momentum suited to the run's length (or statistics
  re-estimated after training, `course_lib.batchnorm`).
- `train` trains one model with a recipe and returns its per-epoch history.
- `run` trains a model-building function over several seeds and returns a
  `Runs`: per-epoch histories and test scores, one row per seed.
- `summarize`, `compare` and `paired_comparison` (from
  `course_lib.comparison`) tabulate runs over seeds and compare two variants
  seed by seed: the mean paired difference with its 95 % interval, a "clear
  effect" when the interval excludes 0, decided on validation accuracy.
- `learning_rate_range_test` draws the training loss against a growing
  learning rate: a diagnostic for choosing the rate.
"""

import collections
import dataclasses
import time

import keras
import numpy as np
import pandas as pd

from course_lib import data
from course_lib.comparison import Comparison, compare, paired_comparison, summarize
from course_lib.batchnorm import (
    KERAS_MOMENTUM,
    momentum_for_steps,
    recompute_batchnorm_statistics,
    set_batchnorm_momentum,
)
from course_lib._checks import (
    check_array,
    check_image_batch,
    check_model,
    check_number,
    check_positive_int,
    check_seed,
    class_indices,
)
from course_lib._keras_compat import set_random_seed_keeping_traces
from course_lib.runtime import default_jit_compile

# Batch size of every evaluation (validation after each epoch, test scores). Keras's default,
# 32, adds per-batch overhead: a small GoogLeNet's epoch with 1,000 validation images took
# 1.3 s longer on a 2-core CPU. Only the scores' rounding depends on it.
EVALUATION_BATCH_SIZE = 256


class Splits(collections.namedtuple("Splits", ["train", "validation", "test"])):
    """`(train, validation, test)`, each an `(x, y)` pair with integer labels of shape `(N,)`."""

    __slots__ = ()

    def __repr__(self):
        sizes = ", ".join(f"{name}={len(part[0])}" for name, part in zip(("train", "validation", "test"), self))
        return f"Splits({sizes})"


def split_validation(x, y, validation_size, seed=0):
    """Carves a stratified validation set out of training data.

    Args:
        x: training examples, first axis the example.
        y: their integer labels, `(N,)` or `(N, 1)`.
        validation_size: number of validation examples (an int), taken in
            proportion to the classes.
        seed: None or a non-negative int, the seed of the split.

    Returns:
        `(x_train, y_train), (x_validation, y_validation)` with labels of
        shape `(N,)`.

    Example:

    >>> x = np.arange(100).reshape(50, 2); y = np.repeat([0, 1], 25)
    >>> (xt, yt), (xv, yv) = split_validation(x, y, validation_size=10)
    >>> len(xt), np.bincount(yv).tolist()
    (40, [5, 5])
    """
    from sklearn.model_selection import train_test_split

    x = np.asarray(x)
    y = class_indices(y, "y")
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must have the same length; received {len(x)} and {len(y)}.")
    validation_size = check_positive_int(validation_size, "validation_size")
    seed = check_seed(seed)
    if validation_size >= len(x):
        raise ValueError(
            f"`validation_size` must be smaller than the {len(x)} training examples; "
            f"received validation_size={validation_size}."
        )
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=validation_size, stratify=y, random_state=seed
    )
    return (x_train, y_train), (x_val, y_val)


def load_splits(
    name="cifar10",
    validation_size=5000,
    train_per_class=None,
    test_per_class=None,
    seed=0,
):
    """Loads a course dataset as training, validation and test splits.

    The validation set is carved out of the official training set
    (`split_validation`), never out of the test set. Optionally the training
    and test sets are cut to a stratified subset (`course_lib.data.subset`)
    to fit a CPU budget; the validation set keeps `validation_size` examples.

    Args:
        name: a dataset of `course_lib.data` ("cifar10", "mnist",
            "fashion_mnist").
        validation_size: number of validation examples taken from the
            training set.
        train_per_class: training examples kept per class after the
            validation set is taken out, or None for all of them.
        test_per_class: test examples kept per class, or None for all.
        seed: None or a non-negative int, the seed of the validation split
            and of the subsets.

    Returns:
        A `Splits` `(train, validation, test)` of `(x, y)` pairs, images as
        stored (uint8) and labels of shape `(N,)`.
    """
    (x_train, y_train), (x_test, y_test) = data.load_dataset(name)
    train, validation = split_validation(x_train, y_train, validation_size, seed)
    if train_per_class is not None:
        train = data.subset(*train, per_class=train_per_class, seed=seed)
    y_test = class_indices(y_test, "y_test")
    if test_per_class is not None:
        x_test, y_test = data.subset(x_test, y_test, per_class=test_per_class, seed=seed)
    return Splits(train, validation, (x_test, y_test))


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled, augmented training batches with one-hot labels, made in NumPy.

    Each epoch visits every example once, in an order drawn from `(seed,
    epoch)`, so a run resumed at epoch `e` (`set_epoch(e)`) sees the batches
    it would have seen. Each image is mirrored left-right with probability
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
        super().__init__(**kwargs)
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
        self.batch_size = batch_size
        if flip not in (True, False, "alternating"):
            raise ValueError(f"`flip` must be True, False or 'alternating'; received flip={flip!r}.")
        if on_device not in (True, False):
            raise ValueError(f"`on_device` must be True or False; received on_device={on_device!r}.")
        self.flip = flip
        # Alternating flip: which images are mirrored in even epochs, drawn once from the seed.
        self._even_flips = np.random.default_rng(seed).random(len(self.x)) < 0.5 if flip == "alternating" else None
        self.translate = translate
        self.seed = seed
        self.shuffle = shuffle
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
        self.set_epoch(0)

    def set_epoch(self, epoch):
        """Makes the next batches those of epoch `epoch` (0-based)."""
        self.epoch = check_positive_int(epoch, "epoch", allow_zero=True)
        rng = np.random.default_rng([self.seed, epoch])
        self._order = rng.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))
        self._rng_seed = int(rng.integers(2**31))

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

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
        chosen = self._order[index * self.batch_size : (index + 1) * self.batch_size]
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

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)


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


def channel_statistics(x):
    """Per-channel mean and variance of images `x` `(N, rows, cols, channels)`, as two lists.

    Raises:
        TypeError: `x` does not hold real numbers.
        ValueError: `x` is not 4-D, is empty, or holds NaN or infinity (a
            standardisation with NaN statistics outputs NaN for every image).
    """
    x = check_array(x, "x", ndim=4, shape="(N, rows, cols, channels)", finite=True)
    pixels = x.reshape(-1, x.shape[-1]).astype("float64")
    return {"mean": pixels.mean(0).tolist(), "variance": pixels.var(0).tolist()}


def standardization(x):
    """A `keras.layers.Normalization` with the per-channel mean and variance of `x`.

    Put it first in a model, so that the model takes images as stored (uint8,
    0-255) and every later layer sees inputs of mean 0 and variance 1 per
    channel, whatever the dataset's brightness and contrast.

    Args:
        x: training images `(N, rows, cols, channels)`.

    Returns:
        A `keras.layers.Normalization(axis=-1)` with those statistics as
        constants (they are part of its config, not of its weights).
    """
    return keras.layers.Normalization(axis=-1, **channel_statistics(x), name="standardize")


def with_standardization(network, x_train, name=None, standardize=True):
    """`network` behind a standardisation layer fitted on `x_train`, as one model.

    Args:
        network: a `keras.Model` taking standardised images, or a pair
            `(training_model, inference_model)` sharing their layers (as
            `googlenet(aux_heads=True)` returns it).
        x_train: the training images whose statistics standardise the inputs.
        name: name of the model (default: the network's).
        standardize: False to divide the pixels by 255 instead (a control:
            see `Recipe.standardize`).

    Returns:
        A `keras.Model` taking images as stored and returning `network`'s
        output; for a pair, a pair of such models sharing the standardisation.

    Raises:
        ValueError: `x_train` is not a non-empty batch of images with the
            network's channels, or holds NaN or infinity.
    """
    pair = isinstance(network, (tuple, list))
    networks = tuple(network) if pair else (network,)
    if not all(isinstance(n, keras.Model) for n in networks) or len(networks) not in (1, 2):
        raise TypeError(f"`network` must be a keras.Model or a pair of them; received {network!r}.")
    inputs = keras.Input(networks[0].input_shape[1:], name="image")
    if standardize:
        x_train = check_array(x_train, "x_train", ndim=4, shape="(N, rows, cols, channels)", finite=True)
        scale = standardization(x_train)
        channels = inputs.shape[-1]
        if channels is not None and np.shape(x_train)[-1] != channels:
            raise ValueError(
                f"`x_train` must have the network's {channels} channels; received x_train of shape "
                f"{np.shape(x_train)} for inputs of shape {tuple(inputs.shape)}."
            )
    else:
        scale = keras.layers.Rescaling(1 / 255, name="rescale")
    standardized = scale(inputs)
    models = tuple(keras.Model(inputs, n(standardized), name=name or n.name) for n in networks)
    return models if pair else models[0]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """The course's training recipe: one place for every choice, each explained.

    Attributes:
        epochs: passes over the training set.
        batch_size: images per step.
        learning_rate: peak learning rate of SGD, reached after the warm-up.
            0.1 suits networks with BatchNormalization; networks without it
            (AlexNet) need a smaller one.
        warmup_epochs: epochs of linear warm-up from `learning_rate / 10` to
            `learning_rate`. Large steps on a random network blow up its
            activations; a short warm-up lets them settle first.
        momentum: SGD's momentum, with Nesterov's look-ahead.
        weight_decay: Keras's decoupled weight decay: every step multiplies
            each weight by `1 - learning_rate * weight_decay`, outside the
            momentum. The papers' L2 penalty of 5e-4 passes through the
            momentum (0.9), which multiplies its effect by 1 / (1 - 0.9) =
            10; 5e-3 here is that same decay.
        label_smoothing: the targets are `1 - label_smoothing` for the true
            class and `label_smoothing / classes` spread over all classes,
            which keeps the network from driving its logits to infinity on
            training images it already classifies (Szegedy et al., 2016).
        flip: mirror half of the training images left-right, on the fly
            (True), or every image in one of every two epochs
            ("alternating", see `AugmentedBatches`).
        translate: shift training images by up to this many pixels, on the
            fly (4 pixels of 32 is He et al.'s CIFAR augmentation).
        batchnorm_momentum: "auto" for `momentum_for_steps(total steps)`
            (Keras's 0.99 for any run of 459 steps or more, less for
            shorter runs), a float, or None to leave the layers as built.
        recompute_batchnorm: whether to re-estimate the BatchNormalization
            statistics on (up to 10,000) training images after training, see
            `course_lib.batchnorm.recompute_batchnorm_statistics`.
        schedule: "cosine": after the warm-up, the learning rate decays to 0
            along a cosine, so the last epochs average out the noise of the
            large early steps (the run must be planned with its length,
            `epochs`); "constant": it stays at `learning_rate`.
        standardize: whether `run` puts a standardisation layer (the training
            images' per-channel mean and variance) in front of the network;
            without, the pixels are only divided by 255.

    `scripts/recipe_ablation.py` measures what each choice adds, on a
    CIFAR-10 subset over three seeds, and writes the table to
    `benchmarks/recipe_ablation.md`. On its budget (ResNet-20, 2,000 images,
    10 epochs, 320 steps) the cosine decay and the flips and shifts pass the
    course's test; the BatchNormalization momentum, the standardisation and
    the label smoothing do not, at that budget. The momentum is there for
    much shorter runs (tens of steps, as in notebook 11), where Keras's 0.99
    leaves the moving statistics near their initial values.
    """

    SCHEDULES = ("cosine", "constant")

    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 0.1
    warmup_epochs: float = 1.0
    momentum: float = 0.9
    weight_decay: float = 5e-3
    label_smoothing: float = 0.1
    flip: object = True
    translate: int = 4
    batchnorm_momentum: object = "auto"
    recompute_batchnorm: bool = False
    schedule: str = "cosine"
    standardize: bool = True

    def __post_init__(self):
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.translate, "translate", allow_zero=True)
        for name in ("learning_rate", "warmup_epochs", "weight_decay", "label_smoothing", "momentum"):
            check_number(getattr(self, name), name, low=0)
        if self.learning_rate <= 0:
            raise ValueError(f"`learning_rate` must be positive; received learning_rate={self.learning_rate!r}.")
        if not self.momentum < 1 or not self.label_smoothing < 1:
            raise ValueError("`momentum` and `label_smoothing` must be below 1.")
        if self.warmup_epochs > self.epochs:
            raise ValueError(
                f"`warmup_epochs` must be at most `epochs`; received warmup_epochs={self.warmup_epochs}, "
                f"epochs={self.epochs}."
            )
        bn = self.batchnorm_momentum
        if not (bn is None or bn == "auto" or (isinstance(bn, float) and 0 <= bn < 1)):
            raise ValueError(
                "`batchnorm_momentum` must be 'auto', None or a float in [0, 1); "
                f"received batchnorm_momentum={bn!r}."
            )
        if self.flip not in (True, False, "alternating"):
            raise ValueError(f"`flip` must be True, False or 'alternating'; received flip={self.flip!r}.")
        if self.schedule not in self.SCHEDULES:
            raise ValueError(f"`schedule` must be one of {self.SCHEDULES}; received schedule={self.schedule!r}.")

    def replace(self, **changes):
        """A copy of the recipe with some fields changed."""
        return dataclasses.replace(self, **changes)

    def learning_rate_schedule(self, steps_per_epoch):
        """The learning rate per step: linear warm-up, then cosine decay to 0 (or constant)."""
        check_positive_int(steps_per_epoch, "steps_per_epoch")
        total = self.epochs * steps_per_epoch
        warmup = min(total - 1, int(round(self.warmup_epochs * steps_per_epoch)))
        if self.schedule == "constant":
            # alpha=1: the "decay" keeps the rate at warmup_target after the warm-up.
            return keras.optimizers.schedules.CosineDecay(
                self.learning_rate / 10 if warmup else self.learning_rate,
                decay_steps=max(1, total - warmup),
                alpha=1.0,
                warmup_target=self.learning_rate if warmup else None,
                warmup_steps=warmup,
            )
        return keras.optimizers.schedules.CosineDecay(
            self.learning_rate / 10 if warmup else self.learning_rate,
            decay_steps=total - warmup,
            alpha=0.0,
            warmup_target=self.learning_rate if warmup else None,
            warmup_steps=warmup,
        )

    def optimizer(self, steps_per_epoch, model=None):
        """SGD with Nesterov momentum, weight decay and the schedule (`model` is for subclasses)."""
        return keras.optimizers.SGD(
            self.learning_rate_schedule(steps_per_epoch),
            momentum=self.momentum,
            nesterov=self.momentum > 0,
            weight_decay=self.weight_decay or None,
        )

    def callbacks(self, steps_per_epoch, initial_epoch=0):
        """Keras callbacks the recipe trains with (none here; `course_lib.speedrun` adds Lookahead)."""
        return []

    def loss(self):
        """Cross-entropy on one-hot labels, with label smoothing."""
        return keras.losses.CategoricalCrossentropy(label_smoothing=self.label_smoothing)

    def batches(self, x, y, num_classes, seed=0, outputs=1, on_device=False):
        """The training batches of this recipe (`AugmentedBatches`)."""
        return AugmentedBatches(
            x, y, num_classes, batch_size=self.batch_size, flip=self.flip,
            translate=self.translate, seed=seed, outputs=outputs, on_device=on_device,
        )

    def to_dict(self):
        """The recipe's fields, for a JSON record."""
        return dataclasses.asdict(self)


def apply_batchnorm_momentum(model, recipe, steps_per_epoch):
    """Sets the BatchNormalization momentum the recipe asks for (see `Recipe`).

    A saved model does not keep the momentum of BatchNormalization layers
    nested in composite layers (their configs rebuild them with Keras's
    default), so `train` applies it again when it resumes a run.
    """
    if recipe.batchnorm_momentum is None:
        return
    momentum = recipe.batchnorm_momentum
    if momentum == "auto":
        momentum = momentum_for_steps(recipe.epochs * steps_per_epoch)
    set_batchnorm_momentum(model, momentum)


def compile_with(model, recipe, steps_per_epoch, loss_weights=None):
    """Compiles `model` with the recipe's optimizer, loss and metrics.

    The metrics are accuracy and the cross-entropy without label smoothing
    ("crossentropy"), which, unlike the smoothed loss, reaches 0 for a
    perfect, certain classifier. A model with several outputs (auxiliary
    classifiers) gets the recipe's loss on each, weighted by `loss_weights`
    (one weight per output), and the metrics on its first output.
    """
    outputs = len(model.outputs)
    if outputs > 1 and (loss_weights is None or len(loss_weights) != outputs):
        raise ValueError(
            f"`loss_weights` must give one weight per output of the model ({outputs}); "
            f"received loss_weights={loss_weights!r}."
        )
    metrics = [keras.metrics.CategoricalAccuracy(name="accuracy"),
               keras.metrics.CategoricalCrossentropy(name="crossentropy")]
    apply_batchnorm_momentum(model, recipe, steps_per_epoch)
    model.compile(
        optimizer=recipe.optimizer(steps_per_epoch, model),
        loss=recipe.loss() if outputs == 1 else [recipe.loss() for _ in range(outputs)],
        loss_weights=None if outputs == 1 else list(loss_weights),
        metrics=metrics if outputs == 1 else [metrics] + [[] for _ in range(outputs - 1)],
        jit_compile=default_jit_compile(),
    )
    _create_variables_before_tracing(model)


def _create_variables_before_tracing(model):
    """Creates the optimizer's variables (momentum...) before the first training step.

    Keras creates them during the first step otherwise, and a variable created
    while TensorFlow traces a function makes it trace that function a second
    time: seconds per model on a CPU (GoogLeNet-CIFAR's first `fit`: a
    third shorter). The metrics are objects for the same reason: a metric
    named by a string ("accuracy") is created in the first step.
    """
    model.optimizer.build(model.trainable_variables)


class EpochTimer(keras.callbacks.Callback):
    """Adds each epoch's wall-clock seconds ("seconds") and last learning rate to the logs.

    For a `keras.optimizers.MultiOptimizer`, the rate of its default
    optimizer; under the "mixed_float16" policy, that of the optimizer inside
    Keras's `LossScaleOptimizer`.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = time.perf_counter() - self._start
            optimizer = self.model.optimizer
            if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                optimizer = optimizer.inner_optimizer
            if isinstance(optimizer, keras.optimizers.MultiOptimizer):
                # MultiOptimizer lists the default optimizer last (after those of its map).
                optimizer = optimizer.optimizers[-1]
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def _one_hot(y, num_classes):
    return np.eye(num_classes, dtype="float32")[class_indices(y, "y")]


def train(model, recipe, train_data, validation_data=None, num_classes=None, seed=0,
          callbacks=(), initial_epoch=0, verbose=0, loss_weights=None, batches_on_device=False):
    """Trains `model` with `recipe` and returns its per-epoch history.

    Args:
        model: a `keras.Model` ending in class probabilities, taking images
            as stored (put `standardization` in front, see
            `with_standardization`).
        recipe: a `Recipe`.
        train_data: `(x, y)` training images and integer labels.
        validation_data: `(x, y)` validation images and labels, or None.
        num_classes: number of classes (default: the model's outputs).
        seed: a non-negative int, the seed of the batches' order and
            augmentation.
        callbacks: more Keras callbacks.
        initial_epoch: epoch to start from (resuming a run whose model and
            optimizer were restored).
        verbose: Keras's `fit` verbosity.
        loss_weights: for a model with several outputs (auxiliary
            classifiers), the weight of each output's loss; the labels go to
            every output, the metrics are those of the first.
        batches_on_device: whether to keep the training data on the device
            and make the batches there (`AugmentedBatches(on_device=True)`:
            the same batches, for a GPU).

    Returns:
        A pandas DataFrame, one row per epoch (index "epoch", from 1), with
        the training loss (smoothed, the weighted sum for several outputs),
        accuracy and crossentropy, the same on the validation set ("val_..."),
        the learning rate and the seconds.
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"`recipe` must be a Recipe; received {type(recipe).__name__}.")
    outputs = len(model.outputs)
    num_classes = num_classes or model.outputs[0].shape[-1]
    batches = recipe.batches(*train_data, num_classes=num_classes, seed=seed, outputs=outputs,
                             on_device=batches_on_device)
    batches.set_epoch(initial_epoch)
    if getattr(model, "optimizer", None) is None:
        compile_with(model, recipe, len(batches), loss_weights)
    else:
        apply_batchnorm_momentum(model, recipe, len(batches))
    validation = None
    if validation_data is not None:
        labels = _one_hot(validation_data[1], num_classes)
        validation = (np.asarray(validation_data[0]), labels if outputs == 1 else (labels,) * outputs)
    history = model.fit(
        batches, epochs=recipe.epochs, initial_epoch=initial_epoch, validation_data=validation,
        callbacks=[EpochTimer(), *recipe.callbacks(len(batches), initial_epoch), *callbacks],
        shuffle=False, verbose=verbose, validation_batch_size=EVALUATION_BATCH_SIZE,
    )
    if recipe.recompute_batchnorm:
        recompute_batchnorm_statistics(model, np.asarray(train_data[0][:10_000]), recipe.batch_size)
        if validation is not None:
            # The last epoch's validation scores describe the model before the re-estimation.
            scores = model.evaluate(*validation, batch_size=EVALUATION_BATCH_SIZE, verbose=0, return_dict=True)
            for key, value in scores.items():
                history.history[f"val_{key}"][-1] = value
    table = pd.DataFrame(history.history)
    if outputs > 1:
        # Keras names the first output's metrics after it: "predictions_accuracy".
        first = model.output_names[0] + "_"
        table = table.rename(columns=lambda c: c.replace(first, "") if c.replace("val_", "").startswith(first) else c)
    table.index = pd.RangeIndex(initial_epoch + 1, initial_epoch + 1 + len(table), name="epoch")
    return table


def evaluate(model, x, y, batch_size=EVALUATION_BATCH_SIZE):
    """Accuracy and mean cross-entropy (no smoothing) of a probability model on `(x, y)`.

    Returns:
        A dict with "accuracy", "crossentropy", "correct" (a count) and
        "predictions" (the predicted class of each example, an int array).
    """
    y = class_indices(y, "y")
    probabilities = np.asarray(model.predict(np.asarray(x), batch_size=batch_size, verbose=0), "float64")
    if probabilities.shape != (len(y), probabilities.shape[-1]):
        raise ValueError(f"`model` must return one probability vector per image; received shape {probabilities.shape}.")
    correct = int((probabilities.argmax(1) == y).sum())
    picked = np.clip(probabilities[np.arange(len(y)), y], 1e-12, 1.0)
    return {"accuracy": correct / len(y), "crossentropy": float(-np.log(picked).mean()), "correct": correct,
            "predictions": probabilities.argmax(1)}


def learning_rate_range_test(model, x, y, min_lr=1e-4, max_lr=10.0, steps=100, batch_size=64,
                             momentum=0.9, seed=0, stop_factor=4.0):
    """The learning-rate range test: the training loss as the learning rate grows.

    One short run of SGD (with `momentum`) in which the learning rate grows
    geometrically from `min_lr` to `max_lr` over `steps` steps, one batch per
    step, recording each batch's loss (Smith, 2017). The loss first stays
    flat (too small a rate to learn in so few steps), then falls (rates that
    train), then rises and explodes (rates too large); the run stops once the
    smoothed loss exceeds `stop_factor` times its minimum. Choose a rate in
    the falling part, well before the minimum of the curve. The model's
    weights are changed: use a fresh model.

    Args:
        model: a fresh, uncompiled classifier ending in class probabilities.
        x: training images, as the model takes them.
        y: their integer labels.
        min_lr, max_lr: the first and the last learning rate.
        steps: number of steps (batches).
        batch_size: images per batch, drawn in a random order.
        momentum: SGD's momentum.
        seed: None or a non-negative int, the seed of the batch order.
        stop_factor: stop once the smoothed loss exceeds this multiple of
            its minimum.

    Returns:
        A DataFrame with one row per step: "learning_rate", "loss" (the
        batch's loss) and "smoothed_loss" (an exponential average, weight
        0.9 on the past, corrected for its start).
    """
    check_model(model)
    x = np.asarray(x)
    y = class_indices(y, "y")
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    seed = check_seed(seed)
    if not 0 < min_lr < max_lr:
        raise ValueError(f"`min_lr` and `max_lr` must satisfy 0 < min_lr < max_lr; received {min_lr}, {max_lr}.")
    classes = model.outputs[0].shape[-1]
    optimizer = keras.optimizers.SGD(min_lr, momentum=momentum)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy",
                  jit_compile=default_jit_compile())
    _create_variables_before_tracing(model)
    rates = min_lr * (max_lr / min_lr) ** (np.arange(steps) / max(steps - 1, 1))
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(-(-steps * batch_size // len(x)))])
    rows, average, best = [], 0.0, np.inf
    for step, rate in enumerate(rates):
        optimizer.learning_rate.assign(float(rate))
        chosen = order[step * batch_size : (step + 1) * batch_size]
        loss = float(model.train_on_batch(x[chosen], _one_hot(y[chosen], classes)))
        average = 0.9 * average + 0.1 * loss
        smoothed = average / (1 - 0.9 ** (step + 1))
        rows.append({"learning_rate": float(rate), "loss": loss, "smoothed_loss": smoothed})
        best = min(best, smoothed)
        if not np.isfinite(loss) or smoothed > stop_factor * best:
            break
    return pd.DataFrame(rows)


class Runs:
    """The results of one variant trained over several seeds (what `run` returns).

    Attributes:
        name: the variant's name.
        histories: DataFrame with columns "seed", "epoch" and every logged
            metric, one row per seed and epoch.
        scores: DataFrame indexed by seed: "test_accuracy",
            "test_crossentropy", the last epoch's "train_accuracy" and
            "val_accuracy", and "seconds" of training.
        models: the trained models, by seed, when `run(keep_models=True)`.
    """

    def __init__(self, name, histories, scores, models=None):
        self.name = name
        self.histories = histories
        self.scores = scores
        self.models = models or {}

    def __repr__(self):
        return f"Runs({self.name!r}, seeds={list(self.scores.index)})"

    def mean(self, metric="test_accuracy"):
        return float(self.scores[metric].mean())

    def curve(self, metric="val_accuracy"):
        """Mean and standard deviation over seeds of `metric`, per epoch."""
        return self.histories.groupby("epoch")[metric].agg(["mean", "std"])


def _copy_state(source, target, reset_optimizer=False):
    """Copies every variable of `source` into `target`, its twin; False (nothing copied) if they differ.

    The variables are the weights, the BatchNormalization statistics and the
    states of the random generators. With `reset_optimizer`, `target`'s
    optimizer state (step counter, momentum) goes back to zero, its state
    before the first step: training `target` then computes what training
    `source` would, without tracing and compiling the training step again
    (seconds to tens of seconds per model on a CPU).
    """
    if len(source.variables) != len(target.variables) or any(
        tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype for a, b in zip(source.variables, target.variables)
    ):
        return False
    if reset_optimizer:
        optimizer = target.optimizer
        inner = optimizer.optimizers if isinstance(optimizer, keras.optimizers.MultiOptimizer) else [optimizer]
        if any(o.use_ema for o in inner):  # their moving averages do not start at zero
            return False
        for variable in optimizer.variables:
            variable.assign(keras.ops.zeros(variable.shape, variable.dtype))
    for variable, value in zip(target.variables, source.variables):
        variable.assign(value.value)
    return True


def run(build, splits, recipe, seeds=(0, 1, 2), name=None, keep_models=False, verbose=0,
        loss_weights=None):
    """Trains a fresh model per seed with `recipe` and scores it on the test set.

    For every seed: `keras.utils.set_random_seed(seed)` (without
    TensorFlow's global seed, which Keras's random numbers do not use and
    whose change would re-trace compiled functions), `build()` builds
    the network, `with_standardization` puts the training set's
    standardisation in front of it (unless `recipe.standardize` is False), `train` trains it (batches drawn with the
    same seed), and the test set is scored once. Two variants run with the
    same seeds therefore share their batches (and their initial weights when
    their architectures match): a paired comparison (`compare`). The seeds
    after the first train the first seed's compiled model, given the fresh
    model's initial state and a reset optimizer: the same computation,
    without tracing the training step anew (on PyTorch, Dropout layers
    without a seed draw their masks from torch's global generator, so those
    masks differ from a fresh model's). Kept models are uncompiled copies
    with the trained weights (`predict` works, `evaluate` needs `compile`).

    Args:
        build: a function of no arguments returning a `keras.Model` (class
            probabilities out, standardised images in), or a pair
            `(training_model, inference_model)`: the first is trained (with
            `loss_weights`), the second scored (GoogLeNet's auxiliary heads).
        splits: a `Splits` (`load_splits`).
        recipe: a `Recipe`.
        seeds: the seeds, one run each: non-negative ints (not None: the runs
            are recorded, and paired, by seed).
        name: the variant's name (default: the first model's name).
        keep_models: whether to keep the trained models in `Runs.models`
            (the inference models, for pairs).
        verbose: Keras's `fit` verbosity.
        loss_weights: one weight per output of a training model with several
            outputs.

    Returns:
        A `Runs`.
    """
    if not callable(build):
        raise TypeError(f"`build` must be a function returning a keras.Model; received {build!r}.")
    if not isinstance(splits, Splits):
        raise TypeError(f"`splits` must be a Splits (see load_splits); received {type(splits).__name__}.")
    seeds = [check_seed(seed, "seeds", allow_none=False) for seed in seeds]
    if not seeds:
        raise ValueError("`seeds` must name at least one seed.")
    (x_train, y_train), validation, (x_test, y_test) = splits
    histories, rows, models = [], [], {}
    compiled = None  # the first seed's trained (model, scored), reused by the next seeds
    for seed in seeds:
        set_random_seed_keeping_traces(seed)
        network = build()
        pair = isinstance(network, (tuple, list))
        if not (isinstance(network, keras.Model) or pair):
            raise TypeError(f"`build()` must return a keras.Model or a pair of them; received {type(network).__name__}.")
        name = name or (network[1] if pair else network).name
        model = with_standardization(network, x_train, standardize=recipe.standardize)
        model, scored = model if pair else (model, model)
        twin = (model, scored)
        if compiled is not None and _copy_state(model, compiled[0], reset_optimizer=True):
            model, scored = compiled
        start = time.perf_counter()
        history = train(model, recipe, (x_train, y_train), validation, seed=seed, verbose=verbose,
                        loss_weights=loss_weights)
        seconds = time.perf_counter() - start
        test = evaluate(scored, x_test, y_test)
        histories.append(history.reset_index().assign(seed=seed))
        rows.append({
            "seed": seed,
            "test_accuracy": test["accuracy"],
            "test_crossentropy": test["crossentropy"],
            "train_accuracy": float(history["accuracy"].iloc[-1]),
            "val_accuracy": float(history["val_accuracy"].iloc[-1]) if "val_accuracy" in history else np.nan,
            "seconds": seconds,
        })
        if keep_models:
            if twin[0] is model:
                # The first seed's model is the compiled one, which the next seeds train on.
                kept = keras.models.clone_model(scored)
                kept.set_weights(scored.get_weights())
                models[seed] = kept
            else:
                # The fresh (uncompiled) model of this seed, given the trained state.
                _copy_state(model, twin[0])
                models[seed] = twin[1]
        compiled = (model, scored)
    history_table = pd.concat(histories, ignore_index=True)
    history_table = history_table[["seed", "epoch"] + [c for c in history_table if c not in ("seed", "epoch")]]
    return Runs(name, history_table, pd.DataFrame(rows).set_index("seed"), models)


__all__ = [
    "AugmentedBatches",
    "Comparison",
    "EpochTimer",
    "KERAS_MOMENTUM",
    "Recipe",
    "Runs",
    "Splits",
    "apply_batchnorm_momentum",
    "compare",
    "compile_with",
    "evaluate",
    "channel_statistics",
    "learning_rate_range_test",
    "load_splits",
    "paired_comparison",
    "run",
    "split_validation",
    "standardization",
    "summarize",
    "train",
    "with_standardization",
]
