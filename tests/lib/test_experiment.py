"""Tests of course_lib.experiment (the harness) on the backend named by KERAS_BACKEND."""

import keras
import numpy as np
import pandas as pd
import pytest

from course_lib import batches, batchnorm, comparison, data, experiment, learning_rate_range, standardization
from course_lib.experiment import Recipe


def test_the_harness_re_exports_the_names_of_the_modules_it_gathers():
    homes = {
        data: ["Splits", "split_validation", "load_splits"],
        batches: ["AugmentedBatches"],
        standardization: ["channel_statistics", "standardization", "with_standardization"],
        comparison: ["Comparison", "compare", "paired_comparison", "summarize"],
        batchnorm: ["KERAS_MOMENTUM"],
        learning_rate_range: ["learning_rate_range_test"],
    }
    for module, names in homes.items():
        for name in names:
            assert name in experiment.__all__ and getattr(experiment, name) is getattr(module, name), name
    assert isinstance(Recipe(batch_size=4).batches(np.zeros((8, 8, 8, 1)), np.arange(8) % 2, 2), batches.AugmentedBatches)


def test_learning_rate_warms_up_then_decays_to_zero():
    recipe = Recipe(epochs=4, learning_rate=0.2, warmup_epochs=1.0)
    schedule = recipe.learning_rate_schedule(steps_per_epoch=10)
    rates = [float(keras.ops.convert_to_numpy(schedule(step))) for step in range(41)]
    assert rates[0] == pytest.approx(0.02)
    assert rates[10] == pytest.approx(0.2)
    assert all(a <= b + 1e-9 for a, b in zip(rates[:10], rates[1:11]))
    assert all(a >= b - 1e-9 for a, b in zip(rates[10:40], rates[11:41]))
    assert rates[40] == pytest.approx(0.0, abs=1e-7)
    constant = recipe.replace(schedule="constant").learning_rate_schedule(steps_per_epoch=10)
    rates = [float(keras.ops.convert_to_numpy(constant(step))) for step in range(41)]
    assert rates[0] == pytest.approx(0.02) and all(r == pytest.approx(0.2) for r in rates[10:])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(epochs=0), "epochs"),
        (dict(learning_rate=0), "learning_rate"),
        (dict(warmup_epochs=5, epochs=2), "warmup_epochs"),
        (dict(batchnorm_momentum=1.0), "batchnorm_momentum"),
        (dict(label_smoothing=-0.1), "label_smoothing"),
        (dict(schedule="linear"), "schedule"),
    ],
)
def test_recipe_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Recipe(**kwargs)


def _toy_splits(n=96, seed=0):
    """Two classes of 8x8 images that differ in brightness: learnable in a few steps."""
    rng = np.random.default_rng(seed)

    def part(count):
        y = rng.integers(0, 2, count)
        x = rng.integers(0, 120, (count, 8, 8, 3)) + 100 * y[:, None, None, None]
        return x.astype("uint8"), y

    return experiment.Splits(part(n), part(32), part(32))


def _tiny_network(dropout=0.0):
    return keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.GlobalAveragePooling2D(),
        *([keras.layers.Dropout(dropout)] if dropout else []),
        keras.layers.Dense(2, activation="softmax"),
    ], name="tiny")


def test_train_returns_one_row_per_epoch_and_sets_the_batchnorm_momentum():
    splits = _toy_splits()
    model = experiment.with_standardization(_tiny_network(), splits.train[0])
    recipe = Recipe(epochs=2, batch_size=32, learning_rate=0.05, translate=1)
    history = experiment.train(model, recipe, splits.train, splits.validation)
    assert list(history.index) == [1, 2] and history.index.name == "epoch"
    for column in ("loss", "accuracy", "crossentropy", "val_accuracy", "val_crossentropy",
                   "seconds", "learning_rate"):
        assert column in history
    bn = [layer for layer in model.layers[-1].layers if isinstance(layer, keras.layers.BatchNormalization)]
    # 3 batches x 2 epochs = 6 steps: the momentum forgets the initial statistics.
    assert bn[0].momentum == pytest.approx(0.01 ** (1 / 6))


