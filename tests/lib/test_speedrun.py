"""Tests of the airbench94 port (course_lib.speedrun and its parts) on the backend named by KERAS_BACKEND."""

import keras
import numpy as np
import pytest

from course_lib import experiment
from course_lib.experiment import AugmentedBatches
from course_lib.initializers import Dirac
from course_lib.layers import PatchWhitening
from course_lib.lookahead import Lookahead
from course_lib.models import airbench94
from course_lib.speedrun import (
    ABLATION,
    AIRBENCH94,
    LinearWarmupDecay,
    SpeedrunRecipe,
    build_model,
    build_network,
    load_ablation,
    tta_views,
)
from course_lib.tta import TTAModel, shift

RNG = np.random.default_rng(0)


def _correlated_images(n=64, size=12):
    # Neighbouring pixels and channels correlated, as in photographs.
    noise = RNG.normal(size=(n, size + 1, size + 1, 1))
    smooth = noise[:, 1:, 1:] + noise[:, :-1, 1:] + noise[:, 1:, :-1]
    return np.concatenate([smooth, 0.5 * smooth + RNG.normal(size=smooth.shape) * 0.3, -smooth], axis=-1)


def test_patch_whitening_decorrelates_the_patches_it_was_fitted_on():
    x = _correlated_images().astype("float32")
    layer = PatchWhitening(kernel_size=2, epsilon=1e-3)
    layer.adapt(x)
    assert [w.path.split("/")[-1] for w in layer.trainable_weights] == ["bias"]
    assert len(layer.non_trainable_weights) == 1
    out = keras.ops.convert_to_numpy(layer(x)).reshape(-1, 24)
    kernel = keras.ops.convert_to_numpy(layer.non_trainable_weights[0].value)
    np.testing.assert_allclose(kernel[..., 12:], -kernel[..., :12])
    # The covariance of the 12 positive responses is diag(lambda / (lambda + epsilon)).
    patches = np.lib.stride_tricks.sliding_window_view(x.astype("float64"), (2, 2), axis=(1, 2))
    patches = patches.transpose(0, 1, 2, 4, 5, 3).reshape(-1, 12)
    eigenvalues = np.linalg.eigvalsh(patches.T @ patches / len(patches))[::-1]
    covariance = out[:, :12].T.astype("float64") @ out[:, :12] / len(out)
    np.testing.assert_allclose(covariance, np.diag(eigenvalues / (eigenvalues + 1e-3)), atol=2e-3)


def test_patch_whitening_round_trips_through_saving(tmp_path):
    x = _correlated_images(8, 8).astype("float32")
    model = keras.Sequential([keras.Input((8, 8, 3)), PatchWhitening(name="whiten")])
    model.get_layer("whiten").adapt(x)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-5)
    assert len(loaded.trainable_weights) == 1
    with pytest.raises(ValueError, match="`kernel_size` must be a positive int"):
        PatchWhitening(kernel_size=0)


def test_dirac_convolution_copies_its_first_input_channels():
    x = RNG.normal(size=(2, 6, 6, 4)).astype("float32")
    conv = keras.layers.Conv2D(7, 3, padding="same", use_bias=False, kernel_initializer=Dirac())
    y = keras.ops.convert_to_numpy(conv(x))
    np.testing.assert_allclose(y[..., :4], x, atol=1e-6)
    assert np.abs(y[..., 4:]).max() > 0
    kernel = keras.ops.convert_to_numpy(conv.kernel.value)
    assert np.abs(kernel[..., 4:]).max() <= 1 / np.sqrt(9 * 4) + 1e-7  # PyTorch's uniform bound
    with pytest.raises(ValueError, match="odd size"):
        Dirac()((2, 2, 3, 3))


