"""The course's experiment harness: one training recipe, several seeds, paired comparisons.

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
- `train` trains one model with a recipe and returns its per-epoch history;
  `evaluate` scores a model on a test set.
- `run` trains a model-building function over several seeds and returns a
  `Runs`: per-epoch histories and test scores, one row per seed.
- `summarize`, `compare` and `paired_comparison` tabulate runs over seeds and
  compare two variants seed by seed: the mean paired difference with its
  95 % interval, a "clear effect" when the interval excludes 0, decided on
  validation accuracy.
- `learning_rate_range_test` draws the training loss against a growing
  learning rate: a diagnostic for choosing the rate.

The splits (`course_lib.data`), the training batches (`course_lib.batches`),
the standardisation (`course_lib.standardization`), the comparisons
(`course_lib.comparison`) and the range test (`course_lib.learning_rate_range`)
live in their own modules; this one re-exports their names, so that a notebook
imports the harness from one place.
"""

import dataclasses
import time

import keras
import numpy as np
import pandas as pd

from course_lib._checks import check_number, check_positive_int, check_seed, class_indices
from course_lib._keras_compat import set_random_seed_keeping_traces
from course_lib.batches import AugmentedBatches
from course_lib.batchnorm import (
    KERAS_MOMENTUM,
    momentum_for_steps,
    recompute_batchnorm_statistics,
    set_batchnorm_momentum,
)
from course_lib.comparison import Comparison, compare, paired_comparison, summarize
from course_lib.data import Splits, load_splits, split_validation
from course_lib.learning_rate_range import learning_rate_range_test
from course_lib.runtime import default_jit_compile
from course_lib.standardization import channel_statistics, standardization, with_standardization

# Batch size of every evaluation (validation after each epoch, test scores). Keras's default,
# 32, adds per-batch overhead: a small GoogLeNet's epoch with 1,000 validation images took
# 1.3 s longer on a 2-core CPU. Only the scores' rounding depends on it.
EVALUATION_BATCH_SIZE = 256


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
    # Defined here: the recipe, training, evaluation and runs.
    "EpochTimer",
    "Recipe",
    "Runs",
    "apply_batchnorm_momentum",
    "compile_with",
    "evaluate",
    "run",
    "train",
    # Re-exported from the modules named in the module's docstring.
    "AugmentedBatches",
    "Comparison",
    "KERAS_MOMENTUM",
    "Splits",
    "channel_statistics",
    "compare",
    "learning_rate_range_test",
    "load_splits",
    "paired_comparison",
    "split_validation",
    "standardization",
    "summarize",
    "with_standardization",
]
