"""airbench94's training recipe in Keras 3: CIFAR-10 to 94 % in under ten epochs.

Keller Jordan's airbench (arXiv 2404.00498; repository KellerJordan/cifar10-airbench)
trains a small network to 94 % CIFAR-10 test accuracy in 3.83 seconds on an A100
(`legacy/airbench94.py`, PyTorch). This module ports that recipe to Keras 3,
piece by piece, each piece something the course teaches:

- the network, `course_lib.models.airbench94`: a frozen patch-whitening first
  layer (`course_lib.layers.PatchWhitening`), three conv-pool-BN-GELU groups,
  Dirac initialisation, BatchNormalization without scale and momentum 0.6,
  logits scaled by 1/9;
- `SpeedrunRecipe`, a `course_lib.experiment.Recipe` with airbench's choices:
  batches of 1,024, Nesterov SGD, a linear warm-up then linear decay
  (`LinearWarmupDecay`), label smoothing 0.2, flip and 2-pixel translation
  with the alternating flip, the BatchNormalization biases trained with a
  64 times larger learning rate and the whitening bias only for the first 3
  epochs (both through `keras.optimizers.MultiOptimizer`), and Lookahead
  (`course_lib.lookahead.Lookahead`);
- `build_model`, the network behind the standardisation, its whitening
  fitted on training images (`fit_whitening`); `build_network`, the same
  without the standardisation, for `course_lib.experiment.run`;
- `tta_views`: airbench's 6 test-time views and their weights, for
  `course_lib.tta.TTAModel`;
- `ABLATION`: airbench's ablation, the recipe built up one trick at a time
  (`AblationStep`), which `scripts/speedrun_ablation.py` trains and
  `load_ablation` reads back, its files' hashes checked.

Where the port differs from airbench94, the docstrings say so. The main
differences: whole epochs (10, not 9.9); Keras's weight decay is decoupled
and outside the momentum (converted by `keras_hyperparameters` to the same
steady-state decay); the views of test-time augmentation average posteriors
(after the softmax), not logits; the batches are made in NumPy
(`course_lib.experiment.AugmentedBatches`), or, with its `on_device=True`, by
`keras.ops` on the device, but from random choices drawn in NumPy, not on the
device as airbench draws them.
"""

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from course_lib._checks import check_array, check_number, check_positive_int, check_seed
from course_lib._keras_compat import flatten_layers
from course_lib.data import sha256_of
from course_lib.experiment import Recipe, standardization, with_standardization
from course_lib.layers.whitening import PatchWhitening
from course_lib.lookahead import Lookahead
from course_lib.models.airbench import airbench94

__all__ = [
    "AIRBENCH94",
    "keras_hyperparameters",
    "LinearWarmupDecay",
    "SpeedrunRecipe",
    "AblationStep",
    "ABLATION",
    "build_network",
    "build_model",
    "fit_whitening",
    "tta_views",
    "load_ablation",
]

# airbench94's hyperparameters, in its own "decoupled" units (per 1,024 examples).
AIRBENCH94 = {
    "train_epochs": 9.9,
    "batch_size": 1024,
    "lr": 11.5,
    "momentum": 0.85,
    "weight_decay": 0.0153,
    "bias_scaler": 64.0,
    "label_smoothing": 0.2,
    "whiten_bias_epochs": 3,
    "translate": 2,
    "widths": (64, 256, 256),
    "batchnorm_momentum": 0.6,
    "scaling_factor": 1 / 9,
}