def test_airbench94_matches_the_pytorch_layout():
    model = airbench94()
    widths, whiten = AIRBENCH94["widths"], 2 * 3 * 2**2
    convs = [(whiten, widths[0]), (widths[0], widths[0]), (widths[0], widths[1]), (widths[1], widths[1]),
             (widths[1], widths[2]), (widths[2], widths[2])]
    # airbench94.py: bias-free 3x3 convs, BatchNorm biases only, whitening bias, bias-free linear layer.
    expected = sum(9 * a * b + b for a, b in convs) + whiten + widths[2] * 10
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == expected
    assert [tuple(model.get_layer(f"group{g}_2_gelu").output.shape[1:]) for g in (1, 2, 3)] == [
        (15, 15, 64), (7, 7, 256), (3, 3, 256)]
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 6 and all(not n.scale and n.center and n.momentum == 0.6 for n in norms)
    with pytest.raises(ValueError, match="`widths` must be a sequence of 3 positive ints"):
        airbench94(widths=(64, 256))
    # airbench96's groups: a third convolution and BN, and a shortcut around the last two.
    residual = airbench94(widths=(8, 16, 16), residual=True)
    plain = airbench94(widths=(8, 16, 16))
    extra = sum(9 * w * w + w for w in (8, 16, 16))
    assert residual.count_params() - plain.count_params() == extra + 2 * (8 + 16 + 16)  # + moving statistics
    assert [layer.name for layer in residual.layers if isinstance(layer, keras.layers.Add)] == [
        "group1_add", "group2_add", "group3_add"]


def _airbench_get_lr(step, total_train_steps):
    # airbench94.py's get_lr, verbatim.
    warmup_steps = int(total_train_steps * 0.23)
    warmdown_steps = total_train_steps - warmup_steps
    if step < warmup_steps:
        frac = step / warmup_steps
        return 0.2 * (1 - frac) + 1.0 * frac
    else:
        frac = (step - warmup_steps) / warmdown_steps
        return 1.0 * (1 - frac) + 0.07 * frac


def test_schedule_follows_airbench_and_stops_where_asked():
    recipe = SpeedrunRecipe()
    steps_per_epoch = 48
    schedule = recipe.learning_rate_schedule(steps_per_epoch)
    total = recipe.epochs * steps_per_epoch
    ours = [float(keras.ops.convert_to_numpy(schedule(s))) / recipe.learning_rate for s in range(total + 1)]
    np.testing.assert_allclose(ours, [_airbench_get_lr(s, total) for s in range(total + 1)], atol=1e-5)
    stopped = recipe.learning_rate_schedule(steps_per_epoch, stop_epoch=3)
    assert float(keras.ops.convert_to_numpy(stopped(3 * steps_per_epoch - 1))) > 0
    assert float(keras.ops.convert_to_numpy(stopped(3 * steps_per_epoch))) == 0
    assert recipe.with_epochs(20).warmup_epochs == pytest.approx(4.6)
    with pytest.raises(ValueError, match="`warmup_steps` must be smaller"):
        LinearWarmupDecay(1.0, total_steps=5, warmup_steps=5)
    with pytest.raises(ValueError, match="`schedule` must be one of"):
        SpeedrunRecipe(schedule="cosine")


def test_alternating_flip_mirrors_every_image_once_every_two_epochs():
    x = RNG.integers(0, 255, size=(20, 4, 4, 1)).astype("uint8")
    batches = AugmentedBatches(x, np.zeros(20, int), 2, batch_size=20, flip="alternating", shuffle=False, seed=3)
    epochs = []
    for _ in range(3):
        epochs.append(batches[0][0])
        batches.on_epoch_end()
    flipped = [np.all(e == x[:, :, ::-1], axis=(1, 2, 3)) for e in epochs]
    unchanged = [np.all(e == x, axis=(1, 2, 3)) for e in epochs]
    assert np.all(flipped[0] != flipped[1]) and np.all(flipped[0] | unchanged[0])
    assert 0 < flipped[0].sum() < 20
    np.testing.assert_array_equal(epochs[0], epochs[2])
    with pytest.raises(ValueError, match="`flip` must be True, False or 'alternating'"):
        AugmentedBatches(x, np.zeros(20, int), 2, flip="sometimes")