def test_training_on_batches_made_on_the_device_computes_what_numpy_batches_do():
    splits = _toy_splits()
    recipe = Recipe(epochs=2, batch_size=32, learning_rate=0.05, translate=1)
    histories = []
    for on_device in (False, True):
        keras.utils.set_random_seed(0)
        model = experiment.with_standardization(_tiny_network(), splits.train[0])
        histories.append(experiment.train(model, recipe, splits.train, splits.validation, seed=3,
                                          batches_on_device=on_device))
    columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
    np.testing.assert_allclose(histories[1][columns], histories[0][columns], rtol=1e-5, atol=1e-6)


def test_validation_runs_in_batches_of_the_evaluation_batch_size():
    # Keras's default (32) would spend a small network's epoch on per-batch overhead.
    splits = _toy_splits(n=64)
    x_val, y_val = (np.concatenate([part] * 10) for part in splits.validation)  # 320 images
    model = experiment.with_standardization(_tiny_network(), splits.train[0])
    batches = []

    class ValidationBatches(keras.callbacks.Callback):
        def on_test_batch_begin(self, batch, logs=None):
            batches.append(batch)

    experiment.train(model, Recipe(epochs=2, batch_size=32), splits.train, (x_val, y_val),
                     callbacks=[ValidationBatches()])
    per_epoch = -(-len(x_val) // experiment.EVALUATION_BATCH_SIZE)
    assert experiment.EVALUATION_BATCH_SIZE == 256 and batches == list(range(per_epoch)) * 2


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="PyTorch runs train_step eagerly, at every step")
def test_the_training_step_is_traced_once():
    # A variable created during the first trace (optimizer slots, a metric named
    # by a string) makes TensorFlow trace the step twice.
    splits = _toy_splits()  # 96 images: three full batches of 32, one input shape
    model = experiment.with_standardization(_tiny_network(), splits.train[0])
    traces = []
    train_step = model.train_step

    def counted_train_step(*args):  # (data), or (state, data) on JAX
        traces.append(args)
        return train_step(*args)

    model.train_step = counted_train_step
    experiment.train(model, Recipe(epochs=2, batch_size=32), splits.train, splits.validation)
    assert len(traces) == 1


def test_compile_with_compiles_the_training_step_with_xla_on_jax_only():
    # On JAX, jit_compile=False runs every operation eagerly (tens of times
    # slower); on TensorFlow the course keeps XLA off (slower for convnets on a CPU).
    model = _tiny_network()
    experiment.compile_with(model, Recipe(epochs=1), steps_per_epoch=1)
    expected = {"tensorflow": False, "jax": True, "torch": False}[keras.backend.backend()]
    assert model.jit_compile is expected


def test_without_standardization_the_pixels_are_divided_by_255():
    splits = _toy_splits()
    model = experiment.with_standardization(_tiny_network(), splits.train[0], standardize=False)
    assert isinstance(model.layers[1], keras.layers.Rescaling)
    result = experiment.run(_tiny_network, splits, Recipe(epochs=1, batch_size=32, standardize=False),
                            seeds=(0,), keep_models=True)
    assert isinstance(result.models[0].layers[1], keras.layers.Rescaling)


def test_recompute_batchnorm_in_the_recipe_rescores_validation():
    splits = _toy_splits()
    model = experiment.with_standardization(_tiny_network(), splits.train[0])
    recipe = Recipe(epochs=1, batch_size=32, batchnorm_momentum=None, recompute_batchnorm=True)
    history = experiment.train(model, recipe, splits.train, splits.validation)
    scores = experiment.evaluate(model, *splits.validation)
    assert history["val_accuracy"].iloc[-1] == pytest.approx(scores["accuracy"], abs=1e-6)


def test_evaluate_counts_correct_answers_and_checks_shapes():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Softmax()])
    x = np.array([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0]], "float32")
    scores = experiment.evaluate(model, x, np.array([0, 1, 1]))
    assert scores["correct"] == 2 and scores["accuracy"] == pytest.approx(2 / 3)
    assert list(scores["predictions"]) == [0, 1, 2]
    assert scores["crossentropy"] > 0