def keras_hyperparameters(lr, momentum, weight_decay, batch_size):
    """airbench's decoupled learning rate and weight decay, as Keras's SGD takes them.

    airbench sums the loss over the batch and sets PyTorch's SGD to
    `lr / (1024 * (1 + 1 / (1 - momentum)))`, so that a step's size does not
    depend on the momentum, and its weight decay, added to the gradient, to
    `weight_decay * batch_size / (1024 * (1 + 1 / (1 - momentum)))` per step.
    Keras averages the loss over the batch (so its rate is `batch_size` times
    larger) and applies its weight decay outside the momentum as
    `w -= learning_rate * weight_decay * w` (so it must be `1 / (1 -
    momentum)` times larger to match the decay that passes through the
    momentum, at steady state).

    Returns:
        `(learning_rate, weight_decay)` for `keras.optimizers.SGD`.

    Example:

    >>> [round(v, 5) for v in keras_hyperparameters(11.5, 0.85, 0.0153, 1024)]
    [1.5, 0.00887]
    """
    momentum = check_number(momentum, "momentum", 0, 1, high_open=True)
    scale = 1024 * (1 + 1 / (1 - momentum))
    learning_rate = check_number(lr, "lr", low=0, low_open=True) * check_positive_int(batch_size, "batch_size") / scale
    decay_per_step = check_number(weight_decay, "weight_decay", low=0) * batch_size / scale / (1 - momentum)
    return learning_rate, decay_per_step / learning_rate


@keras.saving.register_keras_serializable(package="course_lib")
class LinearWarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """airbench's learning rate: linear from `start` to 1 over the warm-up, then linear to `end`.

    `rate(step) = peak * factor(step)`, where `factor` rises linearly from
    `start` to 1 over the first `warmup_steps` steps, then falls linearly to
    `end` at `total_steps`. After `stop_step` (if given) the rate is 0: the
    variables that follow this schedule are frozen from then on (airbench's
    whitening bias, after 3 epochs).

    Args:
        peak: the largest learning rate.
        total_steps: the steps of the whole run.
        warmup_steps: the steps of the warm-up.
        start, end: the factors of `peak` at step 0 and at `total_steps`.
        stop_step: None, or the step from which the rate is 0.

    Example:

    >>> schedule = LinearWarmupDecay(1.0, total_steps=10, warmup_steps=2)
    >>> [round(float(schedule(s)), 3) for s in (0, 1, 2, 6, 10)]
    [0.2, 0.6, 1.0, 0.535, 0.07]
    """

    def __init__(self, peak, total_steps, warmup_steps, start=0.2, end=0.07, stop_step=None):
        self.peak = check_number(peak, "peak", low=0)
        self.total_steps = check_positive_int(total_steps, "total_steps")
        self.warmup_steps = check_positive_int(warmup_steps, "warmup_steps", allow_zero=True)
        if self.warmup_steps >= self.total_steps:
            raise ValueError(
                f"`warmup_steps` must be smaller than `total_steps`; received {warmup_steps} and {total_steps}."
            )
        self.start = check_number(start, "start", low=0)
        self.end = check_number(end, "end", low=0)
        self.stop_step = check_positive_int(stop_step, "stop_step", allow_none=True, allow_zero=True)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warmup = max(self.warmup_steps, 1)
        rising = self.start + (1 - self.start) * step / warmup
        falling = 1 + (self.end - 1) * (step - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        factor = keras.ops.where(step < self.warmup_steps, rising, keras.ops.maximum(falling, self.end))
        if self.stop_step is not None:
            factor = keras.ops.where(step < self.stop_step, factor, 0.0)
        return self.peak * factor

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps,
                "start": self.start, "end": self.end, "stop_step": self.stop_step}


_DEFAULT_RATE, _DEFAULT_DECAY = keras_hyperparameters(
    AIRBENCH94["lr"], AIRBENCH94["momentum"], AIRBENCH94["weight_decay"], AIRBENCH94["batch_size"]
)