def test_lookahead_matches_its_definition_step_by_step():
    x = RNG.normal(size=(8, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=False)
    lookahead = Lookahead(total_steps=6, every=2, peak_decay=0.5, power=1)
    model.fit(x, y, batch_size=8, epochs=6, callbacks=[lookahead], verbose=0, shuffle=False)
    fast = slow = np.zeros((3, 1))
    for step in range(1, 7):
        fast = fast - 0.1 * (2 / len(x)) * x.T @ (x @ fast - y)
        if step % 2 == 0:
            slow = slow + (1 - 0.5 * step / 6) * (fast - slow)
            fast = slow
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.weights[0].value), slow, rtol=1e-4)
    assert lookahead.updates == 3


def test_speedrun_recipe_scales_the_bias_rate_and_freezes_the_whitening_bias():
    x = RNG.integers(0, 256, size=(64, 32, 32, 3)).astype("uint8")
    y = RNG.integers(0, 10, size=64)
    model = build_model(x, widths=(4, 8, 8), whitening_images=32)
    # Without Lookahead, which moves every weight toward its slow copy (the frozen bias too).
    recipe = SpeedrunRecipe(epochs=3, batch_size=32, warmup_epochs=1.0, whiten_bias_epochs=1, lookahead=False)
    optimizer = recipe.optimizer(steps_per_epoch=2, model=model)
    assert isinstance(optimizer, keras.optimizers.MultiOptimizer)
    # The optimizers of the map, in the order the recipe maps them, then the default one.
    assert len(optimizer.optimizers) == 3
    biases, whitening, default = optimizer.optimizers
    rate = float(keras.ops.convert_to_numpy(default.learning_rate))
    assert float(keras.ops.convert_to_numpy(biases.learning_rate)) == pytest.approx(64 * rate)
    assert float(keras.ops.convert_to_numpy(whitening.learning_rate)) == pytest.approx(rate / 0.15)
    assert whitening.momentum == 0
    whiten = model.get_layer("airbench94").get_layer("whiten")
    biases = []

    class RecordBias(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            biases.append(keras.ops.convert_to_numpy(whiten.bias.value).copy())

    history = experiment.train(model, recipe, (x, y), callbacks=[RecordBias()])
    assert np.abs(biases[0]).max() > 0  # trained in epoch 1 (adapt set it to 0)
    np.testing.assert_array_equal(biases[0], biases[1])
    np.testing.assert_array_equal(biases[1], biases[2])
    assert list(history.index) == [1, 2, 3] and np.isfinite(history["loss"]).all()


def test_speedrun_recipe_trains_under_mixed_float16_with_its_batches_on_the_device():
    # A GPU's configuration (scripts/speedrun.py --mixed-precision --batches-on-device): Keras wraps the
    # recipe's MultiOptimizer in a LossScaleOptimizer, and the harness still logs the learning rate.
    x = RNG.integers(0, 256, size=(64, 32, 32, 3)).astype("uint8")
    y = RNG.integers(0, 10, size=64)
    recipe = SpeedrunRecipe(epochs=2, batch_size=32, warmup_epochs=1.0)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(x, widths=(4, 8, 8), whitening_images=32)
        history = experiment.train(model, recipe, (x, y), num_classes=10, batches_on_device=True)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.get_layer("airbench94").compute_dtype == "float16"
    default = model.optimizer.inner_optimizer.optimizers[-1]
    rate = float(keras.ops.convert_to_numpy(default.learning_rate))
    assert history["learning_rate"].iloc[-1] == pytest.approx(rate) and np.isfinite(history["loss"]).all()


def test_ablation_adds_one_trick_per_step_and_ends_at_airbench94():
    first, last = ABLATION[0], ABLATION[-1]
    assert first.network == {"whitening": False, "dirac": False, "batchnorm_momentum": 0.9}
    recipe = first.speedrun_recipe(epochs=10)
    assert (recipe.bias_learning_rate_scale, recipe.whiten_bias_epochs, recipe.lookahead, recipe.flip) == (
        1.0, None, False, True)
    # The last step is airbench94 itself: the default network and recipe, six views.
    assert (last.network, last.recipe, last.tta) == ({}, {}, "airbench")
    assert last.speedrun_recipe(10) == SpeedrunRecipe()
    # Each step changes something, and airbench needs no more epochs with it than without.
    for before, after in zip(ABLATION, ABLATION[1:]):
        assert (before.network, before.recipe, before.tta) != (after.network, after.recipe, after.tta), after.name
        assert after.airbench_epochs <= before.airbench_epochs
    x = RNG.integers(0, 256, size=(16, 32, 32, 3)).astype("uint8")
    baseline = first.build_network(x, widths=(4, 8, 8), whitening_images=16)
    assert not any(isinstance(layer, PatchWhitening) for layer in baseline.layers)
    stem = baseline.get_layer("stem_conv")
    assert stem.trainable and stem.kernel.shape == (2, 2, 3, 24) and stem.use_bias
    assert baseline.get_layer("stem_norm").momentum == 0.9
    # The baseline's trainable stem replaces the frozen whitening: 288 kernel weights become trainable,
    # and its BatchNormalization adds 24 biases (and 48 moving statistics).
    whitened = ABLATION[1].build_network(x, widths=(4, 8, 8), whitening_images=16)
    trainable = [sum(int(np.prod(w.shape)) for w in m.trainable_weights) for m in (baseline, whitened)]
    assert trainable[0] - trainable[1] == 2 * 2 * 3 * 24 + 24


def test_build_network_fits_the_whitening_build_model_fits():
    x = RNG.integers(0, 256, size=(24, 32, 32, 3)).astype("uint8")
    network = build_network(x, widths=(4, 8, 8), whitening_images=20)
    model = build_model(x, widths=(4, 8, 8), whitening_images=20)
    fitted = [keras.ops.convert_to_numpy(m.get_layer("whiten").conv.kernel.value)
              for m in (network, model.get_layer("airbench94"))]
    np.testing.assert_allclose(fitted[0], fitted[1], rtol=1e-5, atol=1e-6)
    assert np.abs(fitted[0]).max() > 0


def test_whitening_bias_trains_all_along_without_a_freeze():
    x = RNG.integers(0, 256, size=(16, 32, 32, 3)).astype("uint8")
    model = build_model(x, widths=(4, 8, 8), whitening_images=16)
    optimizer = SpeedrunRecipe(whiten_bias_epochs=None).optimizer(steps_per_epoch=2, model=model)
    biases, default = optimizer.optimizers  # the BatchNormalization biases' optimizer, then the default one
    assert float(keras.ops.convert_to_numpy(biases.learning_rate)) == pytest.approx(
        64 * float(keras.ops.convert_to_numpy(default.learning_rate)))


def test_load_ablation_checks_its_files(tmp_path):
    import json

    from course_lib.data import sha256_of

    (tmp_path / "ablation.csv").write_text("step,seed,test_accuracy\nbaseline,0,0.5\n")
    (tmp_path / "ablation.history.csv").write_text("step,seed,epoch,loss\nbaseline,0,1,2.0\n")
    hashes = {name: sha256_of(tmp_path / name) for name in ("ablation.csv", "ablation.history.csv")}
    (tmp_path / "ablation.json").write_text(json.dumps({"sha256": hashes, "epochs": 1}))
    scores, histories, record = load_ablation(tmp_path)
    assert scores.loc[0, "test_accuracy"] == 0.5 and list(histories["epoch"]) == [1] and record["epochs"] == 1
    (tmp_path / "ablation.csv").write_text("step,seed,test_accuracy\nbaseline,0,0.9\n")
    with pytest.raises(ValueError, match="ablation.csv has SHA-256 .* not the recorded"):
        load_ablation(tmp_path)
    (tmp_path / "ablation.history.csv").unlink()
    with pytest.raises(FileNotFoundError, match="ablation.history.csv is missing"):
        load_ablation(tmp_path)


def test_tta_views_are_airbench_six_views_with_their_weights():
    images = RNG.normal(size=(2, 6, 6, 3)).astype("float32")
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(shift(1, 1)(images)), padded[:, 0:6, 0:6])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(shift(-1, -1)(images)), padded[:, 2:8, 2:8])
    views, weights = tta_views()
    classifier = keras.Sequential([keras.Input((6, 6, 3)), keras.layers.Flatten(), keras.layers.Dense(4, activation="softmax")])
    expected = sum(w * keras.ops.convert_to_numpy(classifier(v(images))) for v, w in zip(views, weights))
    tta = TTAModel(classifier, views, view_weights=weights)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tta(images)), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="`view_weights` must be 6 non-negative numbers"):
        TTAModel(classifier, views, view_weights=[1, 1])
    with pytest.raises(TypeError, match="`rows` must be an int"):
        shift(1.5, 0)


