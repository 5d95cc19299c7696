"""Tests of course_lib.models.lenet5 and the builders' argument checks."""

import keras
import numpy as np
import pytest

from course_lib.models import lenet5
from course_lib.models._validation import validate_builder_args


def _expected_params(rows_after_convs, classes, channels=1):
    """N_F(H*W*K + 1) for the two convolutions, (inputs + 1) * units for the dense layers."""
    convs = 6 * (5 * 5 * channels + 1) + 16 * (5 * 5 * 6 + 1)
    flat = rows_after_convs * rows_after_convs * 16
    return convs + (flat + 1) * 120 + (120 + 1) * 84 + (84 + 1) * classes


@pytest.mark.parametrize("input_shape", [(28, 28, 1), (32, 32, 1)])
def test_classic_variant_has_61706_parameters(input_shape):
    model = lenet5(input_shape=input_shape, classes=10)
    assert model.count_params() == 61706 == _expected_params(5, 10)
    assert model.output_shape == (None, 10)
    assert model.get_layer("s4_pool").output.shape[1:] == (5, 5, 16)


@pytest.mark.parametrize(
    "input_shape, classes, c1, s4",
    [
        ((28, 28, 1), 10, (28, 28, 6), (5, 5, 16)),
        ((32, 32, 1), 10, (28, 28, 6), (5, 5, 16)),
        ((32, 32, 3), 7, (28, 28, 6), (5, 5, 16)),
        ((40, 36, 1), 3, (36, 32, 6), (7, 6, 16)),
        ((12, 12, 1), 2, (12, 12, 6), (1, 1, 16)),
    ],
)
def test_layer_shapes_and_parameter_count(input_shape, classes, c1, s4):
    model = lenet5(input_shape=input_shape, classes=classes)
    assert model.get_layer("c1_conv").output.shape[1:] == c1
    assert model.get_layer("s4_pool").output.shape[1:] == s4
    assert model.output_shape == (None, classes)
    if s4[0] == s4[1]:
        assert model.count_params() == _expected_params(s4[0], classes, input_shape[-1])


def test_layers_in_the_order_of_the_paper():
    model = lenet5()
    names = [layer.name for layer in model.layers]
    assert names == [
        "image", "c1_conv", "s2_pool", "c3_conv", "s4_pool",
        "flatten", "c5_dense", "f6_dense", "predictions",
    ]
    assert isinstance(model.get_layer("s2_pool"), keras.layers.MaxPooling2D)
    assert model.get_layer("c5_dense").activation is keras.activations.relu
    tanh = lenet5(activation="tanh", name="paper")
    assert tanh.name == "paper"
    assert tanh.get_layer("c3_conv").activation is keras.activations.tanh


@pytest.mark.parametrize(
    "pooling, shape", [(None, (None, 5, 5, 16)), ("avg", (None, 16)), ("max", (None, 16))]
)
def test_feature_extractor(pooling, shape):
    model = lenet5(include_top=False, pooling=pooling)
    assert model.output_shape == shape
    # No dense layer: only the two convolutions' weights.
    assert model.count_params() == 6 * 26 + 16 * 151


def test_global_pooling_matches_numpy():
    x = np.random.default_rng(0).uniform(size=(2, 28, 28, 1)).astype("float32")
    for pooling, reduce in (("avg", np.mean), ("max", np.max)):
        model = lenet5(include_top=False, pooling=pooling)
        model_maps = keras.Model(model.input, model.get_layer("s4_pool").output)
        maps = keras.ops.convert_to_numpy(model_maps(x))
        out = keras.ops.convert_to_numpy(model(x))
        np.testing.assert_allclose(out, reduce(maps, axis=(1, 2)), rtol=1e-5, atol=1e-6)


def test_classifier_activation():
    x = np.random.default_rng(1).uniform(size=(3, 28, 28, 1)).astype("float32")
    probs = keras.ops.convert_to_numpy(lenet5()(x))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert (probs >= 0).all()
    logits_model = lenet5(classifier_activation=None)
    logits = keras.ops.convert_to_numpy(logits_model(x))
    assert (logits < 0).any()  # raw scores, not probabilities
    softmax_model = lenet5(classifier_activation="softmax")
    softmax_model.set_weights(logits_model.get_weights())
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(softmax_model(x)), expected, rtol=1e-5, atol=1e-6
    )
    sigmoid = lenet5(classes=1, classifier_activation=keras.activations.sigmoid)
    out = keras.ops.convert_to_numpy(sigmoid(x))
    assert out.shape == (3, 1) and ((out > 0) & (out < 1)).all()


def test_forward_pass_and_short_fit_on_every_backend():
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(16, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, 16)
    keras.utils.set_random_seed(0)
    model = lenet5()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert len(history.history["loss"]) == 5
    assert np.isfinite(after) and after < before  # it learns the 16 examples
    assert model.predict(x, verbose=0).shape == (16, 10)


def test_save_and_load_round_trip(tmp_path):
    model = lenet5(input_shape=(32, 32, 1), classes=5, activation="tanh")
    path = tmp_path / "lenet5.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(3).uniform(size=(2, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), rtol=1e-6
    )
    assert loaded.count_params() == model.count_params()
    assert loaded.get_layer("c1_conv").activation is keras.activations.tanh


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"input_shape": (28, 28)}, ValueError, "`input_shape` must be a tuple of three"),
        ({"input_shape": (28, 28, 0)}, ValueError, "`input_shape` must be a tuple of three"),
        ({"input_shape": (28.0, 28, 1)}, ValueError, "`input_shape` must be a tuple of three"),
        ({"input_shape": 28}, ValueError, "`input_shape` must be a tuple of three"),
        ({"input_shape": (1, 28, 28)}, ValueError, r"at least \(12, 12, channels\)"),
        ({"input_shape": (11, 40, 1)}, ValueError, r"at least \(12, 12, channels\)"),
        ({"classes": 0}, ValueError, "`classes` must be a positive int"),
        ({"classes": 2.0}, ValueError, "`classes` must be a positive int"),
        ({"classes": True}, ValueError, "`classes` must be a positive int"),
        ({"include_top": "yes"}, TypeError, "`include_top` must be True or False"),
        ({"include_top": False, "pooling": "mean"}, ValueError, "`pooling` must be one of"),
        ({"pooling": "avg"}, ValueError, "pass include_top=False"),
        ({"classifier_activation": "nope"}, ValueError, "`classifier_activation` must be None"),
        ({"classifier_activation": 3}, TypeError, "`classifier_activation` must be None"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        lenet5(**kwargs)


def test_smallest_input_runs():
    # 12x12 is the documented minimum: s4_pool is then 1x1.
    model = lenet5(input_shape=(12, 12, 1))
    out = model(np.zeros((1, 12, 12, 1), "float32"))
    assert tuple(out.shape) == (1, 10)


def test_validate_builder_args_returns_the_shape_and_accepts_pairs():
    assert validate_builder_args([64, 48, 3], 1000, False, "max", None, min_size=(32, 16)) == (
        64, 48, 3,
    )
    with pytest.raises(ValueError, match=r"at least \(32, 50, channels\)"):
        validate_builder_args((64, 48, 3), 10, True, None, "softmax", min_size=(32, 50))