@dataclasses.dataclass(frozen=True)
class SpeedrunRecipe(Recipe):
    """airbench94's recipe as a `course_lib.experiment.Recipe` (Keras units).

    The fields of `Recipe` keep their meaning, with airbench's values:
    batches of 1,024, a peak learning rate of 1.5 and a decoupled weight
    decay of 0.00887 (airbench's 11.5 and 0.0153 converted by
    `keras_hyperparameters`), Nesterov momentum 0.85, label smoothing 0.2,
    the alternating flip and 2-pixel translations, the BatchNormalization
    momentum left as the network sets it (0.6), and the schedule "linear":
    `LinearWarmupDecay` with a warm-up of `warmup_epochs` (23 % of the run,
    as airbench) from 0.2 times the peak, then a decay to 0.07 times it.
    `with_epochs` changes the length and scales the warm-up with it.

    Attributes:
        bias_learning_rate_scale: the learning rate of BatchNormalization
            biases is this many times the others' (airbench: 64), their
            weight decay as large as the others'. Without a scale to learn
            (BatchNormalization with `scale=False`), the biases set each
            unit's threshold; the large rate lets them follow the weights.
        whiten_bias_epochs: epochs during which the bias of the
            `PatchWhitening` layer trains, frozen afterwards (airbench: 3);
            None: it trains all along, with the other weights.
        lookahead: whether to train with `Lookahead` (every 5 steps, decay
            growing to 0.95 ** 5 as the cube of the progress).

    Example:

    >>> recipe = SpeedrunRecipe()
    >>> recipe.batch_size, round(recipe.learning_rate, 3), recipe.flip
    (1024, 1.5, 'alternating')
    """

    SCHEDULES = ("linear",)

    epochs: int = 10
    batch_size: int = AIRBENCH94["batch_size"]
    learning_rate: float = _DEFAULT_RATE
    warmup_epochs: float = 2.3
    momentum: float = AIRBENCH94["momentum"]
    weight_decay: float = _DEFAULT_DECAY
    label_smoothing: float = AIRBENCH94["label_smoothing"]
    flip: object = "alternating"
    translate: int = AIRBENCH94["translate"]
    batchnorm_momentum: object = None
    schedule: str = "linear"
    bias_learning_rate_scale: float = AIRBENCH94["bias_scaler"]
    whiten_bias_epochs: int = AIRBENCH94["whiten_bias_epochs"]
    lookahead: bool = True

    def __post_init__(self):
        super().__post_init__()
        check_number(self.bias_learning_rate_scale, "bias_learning_rate_scale", low=0, low_open=True)
        check_positive_int(self.whiten_bias_epochs, "whiten_bias_epochs", allow_zero=True, allow_none=True)

    def with_epochs(self, epochs):
        """A copy trained for `epochs` epochs, its warm-up still 23 % of the run."""
        return self.replace(epochs=epochs, warmup_epochs=round(0.23 * epochs, 9))

    def learning_rate_schedule(self, steps_per_epoch, scale=1.0, stop_epoch=None):
        """`LinearWarmupDecay` of `scale` times the peak rate, 0 from `stop_epoch` on if given."""
        check_positive_int(steps_per_epoch, "steps_per_epoch")
        total = self.epochs * steps_per_epoch
        return LinearWarmupDecay(
            self.learning_rate * scale, total, min(total - 1, int(self.warmup_epochs * steps_per_epoch)),
            stop_step=None if stop_epoch is None else stop_epoch * steps_per_epoch,
        )

    def optimizer(self, steps_per_epoch, model=None):
        """Nesterov SGD; with `model`, a `MultiOptimizer` giving the biases their own rates.

        The BatchNormalization biases (`beta`) get `bias_learning_rate_scale`
        times the learning rate and a weight decay divided by it (the same
        decay per step). The bias of every `PatchWhitening` layer stops
        training after `whiten_bias_epochs`: it gets its own SGD without
        momentum, at `1 / (1 - momentum)` times the rate (the same step at
        steady state), whose rate falls to 0 then; with momentum, Keras's SGD
        would carry it on with its remaining velocity. (`Lookahead` still
        moves it toward its slow copy, as in airbench, whose lookahead
        averages every weight.)
        """

        def sgd(scale=1.0, stop_epoch=None, momentum=self.momentum):
            return keras.optimizers.SGD(
                self.learning_rate_schedule(steps_per_epoch, scale, stop_epoch), momentum=momentum,
                nesterov=momentum > 0, weight_decay=self.weight_decay / scale or None,
            )

        default = sgd()
        if model is None:
            return default
        layers = flatten_layers(model)
        biases = [layer.beta for layer in layers if isinstance(layer, keras.layers.BatchNormalization) and layer.center]
        whitening = [layer.bias for layer in layers if isinstance(layer, PatchWhitening)]
        if self.whiten_bias_epochs is None:
            whitening = []  # trained all along by the default optimizer
        mapping = {}
        if biases:
            scaled = sgd(self.bias_learning_rate_scale)
            mapping.update({variable.path: scaled for variable in biases})
        if whitening:
            # Without momentum, a rate of 0 stops the bias at once (Keras's SGD would carry it on with
            # its velocity); 1 / (1 - momentum) times the rate gives the same steady-state step.
            frozen_later = sgd(1 / (1 - self.momentum), stop_epoch=self.whiten_bias_epochs, momentum=0.0)
            mapping.update({variable.path: frozen_later for variable in whitening})
        if not mapping:
            return default
        return keras.optimizers.MultiOptimizer(keras.optimizers.OptimizerMap(default, mapping))

    def callbacks(self, steps_per_epoch, initial_epoch=0):
        """`[Lookahead]` over the whole run when `lookahead` is set."""
        if not self.lookahead:
            return []
        lookahead = Lookahead(total_steps=self.epochs * steps_per_epoch)
        lookahead.step = initial_epoch * steps_per_epoch
        return [lookahead]