def test_run_summarize_and_compare_over_seeds():
    splits = _toy_splits()
    recipe = Recipe(epochs=2, batch_size=32, learning_rate=0.05, translate=0)
    a = experiment.run(_tiny_network, splits, recipe, seeds=(0, 1), name="a")
    b = experiment.run(_tiny_network, splits, recipe.replace(label_smoothing=0.0), seeds=(0, 1), name="b")
    assert list(a.scores.index) == [0, 1]
    assert set(a.histories["seed"]) == {0, 1} and list(a.histories.columns[:2]) == ["seed", "epoch"]
    assert a.curve("val_accuracy").shape == (2, 2)
    table = experiment.summarize([a, b])
    assert list(table.index) == ["a", "b"]
    assert table.loc["a", "val_accuracy mean"] == pytest.approx(a.scores["val_accuracy"].mean())
    comparison = experiment.compare(a, b)  # decided on validation accuracy by default
    np.testing.assert_allclose(comparison.differences, b.scores["val_accuracy"] - a.scores["val_accuracy"])
    assert "b - a (validation accuracy)" in str(comparison)
    final = experiment.compare(a, b, "test_accuracy")
    np.testing.assert_allclose(final.differences, b.scores["test_accuracy"] - a.scores["test_accuracy"])
    c = experiment.run(_tiny_network, splits, recipe, seeds=(2,), name="c")
    with pytest.raises(ValueError, match="same seeds"):
        experiment.compare(a, c)
    with pytest.raises(TypeError, match="Splits"):
        experiment.run(_tiny_network, tuple(splits), recipe)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_later_seeds_reuse_the_compiled_model_and_compute_what_fresh_models_do(dropout):
    # run() trains the first seed's compiled model for every seed, restarted from the fresh
    # model's state; the reference trains a fresh model per seed, as run() did before.
    if dropout and keras.backend.backend() == "torch":
        pytest.skip("on PyTorch, Dropout without a seed draws its masks from torch's global generator")

    def build():
        return _tiny_network(dropout)

    splits = _toy_splits()
    recipe = Recipe(epochs=2, batch_size=32, learning_rate=0.05, translate=1)
    reused = experiment.run(build, splits, recipe, seeds=(0, 1, 2), keep_models=True)
    columns = ["accuracy", "loss", "val_accuracy", "val_loss", "learning_rate"]
    for seed in (0, 1, 2):
        keras.utils.set_random_seed(seed)
        fresh = experiment.with_standardization(build(), splits.train[0])
        history = experiment.train(fresh, recipe, splits.train, splits.validation, seed=seed)
        np.testing.assert_allclose(reused.histories.loc[reused.histories["seed"] == seed, columns],
                                   history[columns], rtol=1e-5, atol=1e-6)
        test = experiment.evaluate(fresh, *splits.test)
        assert reused.scores.loc[seed, "test_crossentropy"] == pytest.approx(test["crossentropy"], rel=1e-5)
        # The kept model is this seed's own, with its trained weights.
        kept = reused.models[seed]
        np.testing.assert_allclose(kept.predict(splits.test[0], verbose=0), fresh.predict(splits.test[0], verbose=0),
                                   rtol=1e-5, atol=1e-6)
    assert len({id(model) for model in reused.models.values()}) == 3


@pytest.mark.parametrize(
    "differences, clear",
    [
        ([0.03, 0.05, 0.04], True),  # mean 0.04, half-width 4.30 * 0.01 / sqrt(3) = 0.025
        ([-0.03, -0.05, -0.04], True),
        ([0.01, 0.09, 0.002], False),  # same sign on every seed, but the interval reaches below 0
        ([0.05, 0.06, 0.07, 0.02, 0.04], True),
        ([0.05, 0.06, -0.01], False),
        ([0.04], False),  # one seed gives no interval
        ([0.0, 0.0, 0.0], False),
    ],
)
def test_an_effect_is_clear_when_its_95_percent_interval_excludes_zero(differences, clear):
    comparison = experiment.paired_comparison(differences)
    assert comparison.clear is clear
    assert comparison.verdict == ("clear effect" if clear else "no clear effect at this budget")
    assert comparison.verdict in str(comparison)
    assert comparison.mean == pytest.approx(np.mean(differences)) and comparison.n == len(differences)


