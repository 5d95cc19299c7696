"""Tests of course_lib.experiment (the harness) on the backend named by KERAS_BACKEND."""

import keras
import numpy as np
import pandas as pd
import pytest

from course_lib import data, experiment
from course_lib.experiment import AugmentedBatches, Recipe

RNG = np.random.default_rng(0)


def test_split_validation_is_stratified_and_disjoint():
    x = np.arange(300).reshape(150, 2)
    y = np.repeat([0, 1, 2], 50).reshape(-1, 1)
    (xt, yt), (xv, yv) = experiment.split_validation(x, y, validation_size=30, seed=1)
    assert yt.shape == (120,) and np.bincount(yv).tolist() == [10, 10, 10]
    assert not set(xt[:, 0]) & set(xv[:, 0])
    assert set(xt[:, 0]) | set(xv[:, 0]) == set(x[:, 0])
    (xt2, _), _ = experiment.split_validation(x, y, validation_size=30, seed=1)
    np.testing.assert_array_equal(xt, xt2)
    with pytest.raises(ValueError, match="validation_size"):
        experiment.split_validation(x, y, validation_size=150)
    with pytest.raises(TypeError, match="`y` must hold integer class labels"):
        experiment.split_validation(x, y.astype("float32"), validation_size=30)
    with pytest.raises(ValueError, match="`seed` must be None or a non-negative int"):
        experiment.split_validation(x, y, validation_size=30, seed=-1)


@pytest.mark.data
def test_load_splits_takes_validation_from_the_training_set():
    if data.find_mirror("mnist") is None:
        pytest.skip("no offline copy of mnist: set COURSE_DATA_DIR to the course's data mirror")
    splits = experiment.load_splits("mnist", validation_size=1000, train_per_class=20, test_per_class=5)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits
    assert len(x_train) == 200 and len(x_val) == 1000 and len(x_test) == 50
    assert y_train.ndim == y_val.ndim == y_test.ndim == 1
    (full_train, _), (full_test, _) = data.load_mnist()
    train_rows = {row.tobytes() for row in full_train}
    assert all(image.tobytes() in train_rows for image in x_val)
    assert repr(splits) == "Splits(train=200, validation=1000, test=50)"


def _images(n=12, size=6, channels=2):
    return RNG.integers(0, 256, (n, size, size, channels)).astype("uint8")


def test_batches_visit_every_example_once_per_epoch_in_a_seeded_order():
    x = _images(10)
    y = np.arange(10) % 3
    batches = AugmentedBatches(x, y, num_classes=3, batch_size=4, flip=False, translate=0, seed=5)
    assert len(batches) == 3
    seen = np.concatenate([batches[i][0] for i in range(len(batches))])
    labels = np.concatenate([batches[i][1] for i in range(len(batches))])
    assert seen.dtype == np.float32 and labels.shape == (10, 3)
    assert sorted(map(bytes, seen.astype("uint8"))) == sorted(map(bytes, x))
    first = [batches[i][0] for i in range(3)]
    batches.on_epoch_end()
    second = [batches[i][0] for i in range(3)]
    assert not np.array_equal(first[0], second[0])
    again = AugmentedBatches(x, y, num_classes=3, batch_size=4, flip=False, seed=5)
    again.set_epoch(1)
    np.testing.assert_array_equal(again[0][0], second[0])


def test_flip_mirrors_about_half_of_the_images():
    x = _images(400, size=4, channels=1)
    batches = AugmentedBatches(x, np.zeros(400, int), num_classes=1, batch_size=400, flip=True,
                               shuffle=False, seed=0)
    out = batches[0][0].astype("uint8")
    mirrored = np.array([np.array_equal(o, i[:, ::-1]) and not np.array_equal(o, i) for o, i in zip(out, x)])
    unchanged = np.array([np.array_equal(o, i) for o, i in zip(out, x)])
    assert (mirrored | unchanged).all()
    assert 150 < mirrored.sum() < 250


def test_translation_is_a_crop_of_the_reflect_padded_image():
    x = _images(50, size=8, channels=3)
    pad = 2
    batches = AugmentedBatches(x, np.zeros(50, int), num_classes=1, batch_size=50, flip=False,
                               translate=pad, shuffle=False, seed=3)
    out = batches[0][0]
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    offsets = set()
    for image, source in zip(out, padded):
        matches = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                   if np.array_equal(image, source[dy:dy + 8, dx:dx + 8])]
        assert matches, "an augmented image is not a crop of its padded original"
        offsets.add(matches[0])
    assert len(offsets) > 10  # the shifts vary


@pytest.mark.parametrize("flip", [True, "alternating"])
def test_batches_made_on_the_device_are_the_numpy_batches(flip):
    x, y = _images(23, size=7, channels=3), np.arange(23) % 3
    kwargs = dict(num_classes=3, batch_size=8, flip=flip, translate=2, seed=4, outputs=2)
    in_numpy, on_device = AugmentedBatches(x, y, **kwargs), AugmentedBatches(x, y, on_device=True, **kwargs)
    for epoch in (0, 1):
        in_numpy.set_epoch(epoch)
        on_device.set_epoch(epoch)
        for index in range(len(in_numpy)):
            (images, labels), (expected_images, expected_labels) = on_device[index], in_numpy[index]
            assert keras.ops.is_tensor(images) and keras.ops.is_tensor(labels[0]) and len(labels) == 2
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(images), expected_images)
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(labels[1]), expected_labels[1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_classes=2, translate=6), "translate"),
        (dict(num_classes=0), "num_classes"),
        (dict(num_classes=2, batch_size=0), "batch_size"),
        (dict(num_classes=2, seed=-1), "`seed` must be a non-negative int"),
        # A resumed run must see the same batches: no unseeded batches.
        (dict(num_classes=2, seed=None), "`seed` must be a non-negative int; received seed=None"),
        (dict(num_classes=2, on_device="gpu"), "`on_device` must be True or False"),
    ],
)
def test_batches_reject_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AugmentedBatches(_images(4), np.array([0, 1, 0, 1]), **kwargs)


def test_batches_reject_labels_out_of_range():
    with pytest.raises(ValueError, match=r"labels in \[0, 2\)"):
        AugmentedBatches(_images(4), np.array([0, 1, 2, 1]), num_classes=2)


def test_standardization_gives_zero_mean_unit_variance_per_channel():
    x = (RNG.normal(size=(20, 5, 5, 3)) * [10, 20, 30] + [100, 50, 0]).astype("float32")
    layer = experiment.standardization(x)
    out = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(out.reshape(-1, 3).mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(out.reshape(-1, 3).var(0), 1, atol=1e-4)
    with pytest.raises(ValueError, match="rows, cols, channels"):
        experiment.standardization(x[0])


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