@dataclasses.dataclass(frozen=True)
class AblationStep:
    """One step of airbench's ablation: the recipe with the tricks added so far.

    Attributes:
        name: the step's short name.
        trick: the trick this step adds to the previous one, in words.
        airbench_epochs: epochs airbench needs to reach 94 % with the tricks
            up to this one (KellerJordan/cifar10-zoo,
            `airbench_ablations/README.md`, on the original CIFAR-10 arrays).
        network: arguments of `course_lib.models.airbench94` that differ
            from airbench94's.
        recipe: fields of `SpeedrunRecipe` that differ from airbench94's.
        tta: "flip" (the image and its mirror image) or "airbench"
            (`tta_views`, six views).

    Example:

    >>> step = ABLATION[2]
    >>> step.name, step.network, step.speedrun_recipe(epochs=4).lookahead
    ('dirac', {'batchnorm_momentum': 0.9}, False)
    """

    name: str
    trick: str
    airbench_epochs: float
    network: dict
    recipe: dict
    tta: str

    def build_network(self, x_train, widths=AIRBENCH94["widths"], whitening_images=5000):
        """This step's network (standardised images in), its whitening fitted; see `build_network`."""
        return build_network(x_train, widths, whitening_images, **self.network)

    def speedrun_recipe(self, epochs=10):
        """This step's `SpeedrunRecipe`, trained for `epochs` epochs."""
        return SpeedrunRecipe().with_epochs(epochs).replace(**self.recipe)


# Before lookahead, airbench's ablation scripts keep PyTorch's BatchNormalization momentum 0.1 (Keras's
# 0.9); airbench notes that lookahead helps only with the faster momentum (0.6), so both come together.
_SLOW_STATISTICS = {"batchnorm_momentum": 0.9}
_NO_TRICKS = {"bias_learning_rate_scale": 1.0, "whiten_bias_epochs": None, "lookahead": False, "flip": True}