def _script(name):
    """scripts/NAME.py as a module; skipped off TensorFlow (the library it drives is tested on every backend)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the script's own logic, on TensorFlow (the library it drives is tested on every backend)")
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(f"{name}_script",
                                                  Path(__file__).resolve().parents[2] / "scripts" / f"{name}.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.mark.data
def test_speedrun_script_trains_scores_and_writes_its_runs(tmp_path, monkeypatch):
    from course_lib import data

    if data.find_mirror("cifar10") is None:
        pytest.skip("no offline copy of cifar10: set COURSE_DATA_DIR to the course's data mirror")
    script = _script("speedrun")
    monkeypatch.setenv("KERAS_BACKEND", keras.backend.backend())
    out = tmp_path / "runs.json"
    assert script.main(["--limit", "256", "--epochs", "1", "--widths", "4", "8", "8", "--runs", "2",
                        "--batches-on-device", "--json", str(out)]) == 0
    import json

    summary = json.loads(out.read_text())
    assert [run["seed"] for run in summary["runs"]] == [0, 1] and summary["train_images"] == 256
    assert summary["batches_on_device"] is True
    assert all(0 <= run["test_accuracy"] <= 1 and 0 <= run["test_accuracy_tta"] <= 1 for run in summary["runs"])
    with pytest.raises(SystemExit):
        script.main(["--record", "--epochs", "3"])


def test_ablation_script_trains_each_step_once_and_writes_what_load_ablation_reads(tmp_path, monkeypatch):
    from course_lib import speedrun

    script = _script("speedrun_ablation")
    # Three steps, the last two trained alike (only their test-time views differ), on tiny splits.
    monkeypatch.setattr(speedrun, "ABLATION", (speedrun.ABLATION[0], *speedrun.ABLATION[5:7]))
    rng = np.random.default_rng(0)

    def tiny(n):
        return rng.integers(0, 256, size=(n, 32, 32, 3)).astype("uint8"), np.arange(n) % 10

    monkeypatch.setattr(experiment, "load_splits", lambda *a, **k: experiment.Splits(tiny(64), tiny(20), tiny(30)))
    monkeypatch.setenv("KERAS_BACKEND", keras.backend.backend())
    assert script.main(["--widths", "4", "8", "8", "--epochs", "1", "--seeds", "3", "4",
                        "--output", str(tmp_path)]) == 0
    scores, histories, record = load_ablation(tmp_path)
    assert list(scores["step"]) == ["baseline"] * 2 + ["lookahead"] * 2 + ["tta"] * 2
    assert list(scores["seed"]) == [3, 4] * 3 and record["seeds"] == [3, 4] and record["train_images"] == 64
    # "tta" trains nothing: it scores the models of "lookahead" with six views.
    assert set(histories["step"]) == {"baseline", "lookahead"}
    lookahead, tta = scores[scores["step"] == "lookahead"], scores[scores["step"] == "tta"]
    np.testing.assert_array_equal(lookahead["test_accuracy"].to_numpy(), tta["test_accuracy"].to_numpy())
    np.testing.assert_array_equal(lookahead["test_accuracy_step"], lookahead["test_accuracy_flip"])
    np.testing.assert_array_equal(tta["test_accuracy_step"], tta["test_accuracy_tta"])
    assert (tta["trained_with"] == "lookahead").all()
    with pytest.raises(SystemExit):
        script.main(["--seeds", "1", "1"])
