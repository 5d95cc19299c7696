"""The learning-rate range test (Smith, 2017): a diagnostic for choosing the learning rate.

One short run in which the learning rate grows geometrically, one batch per
step, draws the training loss against the rate: flat where the rate is too
small to learn, falling where it trains, exploding where it is too large.
`course_lib.experiment` re-exports `learning_rate_range_test`.
"""

import keras
import numpy as np
import pandas as pd

from course_lib._checks import check_model, check_positive_int, check_seed, class_indices
from course_lib.runtime import default_jit_compile

__all__ = ["learning_rate_range_test"]


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

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    >>> x = np.random.default_rng(0).normal(size=(32, 4)); y = np.arange(32) % 2
    >>> table = learning_rate_range_test(model, x, y, min_lr=0.01, max_lr=1.0, steps=3, batch_size=8)
    >>> list(table.columns), table["learning_rate"].round(3).tolist()
    (['learning_rate', 'loss', 'smoothed_loss'], [0.01, 0.1, 1.0])
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
    # The optimizer's variables made now, not while the first step is traced (a second tracing on
    # TensorFlow; see `_create_variables_before_tracing` in `course_lib.experiment`).
    model.optimizer.build(model.trainable_variables)
    rates = min_lr * (max_lr / min_lr) ** (np.arange(steps) / max(steps - 1, 1))
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(-(-steps * batch_size // len(x)))])
    rows, average, best = [], 0.0, np.inf
    for step, rate in enumerate(rates):
        optimizer.learning_rate.assign(float(rate))
        chosen = order[step * batch_size : (step + 1) * batch_size]
        loss = float(model.train_on_batch(x[chosen], np.eye(classes, dtype="float32")[y[chosen]]))
        average = 0.9 * average + 0.1 * loss
        smoothed = average / (1 - 0.9 ** (step + 1))
        rows.append({"learning_rate": float(rate), "loss": loss, "smoothed_loss": smoothed})
        best = min(best, smoothed)
        if not np.isfinite(loss) or smoothed > stop_factor * best:
            break
    return pd.DataFrame(rows)