# airbench's ablation, one trick at a time, each step keeping the previous ones. The differences from
# airbench's scripts: the learning rate and its schedule are airbench94's at every step (the scripts
# also tune them along the way), and the baseline's first layer has a bias from the start.
ABLATION = (
    AblationStep("baseline", "a trained 2x2 first layer with BatchNormalization, standard initialisation, "
                 "random flips, the image and its mirror image at test time", 35.0,
                 {"whitening": False, "dirac": False, **_SLOW_STATISTICS}, _NO_TRICKS, "flip"),
    AblationStep("whitening", "the frozen patch-whitening first layer", 21.0,
                 {"dirac": False, **_SLOW_STATISTICS}, _NO_TRICKS, "flip"),
    AblationStep("dirac", "Dirac (identity) initialisation of the convolutions", 18.0,
                 _SLOW_STATISTICS, _NO_TRICKS, "flip"),
    AblationStep("bias_rate", "a 64 times larger learning rate on the BatchNormalization biases", 13.5,
                 _SLOW_STATISTICS, {**_NO_TRICKS, "bias_learning_rate_scale": AIRBENCH94["bias_scaler"]}, "flip"),
    AblationStep("frozen_bias", "the whitening bias frozen after 3 epochs", 13.5,
                 _SLOW_STATISTICS, {"lookahead": False, "flip": True}, "flip"),
    AblationStep("lookahead", "lookahead, with BatchNormalization momentum 0.6", 12.0, {}, {"flip": True}, "flip"),
    AblationStep("tta", "six test-time views instead of two", 10.8, {}, {"flip": True}, "airbench"),
    AblationStep("alternating_flip", "the alternating flip: airbench94", 9.9, {}, {}, "airbench"),
)


def build_network(x_train, widths=AIRBENCH94["widths"], whitening_images=5000, **kwargs):
    """airbench94's network taking standardised images, its whitening fitted on `x_train`.

    For `course_lib.experiment.run`, which puts the standardisation in front:
    the whitening filters are fitted on the first `whitening_images` of
    `x_train` standardised as `course_lib.experiment.standardization(x_train)`
    does it.

    Args:
        x_train: training images as stored (uint8, 0-255).
        widths: filters of the three groups.
        whitening_images: how many of `x_train` fit the whitening filters.
        **kwargs: more arguments of `course_lib.models.airbench94`.

    Returns:
        A `keras.Model` taking standardised images.
    """
    whitening_images = check_positive_int(whitening_images, "whitening_images")
    x_train = check_array(x_train, "x_train", ndim=4, shape="(N, rows, cols, channels)", finite=True)
    network = airbench94(input_shape=tuple(np.shape(x_train)[1:]), widths=widths, **kwargs)
    layers = [layer for layer in flatten_layers(network) if isinstance(layer, PatchWhitening)]
    if layers:
        standardized = standardization(x_train)(np.asarray(x_train[:whitening_images], "float32"))
        for layer in layers:
            layer.adapt(keras.ops.convert_to_numpy(standardized))
    return network


def build_model(x_train, widths=AIRBENCH94["widths"], whitening_images=5000, seed=0, **kwargs):
    """airbench94's network behind a standardisation layer, its whitening fitted on `x_train`.

    Args:
        x_train: training images as stored (uint8, 0-255), for the
            standardisation's statistics and the whitening filters.
        widths: filters of the three groups.
        whitening_images: how many of `x_train` (the first ones) fit the
            whitening filters (airbench: 5,000), see `fit_whitening`.
        seed: None or a non-negative int, the seed of the initial weights.
        **kwargs: more arguments of `course_lib.models.airbench94`.

    Returns:
        A `keras.Model` taking images as stored and returning class
        probabilities.

    Example:

    >>> x = np.random.default_rng(0).integers(0, 256, size=(32, 32, 32, 3)).astype("uint8")
    >>> build_model(x, widths=(8, 16, 16)).output_shape
    (None, 10)
    """
    seed = check_seed(seed)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    return with_standardization(build_network(x_train, widths, whitening_images, **kwargs), x_train)