def test_the_interval_is_scipys_t_interval_of_the_paired_differences():
    from scipy import stats

    baseline = np.array([0.50, 0.61, 0.70, 0.80, 0.55])
    treatment = baseline + [0.02, 0.035, 0.01, 0.04, 0.015]
    expected = stats.ttest_rel(treatment, baseline).confidence_interval(0.95)
    comparison = experiment.paired_comparison(treatment - baseline)
    assert (comparison.low, comparison.high) == pytest.approx((expected.low, expected.high))
    assert "95 % interval" in str(comparison)
    with pytest.raises(ValueError, match="finite numbers"):
        experiment.paired_comparison([0.1, np.nan])


def test_run_trains_a_model_with_auxiliary_outputs_and_scores_its_inference_model():
    def build():
        inputs = keras.Input((8, 8, 3))
        x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
        aux = keras.layers.Dense(2, activation="softmax", name="aux")(keras.layers.Flatten()(x))
        main = keras.layers.Dense(2, activation="softmax", name="main")(keras.layers.GlobalAveragePooling2D()(x))
        return keras.Model(inputs, [main, aux]), keras.Model(inputs, main)

    splits = _toy_splits()
    recipe = Recipe(epochs=2, batch_size=32, translate=0)
    result = experiment.run(build, splits, recipe, seeds=(0,), keep_models=True, loss_weights=[1.0, 0.3])
    assert {"accuracy", "val_accuracy", "crossentropy", "loss"} <= set(result.histories.columns)
    assert len(result.models[0].outputs) == 1
    with pytest.raises(ValueError, match="loss_weights"):
        experiment.run(build, splits, recipe, seeds=(0,))


def test_learning_rate_range_test_grows_the_rate_and_stops_when_the_loss_explodes():
    splits = _toy_splits()
    x = splits.train[0].astype("float32") / 255
    plain = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(8, "relu"),
                              keras.layers.Dense(2, activation="softmax")])  # no BatchNormalization
    table = experiment.learning_rate_range_test(plain, x, splits.train[1], min_lr=1e-3, max_lr=1e3,
                                                steps=30, batch_size=16)
    rates = table["learning_rate"].to_numpy()
    assert rates[0] == pytest.approx(1e-3) and (np.diff(rates) > 0).all()
    np.testing.assert_allclose(rates[1:] / rates[:-1], (1e6) ** (1 / 29), rtol=1e-6)
    assert len(table) < 30  # the loss exploded before the last, absurd rates
    assert set(table.columns) == {"learning_rate", "loss", "smoothed_loss"}
    with pytest.raises(ValueError, match="min_lr"):
        experiment.learning_rate_range_test(_tiny_network(), x, splits.train[1], min_lr=1.0, max_lr=0.1)


def test_the_retired_rule_is_gone_and_clear_needs_the_interval():
    comparison = experiment.paired_comparison([0.01, 0.05, 0.02])  # same sign, mean above the spread
    assert not hasattr(comparison, "holds")
    assert not comparison.clear and comparison.low < 0 < comparison.high


def test_plot_paired_draws_every_seed_on_an_axis_zoomed_to_the_data():
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.comparison import plot_paired

    values = pd.DataFrame({"plain": [0.80, 0.82, 0.81], "residual": [0.86, 0.87, 0.85]}, index=[0, 1, 2])
    ax = plot_paired(values)
    assert len(ax.lines) == 3
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [0.82, 0.87])
    low, high = ax.get_ylim()
    assert 0.78 < low < 0.80 and 0.87 < high < 0.89
    with pytest.raises(ValueError, match="at least two variant columns"):
        plot_paired(values[["plain"]])


def test_paired_comparison_names_what_was_paired():
    folds = experiment.paired_comparison([0.01, 0.02, 0.015], metric="test accuracy", unit="folds")
    assert "3 folds [" in str(folds) and folds.unit == "folds"
    assert "3 seeds [" in str(experiment.paired_comparison([0.01, 0.02, 0.015]))
    with pytest.raises(ValueError, match="`unit` must be a non-empty string"):
        experiment.paired_comparison([0.01, 0.02], unit="")