def fit_whitening(model, x_train, images=5000):
    """Fits every `PatchWhitening` layer of a standardised classifier on training images.

    Args:
        model: a model whose first layer after the input is the
            standardisation (named "standardize") and whose whitening layers
            come right after it (as `build_model` and
            `course_lib.zoo.build_classifier` build airbench94).
        x_train: training images as stored.
        images: how many of them (the first ones) fit the filters.

    Returns:
        The number of whitening layers fitted (0 for a network without one).
    """
    images = check_positive_int(images, "images")
    layers = [layer for layer in flatten_layers(model) if isinstance(layer, PatchWhitening)]
    if layers:
        standardized = model.get_layer("standardize")(np.asarray(x_train[:images], "float32"))
        for layer in layers:
            layer.adapt(keras.ops.convert_to_numpy(standardized))
    return len(layers)


def tta_views():
    """airbench's 6 test-time views and their weights (`tta_level=2`).

    The image and its mirror image (weight 1/4 each), then the image
    shifted by one pixel down-right and up-left, each also mirrored (1/8
    each), the border filled by reflection.

    Returns:
        `(views, weights)` for `course_lib.tta.TTAModel(model, views,
        view_weights=weights)`.

    Example:

    >>> views, weights = tta_views()
    >>> len(views), sum(weights)
    (6, 1.0)
    """
    from course_lib.tta import horizontal_flip, identity, shift

    down_right, up_left = shift(1, 1), shift(-1, -1)

    def mirrored(view):
        def view_then_flip(images):
            return horizontal_flip(view(images))

        view_then_flip.__name__ = f"{view.__name__}_flip"
        return view_then_flip

    views = [identity, horizontal_flip, down_right, mirrored(down_right), up_left, mirrored(up_left)]
    return views, [0.25, 0.25, 0.125, 0.125, 0.125, 0.125]


def load_ablation(folder=None):
    """The recorded ablation of `scripts/speedrun_ablation.py`, its files checked against their SHA-256.

    Args:
        folder: where `ablation.json`, `ablation.csv` and
            `ablation.history.csv` are (default: the course's
            `data/speedrun/`).

    Returns:
        `(scores, histories, record)`: the per-step, per-seed test scores
        and the per-epoch learning curves (pandas DataFrames), and the
        record (a dict: command, sizes, seeds, versions, device, seconds).

    Raises:
        FileNotFoundError: a file is missing, or (with `folder=None`) there
            is no `data/speedrun/` folder beside `course_lib` (a
            pip-installed package without a clone of the course).
        ValueError: a table's hash is not the recorded one.
    """
    if folder is None:
        folder = Path(__file__).resolve().parent.parent / "data" / "speedrun"
        if not folder.is_dir():
            raise FileNotFoundError(
                "The speedrun's recorded ablation is not here: it lives in the course repository's "
                f"data/speedrun/ folder, beside course_lib, and {folder} does not exist. A pip-installed "
                f"course_lib ({Path(__file__).resolve().parent}) carries the code, not the recorded runs: clone "
                "the course repository and work in the clone (`make lab`, or `pip install -e .` there), or pass "
                "`folder=` the folder that holds ablation.json, ablation.csv and ablation.history.csv."
            )
    folder = Path(folder)
    paths = {name: folder / name for name in ("ablation.json", "ablation.csv", "ablation.history.csv")}
    for path in paths.values():
        if not path.is_file():
            raise FileNotFoundError(
                f"{path.name} is missing from {folder}: restore it with git, or record the ablation again "
                f"with `python scripts/speedrun_ablation.py`."
            )
    record = json.loads(paths["ablation.json"].read_text())
    for name in ("ablation.csv", "ablation.history.csv"):
        actual = sha256_of(paths[name])
        if actual != record["sha256"][name]:
            raise ValueError(
                f"{name} has SHA-256 {actual}, not the recorded {record['sha256'][name]}: the file is damaged "
                f"or was changed without re-recording. Restore it with git, or run "
                f"`python scripts/speedrun_ablation.py` again."
            )
    return pd.read_csv(paths["ablation.csv"]), pd.read_csv(paths["ablation.history.csv"]), record
